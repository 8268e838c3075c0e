// Package softhsmtest gives tests a fresh SoftHSM2 token in a temporary
// directory, with keys made by OpenSC's pkcs11-tool, as a factory would
// make them in a real HSM. Tests that use it cannot run in parallel: it
// sets SOFTHSM2_CONF for the process.
package softhsmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// EnvModule overrides where the SoftHSM2 module is looked for.
const EnvModule = "NERVESKEY_SOFTHSM_MODULE"

// PIN is the user PIN of every token New makes; SOPIN its security
// officer's.
const (
	PIN   = "1234"
	SOPIN = "12345678"
)

// modules are where Debian and others install the SoftHSM2 module.
var modules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

// A Token is one initialized SoftHSM2 token.
type Token struct {
	Module string // the module's path
	Label  string // the token label
	Dir    string // the token directory and configuration
}

// need skips the test when a tool is missing, or fails it under CI.
func need(t testing.TB, what, why string) {
	t.Helper()
	msg := "skipping: " + what + " not found (" + why + "); .ci/run installs it"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Module returns the SoftHSM2 module path, or skips the test.
func Module(t testing.TB) string {
	t.Helper()
	if m := os.Getenv(EnvModule); m != "" {
		return m
	}
	for _, m := range modules {
		if _, err := os.Stat(m); err == nil {
			return m
		}
	}
	need(t, "libsofthsm2.so", "Debian package softhsm2, or set "+EnvModule)
	return ""
}

// New makes a token labeled label in a new temporary directory and
// points SOFTHSM2_CONF at it for the rest of the test.
func New(t testing.TB, label string) *Token {
	t.Helper()
	mod := Module(t)
	for _, tool := range []string{"softhsm2-util", "pkcs11-tool"} {
		if _, err := exec.LookPath(tool); err != nil {
			need(t, tool, "Debian packages softhsm2 and opensc")
		}
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	tok := &Token{Module: mod, Label: label, Dir: dir}
	tok.run(t, "softhsm2-util", "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", SOPIN)
	return tok
}

// GenKey makes a key pair in the token with pkcs11-tool: keyType is
// "EC:prime256v1", "EC:secp384r1" or "rsa:2048"; id is hex.
func (tok *Token) GenKey(t testing.TB, keyType, label, id string) {
	t.Helper()
	tok.run(t, "pkcs11-tool", "--module", tok.Module, "--token-label", tok.Label, "--login", "--pin", PIN,
		"--keypairgen", "--key-type", keyType, "--label", label, "--id", id)
}

// URI returns a PKCS#11 URI for the key labeled object, with the module
// and a pin-source file (written once).
func (tok *Token) URI(t testing.TB, object string) string {
	t.Helper()
	pin := filepath.Join(tok.Dir, "pin")
	if err := os.WriteFile(pin, []byte(PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return "pkcs11:token=" + tok.Label + ";object=" + object + "?module-path=" + tok.Module + "&pin-source=file:" + pin
}

func (tok *Token) run(t testing.TB, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
