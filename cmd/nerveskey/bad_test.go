package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// snapshot reads every file in dir.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		m[e.Name()] = readFile(t, filepath.Join(dir, e.Name()))
	}
	return m
}

// foreignCert returns a PEM P-256 certificate and key that are not a
// NervesKey signer (wrong subject, validity not in whole years).
func foreignCert(t *testing.T) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(42),
		Subject:               pkix.Name{CommonName: "Some CA", Organization: []string{"Example"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(90 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// TestBadInputs runs every command on bad input: each must print exactly
// one error line, exit non-zero and leave every file as it was.
func TestBadInputs(t *testing.T) {
	foreignPEM, foreignKey := foreignCert(t)
	blank := string(readFile(t, "testdata/blank-608a.json"))
	corrupt := map[string]string{
		"not-json.json":   "{\"config\": ",
		"bad-hex.json":    strings.Replace(blank, `"config": "0123`, `"config": "zz23`, 1),
		"short-slot.json": strings.Replace(blank, `"15": "00`, `"15": "`, 1),
		"empty.json":      "",
		"bad-rev.json":    strings.Replace(blank, `"config": "0123b6f400006002`, `"config": "0123b6f400009902`, 1),
	}
	provision := func(img, cert, key string, extra ...string) []string {
		return append([]string{"--sim", img, "provision", "--signer-cert", cert, "--signer-key", key, "--yes"}, extra...)
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int    // 0: any non-zero
		want  string // in the error line
	}{
		{"missing image", []string{"--sim", "nope.json", "info"}, "", 1, "nope.json"},
		{"image not json", []string{"--sim", "not-json.json", "info"}, "", 1, "not-json.json"},
		{"image bad hex", []string{"--sim", "bad-hex.json", "info"}, "", 1, "bad-hex.json"},
		{"image short slot", []string{"--sim", "short-slot.json", "pubkey"}, "", 1, "short-slot.json"},
		{"image empty", []string{"--sim", "empty.json", "sign"}, "x", 1, "empty.json"},
		{"image unknown revision", []string{"--sim", "bad-rev.json", "info"}, "", 1, "bad-rev.json"},
		{"corrupt image provision", provision("bad-hex.json", "signer.cert", "signer.key"), "", 1, ""},
		{"missing signer cert", provision("blank-608a.json", "nope.cert", "signer.key"), "", 1, "nope.cert"},
		{"missing signer key", provision("blank-608a.json", "signer.cert", "nope.key"), "", 1, "nope.key"},
		{"signer key is a cert", provision("blank-608a.json", "signer.cert", "signer.cert"), "", 1, ""},
		{"wrong key for the cert", provision("blank-608a.json", "signer.cert", "aux-signer.key"), "", 1, "does not match"},
		{"signer not compressible", provision("blank-608a.json", "foreign.cert", "foreign.key"), "", 1, "foreign.cert"},
		{"provisioned chip", provision("608a.json", "signer.cert", "signer.key"), "", 1, "already provisioned"},
		{"sn too long", provision("blank-608a.json", "signer.cert", "signer.key", "--sn", strings.Repeat("x", 33)), "", 1, "serial number"},
		{"sn with slash", provision("blank-608a.json", "signer.cert", "signer.key", "--sn", "a/b"), "", 1, "serial number"},
		{"board too long", provision("blank-608a.json", "signer.cert", "signer.key", "--board", "abcdefghijk"), "", 1, "board name"},
		{"volatile on 508", append(provision("blank-508a.json", "signer.cert", "signer.key", "--volatile", "--encryption-key", strings.Repeat("22", 16)), "--activation-key", strings.Repeat("11", 16)), "", 1, "volatile"},
		{"provision without --yes", []string{"--sim", "blank-608a.json", "provision", "--signer-cert", "signer.cert", "--signer-key", "signer.key"}, "yes\n", 2, "confirmation"},
		{"provision missing flags", []string{"--sim", "blank-608a.json", "provision", "--yes"}, "", 2, "--signer-cert"},
		{"aux provision on blank chip", []string{"--sim", "blank-608a.json", "aux", "provision", "--signer-cert", "aux-signer.cert", "--signer-key", "aux-signer.key"}, "", 1, "not provisioned"},
		{"aux provision wrong key", []string{"--sim", "608a.json", "aux", "provision", "--signer-cert", "aux-signer.cert", "--signer-key", "signer.key"}, "", 1, "does not match"},
		{"aux clear on blank chip", []string{"--sim", "blank-608a.json", "aux", "clear"}, "", 1, "not provisioned"},
		{"aux cert missing", []string{"--sim", "608a.json", "cert", "device", "--aux"}, "", 1, "no aux"},
		{"cert on blank chip", []string{"--sim", "blank-608a.json", "cert", "signer"}, "", 1, "not provisioned"},
		{"pubkey on blank chip", []string{"--sim", "blank-608a.json", "pubkey"}, "", 1, "not provisioned"},
		{"sign on blank chip", []string{"--sim", "blank-608a.json", "sign"}, "data", 1, "not provisioned"},
		{"sign bad digest hex", []string{"--sim", "608a.json", "sign", "--digest", "xyz"}, "", 2, "hex"},
		{"sign short digest", []string{"--sim", "608a.json", "sign", "--digest", "00ff"}, "", 2, "32"},
		{"bench on blank chip", []string{"--sim", "blank-608a.json", "bench", "-n", "2"}, "", 1, "not provisioned"},
		{"selftest on blank chip", []string{"--sim", "blank-608a.json", "selftest"}, "", 1, "selftest failed"},
		{"verify bad roots", []string{"--sim", "608a.json", "verify", "--roots", "signer.key"}, "", 1, "no PEM certificates"},
		{"verify wrong roots", []string{"--sim", "608a.json", "verify", "--roots", "foreign.cert"}, "", 1, "verify failed"},
		{"settings none", []string{"--sim", "608a.json", "settings", "get"}, "", 1, "no settings stored"},
		{"settings corrupt", []string{"--sim", "508a-bad-settings.json", "settings", "get"}, "", 1, "corrupt"},
		{"settings get on blank chip", []string{"--sim", "blank-608a.json", "settings", "get"}, "", 1, "not provisioned"},
		{"settings put on blank chip", []string{"--sim", "blank-608a.json", "settings", "put", "--raw-hex", "8301"}, "", 1, "not provisioned"},
		{"settings put bad hex", []string{"--sim", "608a.json", "settings", "put", "--raw-hex", "83z1"}, "", 2, "hex"},
		{"settings put odd hex", []string{"--sim", "608a.json", "settings", "put", "--raw-hex", "831"}, "", 2, "odd"},
		{"settings put too large", []string{"--sim", "608a.json", "settings", "put", "--raw-hex", strings.Repeat("83", 525)}, "", 1, "525"},
		{"settings put missing file", []string{"--sim", "608a.json", "settings", "put", "nope.json"}, "", 1, "nope.json"},
		{"settings put bad json", []string{"--sim", "608a.json", "settings", "put", "-"}, "{\"a\": ", 1, "invalid JSON"},
		{"settings put not an object", []string{"--sim", "608a.json", "settings", "put", "-"}, "[1, 2]", 1, "object"},
		{"settings put two values", []string{"--sim", "608a.json", "settings", "put", "-"}, "{} {}", 1, "more than one"},
		{"settings put too large json", []string{"--sim", "608a.json", "settings", "put", "-"}, `{"k": "` + strings.Repeat("x", 600) + `"}`, 1, "max 524"},
		{"settings put file and hex", []string{"--sim", "608a.json", "settings", "put", "x.json", "--raw-hex", "00"}, "", 2, "not both"},
		{"signer create exists", []string{"signer", "create", "signer"}, "", 1, "already exists"},
		{"device create wrong key", []string{"device", "create", "d", "--signer-cert", "signer.cert", "--signer-key", "aux-signer.key"}, "", 1, "does not match"},
		{"device create exists", []string{"device", "create", "signer", "--signer-cert", "signer.cert", "--signer-key", "signer.key"}, "", 1, "already exists"},
		{"sim and bus", []string{"--sim", "608a.json", "--bus", "/dev/i2c-1", "info"}, "", 2, "exclude"},
		{"no such bus", []string{"--bus", "/dev/i2c-99", "info"}, "", 1, "/dev/i2c-99"},
		{"bad activation key", []string{"--sim", "608a.json", "--activation-key", "11", "info"}, "", 2, "16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{"blank-608a.json", "blank-508a.json", "608a.json", "508a-bad-settings.json", "signer.cert", "signer.key", "aux-signer.cert", "aux-signer.key"} {
				copyFile(t, dir, f)
			}
			for name, data := range corrupt {
				writeFile(t, filepath.Join(dir, name), []byte(data))
			}
			writeFile(t, filepath.Join(dir, "foreign.cert"), foreignPEM)
			writeFile(t, filepath.Join(dir, "foreign.key"), foreignKey)
			before := snapshot(t, dir)
			r := nk(t, dir, tt.stdin, tt.args...)
			checkError(t, r, tt.code, tt.want)
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

// TestWriteBack checks that a command that changes the chip writes the
// image back, leaving no temporary file, and that one that changes
// nothing does not rewrite it. (TestBadInputs checks failures leave it.)
func TestWriteBack(t *testing.T) {
	dir := t.TempDir()
	img := copyFile(t, dir, "608a.json")
	before := readFile(t, img)
	ok(t, dir, "", "--sim", img, "settings", "put", "--raw-hex", "8374000000016d000000016161"+"01")
	after := readFile(t, img)
	if bytes.Equal(before, after) {
		t.Fatal("settings put did not write the image back")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	// Writing the same settings again changes nothing, so the file is
	// not rewritten.
	fi1, _ := os.Stat(img)
	time.Sleep(10 * time.Millisecond)
	ok(t, dir, "", "--sim", img, "settings", "put", "--raw-hex", "8374000000016d00000001616101")
	fi2, _ := os.Stat(img)
	if !fi1.ModTime().Equal(fi2.ModTime()) {
		t.Error("an unchanged image was rewritten")
	}
	raw := strings.TrimSpace(ok(t, dir, "", "--sim", img, "settings", "get", "--raw").stdout)
	if !strings.HasPrefix(raw, "8374000000016d00000001616101") {
		t.Errorf("raw settings: %.40s", raw)
	}
	if _, err := hex.DecodeString(raw); err != nil {
		t.Error(err)
	}
}
