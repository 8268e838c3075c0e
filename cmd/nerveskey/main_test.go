package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// binary is the nerveskey command built by TestMain.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "nerveskey-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "nerveskey")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// A result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

// nk runs the binary in dir with stdin and args.
func nk(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run nerveskey %v: %v", args, err)
	}
	return r
}

// ok runs the binary and fails the test unless it exits 0.
func ok(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	r := nk(t, dir, stdin, args...)
	if r.code != 0 {
		t.Fatalf("nerveskey %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// copyFile copies testdata/name into dir and returns its new path.
func copyFile(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.Base(name))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *testutil.Update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if busErrorText.ReplaceAllString(got, busErrorSame) != busErrorText.ReplaceAllString(string(want), busErrorSame) {
		t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", p, got, want)
	}
}

// busErrorText matches how the bus reports a NAK, which is the bus's text,
// not the CLI's: the simulator's own words, or errno through Linux
// i2c-dev (NERVESKEYTEST_I2CDEV=1). Goldens compare everything else.
var busErrorText = regexp.MustCompile(`i2c: (nerveskeytest: address not acknowledged: address 0x[0-9a-f]+|sysfs-i2c: no such device or address)`)

const busErrorSame = "i2c: (the chip did not acknowledge)"

// checkError checks the style of a failure: a non-zero exit (wantCode if
// set), exactly one "nerveskey: error:" line, and nothing else on stderr
// but hints.
func checkError(t *testing.T, r result, wantCode int, wantSubstr string) {
	t.Helper()
	if r.code == 0 || (wantCode != 0 && r.code != wantCode) {
		t.Errorf("exit %d, want %d (non-zero); stderr: %s", r.code, wantCode, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	errs := 0
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "nerveskey: error: "):
			errs++
			msg := strings.TrimPrefix(l, "nerveskey: error: ")
			if strings.HasSuffix(msg, ".") || msg == "" {
				t.Errorf("error line %q ends with a period or is empty", l)
			}
			if strings.Contains(msg, "nerveskey: ") {
				t.Errorf("error line %q repeats the program name", l)
			}
		case strings.HasPrefix(l, "nerveskey: hint: "):
		default:
			t.Errorf("unexpected stderr line %q", l)
		}
	}
	if errs != 1 {
		t.Errorf("got %d error lines, want 1:\n%s", errs, r.stderr)
	}
	if wantSubstr != "" && !strings.Contains(r.stderr, wantSubstr) {
		t.Errorf("stderr %q does not mention %q", r.stderr, wantSubstr)
	}
}

func TestHelp(t *testing.T) {
	dir := t.TempDir()
	r := ok(t, dir, "", "--help")
	if r.stderr != "" {
		t.Errorf("--help wrote to stderr: %s", r.stderr)
	}
	golden(t, "help", r.stdout)
	if h := ok(t, dir, "", "help"); h.stdout != r.stdout {
		t.Error("'nerveskey help' differs from 'nerveskey --help'")
	}
	for _, cmd := range commands {
		t.Run(cmd.name, func(t *testing.T) {
			args := append(strings.Fields(cmd.name), "--help")
			r := ok(t, dir, "", args...)
			if r.stderr != "" {
				t.Errorf("wrote to stderr: %s", r.stderr)
			}
			if !strings.HasPrefix(r.stdout, "Usage: nerveskey "+cmd.name) {
				t.Errorf("help does not start with its usage line:\n%s", r.stdout)
			}
			if !strings.Contains(r.stdout, "$ nerveskey") {
				t.Errorf("help has no examples:\n%s", r.stdout)
			}
			golden(t, "help-"+strings.ReplaceAll(cmd.name, " ", "-"), r.stdout)
			h := ok(t, dir, "", append([]string{"help"}, strings.Fields(cmd.name)...)...)
			if h.stdout != r.stdout {
				t.Errorf("'nerveskey help %s' differs from --help", cmd.name)
			}
		})
	}
	if v := ok(t, dir, "", "version"); !strings.HasPrefix(v.stdout, "nerveskey ") {
		t.Errorf("version: %q", v.stdout)
	}
	for _, group := range []string{"sim", "signer", "device", "aux", "settings"} {
		r := ok(t, dir, "", group, "--help")
		golden(t, "help-"+group, r.stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"sim"},
		{"sim", "old"},
		{"info", "--frob"},
		{"info", "extra"},
		{"--addr", "0x99", "info"},
		{"--addr", "zz", "info"},
		{"--type", "yubikey", "info"},
		{"cert"},
		{"cert", "root"},
		{"sim", "new"},
		{"sim", "new", "x.json", "--revision", "708a"},
		{"sim", "new", "x.json", "--serial", "0123"},
		{"sign", "--digest", "zz"},
		{"sign", "--digest", "0011"},
		{"signer", "create", "s", "--years", "0"},
		{"signer", "create", "s", "--years", "32"},
		{"device", "create", "d"},
		{"settings", "put"},
		{"settings", "put", "--raw-hex", "0g"},
		{"bench", "-n", "0"},
		{"--activation-key", "00", "info"},
	} {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			r := nk(t, dir, "", args...)
			checkError(t, r, 2, "")
			if !strings.Contains(r.stderr, "nerveskey: hint: ") {
				t.Errorf("usage error without a hint: %s", r.stderr)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("usage errors left files behind: %v", entries)
	}
}

func TestSimNew(t *testing.T) {
	dir := t.TempDir()
	for _, rev := range []string{"508a", "608a", "608b"} {
		t.Run(rev, func(t *testing.T) {
			name := "chip-" + rev + ".json"
			r := ok(t, dir, "", "sim", "new", name, "--revision", rev, "--serial", "0123aabbccddeeff01")
			if r.stdout != "" {
				t.Errorf("sim new wrote to stdout: %s", r.stdout)
			}
			img := readFile(t, filepath.Join(dir, name))
			golden(t, "sim-new-"+rev+".json", string(img))
			// Global flags work before and after the command alike.
			a := ok(t, dir, "", "--sim", name, "info", "--json")
			b := ok(t, dir, "", "info", "--json", "--sim", name)
			if a.stdout != b.stdout {
				t.Errorf("--sim before and after the command differ:\n%s\n%s", a.stdout, b.stdout)
			}
			golden(t, "info-sim-new-"+rev+".json", a.stdout)
			var in infoJSON
			if err := json.Unmarshal([]byte(a.stdout), &in); err != nil {
				t.Fatal(err)
			}
			if in.Provisioned || in.Mode != "unprovisioned" || in.Serial != "0123aabbccddeeff01" || in.Revision != "ATECC"+strings.ToUpper(rev) {
				t.Errorf("info of a blank chip: %+v", in)
			}
			if !bytes.Equal(readFile(t, filepath.Join(dir, name)), img) {
				t.Error("info changed the image file")
			}
			// sim new refuses to overwrite.
			checkError(t, nk(t, dir, "", "sim", "new", name), 1, "already exists")
			if !bytes.Equal(readFile(t, filepath.Join(dir, name)), img) {
				t.Error("a refused sim new changed the file")
			}
		})
	}
}

func TestInfo(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"508a-aux", "608a", "608b-aux", "608a-plain-settings", "blank-608b"} {
		t.Run(name, func(t *testing.T) {
			img := copyFile(t, dir, name+".json")
			r := ok(t, dir, "", "--sim", img, "info", "--json")
			golden(t, "info-"+name+".json", r.stdout)
			if strings.Count(r.stdout, "\n") != 1 {
				t.Errorf("info --json is not one line: %q", r.stdout)
			}
			r = ok(t, dir, "", "--sim", img, "info")
			golden(t, "info-"+name, r.stdout)
		})
	}
}

// parsePEMCert parses the single PEM certificate in s.
func parsePEMCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, rest := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("not one PEM certificate: %q", s)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertAndSign(t *testing.T) {
	dir := t.TempDir()
	img := copyFile(t, dir, "508a-aux.json")
	before := readFile(t, img)
	for _, aux := range []bool{false, true} {
		var extra []string
		if aux {
			extra = []string{"--aux"}
		}
		dev := parsePEMCert(t, ok(t, dir, "", append([]string{"--sim", img, "cert", "device"}, extra...)...).stdout)
		signer := parsePEMCert(t, ok(t, dir, "", append([]string{"--sim", img, "cert", "signer"}, extra...)...).stdout)
		if err := dev.CheckSignatureFrom(signer); err != nil {
			t.Errorf("aux=%v: device certificate does not verify under the signer: %v", aux, err)
		}
		der := ok(t, dir, "", append([]string{"--sim", img, "cert", "device", "--der"}, extra...)...).stdout
		if der != string(dev.Raw) {
			t.Errorf("aux=%v: --der differs from the PEM's bytes", aux)
		}
	}
	pubPEM := ok(t, dir, "", "--sim", img, "pubkey").stdout
	b, _ := pem.Decode([]byte(pubPEM))
	if b == nil || b.Type != "PUBLIC KEY" {
		t.Fatalf("pubkey: %q", pubPEM)
	}
	pk, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := pk.(*ecdsa.PublicKey)
	dev := parsePEMCert(t, ok(t, dir, "", "--sim", img, "cert", "device").stdout)
	if !pub.Equal(dev.PublicKey) {
		t.Error("pubkey is not the device certificate's key")
	}

	msg := "hello, chip\n"
	digest := sha256.Sum256([]byte(msg))
	sig, err := hex.DecodeString(strings.TrimSpace(ok(t, dir, msg, "--sim", img, "sign").stdout))
	if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Errorf("sign of stdin does not verify (%v)", err)
	}
	sig, err = hex.DecodeString(strings.TrimSpace(ok(t, dir, "", "--sim", img, "sign", "--digest", hex.EncodeToString(digest[:])).stdout))
	if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Errorf("sign --digest does not verify (%v)", err)
	}
	rs, err := hex.DecodeString(strings.TrimSpace(ok(t, dir, msg, "--sim", img, "sign", "--rs").stdout))
	if err != nil || len(rs) != 64 {
		t.Fatalf("sign --rs: %x (%v)", rs, err)
	}
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(rs[:32]), new(big.Int).SetBytes(rs[32:])) {
		t.Error("sign --rs does not verify")
	}
	if !bytes.Equal(readFile(t, img), before) {
		t.Error("reading commands changed the image file")
	}
}
