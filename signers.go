package nerveskey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// NewSigner creates a new NervesKey signer: a fresh P-256 key and its
// self-signed certificate, as "mix nerves_key.signer create" makes them:
// subject and issuer CN=Signer, serial number derived from the public key,
// valid from now (UTC, minutes and seconds dropped) for years whole years
// (1 to 31: the compressed date field holds up to 31 whole years), with nerves_key's extensions. A nil
// rand means crypto/rand; a zero now means time.Now().
//
// The certificate is checked to rebuild byte for byte from its compressed
// form, and its signature is chosen so that nerves_key's rebuild (which
// mishandles R or S below 2^247) is byte-identical too. From 2032 on it
// fails with ErrDateRange: the compressed format cannot hold the year.
func NewSigner(rand io.Reader, years int, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if rand == nil {
		rand = crand.Reader
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand)
	if err != nil {
		return nil, nil, fmt.Errorf("nerveskey: new signer: %w", err)
	}
	c, err := NewSignerWithKey(rand, key, years, now)
	if err != nil {
		return nil, nil, err
	}
	return c, key, nil
}

// NewSignerWithKey is NewSigner for an existing P-256 key held anywhere a
// [crypto.Signer] reaches: in memory, an HSM, a cloud KMS. The key signs
// the certificate once or, rarely, a few times (see NewSigner).
func NewSignerWithKey(rand io.Reader, key crypto.Signer, years int, now time.Time) (*x509.Certificate, error) {
	if rand == nil {
		rand = crand.Reader
	}
	if now.IsZero() {
		now = time.Now()
	}
	der, err := cert.NewSigner(rand, key, years, now)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: new signer: %w", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: new signer: %w", err)
	}
	return c, nil
}

// LoadSigner loads a signer certificate and its private key from PEM: the
// files "mix nerves_key.signer create" writes (key as SEC1 "EC PRIVATE
// KEY"), or a PKCS#8 "PRIVATE KEY". The key must be an unencrypted P-256
// key matching the certificate. LoadSigner also runs CheckSigner, so a
// certificate that cannot be provisioned is reported here, with the reason.
func LoadSigner(certPEM, keyPEM []byte) (*x509.Certificate, crypto.Signer, error) {
	c, key, err := cert.ParseSignerPEM(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("nerveskey: load signer: %w", err)
	}
	if err := cert.CheckSigner(c); err != nil {
		return nil, nil, fmt.Errorf("nerveskey: load signer: %w", err)
	}
	return c, key, nil
}

// CheckSigner reports whether signerCert can sign NervesKey device
// certificates: a P-256 certificate that a chip can store (it rebuilds
// byte for byte from its compressed form under the NervesKey signer
// template) and, if key is not nil, whose public key is key's. Otherwise
// the error says exactly why: ErrNotCompressible naming the first
// differing field, or ErrSignerKey. Expiry is not checked here;
// Provision checks it against its clock.
func CheckSigner(signerCert *x509.Certificate, key crypto.Signer) error {
	var err error
	if key == nil {
		err = cert.CheckSigner(signerCert)
	} else {
		err = cert.CheckSignerKey(signerCert, key)
	}
	if err != nil {
		return fmt.Errorf("nerveskey: check signer: %w", err)
	}
	return nil
}

// NewDebugDevice makes a device certificate and private key without a
// chip, like "mix nerves_key.device create NAME": a fresh P-256 key, a
// random 9-byte chip serial, and a certificate signed by signerKey shaped
// exactly as Provision would make it for a chip (CN = name, 31 years,
// serial number from the chip serial). It is for testing services; the
// private key is in memory. A nil rand means crypto/rand; a zero now means
// time.Now().
func NewDebugDevice(rand io.Reader, name string, signerCert *x509.Certificate, signerKey crypto.Signer, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if now.IsZero() {
		now = time.Now()
	}
	if why := layout.ManufacturerSNProblem(name); why != "" {
		return nil, nil, fmt.Errorf("nerveskey: new debug device: name %q %s", name, why)
	}
	der, key, err := cert.NewDebugDevice(rand, name, signerCert, signerKey, now)
	if err != nil {
		return nil, nil, fmt.Errorf("nerveskey: new debug device: %w", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("nerveskey: new debug device: %w", err)
	}
	return c, key, nil
}
