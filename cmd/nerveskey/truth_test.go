package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// transcript is a run's exit code, stdout and stderr, as goldens hold them.
func transcript(r result) string {
	return fmt.Sprintf("exit %d\n-- stdout --\n%s-- stderr --\n%s", r.code, r.stdout, r.stderr)
}

// TestTruthfulErrors runs the command lines whose errors once misled (a
// key file blamed on the certificate, Go type and function names, flags
// spelled -sn, an empty variable swallowing --yes, an address the user
// never chose) and compares what the user sees with testdata/truth-*.golden.
func TestTruthfulErrors(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "", "sim", "new", "chip.json", "--serial", "0123aabbccddeeff01")
	ok(t, dir, "", "signer", "create", "signer")
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("broken.key", []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"))
	write("notpem.key", []byte("not a key\n"))
	// A key encrypted by "openssl ec -aes256": legacy PEM encryption
	// headers on an EC PRIVATE KEY block (the body is not looked at).
	write("encrypted.key", []byte("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END EC PRIVATE KEY-----\n"))
	write("pkcs8-encrypted.key", []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalECPrivateKey(p384)
	write("p384.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	ok(t, dir, "", "signer", "create", "other")

	provision := func(key string, extra ...string) []string {
		return append([]string{"--sim", "chip.json", "provision", "--signer-cert", "signer.cert", "--signer-key", key}, extra...)
	}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"key-broken", provision("broken.key", "--yes")},
		{"key-not-pem", provision("notpem.key", "--yes")},
		{"key-encrypted", provision("encrypted.key", "--yes")},
		{"key-pkcs8-encrypted", provision("pkcs8-encrypted.key", "--yes")},
		{"key-p384", provision("p384.key", "--yes")},
		{"key-mismatch", provision("other.key", "--yes")},
		{"empty-sn-swallows-yes", provision("signer.key", "--sn", "--yes")},
		{"empty-sn", provision("signer.key", "--sn", "", "--yes")},
		{"empty-sn-equals", provision("signer.key", "--sn=", "--yes")},
		{"sn-missing-value", provision("signer.key", "--sn")},
		{"sn-unknown-flag", []string{"--sim", "chip.json", "info", "--sn"}},
		{"empty-sim", []string{"--sim", "", "info"}},
		{"bad-addr", []string{"--addr", "zz", "info"}},
		{"trust-and-go-on-nerveskey", []string{"--sim", "chip.json", "--type", "trust_and_go", "info"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, dir)
			r := nk(t, dir, "", tt.args...)
			checkError(t, r, 0, "")
			for _, leak := range []string{"*ecdsa", "Chip.", "Init()", "nerveskeytest.", " -sn", "(devel)"} {
				if strings.Contains(r.stderr, leak) {
					t.Errorf("stderr leaks %q: %s", leak, r.stderr)
				}
			}
			golden(t, "truth-"+tt.name, transcript(r))
			after := snapshot(t, dir)
			for name, data := range before {
				if string(after[name]) != string(data) {
					t.Errorf("%s changed", name)
				}
			}
		})
	}
}

// TestNoI2CBus checks the error on a machine without I2C buses (this
// test's usual one) names the problem, not periph's Init().
func TestNoI2CBus(t *testing.T) {
	if m, _ := filepath.Glob("/dev/i2c-*"); len(m) > 0 {
		t.Skip("skipping: this machine has I2C buses")
	}
	r := nk(t, t.TempDir(), "", "--bus", "/dev/i2c-7", "info")
	checkError(t, r, 1, "")
	golden(t, "truth-no-i2c-bus", transcript(r))
}

// TestVersion checks --version and version print the release version and
// the build's commit when it recorded one, never "(devel)".
func TestVersion(t *testing.T) {
	dir := t.TempDir()
	a := ok(t, dir, "", "--version")
	b := ok(t, dir, "", "version")
	if a.stdout != b.stdout || a.stderr != "" || b.stderr != "" {
		t.Errorf("--version %q and version %q differ", a.stdout, b.stdout)
	}
	re := regexp.MustCompile(`^nerveskey ` + regexp.QuoteMeta(version) + `( \([0-9a-f]{12}(, [0-9TZ:-]+)?(, modified)?\))? go[0-9.]+\S*\n$`)
	if !re.MatchString(a.stdout) {
		t.Errorf("--version printed %q, want a match of %s", a.stdout, re)
	}
}

