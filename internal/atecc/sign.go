package atecc

import (
	"context"
	"crypto/rand"
)

// SignDigest signs a 32-byte digest with the private key in slot and
// returns R‖S. It loads the digest into TempKey (Nonce pass-through 0x03)
// and signs it (Sign 0x80) in one session, which works on the 508A and
// the 608. The Elixir sign_digest uses the 608-only Nonce 0x43 and Sign
// 0xA0, which a 508A rejects with a parse error. On a transient error the
// pair is retried as a whole.
func (d *Dev) SignDigest(ctx context.Context, slot int, digest [32]byte) ([64]byte, error) {
	var sig [64]byte
	err := d.Do(ctx, func(s *Session) error {
		var err error
		sig, err = s.signDigest(ctx, slot, digest)
		return err
	})
	return sig, err
}

// signDigest loads digest into TempKey (Nonce 0x03) and signs it with
// Sign 0x80; both must run in one wake, as sleep clears TempKey.
func (s *Session) signDigest(ctx context.Context, slot int, digest [32]byte) ([64]byte, error) {
	if err := s.NonceLoad(ctx, digest); err != nil {
		return [64]byte{}, err
	}
	return s.Sign(ctx, slot, SignTempKey)
}

// SignDigestVolatile authorizes the 608 volatile key in slot authSlot with
// key, then signs digest with the key in slot, all in one session: the
// authorization is lost when the chip sleeps.
func (d *Dev) SignDigestVolatile(ctx context.Context, authSlot int, key [32]byte, slot int, digest [32]byte) ([64]byte, error) {
	var sig [64]byte
	err := d.Do(ctx, func(s *Session) error {
		var numIn [20]byte
		rand.Read(numIn[:])
		if err := s.AuthVolatileKey(ctx, authSlot, key, numIn); err != nil {
			return err
		}
		var err error
		sig, err = s.signDigest(ctx, slot, digest)
		return err
	})
	return sig, err
}

// GenKey runs GenKey on slot in one session; see [Session.GenKey].
func (d *Dev) GenKey(ctx context.Context, slot int, create bool) ([64]byte, error) {
	var pub [64]byte
	err := d.Do(ctx, func(s *Session) error {
		var err error
		pub, err = s.GenKey(ctx, slot, create)
		return err
	})
	return pub, err
}

// Random returns 32 random bytes from the chip in one session.
func (d *Dev) Random(ctx context.Context) ([32]byte, error) {
	var r [32]byte
	err := d.Do(ctx, func(s *Session) error {
		var err error
		r, err = s.Random(ctx)
		return err
	})
	return r, err
}

// AuthVolatileKey sets the 608 persistent latch in one session; see
// [Session.AuthVolatileKey].
func (d *Dev) AuthVolatileKey(ctx context.Context, slot int, key [32]byte) error {
	return d.Do(ctx, func(s *Session) error {
		var numIn [20]byte
		rand.Read(numIn[:])
		return s.AuthVolatileKey(ctx, slot, key, numIn)
	})
}
