package layout

// The NervesKey slot map (docs/nerves_key.md §1). Slots 5–8 hold the
// settings area ([SettingsChunks]); slots 3 and 4 and 13 are unused.
const (
	// KeySlot holds the device's P-256 private key; nothing reads or
	// writes its data.
	KeySlot = 0
	// ActivationSlot holds a volatile-key chip's activation key.
	ActivationSlot = 1
	// EncryptionSlot holds a volatile-key chip's encryption key.
	EncryptionSlot = 2
	// MACSlot holds a Trust&Go chip's EUI-48 MAC address, as MACLen ASCII
	// hex digits at its start.
	MACSlot = 5
	// MACLen is the length of the Trust&Go MAC in MACSlot.
	MACLen = 12
)

// The slots of the two certificate pairs, indexed by pair (0 primary,
// 1 aux): the compressed device certificate, the signer public key X‖Y,
// and the compressed signer certificate.
var (
	DeviceCertSlot = [2]int{10, 9}
	SignerKeySlot  = [2]int{11, 14}
	SignerCertSlot = [2]int{12, 15}
)

// KeySlots are the slots the last step of provisioning locks: the device
// key, and for volatile keys the activation and encryption keys, as
// nerves_key does.
func KeySlots(volatile bool) []int {
	if volatile {
		return []int{KeySlot, ActivationSlot, EncryptionSlot}
	}
	return []int{KeySlot}
}
