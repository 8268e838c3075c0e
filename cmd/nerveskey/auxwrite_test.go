package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"path/filepath"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
)

// TestAuxWrite has a second signer issue an aux certificate from the
// chip's CSR, writes the pair with 'aux write' and reads it back; a pair
// that does not fit is refused with the image file unchanged.
func TestAuxWrite(t *testing.T) {
	dir := t.TempDir()
	img := copyFile(t, dir, "608a.json")
	var in infoJSON
	if err := json.Unmarshal([]byte(ok(t, dir, "", "--sim", img, "info", "--json").stdout), &in); err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode([]byte(ok(t, dir, "", "--sim", img, "csr", "--subject", "CN="+in.ManufacturerSN).stdout))
	if b == nil {
		t.Fatal("no CSR")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var sn [9]byte
	if s, err := hex.DecodeString(in.Serial); err != nil || len(s) != 9 {
		t.Fatalf("serial %q", in.Serial)
	} else {
		copy(sn[:], s)
	}
	now := time.Now()
	signerCert, signerKey, err := nerveskey.NewSigner(nil, 5, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	signerFile := filepath.Join(dir, "aux-signer.pem")
	writeFile(t, signerFile, cert.EncodeCertificatePEM(signerCert))
	issue := func(name, cn string) (string, []byte) {
		der, _, err := cert.NewDevice(rand.Reader, csr.PublicKey.(*ecdsa.PublicKey), sn, cn, signerCert, signerKey, now)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		writeFile(t, p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		return p, der
	}

	before := readFile(t, img)
	wrong, _ := issue("wrong-cn.pem", "SOMEONE-ELSE")
	checkError(t, nk(t, dir, "", "--sim", img, "aux", "write", "--device-cert", wrong, "--signer-cert", signerFile), exitFailed, "subject differs")
	checkError(t, nk(t, dir, "", "--sim", img, "aux", "write", "--device-cert", wrong), exitUsage, "--signer-cert")
	devFile, der := issue("aux-device.pem", in.ManufacturerSN)
	ok(t, dir, "", "--sim", img, "aux", "write", "--device-cert", devFile, "--signer-cert", signerFile, "--dry-run")
	if !bytes.Equal(readFile(t, img), before) {
		t.Fatal("a refused or dry-run aux write changed the image")
	}

	r := ok(t, dir, "", "--sim", img, "aux", "write", "--device-cert", devFile, "--signer-cert", signerFile)
	if r.stdout != "" {
		t.Errorf("aux write wrote to stdout: %q", r.stdout)
	}
	if got := parsePEMCert(t, ok(t, dir, "", "--sim", img, "cert", "device", "--aux").stdout); !bytes.Equal(got.Raw, der) {
		t.Fatal("cert device --aux is not the certificate written")
	}
	if got := parsePEMCert(t, ok(t, dir, "", "--sim", img, "cert", "signer", "--aux").stdout); !bytes.Equal(got.Raw, signerCert.Raw) {
		t.Fatal("cert signer --aux is not the signer written")
	}
}
