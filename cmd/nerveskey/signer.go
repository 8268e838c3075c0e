package main

import (
	"crypto"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nerveskey/nerveskey"
)

const signerCreateUsage = `Usage: nerveskey signer create NAME [--years N]

Creates a NervesKey signer: a new P-256 key and its self-signed
certificate (CN=Signer), valid from now for N whole years, as
"mix nerves_key.signer create" makes them. Writes NAME.cert (PEM
CERTIFICATE) and NAME.key (PEM EC PRIVATE KEY, mode 0600) and refuses to
overwrite either. No chip is used.

Examples:

	$ nerveskey signer create signer
	$ nerveskey signer create acme-2026 --years 5
	$ nerveskey provision --signer-cert acme-2026.cert --signer-key acme-2026.key

Keep NAME.key secret: anyone holding it can make certificates your
servers will trust. The compressed certificate format cannot hold issue
years after 2031.
`

func (c *cli) signerCreate(args []string) error {
	fs := flag.NewFlagSet("signer create", flag.ContinueOnError)
	years := fs.Int("years", 1, fmt.Sprintf("validity in whole years, %d to %d", nerveskey.MinSignerYears, nerveskey.MaxSignerYears))
	pos, err := c.parse(fs, signerCreateUsage, args, 1, 1)
	if err != nil {
		return err
	}
	if *years < nerveskey.MinSignerYears || *years > nerveskey.MaxSignerYears {
		return usagef("signer create", "--years %d: want %d to %d", *years, nerveskey.MinSignerYears, nerveskey.MaxSignerYears)
	}
	name := pos[0]
	if err := checkName(name); err != nil {
		return usagef("signer create", "%v", err)
	}
	certFile, keyFile := name+".cert", name+".key"
	if err := refuseExisting(certFile, keyFile); err != nil {
		return err
	}
	crt, key, err := nerveskey.NewSigner(nil, *years, time.Time{})
	if err != nil {
		return err
	}
	keyPEM, err := nerveskey.EncodeKeyPEM(key)
	if err != nil {
		return err
	}
	if err := writePair(certFile, nerveskey.EncodeCertificatePEM(crt), keyFile, keyPEM); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "nerveskey: wrote %s and %s (%s, valid until %s)\n", certFile, keyFile, crt.Subject, crt.NotAfter.UTC().Format(time.DateOnly))
	return nil
}

const deviceCreateUsage = `Usage: nerveskey device create NAME --signer-cert FILE --signer-key FILE

Creates a debug device certificate and private key without a chip, as
"mix nerves_key.device create" does: a new P-256 key, a random 9-byte chip
serial and a certificate with CN=NAME, valid 31 years, signed by the
signer, shaped exactly as provisioning would make it. Writes NAME.cert and
NAME.key (mode 0600) and refuses to overwrite either. Use it to test
servers; the private key is an ordinary file, not protected by a chip.

Examples:

	$ nerveskey device create test-device --signer-cert signer.cert --signer-key signer.key
	$ openssl verify -CAfile signer.cert test-device.cert
`

func (c *cli) deviceCreate(args []string) error {
	fs := flag.NewFlagSet("device create", flag.ContinueOnError)
	certFile := fs.String("signer-cert", "", "the signer certificate PEM `FILE`")
	keyFile := fs.String("signer-key", "", "the signer private key PEM `FILE`")
	pos, err := c.parse(fs, deviceCreateUsage, args, 1, 1)
	if err != nil {
		return err
	}
	name := pos[0]
	if err := checkName(name); err != nil {
		return usagef("device create", "%v", err)
	}
	signerCert, signerKey, err := c.loadSigner("device create", *certFile, *keyFile)
	if err != nil {
		return err
	}
	outCert, outKey := name+".cert", name+".key"
	if err := refuseExisting(outCert, outKey); err != nil {
		return err
	}
	crt, key, err := nerveskey.NewDebugDevice(nil, name, signerCert, signerKey, time.Time{})
	if err != nil {
		return err
	}
	keyPEM, err := nerveskey.EncodeKeyPEM(key)
	if err != nil {
		return err
	}
	if err := writePair(outCert, nerveskey.EncodeCertificatePEM(crt), outKey, keyPEM); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "nerveskey: wrote %s and %s (CN=%s, issued by %s)\n", outCert, outKey, crt.Subject.CommonName, crt.Issuer)
	return nil
}

// checkName rejects output names that are empty or end in a separator.
func checkName(name string) error {
	if name == "" || name[len(name)-1] == '/' || name == "." || name == ".." {
		return fmt.Errorf("%q is not a usable file name prefix", name)
	}
	return nil
}

// writePair writes a certificate and its key, each atomically and without
// overwriting; if the key cannot be written the certificate is removed.
func writePair(certFile string, certPEM []byte, keyFile string, keyPEM []byte) error {
	if err := writeFileAtomic(certFile, certPEM, 0o644, false); err != nil {
		return err
	}
	if err := writeFileAtomic(keyFile, keyPEM, 0o600, false); err != nil {
		os.Remove(certFile)
		return err
	}
	return nil
}

// loadSigner reads and checks a signer certificate and key given by flags.
func (c *cli) loadSigner(cmd, certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil, usagef(cmd, "%s: --signer-cert and --signer-key are required", cmd)
	case certFile == "":
		return nil, nil, usagef(cmd, "%s: --signer-cert is required", cmd)
	case keyFile == "":
		return nil, nil, usagef(cmd, "%s: --signer-key is required", cmd)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("signer certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("signer key: %w", err)
	}
	crt, key, err := nerveskey.LoadSigner(certPEM, keyPEM)
	if err != nil {
		if errors.Is(err, nerveskey.ErrSignerKey) {
			// The key file is unreadable, encrypted, not P-256, or not
			// the certificate's key: report it against the key file.
			return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
		}
		return nil, nil, fmt.Errorf("%s: %w", certFile, err)
	}
	return crt, key, nil
}
