package nerveskey_test

import (
	"context"
	"crypto/x509"
	"errors"

	"github.com/nerveskey/nerveskey"
)

// hasAux reports Info.HasAux.
func hasAux(ctx context.Context, c *nerveskey.Chip) (bool, error) {
	in, err := c.Info(ctx)
	if err != nil {
		return false, err
	}
	return in.HasAux, nil
}

// macOf returns Info.MAC, or an error if it is empty.
func macOf(ctx context.Context, c *nerveskey.Chip) (string, error) {
	in, err := c.Info(ctx)
	if err != nil {
		return "", err
	}
	if in.MAC == "" {
		return "", errors.New("no MAC address")
	}
	return in.MAC, nil
}

// addrOf returns Info.Addr, or 0 if Info fails.
func addrOf(ctx context.Context, c *nerveskey.Chip) uint16 {
	in, err := c.Info(ctx)
	if err != nil {
		return 0
	}
	return in.Addr
}

// signerOf returns the signer certificate of pair p, which Certificates
// returns even when the device certificate fails.
func signerOf(c *nerveskey.Chip, ctx context.Context, p nerveskey.Pair) (*x509.Certificate, error) {
	_, s, err := c.Certificates(ctx, p)
	if s != nil {
		return s, nil
	}
	return nil, err
}
