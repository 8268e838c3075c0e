package nerveskey_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// TestCertificateRequest makes a CSR with a NervesKey's key and with a
// Trust&Go part's slot 0 key (ForeignKey), and checks it with crypto/x509
// and openssl req -verify.
func TestCertificateRequest(t *testing.T) {
	nk, _ := newTestKey(t, nerveskeytest.ATECC508A)
	tng, err := openChip(t, nerveskeytest.NewTrustAndGoChip(t, nil), &nerveskey.Options{Addr: 0x35}).ForeignKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]*nerveskey.Key{"nerves_key": nk, "trust_and_go": tng} {
		t.Run(name, func(t *testing.T) {
			der, err := k.CertificateRequest(t.Context(), &x509.CertificateRequest{
				Subject:  pkix.Name{CommonName: "device-42", Organization: []string{"Example"}},
				DNSNames: []string{"device-42.example.com"},
			})
			if err != nil {
				t.Fatal(err)
			}
			csr, err := x509.ParseCertificateRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Error(err)
			}
			if !k.Public().(*ecdsa.PublicKey).Equal(csr.PublicKey) || csr.Subject.CommonName != "device-42" ||
				len(csr.DNSNames) != 1 || csr.SignatureAlgorithm != x509.ECDSAWithSHA256 {
				t.Errorf("CSR %+v", csr)
			}
			openssl := needTool(t, "openssl")
			p := filepath.Join(t.TempDir(), "req.pem")
			if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644); err != nil {
				t.Fatal(err)
			}
			// Some openssl versions exit 0 after a failed check: read
			// the verdict.
			verify := func() (string, bool) {
				out, err := exec.Command(openssl, "req", "-verify", "-noout", "-in", p).CombinedOutput()
				return string(out), err == nil && strings.Contains(string(out), "verify OK") && !strings.Contains(string(out), "fail")
			}
			if out, ok := verify(); !ok {
				t.Errorf("openssl req -verify: %s", out)
			}
			// A changed request must fail, so the check above can fail.
			bad := append([]byte(nil), der...)
			bad[len(bad)-5] ^= 1
			if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: bad}), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, ok := verify(); ok {
				t.Errorf("openssl req -verify accepted a changed signature: %s", out)
			}
		})
	}
	if _, err := nk.CertificateRequest(t.Context(), &x509.CertificateRequest{SignatureAlgorithm: x509.SHA256WithRSA}); err == nil {
		t.Error("RSA signature algorithm: no error")
	}
	if _, err := nk.CertificateRequest(t.Context(), nil); err == nil {
		t.Error("nil template: no error")
	}
}
