package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nerveskey/nerveskey"
)

const verifyUsage = `Usage: nerveskey verify [--aux] [--roots FILE] [--json]

Checks the chip's certificate chain: the device and signer certificates
rebuild, the device certificate is valid now and verifies under the signer
certificate, the device certificate holds the chip's public key, and, with
--roots, the signer chains to one of the PEM certificates in FILE (as a
server doing mutual TLS would check). Without --roots a self-signed
NervesKey signer is its own anchor; a Trust&Go signer needs Microchip's
root in --roots.

Examples:

	$ nerveskey verify
	$ nerveskey verify --roots my-ca.pem --json
	$ nerveskey --type trust_and_go verify --roots microchip-root.pem
`

// A check is one verified fact, in verify and selftest output.
type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"` // what was checked, or why it failed
}

// checkReport is the --json output of verify and selftest.
type checkReport struct {
	OK     bool    `json:"ok"`
	Checks []check `json:"checks"`
}

func (r *checkReport) add(name string, err error, detail string) bool {
	ch := check{Name: name, OK: err == nil, Detail: detail}
	if err != nil {
		ch.Detail = oneLine(err.Error())
	}
	r.Checks = append(r.Checks, ch)
	return err == nil
}

// print writes the report and returns an error naming the failed checks.
func (c *cli) printReport(what string, r *checkReport, asJSON bool) error {
	var failed []string
	for _, ch := range r.Checks {
		if !ch.OK {
			failed = append(failed, ch.Name)
		}
	}
	r.OK = len(failed) == 0
	if asJSON {
		if err := json.NewEncoder(c.stdout).Encode(r); err != nil {
			return err
		}
	} else {
		for _, ch := range r.Checks {
			status := "ok  "
			if !ch.OK {
				status = "FAIL"
			}
			fmt.Fprintf(c.stdout, "%s  %-16s %s\n", status, ch.Name, ch.Detail)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s failed: %s", what, strings.Join(failed, ", "))
	}
	return nil
}

func (c *cli) verify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	aux := fs.Bool("aux", false, "check the aux certificate pair instead of the primary one")
	rootsFile := fs.String("roots", "", "PEM `FILE` of trusted root certificates the signer must chain to")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if _, err := c.parse(fs, verifyUsage, args, 0, 0); err != nil {
		return err
	}
	var roots *x509.CertPool
	if *rootsFile != "" {
		var err error
		if roots, err = loadRoots(*rootsFile); err != nil {
			return err
		}
	}
	pair := nerveskey.Primary
	if *aux {
		pair = nerveskey.Aux
	}
	s, err := c.openRead()
	if err != nil {
		return err
	}
	return s.finish(func() error {
		var r checkReport
		c.checkChain(s, pair, roots, "--roots", &r)
		return c.printReport("verify", &r, *asJSON)
	}())
}

// loadRoots reads a PEM file of certificates.
func loadRoots(name string) (*x509.CertPool, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		crt, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		pool.AddCert(crt)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: no PEM certificates", name)
	}
	return pool, nil
}

