//go:build cgo

package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/cmd/nerveskey/internal/keysource"
	"github.com/nerveskey/nerveskey/cmd/nerveskey/internal/softhsmtest"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// hsmSigner opens the token's key in this process, for tests that make
// certificates the CLI refuses to make (backdated signers).
func hsmSigner(t testing.TB, uri string) crypto.Signer {
	t.Helper()
	k, err := keysource.Open(context.Background(), uri, &keysource.Options{AnyType: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k.Signer
}

// TestPKCS11Factory is the factory flow with the signer key in an HSM
// (SoftHSM2): a signer certificate for the HSM key, three simulated
// chips of each revision provisioned with a manifest, every certificate
// verified with openssl, and no private key file anywhere; then every
// way of naming the HSM key wrongly fails with one line, writing nothing.
func TestPKCS11Factory(t *testing.T) {
	testutil.NeedTool(t, "openssl")
	t.Setenv(keysource.EnvModule, "")
	t.Setenv(keysource.EnvPIN, "")
	tok := softhsmtest.New(t, "factory")
	tok.GenKey(t, "EC:prime256v1", "signer", "01")
	tok.GenKey(t, "EC:secp384r1", "p384", "02")
	tok.GenKey(t, "rsa:2048", "rsa", "03")
	uri := tok.URI(t, "signer") // the PIN file is in the token directory
	dir := t.TempDir()

	ok(t, dir, "", "signer", "create", "hsm", "--key", uri, "--years-valid", "31")
	chips := []struct{ rev, serial string }{
		{"508a", "0123aabbccddee0001"}, {"608a", "0123aabbccddee0002"}, {"608b", "0123aabbccddee0003"},
	}
	for _, c := range chips {
		img := "chip-" + c.rev + ".json"
		ok(t, dir, "", "sim", "new", img, "--revision", c.rev, "--serial", c.serial)
		r := ok(t, dir, "", "--sim", img, "provision", "--signer-cert", "hsm.cert", "--signer-key", uri, "--manifest", "m.jsonl", "--yes")
		if strings.Contains(r.stderr, "warning") {
			t.Errorf("a 31-year signer gave a warning:\n%s", r.stderr)
		}
	}
	recs := readManifest(t, filepath.Join(dir, "m.jsonl"))
	if len(recs) != len(chips) {
		t.Fatalf("%d manifest lines, want %d", len(recs), len(chips))
	}
	for i, c := range chips {
		if recs[i].Serial != c.serial || recs[i].Status != "provisioned" || !strings.HasSuffix(recs[i].Revision, strings.ToUpper(c.rev)) {
			t.Errorf("record %d: %+v", i, recs[i])
		}
		checkRecord(t, dir, "chip-"+c.rev+".json", recs[i], filepath.Join(dir, "hsm.cert"))
	}
	// AWS IoT's verification certificate and a company cross
	// certificate, both from HSM keys.
	r := ok(t, dir, "", "signer", "verification-cert", "--signer-cert", "hsm.cert", "--signer-key", uri, "--code", "regcode123", "--out", "verification.pem")
	if out := openssl(t, dir, "verify", "-CAfile", "hsm.cert", "verification.pem"); !strings.Contains(out, "verification.pem: OK") {
		t.Errorf("openssl verify of the verification certificate: %s\n%s", out, r.stderr)
	}
	caKey := hsmSigner(t, tok.URI(t, "p384"))
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Acme HSM Root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(20, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	ok(t, dir, "", "signer", "cross-cert", "--signer-cert", "hsm.cert", "--ca-cert", "ca.pem", "--ca-key", tok.URI(t, "p384"), "--out", "cross.pem")
	if out := openssl(t, dir, "verify", "-CAfile", "ca.pem", "-untrusted", "cross.pem", "dev-"+chips[0].serial+".pem"); !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify through an HSM-issued cross certificate: %s", out)
	}
	// aux provision with the HSM key as the second signer.
	ok(t, dir, "", "signer", "create", "hsm-aux", "--key", uri, "--years-valid", "2")
	ok(t, dir, "", "--sim", "chip-608a.json", "aux", "provision", "--signer-cert", "hsm-aux.cert", "--signer-key", uri)
	writeFile(t, filepath.Join(dir, "aux.pem"), []byte(ok(t, dir, "", "--sim", "chip-608a.json", "cert", "device", "--aux").stdout))
	if out := openssl(t, dir, "verify", "-CAfile", "hsm-aux.cert", "aux.pem"); !strings.Contains(out, "aux.pem: OK") {
		t.Errorf("openssl verify of the aux certificate: %s", out)
	}
	noPrivateKeys(t, dir)
	// device create writes a key file by design (a debug device); do it
	// elsewhere.
	dbg := t.TempDir()
	ok(t, dbg, "", "device", "create", "dbg", "--signer-cert", filepath.Join(dir, "hsm.cert"), "--signer-key", uri)
	openssl(t, dbg, "verify", "-CAfile", filepath.Join(dir, "hsm.cert"), "dbg.cert")

	// Bad inputs.
	wrongPIN := filepath.Join(tok.Dir, "wrong-pin")
	writeFile(t, wrongPIN, []byte("9999\n"))
	base := "pkcs11:token=factory;object=signer?module-path=" + tok.Module
	now := time.Now()
	signer := hsmSigner(t, uri)
	for name, at := range map[string]time.Time{"expired": now.AddDate(-2, 0, 0), "expiring": now.AddDate(-1, 0, 2)} {
		crt, err := nerveskey.NewSignerWithKey(nil, signer, 1, at)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name+".cert"), cert.EncodeCertificatePEM(crt))
	}
	adir := t.TempDir() // a directory is no manifest
	copyFile(t, dir, "blank-608b.json")
	tests := []struct {
		name, cert, key string
		extra           []string
		want            string
	}{
		{"wrong PIN", "hsm.cert", base + "&pin-source=file:" + wrongPIN, nil, "wrong PIN"},
		{"missing module", "hsm.cert", strings.Replace(uri, tok.Module, "/usr/lib/nonexistent/libpkcs11.so", 1), nil, "no such file"},
		{"no module", "hsm.cert", strings.Replace(uri, "module-path="+tok.Module+"&", "", 1), nil, "NERVESKEY_PKCS11_MODULE"},
		{"unknown token", "hsm.cert", strings.Replace(uri, "token=factory", "token=other", 1), nil, `no token labeled "other"`},
		{"unknown object", "hsm.cert", tok.URI(t, "nosuch"), nil, "no key pair"},
		{"RSA key", "hsm.cert", tok.URI(t, "rsa"), nil, "key is RSA 2048, want ECDSA P-256"},
		{"P-384 key", "hsm.cert", tok.URI(t, "p384"), nil, "key is ECDSA P-384, want ECDSA P-256"},
		{"bad URI", "hsm.cert", "pkcs11:token=factory;objekt=signer", nil, `unsupported attribute "objekt"`},
		{"expired signer", "expired.cert", uri, nil, "the signer expired on"},
		{"expiring signer", "expiring.cert", uri, nil, "in less than 7 days"},
		{"manifest not writable", "hsm.cert", uri, []string{"--manifest", adir}, "manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, dir)
			args := append([]string{"--sim", "blank-608b.json", "provision", "--signer-cert", tt.cert, "--signer-key", tt.key, "--yes"}, tt.extra...)
			r := nk(t, dir, "", args...)
			checkError(t, r, 1, tt.want)
			t.Log(strings.TrimSpace(r.stderr))
			if strings.Contains(r.stderr, softhsmtest.PIN) {
				t.Errorf("stderr shows the PIN: %s", r.stderr)
			}
			after := snapshot(t, dir)
			if len(after) != len(before) {
				t.Errorf("files before %d, after %d", len(before), len(after))
			}
			for name, b := range before {
				if !bytes.Equal(after[name], b) {
					t.Errorf("%s changed", name)
				}
			}
		})
	}
}

