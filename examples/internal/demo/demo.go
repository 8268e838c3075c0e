// Package demo opens the chip the examples use: a real NervesKey on an I2C
// bus, or, by default, a blank simulated chip provisioned on the spot with
// a new signer, as a factory would.
package demo

import (
	"context"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// OpenKey opens the NervesKey on the named bus or, when name is empty,
// provisions a blank simulated chip with a new signer. The returned
// function closes the chip.
func OpenKey(ctx context.Context, name string) (*nerveskey.Key, func(), error) {
	if name != "" {
		k, err := nerveskey.OpenBus(ctx, name, nil)
		if err != nil {
			return nil, nil, err
		}
		return k, func() { k.Close() }, nil
	}
	c, err := nerveskey.OpenChip(ctx, nerveskeytest.NewChip(nil), nil)
	if err != nil {
		return nil, nil, err
	}
	err = provision(ctx, c)
	var k *nerveskey.Key
	if err == nil {
		k, err = c.Key(ctx)
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return k, func() { c.Close() }, nil
}

// provision makes a signer and provisions the blank chip c with it.
func provision(ctx context.Context, c *nerveskey.Chip) error {
	signerCert, signerKey, err := nerveskey.NewSigner(nil, 1, time.Now())
	if err != nil {
		return err
	}
	in, err := c.Info(ctx)
	if err != nil {
		return err
	}
	info := nerveskey.ProvisioningInfo{ManufacturerSN: in.DefaultManufacturerSN, BoardName: "NervesKey"}
	_, err = c.Provision(ctx, info, signerCert, signerKey, nil)
	return err
}
