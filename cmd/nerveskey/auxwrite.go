package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/nerveskey/nerveskey"
)

const auxWriteUsage = `Usage: nerveskey aux write --device-cert FILE --signer-cert FILE [--dry-run]

Writes an aux certificate pair issued elsewhere to slots 9, 14 and 15, as
nerves_key writes aux certificates it is given: a device certificate for
the chip's key (from 'nerveskey csr') and the signer certificate that
signed it. It replaces an aux pair already there. The chip must be
provisioned. Nothing is locked.

Examples:

	$ nerveskey csr --subject CN=NK-000123 > device.csr
	$ nerveskey aux write --device-cert aux-device.pem --signer-cert aux-signer.pem --dry-run
	$ nerveskey aux write --device-cert aux-device.pem --signer-cert aux-signer.pem
	$ nerveskey cert device --aux

A chip stores certificates compressed and rebuilds them from a template, so
only a pair shaped exactly like the one nerves_key makes fits: a
self-signed P-256 signer named CN=Signer, and a device certificate with
the chip's key, subject CN the manufacturer serial number, the serial
number and extensions of the template. Before writing, both are
compressed and rebuilt and must come back byte for byte; otherwise
nothing is written and the error names the first field that differs.
`

func (c *cli) auxWrite(args []string) error {
	fs := flag.NewFlagSet("aux write", flag.ContinueOnError)
	devFile := fs.String("device-cert", "", "the aux device certificate PEM `FILE`")
	signerFile := fs.String("signer-cert", "", "the PEM `FILE` of the signer certificate that signed it")
	dryRun := fs.Bool("dry-run", false, "check everything and write nothing")
	if _, err := c.parse(fs, auxWriteUsage, args, 0, 0); err != nil {
		return err
	}
	if *devFile == "" || *signerFile == "" {
		return usagef("aux write", "aux write: --device-cert and --signer-cert are required")
	}
	devCert, err := readCert(*devFile)
	if err != nil {
		return fmt.Errorf("device certificate: %w", err)
	}
	signerCert, err := readCert(*signerFile)
	if err != nil {
		return fmt.Errorf("signer certificate: %w", err)
	}
	s, err := c.open()
	if err != nil {
		return err
	}
	return s.finish(func() error {
		if err := s.WriteAux(c.ctx, devCert, signerCert, &nerveskey.ProvisionOptions{DryRun: *dryRun}); err != nil {
			if errors.Is(err, nerveskey.ErrNotCompressible) {
				return withHint(err, "'nerveskey aux provision' signs a pair that fits with a signer from 'nerveskey signer create'")
			}
			return keyError(err)
		}
		if *dryRun {
			fmt.Fprintln(c.stderr, "nerveskey: dry run: the certificates and the chip check out; nothing was written")
			return nil
		}
		fmt.Fprintf(c.stderr, "nerveskey: wrote the aux certificates (%s, signed by %s) to slots 9, 14 and 15\n", devCert.Subject, signerCert.Subject)
		return nil
	}())
}
