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

// SignFits reports whether one more SignDigest ends within this wake
// cycle's watchdog budget at the times the transport expects of its Nonce
// and Sign (the table maximum, or what it learned of a slower chip), so
// that the chip never restarts its watchdog in the middle of it.
func (s *Session) SignFits(slot int) bool {
	nonce := s.command("", OpNonce, noncePassTemp, 0, nil, 1)
	sign := s.command("", OpSign, byte(SignTempKey), uint16(slot), nil, 64)
	return s.s.Fits(&nonce, &sign)
}

// Retryable reports whether err is transient: [Dev.Do] runs f again
// after it.
func Retryable(err error) bool { return i2c.Retryable(err) }
