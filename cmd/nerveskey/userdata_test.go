package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
)

// TestProvisionUserData provisions a simulated chip with --user-data and
// reads it back with info (goldens); data that does not fit is refused
// before anything is written.
func TestProvisionUserData(t *testing.T) {
	dir := t.TempDir()
	img := copyFile(t, dir, "blank-608a.json")
	signerCert, signerKey, err := nerveskey.NewSigner(nil, 5, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := cert.EncodeKeyPEM(signerKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "s.cert"), filepath.Join(dir, "s.key")
	writeFile(t, certFile, cert.EncodeCertificatePEM(signerCert))
	writeFile(t, keyFile, keyPEM)
	provision := func(args ...string) []string {
		return append([]string{"--sim", img, "provision", "--signer-cert", certFile, "--signer-key", keyFile, "--yes", "--board", "my_board"}, args...)
	}
	const user = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

	before := readFile(t, img)
	checkError(t, nk(t, dir, "", provision("--sn", "1234578", "--user-data", user+"20")...), exitUsage, "max 32")
	checkError(t, nk(t, dir, "", provision("--sn", "12345678901234567", "--user-data", "01")...), exitFailed, "user data")
	if !bytes.Equal(readFile(t, img), before) {
		t.Fatal("a refused provision changed the image")
	}
	r := ok(t, dir, "", provision("--sn", "1234578", "--user-data", user, "--dry-run")...)
	if !strings.Contains(r.stderr, "nerveskey: plan: OTP user data "+user+"\n") {
		t.Errorf("the plan does not show the user data:\n%s", r.stderr)
	}
	ok(t, dir, "", provision("--sn", "1234578", "--user-data", user)...)

	r = ok(t, dir, "", "--sim", img, "info", "--json")
	golden(t, "info-user-data.json", r.stdout)
	var in infoJSON
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil {
		t.Fatal(err)
	}
	if in.UserData != user || in.ManufacturerSN != "1234578" {
		t.Errorf("info --json: %+v", in)
	}
	golden(t, "info-user-data", ok(t, dir, "", "--sim", img, "info").stdout)
}
