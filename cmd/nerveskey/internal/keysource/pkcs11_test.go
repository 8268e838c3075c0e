//go:build cgo

package keysource

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nerveskey/nerveskey/cmd/nerveskey/internal/softhsmtest"
)

// TestPKCS11 opens keys made by pkcs11-tool in a SoftHSM2 token and
// checks each way of getting them wrong gives its own clear error.
func TestPKCS11(t *testing.T) {
	tok := softhsmtest.New(t, "factory")
	tok.GenKey(t, "EC:prime256v1", "signer", "01")
	tok.GenKey(t, "EC:secp384r1", "p384", "02")
	tok.GenKey(t, "rsa:2048", "rsa", "03")
	good := tok.URI(t, "signer")
	noEnv := func(string) string { return "" }

	k, err := Open(t.Context(), good, &Options{Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("hello"))
	sig, err := k.Signer.Sign(nil, d[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(k.Signer.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatal("HSM signature does not verify")
	}
	if strings.Contains(k.Desc, softhsmtest.PIN) || !k.PKCS11 {
		t.Fatalf("Desc %q, PKCS11 %v", k.Desc, k.PKCS11)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k.Close()

	// The same key by id, with the module and PIN from the environment.
	env := func(k string) string {
		return map[string]string{EnvModule: tok.Module, EnvPIN: softhsmtest.PIN}[k]
	}
	k, err = Open(t.Context(), "pkcs11:token=factory;id=%01", &Options{Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
	// The PIN from the prompt.
	k, err = Open(t.Context(), "pkcs11:token=factory;object=signer?module-path="+tok.Module,
		&Options{Getenv: noEnv, Prompt: func(string) ([]byte, error) { return []byte(softhsmtest.PIN), nil }})
	if err != nil {
		t.Fatal(err)
	}
	k.Close()

	wrongPIN := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrongPIN, []byte("0000\n"), 0o600)
	base := "pkcs11:token=factory;object=signer?module-path=" + tok.Module
	tests := []struct {
		name, uri string
		want      string
	}{
		{"wrong PIN", base + "&pin-source=file:" + wrongPIN, "wrong PIN"},
		{"missing PIN file", base + "&pin-source=file:/nonexistent/pin", "pin-source: open /nonexistent/pin"},
		{"no PIN", base, "no PIN"},
		{"missing module", "pkcs11:token=factory;object=signer?module-path=/nonexistent/lib.so&pin-value=1234", "PKCS#11 module: stat /nonexistent/lib.so"},
		{"no module", "pkcs11:token=factory;object=signer?pin-value=1234", "no PKCS#11 module"},
		{"unknown token", strings.Replace(tok.URI(t, "signer"), "token=factory", "token=nosuch", 1), `no token labeled "nosuch"`},
		{"unknown object", tok.URI(t, "nosuch"), "no key pair with that object label or id"},
		{"P-384 key", tok.URI(t, "p384"), "key is ECDSA P-384, want ECDSA P-256"},
		{"RSA key", tok.URI(t, "rsa"), "key is RSA 2048, want ECDSA P-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Open(t.Context(), tt.uri, &Options{Getenv: noEnv})
			if err == nil {
				k.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %q, want one line containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), softhsmtest.PIN) && !strings.Contains(tt.name, "module") {
				t.Fatalf("error %q shows the PIN", err)
			}
		})
	}
	var te *KeyTypeError
	if _, err := Open(t.Context(), tok.URI(t, "rsa"), nil); !errors.As(err, &te) {
		t.Fatalf("RSA: got %v, want a *KeyTypeError", err)
	}
}
