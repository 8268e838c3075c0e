package keysource

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nerveskey/nerveskey/internal/testutil"
)

const testPassphrase = "correct horse"

func readPEM(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pemDER(t testing.TB, data []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}

// TestEncryptedPKCS8Vectors decrypts the committed OpenSSL keys: each
// must give the same key as the unencrypted file, and sign.
func TestEncryptedPKCS8Vectors(t *testing.T) {
	want, err := parsePEMKey(readPEM(t, "plain-p256.pem"), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"aes256-sha256.pem", "aes128-sha1.pem", "aes192-sha512.pem"} {
		t.Run(name, func(t *testing.T) {
			data := readPEM(t, name)
			k, err := parsePEMKey(data, func() ([]byte, error) { return []byte(testPassphrase), nil }, false)
			if err != nil {
				t.Fatal(err)
			}
			if !k.Public().(*ecdsa.PublicKey).Equal(want.Public()) {
				t.Fatal("decrypted key differs from the plain one")
			}
			_, err = parsePEMKey(data, func() ([]byte, error) { return []byte("correct horsf"), nil }, false)
			if !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("wrong passphrase: got %v, want ErrWrongPassphrase", err)
			}
			e, err := parseEncryptedPKCS8(pemDER(t, data))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := e.marshal(); !bytes.Equal(got, pemDER(t, data)) {
				t.Fatal("marshal does not give back the parsed bytes")
			}
		})
	}
}

// TestEncryptedPKCS8OpenSSL encrypts fresh keys with openssl, as a user
// would, and opens them through Open with each passphrase source.
func TestEncryptedPKCS8OpenSSL(t *testing.T) {
	openssl := testutil.NeedTool(t, "openssl")
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("s3cret pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "k.pem")
	run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", plain)
	enc := filepath.Join(dir, "k.enc.pem")
	run("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", plain, "-passout", "file:"+pass, "-out", enc)
	want, err := Open(t.Context(), plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }
	tests := []struct {
		name    string
		opts    *Options
		wantErr error
	}{
		{"file", &Options{Getenv: noEnv, PassphraseFile: pass}, nil},
		{"env", &Options{Getenv: func(k string) string {
			if k == EnvPassphrase {
				return "s3cret pass"
			}
			return ""
		}}, nil},
		{"prompt", &Options{Getenv: noEnv, Prompt: func(string) ([]byte, error) { return []byte("s3cret pass"), nil }}, nil},
		{"wrong prompt", &Options{Getenv: noEnv, Prompt: func(string) ([]byte, error) { return []byte("s3cret pas"), nil }}, ErrWrongPassphrase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Open(t.Context(), enc, tt.opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !k.Signer.Public().(*ecdsa.PublicKey).Equal(want.Signer.Public()) {
				t.Fatal("decrypted key differs")
			}
			d := sha256.Sum256([]byte("hello"))
			sig, err := k.Signer.Sign(nil, d[:], nil)
			if err == nil && !ecdsa.VerifyASN1(want.Signer.Public().(*ecdsa.PublicKey), d[:], sig) {
				t.Fatal("signature does not verify")
			}
		})
	}
	if _, err := Open(t.Context(), enc, &Options{Getenv: noEnv}); err == nil {
		t.Fatal("no passphrase source: want an error")
	}
	// Other key types are refused, with what they are.
	for _, k := range []struct {
		gen  []string
		want string
	}{
		{[]string{"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"}, "RSA 1024"},
		{[]string{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"}, "ECDSA P-384"},
	} {
		f := filepath.Join(dir, "other.pem")
		os.Remove(f)
		run(append(k.gen, "-out", f)...)
		ef := filepath.Join(dir, "other.enc.pem")
		os.Remove(ef)
		run("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", f, "-passout", "file:"+pass, "-out", ef)
		for _, file := range []string{f, ef} {
			_, err := Open(t.Context(), file, &Options{Getenv: noEnv, PassphraseFile: pass})
			var te *KeyTypeError
			if !errors.As(err, &te) || te.Type != k.want {
				t.Errorf("%s: got %v, want a KeyTypeError for %s", file, err, k.want)
			}
		}
	}
}

// TestEncryptedPKCS8Malformed checks that damaged inputs give typed errors.
func TestEncryptedPKCS8Malformed(t *testing.T) {
	good := pemDER(t, readPEM(t, "aes256-sha256.pem"))
	for i := range good {
		for _, delta := range []byte{1, 0x80} {
			b := bytes.Clone(good)
			b[i] ^= delta
			e, err := parseEncryptedPKCS8(b)
			if err != nil {
				var pe *PKCS8Error
				if !errors.As(err, &pe) {
					t.Fatalf("byte %d: untyped error %v", i, err)
				}
				continue
			}
			if _, err := e.decrypt([]byte(testPassphrase)); err == nil {
				// Only the ciphertext's first blocks may change
				// without bad padding; then the key must not parse.
				if _, err := parsePEMKey(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: b}),
					func() ([]byte, error) { return []byte(testPassphrase), nil }, false); err == nil && !bytes.Equal(b, good) {
					t.Logf("byte %d: damaged key still decrypts and parses", i)
				}
			}
		}
	}
	for _, tt := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"trailing", append(bytes.Clone(good), 0)},
		{"truncated", good[:len(good)-1]},
	} {
		if _, err := parseEncryptedPKCS8(tt.in); err == nil {
			t.Errorf("%s: parsed", tt.name)
		}
	}
}

// FuzzEncryptedPKCS8 checks that the parser never panics, that whatever
// it accepts re-encodes to the same bytes, and that decrypting it with a
// cheap iteration count gives a result or a typed error.
func FuzzEncryptedPKCS8(f *testing.F) {
	for _, name := range []string{"aes256-sha256.pem", "aes128-sha1.pem", "aes192-sha512.pem"} {
		f.Add(pemDER(f, readPEM(f, name)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseEncryptedPKCS8(b)
		if err != nil {
			return
		}
		got, err := e.marshal()
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("round trip changed %x into %x (%v)", b, got, err)
		}
		if e.iterations <= 4096 {
			if _, err := e.decrypt([]byte("pass")); err != nil {
				var pe *PKCS8Error
				if !errors.As(err, &pe) {
					t.Fatalf("untyped error %v", err)
				}
			}
		}
	})
}
