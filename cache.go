package nerveskey

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/nerveskey/nerveskey/internal/atecc"
)

// chipCache holds what a Chip has read from the chip, so that each item is
// read once. Chip.mu guards it; Chip.forget clears it. Only successful reads
// are cached.
type chipCache struct {
	pub   *ecdsa.PublicKey                   // device public key (GenKey public mode)
	otp   *[atecc.OTPSize]byte               // OTP zone, raw
	slots [atecc.NumSlots][]byte             // data slots read in clear, full size; never slot 0
	certs [2][numCertKinds]*x509.Certificate // rebuilt and verified, by Pair and certKind
	info  *Info
}

// PublicKey returns the device public key, computed by the chip from the
// slot 0 private key (GenKey public-key mode; slot 0 is never read). It is
// read once and cached.
func (c *Chip) PublicKey(ctx context.Context) (*ecdsa.PublicKey, error) {
	pub, err := c.publicKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: public key: %w", err)
	}
	return pub, nil
}

func (c *Chip) publicKey(ctx context.Context) (*ecdsa.PublicKey, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	pub := c.cache.pub
	c.mu.Unlock()
	if pub != nil {
		return pub, nil
	}
	xy, err := c.dev.GenKey(ctx, keySlot, false)
	if err != nil {
		return nil, err
	}
	pub, err = publicKeyFromXY(xy[:])
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.cache.pub = pub
	c.mu.Unlock()
	return pub, nil
}

// slot returns the contents of data slot n (full size), reading it once.
// The data zone must be locked and the slot readable in clear. Slot 0 is
// refused without I/O: it holds the private key.
func (c *Chip) slot(ctx context.Context, n int) ([]byte, error) {
	if n == keySlot || atecc.SlotSize(n) == 0 {
		return nil, fmt.Errorf("slot %d is not readable", n)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	b := c.cache.slots[n]
	c.mu.Unlock()
	if b != nil {
		return b, nil
	}
	b, err := c.dev.ReadSlot(ctx, n)
	if err != nil {
		return nil, err
	}
	if len(b) != atecc.SlotSize(n) {
		return nil, fmt.Errorf("read slot %d: got %d bytes, want %d", n, len(b), atecc.SlotSize(n))
	}
	c.mu.Lock()
	c.cache.slots[n] = b
	c.mu.Unlock()
	return b, nil
}

// otpZone returns the 64-byte OTP zone, reading it once. The chip allows
// it only after the data lock.
func (c *Chip) otpZone(ctx context.Context) ([atecc.OTPSize]byte, error) {
	if err := c.check(); err != nil {
		return [atecc.OTPSize]byte{}, err
	}
	c.mu.Lock()
	p := c.cache.otp
	c.mu.Unlock()
	if p != nil {
		return *p, nil
	}
	b, err := c.dev.ReadOTP(ctx)
	if err != nil {
		return b, err
	}
	c.mu.Lock()
	c.cache.otp = &b
	c.mu.Unlock()
	return b, nil
}

// devicePublicXY returns the device public key as X‖Y. On a volatile-key
// chip whose persistent latch is not set, GenKey is refused; it then sets
// the latch with Options.ActivationKey, as [Chip.Key] does, and asks again.
func (c *Chip) devicePublicXY(ctx context.Context, mode Mode) ([]byte, error) {
	pub, err := c.publicKey(ctx)
	if err != nil && mode == ModeVolatile && errors.Is(err, ErrExecution) {
		if lerr := (&Key{Chip: c, volatile: true}).unlatch(ctx); lerr != nil {
			return nil, lerr
		}
		pub, err = c.publicKey(ctx)
	}
	if err != nil {
		return nil, err
	}
	b, err := pub.Bytes()
	if err != nil {
		return nil, err
	}
	return b[1:], nil
}
