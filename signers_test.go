package nerveskey_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// opaqueSigner hides the *ecdsa.PrivateKey behind crypto.Signer, as an HSM
// or KMS key would.
type opaqueSigner struct{ k *ecdsa.PrivateKey }

func (o opaqueSigner) Public() crypto.PublicKey { return o.k.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.k.Sign(r, d, opts)
}

func TestNewSignerYears(t *testing.T) {
	for _, tt := range []struct {
		years   int
		wantErr error
	}{{1, nil}, {5, nil}, {31, nil}, {0, nerveskey.ErrDateRange}, {32, nerveskey.ErrDateRange}} {
		c, k, err := nerveskey.NewSigner(nil, tt.years, provNow)
		if !errors.Is(err, tt.wantErr) {
			t.Fatalf("years %d: %v", tt.years, err)
		}
		if err != nil {
			continue
		}
		if c.Subject.CommonName != "Signer" || !c.IsCA || c.NotAfter.Year()-c.NotBefore.Year() != tt.years || c.NotBefore.Minute() != 0 {
			t.Errorf("years %d: %v %v..%v", tt.years, c.Subject, c.NotBefore, c.NotAfter)
		}
		if err := c.CheckSignatureFrom(c); err != nil {
			t.Error(err)
		}
		if err := nerveskey.CheckSigner(c, k); err != nil {
			t.Error(err)
		}
	}
	if _, _, err := nerveskey.NewSigner(nil, 1, time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, nerveskey.ErrDateRange) {
		t.Errorf("2032: %v", err)
	}
}

func TestSignerWithOpaqueKeyProvisions(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hsm := opaqueSigner{k}
	c, err := nerveskey.NewSignerWithKey(nil, hsm, 3, provNow.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sim, chip := newBlankChip(t, nerveskeytest.ATECC608A, nil)
	if _, err := chip.Provision(t.Context(), testInfo, c, hsm, provOpts(nil)); err != nil {
		t.Fatal(err)
	}
	checkProvisioned(t, sim, testInfo, c, nil)
}

func TestLoadSignerPEMForms(t *testing.T) {
	c, k := testSigner(t)
	certPEM := cert.EncodeCertificatePEM(c)
	sec1, err := cert.EncodeKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(sec1); b == nil || b.Type != "EC PRIVATE KEY" {
		t.Fatalf("EncodeKeyPEM: %q", sec1)
	}
	p8der, _ := x509.MarshalPKCS8PrivateKey(k)
	pkcs8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8der})
	for name, keyPEM := range map[string][]byte{"sec1": sec1, "pkcs8": pkcs8} {
		lc, lk, err := nerveskey.LoadSigner(certPEM, keyPEM)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !lc.Equal(c) || !lk.Public().(*ecdsa.PublicKey).Equal(&k.PublicKey) {
			t.Fatalf("%s: loaded a different signer", name)
		}
	}
	_, other := testSigner(t)
	otherPEM, _ := cert.EncodeKeyPEM(other)
	if _, _, err := nerveskey.LoadSigner(certPEM, otherPEM); !errors.Is(err, nerveskey.ErrSignerKey) {
		t.Errorf("mismatched key: %v", err)
	}
}

// TestLoadElixirSigners loads the signers "mix nerves_key.signer create"
// made for testdata/elixir-extra.json.
func TestLoadElixirSigners(t *testing.T) {
	for _, v := range readElixirVecs(t, "elixir-extra.json") {
		c, _, err := nerveskey.LoadSigner([]byte(v.SignerCert), []byte(v.SignerKey))
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if err := nerveskey.CheckSigner(c, nil); err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
	}
}

// TestCheckSignerExplains: a certificate that does not compress is
// refused with the field that differs.
func TestCheckSignerExplains(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: bigOne(), Subject: pkixName("Signer"), NotBefore: provNow, NotAfter: provNow.AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	c, _ := x509.ParseCertificate(der)
	err := nerveskey.CheckSigner(c, k)
	if !errors.Is(err, nerveskey.ErrNotCompressible) || !strings.Contains(err.Error(), "serialNumber") {
		t.Fatalf("got %v, want ErrNotCompressible naming the serial number", err)
	}
}
