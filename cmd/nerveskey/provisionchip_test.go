package main

import (
	"crypto"
	"crypto/x509"
	"testing"

	"github.com/nerveskey/nerveskey"
)

// provisionChip runs the library's Provision with defaults. (Kept apart
// so that the change of Provision's result is a one-line edit here.)
func provisionChip(tb testing.TB, c *nerveskey.Chip, info nerveskey.ProvisioningInfo, signerCert *x509.Certificate, signer crypto.Signer) error {
	tb.Helper()
	return c.Provision(tb.Context(), info, signerCert, signer, nil)
}
