package nerveskey_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// needTool is testutil.NeedTool, under the name this package's tests use.
func needTool(tb testing.TB, name string) string {
	tb.Helper()
	return testutil.NeedTool(tb, name)
}

func TestJWTVerifiesWithGolangJWT(t *testing.T) {
	for _, rev := range revisions {
		t.Run(rev.String(), func(t *testing.T) {
			k, _ := newTestKey(t, rev)
			iat := time.Now().Add(-time.Minute).Truncate(time.Second)
			tok, err := k.JWT(t.Context(), &nerveskey.JWTOptions{Audience: "my-project", Lifetime: 20 * time.Minute, IssuedAt: iat})
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(tok, ".")
			if len(parts) != 3 {
				t.Fatalf("token %q has %d parts", tok, len(parts))
			}
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			if err != nil || len(sig) != 64 {
				t.Fatalf("signature is %d bytes (%v), want 64 (R‖S)", len(sig), err)
			}
			hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
			if string(hdr) != `{"alg":"ES256","typ":"JWT"}` {
				t.Errorf("header = %s", hdr)
			}
			claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
			if want := `{"aud":"my-project","exp":` + itoa(iat.Unix()+1200) + `,"iat":` + itoa(iat.Unix()) + `}`; string(claims) != want {
				t.Errorf("claims = %s, want %s", claims, want)
			}

			// golang-jwt's own ES256, as a broker would verify it.
			pub := k.Public().(*ecdsa.PublicKey)
			parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil },
				jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience("my-project"), jwt.WithIssuedAt())
			if err != nil || !parsed.Valid {
				t.Fatalf("golang-jwt rejects the token: %v", err)
			}
			if parsed.Method != jwt.SigningMethodES256 {
				t.Errorf("parsed with %v, want golang-jwt's ES256", parsed.Method.Alg())
			}
			// Another key must not verify it.
			other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return &other.PublicKey, nil }); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
				t.Errorf("token verified with another key: %v", err)
			}
		})
	}
}

func itoa(v int64) string { return big.NewInt(v).String() }

func TestJWTDefaults(t *testing.T) {
	k, _ := newTestKey(t, nerveskeytest.ATECC608A)
	before := time.Now().Unix()
	tok, err := k.JWT(t.Context(), &nerveskey.JWTOptions{Audience: "p"})
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.MapClaims
	if _, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return k.Public(), nil }); err != nil {
		t.Fatal(err)
	}
	iat, _ := c.GetIssuedAt()
	exp, _ := c.GetExpirationTime()
	if iat.Unix() < before || iat.Unix() > time.Now().Unix() {
		t.Errorf("iat %v is not now", iat)
	}
	if d := exp.Sub(iat.Time); d != time.Hour {
		t.Errorf("default lifetime %v, want 1h", d)
	}
	for _, tt := range []struct {
		name string
		opts *nerveskey.JWTOptions
	}{
		{"nil options", nil},
		{"no audience", &nerveskey.JWTOptions{}},
		{"negative lifetime", &nerveskey.JWTOptions{Audience: "p", Lifetime: -time.Second}},
		{"lifetime under a second", &nerveskey.JWTOptions{Audience: "p", Lifetime: time.Millisecond}},
		{"lifetime over 24 h", &nerveskey.JWTOptions{Audience: "p", Lifetime: 25 * time.Hour}},
		{"lifetime over the maximum set", &nerveskey.JWTOptions{Audience: "p", Lifetime: 2 * time.Hour, MaxLifetime: time.Hour}},
		{"clock in 1970", &nerveskey.JWTOptions{Audience: "p", IssuedAt: time.Unix(10, 0)}},
		{"clock in 2024", &nerveskey.JWTOptions{Audience: "p", IssuedAt: time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC)}},
	} {
		if _, err := k.JWT(t.Context(), tt.opts); err == nil {
			t.Errorf("%s: no error", tt.name)
		} else if strings.HasPrefix(tt.name, "clock") && !errors.Is(err, nerveskey.ErrClockNotSet) {
			t.Errorf("%s: %v, want ErrClockNotSet", tt.name, err)
		}
	}
	// A longer lifetime works once the maximum is raised explicitly.
	if _, err := k.JWT(t.Context(), &nerveskey.JWTOptions{Audience: "p", Lifetime: 48 * time.Hour, MaxLifetime: 7 * 24 * time.Hour}); err != nil {
		t.Errorf("48 h with MaxLifetime 7 days: %v", err)
	}
	if _, err := k.JWT(t.Context(), &nerveskey.JWTOptions{Audience: "p", IssuedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Errorf("2025-01-01: %v", err)
	}
}

