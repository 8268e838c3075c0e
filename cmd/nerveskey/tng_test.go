package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// tngSim writes nerveskeytest's simulated Trust&Go chip to dir/tng.json
// and its test root to dir/tng-root.pem. The chip's signer chains to that
// test root; a real Trust&Go part chains to Microchip's root instead.
func tngSim(t *testing.T, dir string) (img, root string) {
	t.Helper()
	data, err := marshalImage(nerveskeytest.NewTrustAndGoChip(t, nil).Image())
	if err != nil {
		t.Fatal(err)
	}
	img, root = filepath.Join(dir, "tng.json"), filepath.Join(dir, "tng-root.pem")
	writeFile(t, img, data)
	writeFile(t, root, nerveskeytest.TrustAndGoTestRootPEM())
	return img, root
}

// TestTrustAndGo runs the read-only commands and settings on a simulated
// Trust&Go chip with --type trust_and_go, which selects address 0x35.
func TestTrustAndGo(t *testing.T) {
	dir := t.TempDir()
	img, rootPEM := tngSim(t, dir)
	tng := func(args ...string) []string {
		return append([]string{"--sim", img, "--type", "trust_and_go"}, args...)
	}

	// Without --type the CLI looks for a NervesKey at 0x60 and finds
	// nothing; with it, at 0x35.
	checkError(t, nk(t, dir, "", "--sim", img, "info"), 1, "0x60")
	var in infoJSON
	if err := json.Unmarshal([]byte(ok(t, dir, "", tng("info", "--json")...).stdout), &in); err != nil {
		t.Fatal(err)
	}
	want := infoJSON{Provisioned: true, Mode: in.Mode, Revision: "ATECC608B", Serial: "01235a1b2c3d4e5f01",
		ManufacturerSN: "01235A1B2C3D4E5F01", DefaultManufacturerSN: in.DefaultManufacturerSN}
	if in != want || in.Mode == "unprovisioned" || len(in.DefaultManufacturerSN) != 15 {
		t.Errorf("info --json:\n got %+v\nwant %+v", in, want)
	}
	ok(t, dir, "", "--sim", img, "--addr", "0x35", "--type", "trust_and_go", "info")

	dev := parsePEMCert(t, ok(t, dir, "", tng("cert", "device")...).stdout)
	signer := parsePEMCert(t, ok(t, dir, "", tng("cert", "signer")...).stdout)
	root := nerveskeytest.TrustAndGoTestRoot()
	if got, want := dev.Subject.CommonName, "sn01235A1B2C3D4E5F01"; got != want {
		t.Errorf("device CN = %q, want %q", got, want)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inter.AddCert(signer)
	if _, err := dev.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("crypto/x509: cert device does not verify through cert signer to the test root: %v", err)
	}
	if der := ok(t, dir, "", tng("cert", "signer", "--der")...).stdout; der != string(signer.Raw) {
		t.Error("cert signer --der differs from the PEM's bytes")
	}

	// verify: the chain holds with the test root and not with a foreign
	// one; without --roots only the device-signer link is checked, and
	// the report says so.
	var rep checkReport
	if err := json.Unmarshal([]byte(ok(t, dir, "", tng("verify", "--roots", rootPEM, "--json")...).stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || len(rep.Checks) == 0 {
		t.Errorf("verify --roots test root: %+v", rep)
	}
	if out := ok(t, dir, "", tng("verify")...).stdout; !strings.Contains(out, "not checked up to Microchip's root") {
		t.Errorf("verify without --roots does not say the chain is open:\n%s", out)
	}
	ok(t, dir, "", "signer", "create", "foreign")
	checkError(t, nk(t, dir, "", tng("verify", "--roots", "foreign.cert")...), 1, "verify failed")

	msg := "trust and go\n"
	digest := sha256.Sum256([]byte(msg))
	sig, err := hex.DecodeString(strings.TrimSpace(ok(t, dir, msg, tng("sign")...).stdout))
	if err != nil || !ecdsa.VerifyASN1(dev.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Errorf("sign does not verify under the device certificate's key (%v)", err)
	}

	// Settings live in slot 8 alone: 416 bytes, not 524.
	checkError(t, nk(t, dir, "", tng("settings", "get")...), 1, "no settings")
	writeFile(t, filepath.Join(dir, "s.json"), []byte(`{"nerves_hub_org": "acme", "retries": 3}`))
	ok(t, dir, "", tng("settings", "put", "s.json")...)
	if got := ok(t, dir, "", tng("settings", "get")...).stdout; !strings.Contains(got, `"nerves_hub_org": "acme"`) || !strings.Contains(got, `"retries": 3`) {
		t.Errorf("settings get after put: %q", got)
	}
	full := bytes.Repeat([]byte{0xA5}, 416)
	ok(t, dir, "", tng("settings", "put", "--raw-hex", hex.EncodeToString(full))...)
	if raw := strings.TrimSpace(ok(t, dir, "", tng("settings", "get", "--raw")...).stdout); raw != hex.EncodeToString(full) {
		t.Errorf("settings get --raw: %d digits, want the 416 bytes written", len(raw))
	}
	before := readFile(t, img)
	checkError(t, nk(t, dir, "", tng("settings", "put", "--raw-hex", hex.EncodeToString(append(full, 0xA5)))...), 0, "416")
	if !bytes.Equal(readFile(t, img), before) {
		t.Error("a refused 417-byte settings put changed the image")
	}
	im, err := nerveskeytest.ParseImage(readFile(t, img))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(im.Slots[8], full) {
		t.Error("slot 8 does not hold the 416 bytes written")
	}
	if string(im.Slots[5][:12]) != "E8EB1B00C0DE" {
		t.Errorf("settings put changed the slot 5 MAC: %q", im.Slots[5][:12])
	}
	// The certificates still read and verify after the settings writes.
	ok(t, dir, "", tng("verify", "--roots", rootPEM)...)
}
