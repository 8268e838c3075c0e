package atecc

import (
	"context"

	"github.com/nerveskey/nerveskey/internal/i2c"
)

// SignDigest loads digest into TempKey (Nonce 0x03) and signs it with the
// key in slot (Sign 0x80) within s, as [Dev.SignDigest] does in a session
// of its own. Callers that run several signatures in one wake cycle call
// it once per signature, after [Session.SignFits].
func (s *Session) SignDigest(ctx context.Context, slot int, digest [32]byte) ([64]byte, error) {
	return s.signDigest(ctx, slot, digest)
}

// SignFits reports whether one more SignDigest, at the chip's maximum
// Nonce and Sign times, ends within this wake cycle's watchdog budget,
// so that the chip never restarts its watchdog in the middle of it.
func (s *Session) SignFits() bool {
	_, nonceMax, _ := s.d.prof.times(OpNonce)
	_, signMax, _ := s.d.prof.times(OpSign)
	return s.s.Fits(nonceMax, signMax)
}

// Retryable reports whether err is transient: [Dev.Do] runs f again
// after it.
func Retryable(err error) bool { return i2c.Retryable(err) }
