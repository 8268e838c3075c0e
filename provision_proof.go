package nerveskey

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// probeKey looks for a valid key in slot 0 left by an interrupted run,
// on a chip whose configuration is locked (GenKey needs that lock) and
// whose data zone is not, and sets p.reuse to its public key. GenKey in
// public-key mode writes nothing and succeeds only for a key generated
// on the chip. On a chip whose configuration was not locked at the start
// no run can have generated a key, so a new one is always made.
func (p *provisioning) probeKey(ctx context.Context) error {
	xy, err := p.c.dev.GenKey(ctx, layout.KeySlot, false)
	switch {
	case err == nil:
		p.reuse = &xy
	case !errors.Is(err, ErrExecution):
		return err
	}
	return nil
}

// proveKey proves that slot 0 holds the private key of xy (the answer of
// GenKey create, or of the probe that found a key to reuse) before the
// signer certifies it: GenKey in public-key mode recomputes the public key
// from the private key and must answer the same, then slot 0 signs a fresh
// random challenge (Nonce pass-through, external Sign) that must verify
// under it. A chip that refuses external Sign before the data lock is
// proven by the GenKey cross-check alone, and the result says so. It
// returns how the key was proven.
func (p *provisioning) proveKey(ctx context.Context, xy [64]byte, pub *ecdsa.PublicKey) (string, error) {
	if err := p.sameKey(ctx, pub, "after key generation"); err != nil {
		return "", err
	}
	err := p.challenge(ctx, pub, false)
	if errors.Is(err, ErrExecution) {
		p.signRefused = true
		return "genkey public re-read matched; the chip refused external Sign before the data lock (" + err.Error() + "), so no challenge signature", nil
	}
	if err != nil {
		return "", err
	}
	return "genkey public re-read matched; slot 0 signed a random challenge that verified", nil
}

// challenge has slot 0 sign a fresh random challenge (Nonce pass-through,
// external Sign) and verifies it under pub. With latch, a volatile-key
// chip's persistent latch is set first, in the same wake, with the
// activation key (already written to slot 1). A refusal is an error
// wrapping ErrExecution.
func (p *provisioning) challenge(ctx context.Context, pub *ecdsa.PublicKey, latch bool) error {
	var challenge [32]byte
	var numIn [20]byte
	if _, err := io.ReadFull(p.rand, challenge[:]); err != nil {
		return err
	}
	if _, err := io.ReadFull(p.rand, numIn[:]); err != nil {
		return err
	}
	var rs [64]byte
	err := p.c.dev.Do(ctx, func(s *atecc.Session) error {
		if latch {
			var key [32]byte
			copy(key[:], p.o.Volatile.Activation[:])
			if err := s.AuthVolatileKey(ctx, layout.ActivationSlot, key, numIn); err != nil {
				return err
			}
		}
		if err := s.NonceLoad(ctx, challenge); err != nil {
			return err
		}
		var err error
		rs, err = s.Sign(ctx, layout.KeySlot, atecc.SignTempKey)
		return err
	})
	if err != nil {
		return err
	}
	if !verifyRS(pub, challenge[:], &rs) {
		return fmt.Errorf("%w: slot 0's signature of a random challenge does not verify under the public key it reported; nothing was locked (run Provision again on a sound bus)", ErrInconsistent)
	}
	return nil
}

// sameKey reads slot 0's public key with GenKey in public-key mode and
// requires pub.
func (p *provisioning) sameKey(ctx context.Context, pub *ecdsa.PublicKey, when string) error {
	xy, err := p.c.dev.GenKey(ctx, layout.KeySlot, false)
	if err != nil {
		return err
	}
	b, err := pub.Bytes()
	if err != nil {
		return err
	}
	if !bytes.Equal(b[1:], xy[:]) {
		return fmt.Errorf("%w: %s, slot 0's public key reads %x, not the %x reported before; nothing was locked (run Provision again on a sound bus)", ErrInconsistent, when, xy[:8], b[1:9])
	}
	return nil
}
