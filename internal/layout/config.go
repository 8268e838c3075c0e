package layout

import "github.com/nerveskey/nerveskey/internal/atecc"

// The NervesKey configuration (docs/nerves_key.md §3.2, §3.3), as 16-bit
// little-endian SlotConfig and KeyConfig bytes per slot.
var (
	nkSlotConfig = [32]byte{
		0x87, 0x20, // slot 0: private key, GenKey allowed until slot-locked
		0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, // 1–9
		0x0F, 0x2F, 0x0F, 0x2F, 0x0F, 0x2F, 0x0F, 0x2F, // 10–13: never written after the data lock
		0x0F, 0x0F, 0x0F, 0x0F, // 14–15
	}
	nkKeyConfig = [32]byte{
		0x33, 0x00, // slot 0: P-256 private, PubInfo, lockable
		0x1C, 0x00, 0x1C, 0x00, 0x1C, 0x00, 0x1C, 0x00, 0x1C, 0x00, 0x1C, 0x00, 0x1C, 0x00, // 1–7
		0x3C, 0x00, 0x3C, 0x00, 0x3C, 0x00, // 8–10
		0x30, 0x00, // 11: public key
		0x3C, 0x00, 0x3C, 0x00, 0x3C, 0x00, 0x3C, 0x00, // 12–15
	}
	// Volatile: slot 0 PersistentDisable, slot 1 activation key, slot 2
	// encryption key. nerves_key's volatile_config_compatible? looks for
	// 91 90 in SlotConfig 1, but configure_volatile writes 81 90; this
	// package writes and expects 81 90.
	nkVolSlot12 = [4]byte{0x81, 0x90, 0x81, 0x90}
	nkVolKey012 = [6]byte{0x33, 0x10, 0x78, 0x00, 0x38, 0x10}
)

// Configuration zone offsets the NervesKey configuration sets
// (docs/atecc.md §2.2).
const (
	cfgOTPMode    = 18
	cfgChipMode   = 19
	cfgSlotConfig = 20
	cfgVolKeyPerm = 69
	cfgX509Format = 92
	cfgKeyConfig  = 96

	// LockConfigOffset is the LockConfig byte: 0x55 until the
	// configuration lock.
	LockConfigOffset = 87
)

// NervesKeyConfig returns cur with the NervesKey configuration applied, as
// nerves_key's configure (or configure_volatile) computes the image it
// writes and whose CRC its lock carries: everything else as read.
func NervesKeyConfig(cur *atecc.Config, volatile bool) atecc.Config {
	c := *cur
	c[cfgOTPMode] = 0xAA
	c[cfgChipMode] = 0x00
	copy(c[cfgSlotConfig:], nkSlotConfig[:])
	copy(c[cfgKeyConfig:], nkKeyConfig[:])
	copy(c[cfgX509Format:cfgX509Format+4], []byte{0, 0, 0, 0})
	if volatile {
		copy(c[cfgSlotConfig+2:], nkVolSlot12[:])
		copy(c[cfgKeyConfig:], nkVolKey012[:])
		c[cfgVolKeyPerm] = 0x80 | ActivationSlot
	}
	return c
}

// ConfigDiff returns the first configuration byte where have differs from
// want, or -1.
func ConfigDiff(have, want *atecc.Config) int {
	for i := range have {
		if have[i] != want[i] {
			return i
		}
	}
	return -1
}
