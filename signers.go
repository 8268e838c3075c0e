package nerveskey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nerveskey/nerveskey/internal/atecc/cert"
)

// Limits of signer certificates (spec/nerves_key.md §7.2, §7.5).
const (
	// MinSignerYears and MaxSignerYears bound a signer's validity: the
	// compressed date field holds 1 to 31 whole years.
	MinSignerYears = 1
	MaxSignerYears = 31
)

// Errors about signer and device certificates. They come wrapped in an
// *InputError when Provision or ProvisionAux rejects an input.
var (
	// ErrNotCompressible reports a certificate that does not rebuild byte
	// for byte from the 72-byte compressed form a chip stores, so it
	// cannot be provisioned (it would read back as a different, invalidly
	// signed certificate). The error is a *MismatchError naming the field.
	ErrNotCompressible = cert.ErrNotCompressible
	// ErrDateRange reports a date the compressed format cannot hold: an
	// issue year outside 2000–2031 (nerves_key's year-2032 limit) or a
	// validity outside 1–31 years.
	ErrDateRange = cert.ErrDateRange
	// ErrSignerKey reports a signer key that cannot be used: its PEM has no
	// key block or an unreadable or encrypted one, or the key is not a
	// P-256 ECDSA key or does not match its certificate.
	ErrSignerKey = cert.ErrKey
)

// A MismatchError names the first field where a certificate differs from
// its rebuild from compressed form, e.g. "issuer" for a signer not named
// CN=Signer or "notAfter" for a validity that is not whole years. It
// unwraps to ErrNotCompressible.
type MismatchError = cert.MismatchError

// A DateError reports a date or validity a compressed certificate cannot
// hold. It unwraps to ErrDateRange.
type DateError = cert.DateError

// NewSigner creates a new NervesKey signer: a fresh P-256 key and its
// self-signed certificate, as "mix nerves_key.signer create" makes them:
// subject and issuer CN=Signer, serial number derived from the public key,
// valid from now (UTC, minutes and seconds dropped) for years whole years
// (MinSignerYears to MaxSignerYears), with nerves_key's extensions. A nil
// rand means crypto/rand; a zero now means time.Now().
//
// The certificate is checked to rebuild byte for byte from its compressed
// form, and its signature is chosen so that nerves_key's rebuild (which
// mishandles R or S below 2^247) is byte-identical too. From 2032 on it
// fails with a *DateError: the compressed format cannot hold the year.
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

// ParseCertificatePEM returns the first CERTIFICATE block of data, parsed.
// Use it with a signer key that is not in a PEM file (an HSM or KMS key).
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, errors.New("nerveskey: parse certificate PEM: no CERTIFICATE block")
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("nerveskey: parse certificate PEM: %w", err)
			}
			return c, nil
		}
	}
}

// CheckSigner reports whether signerCert can sign NervesKey device
// certificates: a P-256 certificate that a chip can store (it rebuilds
// byte for byte from its compressed form under the NervesKey signer
// template) and, if key is not nil, whose public key is key's. Otherwise
// the error says exactly why: a *MismatchError (ErrNotCompressible) naming
// the first differing field, or ErrSignerKey. Expiry is not checked here;
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

// EncodeCertificatePEM returns c as a PEM "CERTIFICATE" block.
func EncodeCertificatePEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// EncodeKeyPEM returns key as a PEM "EC PRIVATE KEY" block (SEC1), the
// form "mix nerves_key.signer create" writes and LoadSigner reads.
func EncodeKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}
