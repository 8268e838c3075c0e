package main

import (
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nerveskey/nerveskey/internal/testutil"
)

// TestCSR makes certificate requests with the CLI on a NervesKey and, with
// --foreign, on a chip configured by others, and checks them with
// crypto/x509 and openssl req -verify.
func TestCSR(t *testing.T) {
	dir := t.TempDir()
	nkImg := copyFile(t, dir, "608a.json")
	foreign := foreignSim(t, dir)
	checkError(t, nk(t, dir, "", "--sim", foreign, "csr", "--subject", "CN=x"), exitFailed, "not configured as a NervesKey")
	for name, args := range map[string][]string{
		"nerves_key": {"--sim", nkImg, "csr"},
		"foreign":    {"--sim", foreign, "csr", "--foreign"},
	} {
		t.Run(name, func(t *testing.T) {
			r := ok(t, dir, "", append(args, "--subject", "O=Example, CN=device-42", "--dns", "device-42.example.com", "--ip", "192.0.2.7")...)
			b, _ := pem.Decode([]byte(r.stdout))
			if b == nil || b.Type != "CERTIFICATE REQUEST" {
				t.Fatalf("no CSR PEM: %q", r.stdout)
			}
			csr, err := x509.ParseCertificateRequest(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Error(err)
			}
			if csr.Subject.String() != "CN=device-42,O=Example" || len(csr.DNSNames) != 1 || len(csr.IPAddresses) != 1 {
				t.Errorf("CSR subject %q, SANs %v %v", csr.Subject, csr.DNSNames, csr.IPAddresses)
			}
			testutil.NeedTool(t, "openssl")
			p := filepath.Join(dir, name+".csr")
			writeFile(t, p, []byte(r.stdout))
			if out := openssl(t, dir, "req", "-verify", "-noout", "-in", p); !strings.Contains(out, "verify OK") {
				t.Errorf("openssl req -verify: %s", out)
			}
		})
	}
	checkError(t, nk(t, dir, "", "--sim", nkImg, "csr"), exitUsage, "--subject")
	checkError(t, nk(t, dir, "", "--sim", nkImg, "csr", "--subject", "XX=1"), exitUsage, "unknown attribute")
	checkError(t, nk(t, dir, "", "--sim", nkImg, "csr", "--subject", "CN=a", "--ip", "nope"), exitUsage, "not an IP")
}
