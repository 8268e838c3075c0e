package nerveskey

import (
	"context"
	"crypto/ecdh"
	"errors"
	"fmt"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// ecdhProt is the 608 ChipOptions field (bits 9..8) that protects ECDH
// output: 0 lets the secret out in clear, 1 requires it encrypted, 2 keeps
// it in TempKey or a slot (DS608-TFLX Table 2-3; docs/atecc.md §2.1).
const ecdhProtShift, ecdhProtMask = 8, 0x3

// ECDH returns the shared secret between the chip's key and remote, as
// [ecdh.PrivateKey.ECDH] does: the 32-byte X coordinate of the shared
// point (the premaster secret), to be fed through a KDF such as HKDF
// before use. remote must be a P-256 key. The private key stays in the
// chip, which computes the secret (ECDH command, DS508 §9.5).
//
// ECDH fails with a [*ConfigError], before any command is sent, when slot
// 0's configuration does not let the secret out: ECDH not allowed
// (SlotConfig ReadKey bit 2 clear), the result written to slot 1 instead
// (ReadKey bit 3 set), or on a 608 a ChipOptions that requires the output
// encrypted or kept in the chip (bits 9..8 not zero). A NervesKey
// configuration (slot 0 SlotConfig 0x2087, ChipOptions 0) permits it.
func (k *Key) ECDH(ctx context.Context, remote *ecdh.PublicKey) ([]byte, error) {
	secret, err := k.ecdh(ctx, remote)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: ecdh: %w", err)
	}
	return secret, nil
}

func (k *Key) ecdh(ctx context.Context, remote *ecdh.PublicKey) ([]byte, error) {
	if remote == nil || remote.Curve() != ecdh.P256() {
		return nil, errors.New("remote key is not a P-256 key")
	}
	cfg, err := k.chip.config(ctx)
	if err != nil {
		return nil, err
	}
	if err := ecdhPermitted(cfg, layout.KeySlot); err != nil {
		return nil, err
	}
	peer := [64]byte(remote.Bytes()[1:]) // uncompressed 04 ‖ X ‖ Y
	secret, err := k.ecdhOnce(ctx, peer)
	if err != nil && k.volatile && errors.Is(err, ErrExecution) {
		// The persistent latch is lost on power loss: set it again.
		if lerr := k.unlatch(ctx); lerr == nil {
			secret, err = k.ecdhOnce(ctx, peer)
		}
	}
	if err != nil {
		return nil, err
	}
	return secret[:], nil
}

func (k *Key) ecdhOnce(ctx context.Context, peer [64]byte) ([32]byte, error) {
	var secret [32]byte
	err := k.chip.dev.Do(ctx, func(s *atecc.Session) error {
		var err error
		secret, err = s.ECDH(ctx, layout.KeySlot, peer)
		return err
	})
	return secret, err
}

// ecdhPermitted returns a *ConfigError unless cfg lets ECDH on slot
// return the secret in clear (DS508 Table 2-6; DS608-TFLX Table 2-3).
func ecdhPermitted(cfg *atecc.Config, slot int) error {
	sc := cfg.SlotConfig(slot)
	switch {
	case !sc.ECDH():
		return &ConfigError{Op: "ecdh", Reason: fmt.Sprintf("slot %d SlotConfig 0x%04x: ECDH not allowed (ReadKey bit 2)", slot, uint16(sc))}
	case sc.ReadKey()&0x8 != 0:
		return &ConfigError{Op: "ecdh", Reason: fmt.Sprintf("slot %d SlotConfig 0x%04x: the chip would write the secret to slot %d, not return it (ReadKey bit 3)", slot, uint16(sc), slot+1)}
	}
	if cfg.Revision().Is608() {
		opts := cfg.ChipOptions()
		switch (opts >> ecdhProtShift) & ecdhProtMask {
		case 0:
		case 1:
			return &ConfigError{Op: "ecdh", Reason: fmt.Sprintf("ChipOptions 0x%04x: ECDH output must be encrypted (bits 9..8 = 1)", opts)}
		default:
			return &ConfigError{Op: "ecdh", Reason: fmt.Sprintf("ChipOptions 0x%04x: ECDH output must stay in the chip (bits 9..8 = %d)", opts, (opts>>ecdhProtShift)&ecdhProtMask)}
		}
	}
	return nil
}