func TestSigningMethodES256(t *testing.T) {
	k, _ := newTestKey(t, nerveskeytest.ATECC508A)
	m := nerveskey.SigningMethodES256
	if m.Alg() != "ES256" {
		t.Fatalf("Alg = %q", m.Alg())
	}
	// Through golang-jwt's own Token API, with custom claims.
	tok, err := jwt.NewWithClaims(m, jwt.MapClaims{"sub": "dev-1"}).SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return k.Public(), nil })
	if err != nil || got.Claims.(jwt.MapClaims)["sub"] != "dev-1" {
		t.Fatalf("parse: %v %v", err, got)
	}
	// Verify accepts the Key itself and rejects a changed input.
	i := strings.LastIndexByte(tok, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err := m.Verify(tok[:i], sig, k); err != nil {
		t.Errorf("Verify with *Key: %v", err)
	}
	if err := m.Verify(tok[:i]+"x", sig, k); err == nil {
		t.Error("Verify accepted a changed signing input")
	}
	// Wrong key types are errors, not panics.
	for _, key := range []any{nil, "key", (*nerveskey.Key)(nil), k.Public()} {
		if _, err := m.Sign("a.b", key); err == nil {
			t.Errorf("Sign with %T: no error", key)
		}
	}
	if err := m.Verify("a.b", sig, (*nerveskey.Key)(nil)); err == nil {
		t.Error("Verify with nil *Key: no error")
	}
	if _, err := k.SignJWT(t.Context(), nil); err == nil {
		t.Error("SignJWT(nil claims): no error")
	}
	// A closed key fails with ErrClosed through the JWT layer.
	k.Close()
	if _, err := k.JWT(t.Context(), &nerveskey.JWTOptions{Audience: "p"}); !errors.Is(err, nerveskey.ErrClosed) {
		t.Errorf("JWT after Close = %v, want ErrClosed", err)
	}
}

// TestJWTOpenSSL verifies a token outside Go: openssl dgst checks the
// R‖S signature, converted to DER, over the signing input with the device
// public key.
func TestJWTOpenSSL(t *testing.T) {
	openssl := needTool(t, "openssl")
	for _, rev := range []nerveskeytest.Revision{nerveskeytest.ATECC508A, nerveskeytest.ATECC608A} {
		t.Run(rev.String(), func(t *testing.T) {
			k, _ := newTestKey(t, rev)
			tok, err := k.JWT(t.Context(), &nerveskey.JWTOptions{Audience: "openssl"})
			if err != nil {
				t.Fatal(err)
			}
			i := strings.LastIndexByte(tok, '.')
			rs, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
			if err != nil || len(rs) != 64 {
				t.Fatalf("signature: %d bytes, %v", len(rs), err)
			}
			dir := t.TempDir()
			pubDER, err := x509.MarshalPKIXPublicKey(k.Public())
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, "pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
			write(t, filepath.Join(dir, "sig.der"), derFromRS(rs))
			write(t, filepath.Join(dir, "input"), []byte(tok[:i]))
			write(t, filepath.Join(dir, "changed"), []byte(tok[:i]+"."))
			out, err := exec.Command(openssl, "dgst", "-sha256", "-verify", filepath.Join(dir, "pub.pem"),
				"-signature", filepath.Join(dir, "sig.der"), filepath.Join(dir, "input")).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verified OK") {
				t.Fatalf("openssl dgst -verify: %v\n%s", err, out)
			}
			out, err = exec.Command(openssl, "dgst", "-sha256", "-verify", filepath.Join(dir, "pub.pem"),
				"-signature", filepath.Join(dir, "sig.der"), filepath.Join(dir, "changed")).CombinedOutput()
			if err == nil || strings.Contains(string(out), "Verified OK") {
				t.Fatalf("openssl accepted the signature over a changed input:\n%s", out)
			}
		})
	}
}

// derFromRS converts a JWS R‖S signature to the DER form OpenSSL reads,
// independently of the package's own encoder.
func derFromRS(rs []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(rs[:32]))
		b.AddASN1BigInt(new(big.Int).SetBytes(rs[32:]))
	})
	return b.BytesOrPanic()
}

func write(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