// snapshot (bad_test.go) reads regular files only; noPrivateKeys walks
// everything under dir.
func noPrivateKeys(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a private key", p)
		}
		return nil
	})
}

// TestPKCS11LibraryPath is the same flow through the library alone, as a
// Go factory program would run it: the HSM key as the crypto.Signer of
// Provision on chips of each revision.
func TestPKCS11LibraryPath(t *testing.T) {
	tok := softhsmtest.New(t, "factory")
	tok.GenKey(t, "EC:prime256v1", "signer", "01")
	signer := hsmSigner(t, tok.URI(t, "signer"))
	signerCert, err := nerveskey.NewSignerWithKey(nil, signer, 31, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for i, rev := range []nerveskeytest.Revision{nerveskeytest.ATECC508A, nerveskeytest.ATECC608A, nerveskeytest.ATECC608B} {
		sim := nerveskeytest.NewChip(&nerveskeytest.Options{Revision: rev, Serial: [9]byte{1, 0x23, 0, 0, 0, 0, 0, byte(i), 0xee}})
		t.Cleanup(func() { sim.Close() })
		c, err := nerveskey.OpenChip(t.Context(), sim, nil)
		if err != nil {
			t.Fatal(err)
		}
		info := nerveskey.ProvisioningInfo{ManufacturerSN: "HSM-" + rev.String(), BoardName: "hsm"}
		if err := provisionChip(t.Context(), c, info, signerCert, signer, nil); err != nil {
			t.Fatalf("%v: %v", rev, err)
		}
		dev, _, err := c.Certificates(t.Context(), nerveskey.Primary)
		if err != nil {
			t.Fatal(err)
		}
		if err := dev.CheckSignatureFrom(signerCert); err != nil {
			t.Errorf("%v: %v", rev, err)
		}
		c.Close()
	}
}

// BenchmarkProvisionSigner measures provisioning wall time per chip with
// the signer key in SoftHSM2 and in memory (a PEM file's key), on the
// simulator through the library. Compare ns/op of the two; bus-ms/op is
// the simulator's modeled bus time, the same for both.
func BenchmarkProvisionSigner(b *testing.B) {
	tok := softhsmtest.New(b, "bench")
	tok.GenKey(b, "EC:prime256v1", "signer", "01")
	hsm := hsmSigner(b, tok.URI(b, "signer"))
	file, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		signer crypto.Signer
	}{{"file", file}, {"softhsm", hsm}} {
		b.Run(bc.name, func(b *testing.B) {
			signerCert, err := nerveskey.NewSignerWithKey(nil, bc.signer, 31, time.Time{})
			if err != nil {
				b.Fatal(err)
			}
			var bus time.Duration
			for b.Loop() {
				sim := nerveskeytest.NewChip(&nerveskeytest.Options{Revision: nerveskeytest.ATECC608B})
				c, err := nerveskey.OpenChip(b.Context(), sim, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := provisionChip(b.Context(), c, nerveskey.ProvisioningInfo{ManufacturerSN: "B", BoardName: "b"}, signerCert, bc.signer, nil); err != nil {
					b.Fatal(err)
				}
				bus += sim.Stats().BusTime
				c.Close()
				sim.Close()
			}
			b.ReportMetric(float64(bus.Milliseconds())/float64(b.N), "bus-ms/op")
		})
	}
}

// BenchmarkSignerSign is one signature by each signer: what provisioning
// adds per signature with the key in SoftHSM2 rather than in memory.
func BenchmarkSignerSign(b *testing.B) {
	tok := softhsmtest.New(b, "bench")
	tok.GenKey(b, "EC:prime256v1", "signer", "01")
	hsm := hsmSigner(b, tok.URI(b, "signer"))
	file, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := make([]byte, 32)
	for _, bc := range []struct {
		name   string
		signer crypto.Signer
	}{{"file", file}, {"softhsm", hsm}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.signer.Sign(rand.Reader, digest, crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
