package main

import (
	"context"
	"crypto"
	"crypto/x509"

	"github.com/nerveskey/nerveskey"
)

// provisionChip runs the library's Provision. (Kept apart so that the
// change of Provision's result is a one-line edit here.)
func provisionChip(ctx context.Context, c *nerveskey.Chip, info nerveskey.ProvisioningInfo, signerCert *x509.Certificate, signer crypto.Signer, opts *nerveskey.ProvisionOptions) error {
	_, err := c.Provision(ctx, info, signerCert, signer, opts)
	return err
}
