package nerveskey

import (
	"context"
	"errors"
	"fmt"

	"github.com/nerveskey/nerveskey/internal/layout"
)

// DeterministicMAC returns the chip's MAC of in with the encryption key of
// a volatile-key 608 NervesKey (slot 2), as nerves_key's
// mac_deterministic asks for it: a Nonce pass-through of in, then MAC
// mode 0x05 on slot 2, in one wake. The chip answers SHA-256(key ‖ in ‖
// 08 05 02 00 ‖ 11 zero bytes ‖ SN[8] ‖ 4 zero bytes ‖ SN[0..1] ‖ 2 zero
// bytes), key being slot 2's first 32 bytes (DS508 §9.11). The same chip
// and input always give the same 32 bytes, and only that chip can compute
// them, so firmware can derive per-device secrets (a disk key, say) with
// it; the encryption key never leaves the chip.
//
// On a chip that is not a volatile-key NervesKey, slot 2 holds no secret
// key, and DeterministicMAC returns a [*ConfigError] without sending a
// command. Slot 2 is configured PersistentDisable, so the persistent
// latch must be set; a Key sets it when opened and again after a power
// loss. How a real chip's MAC treats a PersistentDisable AES slot is not
// confirmed on silicon; the simulator takes the strict reading (the
// latch is required).
func (k *Key) DeterministicMAC(ctx context.Context, in [32]byte) ([32]byte, error) {
	mac, err := k.deterministicMAC(ctx, in)
	if err != nil {
		return mac, fmt.Errorf("nerveskey: mac: %w", err)
	}
	return mac, nil
}

func (k *Key) deterministicMAC(ctx context.Context, in [32]byte) ([32]byte, error) {
	if err := k.chip.check(); err != nil {
		return [32]byte{}, err
	}
	cfg, err := k.chip.config(ctx)
	if err != nil {
		return [32]byte{}, err
	}
	sc := cfg.SlotConfig(layout.EncryptionSlot)
	switch {
	case !k.volatile:
		return [32]byte{}, &ConfigError{Op: "mac", Reason: "not a volatile-key NervesKey: slot 2 holds no encryption key"}
	case !sc.IsSecret() || sc.NoMac():
		return [32]byte{}, &ConfigError{Op: "mac", Reason: fmt.Sprintf("slot 2 SlotConfig 0x%04x is not a secret key usable by MAC (IsSecret, NoMac)", uint16(sc))}
	}
	mac, err := k.chip.dev.MACTempKey(ctx, layout.EncryptionSlot, in)
	if err != nil && errors.Is(err, ErrExecution) {
		// The persistent latch is lost on power loss: set it again.
		if lerr := k.unlatch(ctx); lerr == nil {
			mac, err = k.chip.dev.MACTempKey(ctx, layout.EncryptionSlot, in)
		}
	}
	return mac, err
}