// TestSettingsTyped writes settings that have no plain JSON form (the
// map a held-out Elixir chip stores, %{0 => "zero-key", true => false},
// plus a tuple, an atom value, a float and bytes), reads them back with
// settings get, and puts what it printed back: the stored bytes must not
// change.
func TestSettingsTyped(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, dir, "608a.json")
	typed := `{"t":"map","v":[` +
		`[{"t":"int","v":0},{"t":"bin","v":"zero-key"}],` +
		`[{"t":"atom","v":"true"},{"t":"atom","v":"false"}],` +
		`[{"t":"tuple","v":[{"t":"atom","v":"ok"},{"t":"int","v":1}]},{"t":"float","v":1.0}],` +
		`[{"t":"bin","v":"raw"},{"t":"bytes","v":"ff00"}]]}`
	ok(t, dir, typed, "--sim", "608a.json", "settings", "put", "--typed", "-")
	raw := ok(t, dir, "", "--sim", "608a.json", "settings", "get", "--raw").stdout
	got := ok(t, dir, "", "--sim", "608a.json", "settings", "get")
	golden(t, "truth-settings-get-typed", transcript(got))
	forced := ok(t, dir, "", "--sim", "608a.json", "settings", "get", "--typed")
	if forced.stdout != got.stdout || forced.stderr != "" {
		t.Errorf("get --typed printed\n%s%s\nwant the same JSON, no hint", forced.stdout, forced.stderr)
	}
	ok(t, dir, got.stdout, "--sim", "608a.json", "settings", "put", "--typed", "-")
	if again := ok(t, dir, "", "--sim", "608a.json", "settings", "get", "--raw").stdout; again != raw {
		t.Errorf("putting back what get printed changed the stored settings:\n%s\n%s", raw, again)
	}

	// A stored term that is not a map (put_raw_settings can leave one)
	// prints too, and goes back unchanged.
	ok(t, dir, `{"t":"list","v":[{"t":"int","v":1},{"t":"atom","v":"nil"}]}`, "--sim", "608a.json", "settings", "put", "--typed", "-")
	raw = ok(t, dir, "", "--sim", "608a.json", "settings", "get", "--raw").stdout
	list := ok(t, dir, "", "--sim", "608a.json", "settings", "get")
	if !strings.Contains(list.stdout, `"t": "list"`) || !strings.Contains(list.stderr, "hint: ") {
		t.Errorf("a list term printed as\n%s%s", list.stdout, list.stderr)
	}
	ok(t, dir, list.stdout, "--sim", "608a.json", "settings", "put", "--typed", "-")
	if again := ok(t, dir, "", "--sim", "608a.json", "settings", "get", "--raw").stdout; again != raw {
		t.Errorf("putting back a list term changed it:\n%s\n%s", raw, again)
	}

	// Plain settings print plain, floats as floats, and go back unchanged.
	ok(t, dir, `{"ssid": "net", "gain": 1.0, "n": 3, "l": [1, 2.5e-7]}`, "--sim", "608a.json", "settings", "put", "-")
	raw = ok(t, dir, "", "--sim", "608a.json", "settings", "get", "--raw").stdout
	plain := ok(t, dir, "", "--sim", "608a.json", "settings", "get")
	golden(t, "truth-settings-get-plain", transcript(plain))
	ok(t, dir, plain.stdout, "--sim", "608a.json", "settings", "put", "-")
	if again := ok(t, dir, "", "--sim", "608a.json", "settings", "get", "--raw").stdout; again != raw {
		t.Errorf("putting back plain settings changed them:\n%s\n%s", raw, again)
	}
}

// TestBenchSimTiming checks bench on the simulator: typical timing gives
// one latency, max a longer one, random a spread between the two; and the
// flag needs --sim.
func TestBenchSimTiming(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, dir, "608a.json")
	bench := func(mode string) benchResult {
		t.Helper()
		r := ok(t, dir, "", "--sim", "608a.json", "bench", "-n", "40", "--json", "--sim-timing", mode)
		var b benchResult
		if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
			t.Fatalf("%s: %v", r.stdout, err)
		}
		return b
	}
	typ, mx, rnd := bench("typical"), bench("max"), bench("random")
	// The driver learns the chip's timing over the first signatures, so
	// even fixed timing spreads a little (its first polls); chip timing
	// that varies spreads by tens of milliseconds.
	const learning = 2.5 // ms
	if typ.MaxMS-typ.P50MS > learning {
		t.Errorf("typical timing varies: %+v", typ)
	}
	if mx.MeanMS <= typ.MeanMS+10 || mx.MaxMS-mx.P50MS > learning {
		t.Errorf("max timing %+v, typical %+v", mx, typ)
	}
	if rnd.MaxMS-rnd.P50MS <= 2*learning || rnd.MaxMS > mx.MaxMS+learning || rnd.P50MS < typ.P50MS-learning {
		t.Errorf("random timing %+v not spread between typical %v and max %v", rnd, typ.P50MS, mx.MaxMS)
	}
	r := nk(t, dir, "", "--bus", "/dev/i2c-7", "bench", "--sim-timing", "max")
	checkError(t, r, 2, "--sim-timing needs --sim")
	r = nk(t, dir, "", "--sim", "608a.json", "bench", "--sim-timing", "slow")
	checkError(t, r, 2, "want typical, max or random")
}
