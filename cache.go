package nerveskey

import (
	"context"
	"crypto/ecdsa"
)

// chipCache holds what a Chip has read from the chip, so that each item is
// read once. Chip.mu guards it; Chip.forget clears it.
type chipCache struct {
	pub *ecdsa.PublicKey // device public key (GenKey public mode)
}

// PublicKey returns the device public key, computed by the chip from the
// slot 0 private key (GenKey public-key mode; slot 0 is never read). It is
// read once and cached.
func (c *Chip) PublicKey(ctx context.Context) (*ecdsa.PublicKey, error) {
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
