package nerveskey

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// chipCache holds what a Chip has read from the chip, so that each item is
// read once. Chip.mu guards it; Chip.forget clears it. Only successful reads
// are cached.
type chipCache struct {
	pub      *ecdsa.PublicKey                   // device public key (GenKey public mode)
	otp      *[atecc.OTPSize]byte               // OTP zone, raw
	slots    [atecc.NumSlots][]byte             // data slots read in clear, full size; never slot 0
	certs    [2][numCertKinds]*x509.Certificate // rebuilt and verified, by Pair and certKind
	info     *Info
	settings settingsState // settings.go
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
	xy, err := c.dev.GenKey(ctx, layout.KeySlot, false)
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
	if n == layout.KeySlot || atecc.SlotSize(n) == 0 {
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
func (c *Chip) devicePublicXY(ctx context.Context, mode mode) ([]byte, error) {
	pub, err := c.publicKey(ctx)
	if err != nil && mode == modeVolatile && errors.Is(err, ErrExecution) {
		if lerr := (&Key{chip: c, volatile: true}).unlatch(ctx); lerr != nil {
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

// A fetchList names items a caller is about to read through the cache.
type fetchList struct {
	slots []int // data slots, read in this order
	// stopIfEmpty stops the session after slots[0] if it is all zeros:
	// the caller then fails (an empty certificate slot) without the rest.
	stopIfEmpty bool
	otp         bool // the OTP zone
	pub         bool // the device public key (GenKey, last)
}

// prefetch reads the items of l that are not cached yet in one session
// (one wake, instead of one per item) and caches them. It is an
// optimization only: callers then read each item through the cache as
// before, so their results and typed errors are unchanged. When the chip
// refuses a command (a *StatusError: a foreign configuration that forbids a
// read, or GenKey before a volatile key's latch is set), prefetch keeps
// what it read and returns nil, and the caller's own read of that item
// reports or handles the refusal. Other errors (bus, timeout, context) are
// returned as they are.
func (c *Chip) prefetch(ctx context.Context, l fetchList) error {
	if err := c.check(); err != nil {
		return err
	}
	c.mu.Lock()
	if l.stopIfEmpty && len(l.slots) > 0 && c.cache.slots[l.slots[0]] != nil && layout.AllZero(c.cache.slots[l.slots[0]]) {
		c.mu.Unlock()
		return nil
	}
	var todo []int
	for _, n := range l.slots {
		if n != layout.KeySlot && atecc.SlotSize(n) != 0 && c.cache.slots[n] == nil {
			todo = append(todo, n)
		}
	}
	needOTP := l.otp && c.cache.otp == nil
	needPub := l.pub && c.cache.pub == nil
	c.mu.Unlock()
	if len(todo) == 0 && !needOTP && !needPub {
		return nil
	}
	if len(todo) == 0 || todo[0] != l.slots[0] {
		l.stopIfEmpty = false // slots[0] is cached and not empty
	}
	err := c.dev.Do(ctx, func(s *atecc.Session) error {
		// f may run again after a transient error: skip what an earlier
		// run cached.
		for i, n := range todo {
			c.mu.Lock()
			b := c.cache.slots[n]
			c.mu.Unlock()
			if b == nil {
				var err error
				if b, err = s.ReadSlot(ctx, n); err != nil {
					return err
				}
				if len(b) != atecc.SlotSize(n) {
					return fmt.Errorf("read slot %d: got %d bytes, want %d", n, len(b), atecc.SlotSize(n))
				}
				c.mu.Lock()
				c.cache.slots[n] = b
				c.mu.Unlock()
			}
			if i == 0 && l.stopIfEmpty && layout.AllZero(b) {
				return nil
			}
		}
		c.mu.Lock()
		haveOTP, havePub := c.cache.otp != nil, c.cache.pub != nil
		c.mu.Unlock()
		if needOTP && !haveOTP {
			o, err := s.ReadOTP(ctx)
			if err != nil {
				return err
			}
			c.mu.Lock()
			c.cache.otp = &o
			c.mu.Unlock()
		}
		if needPub && !havePub {
			xy, err := s.GenKey(ctx, layout.KeySlot, false)
			if err != nil {
				return err
			}
			pub, err := publicKeyFromXY(xy[:])
			if err != nil {
				return nil // left to publicKey, which reports it
			}
			c.mu.Lock()
			c.cache.pub = pub
			c.mu.Unlock()
		}
		return nil
	})
	if _, refused := errors.AsType[*StatusError](err); refused {
		return nil
	}
	return err
}