// checkChain adds the certificate checks of pair to r and returns the
// device certificate if it could be read. With roots, the chain must end
// at one of them; rootsName names them in the report.
func (c *cli) checkChain(s *session, pair nerveskey.Pair, roots *x509.CertPool, rootsName string, r *checkReport) *x509.Certificate {
	prefix := ""
	if pair == nerveskey.Aux {
		prefix = "aux_"
	}
	dev, _, err := s.Certificates(c.ctx, pair)
	if !r.add(prefix+"device_cert", err, "") {
		return nil
	}
	r.Checks[len(r.Checks)-1].Detail = fmt.Sprintf("CN=%s serial %x", dev.Subject.CommonName, dev.SerialNumber)
	_, signer, err := s.Certificates(c.ctx, pair)
	if !r.add(prefix+"signer_cert", err, "") {
		return dev
	}
	r.Checks[len(r.Checks)-1].Detail = fmt.Sprintf("%s, valid until %s", signer.Subject, signer.NotAfter.UTC().Format(time.DateOnly))

	opts := x509.VerifyOptions{
		Intermediates: x509.NewCertPool(),
		Roots:         roots,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	anchor := "the signer certificate"
	if roots == nil {
		opts.Roots = x509.NewCertPool()
		opts.Roots.AddCert(signer)
	} else {
		opts.Intermediates.AddCert(signer)
		anchor = rootsName
	}
	var chainErr error
	if roots == nil && c.g.options().Type == nerveskey.TrustAndGo && pair == nerveskey.Primary {
		// Not self-signed: check the one link and say the chain is open.
		chainErr = dev.CheckSignatureFrom(signer)
		anchor = "the signer (not checked up to Microchip's root: give --roots)"
		if chainErr == nil && (time.Now().Before(dev.NotBefore) || time.Now().After(dev.NotAfter)) {
			chainErr = errors.New("device certificate is not valid at the current time")
		}
	} else {
		_, chainErr = dev.Verify(opts)
	}
	if chainErr != nil {
		chainErr = fmt.Errorf("device certificate does not verify up to %s: %w", anchor, chainErr)
	}
	r.add(prefix+"chain", chainErr, "device certificate verifies up to "+anchor)

	pub, err := s.PublicKey(c.ctx)
	if err == nil {
		if cp, ok := dev.PublicKey.(*ecdsa.PublicKey); !ok || !cp.Equal(pub) {
			err = errors.New("device certificate's public key is not the chip's key")
		}
	}
	r.add(prefix+"public_key", err, "device certificate holds the chip's public key")
	return dev
}

const selftestUsage = `Usage: nerveskey selftest [--signer-cert FILE] [--json]

A factory QA check of a provisioned chip. Each check passes or fails:

	info         the chip answers and is provisioned as a NervesKey
	device_cert  the device certificate rebuilds and its signature verifies
	signer_cert  the signer certificate rebuilds
	chain        the device certificate verifies under the signer, now; with
	             --signer-cert, the chain must end at that certificate
	             (without it, any self-consistent signer passes)
	public_key   the device certificate holds the chip's public key
	sign         the chip signs a random digest and it verifies
	settings     the settings decode (passes when none are stored)
	aux_*        the same certificate checks for the aux pair, if present

Exit status 0 when every check passes, 1 otherwise.

Examples:

	$ nerveskey selftest --signer-cert signer.cert
	$ nerveskey selftest --json | jq -e .ok
`

func (c *cli) selftest(args []string) error {
	fs := flag.NewFlagSet("selftest", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object")
	signerFile := fs.String("signer-cert", "", "the signer certificate PEM `FILE` the chip's chain must end at")
	if _, err := c.parse(fs, selftestUsage, args, 0, 0); err != nil {
		return err
	}
	var roots *x509.CertPool
	if *signerFile != "" {
		var err error
		if roots, err = loadRoots(*signerFile); err != nil {
			return err
		}
	}
	s, err := c.openRead()
	if err != nil {
		return err
	}
	return s.finish(func() error {
		var r checkReport
		in, err := s.Info(c.ctx)
		if err == nil && !in.Provisioned {
			err = nerveskey.ErrNotProvisioned
		}
		if !r.add("info", err, "") {
			return c.printReport("selftest", &r, *asJSON)
		}
		r.Checks[0].Detail = fmt.Sprintf("%s %s serial %x, mode %s, manufacturer_sn %q", in.Revision, in.Type, in.Serial, in.Mode, in.ManufacturerSN)

		dev := c.checkChain(s, nerveskey.Primary, roots, "--signer-cert", &r)

		var sig []byte
		k, err := s.Key(c.ctx)
		digest := make([]byte, 32)
		if err == nil {
			rand.Read(digest)
			sig, err = k.SignContext(c.ctx, digest, crypto.SHA256)
		}
		if err == nil && dev != nil {
			if cp, ok := dev.PublicKey.(*ecdsa.PublicKey); !ok || !ecdsa.VerifyASN1(cp, digest, sig) {
				err = errors.New("signature does not verify with the device certificate's key")
			}
		} else if err == nil {
			err = errors.New("no device certificate to verify the signature with")
		}
		r.add("sign", err, "a signature of a random digest verifies with the certificate's key")

		_, err = s.Settings(c.ctx)
		detail := "settings decode"
		if errors.Is(err, nerveskey.ErrNoSettings) {
			err, detail = nil, "no settings stored"
		}
		r.add("settings", err, detail)

		if in.HasAux {
			c.checkChain(s, nerveskey.Aux, nil, "", &r)
		}
		return c.printReport("selftest", &r, *asJSON)
	}())
}
