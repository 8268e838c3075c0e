package cert

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
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
)

// signDates builds and signs a certificate for d directly, bypassing
// compatibleDates, so the date edge cases of docs/nerves_key.md §7.2 can be made.
func signDates(t *testing.T, d Dates, device bool) (der []byte, rebuild func(*Compressed) ([]byte, error), tmpl Template) {
	t.Helper()
	signer, dev := testutil.NewP256(t), testutil.NewP256(t)
	sxy, dxy := testutil.PublicXY(t, &signer.PublicKey), testutil.PublicXY(t, &dev.PublicKey)
	sn := [9]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}
	var tbs []byte
	var err error
	if device {
		aki := nervesKeyKeyID(sxy)
		tbs, err = nervesKeyDeviceTBS(d, dxy, sn, "FEB29", signerNameDER, aki[:])
		rebuild = func(c *Compressed) ([]byte, error) { return NervesKeyDevice(c, dxy, sxy, sn, "FEB29") }
		tmpl = NervesKeyDeviceTemplate
	} else {
		tbs, err = nervesKeySignerTBS(d, sxy)
		rebuild = func(c *Compressed) ([]byte, error) { return NervesKeySigner(c, sxy) }
		tmpl = NervesKeySignerTemplate
	}
	if err != nil {
		t.Fatal(err)
	}
	rs := signOnce(t, signer, tbs)
	der, err = assemble(tbs, nil, &rs, true)
	if err != nil {
		t.Fatal(err)
	}
	return der, rebuild, tmpl
}

func TestDateEdgeRoundTrips(t *testing.T) {
	for _, tt := range []struct {
		name      string
		d         Dates
		device    bool
		notAfter  string // as it appears in the DER
		x509Parse bool
	}{
		{"expire 0", Dates{2026, 7, 8, 9, 0}, false, "\x18\x0f99991231235959Z", true},
		{"expire 31", Dates{2026, 7, 8, 9, 31}, true, "\x18\x0f20570708090000Z", true},
		{"expire 1", Dates{2031, 12, 31, 23, 1}, false, "\x17\x0d321231230000Z", true},
		{"issue 2000", Dates{2000, 1, 1, 0, 31}, true, "\x17\x0d310101000000Z", true},
		{"issue 2031 +31", Dates{2031, 1, 1, 0, 31}, true, "\x18\x0f20620101000000Z", true},
		{"Feb 29 + 4", Dates{2028, 2, 29, 10, 4}, true, "\x17\x0d320229100000Z", true},
		// nerves_key signs 2059-02-29 on 2028-02-29; the rebuild keeps it,
		// and crypto/x509 cannot parse the result.
		{"Feb 29 + 31", Dates{2028, 2, 29, 10, 31}, true, "\x18\x0f20590229100000Z", false},
		{"Feb 29 + 1 signer", Dates{2024, 2, 29, 11, 1}, false, "\x17\x0d250229110000Z", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			der, rebuild, tmpl := signDates(t, tt.d, tt.device)
			if !bytes.Contains(der, []byte(tt.notAfter)) {
				t.Fatalf("notAfter %q not in %x", tt.notAfter, der)
			}
			checkRoundTrip(t, der, tmpl, rebuild)
			c, _ := Compress(der, tmpl)
			if c.Dates != tt.d {
				t.Fatalf("Compress dates %+v, want %+v", c.Dates, tt.d)
			}
			_, err := x509.ParseCertificate(der)
			if (err == nil) != tt.x509Parse {
				t.Fatalf("x509.ParseCertificate err = %v, want parse ok = %v", err, tt.x509Parse)
			}
		})
	}
}

func TestCompatibleDates(t *testing.T) {
	for _, tt := range []struct {
		now   time.Time
		years int
		want  Dates
		err   error
	}{
		{time.Date(2026, 11, 25, 8, 59, 59, 999, time.UTC), 1, Dates{2026, 11, 25, 8, 1}, nil},
		{time.Date(2026, 11, 25, 8, 59, 0, 0, time.FixedZone("X", -3*3600)), 1, Dates{2026, 11, 25, 11, 1}, nil},
		{time.Date(2028, 2, 29, 10, 30, 0, 0, time.UTC), 31, Dates{2028, 2, 28, 10, 31}, nil},
		{time.Date(2028, 2, 29, 10, 30, 0, 0, time.UTC), 4, Dates{2028, 2, 29, 10, 4}, nil},
		{time.Date(2028, 2, 29, 10, 30, 0, 0, time.UTC), 1, Dates{2028, 2, 28, 10, 1}, nil},
		{time.Date(2031, 12, 31, 23, 59, 0, 0, time.UTC), 31, Dates{2031, 12, 31, 23, 31}, nil},
		{time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC), 1, Dates{}, ErrDateRange},
		{time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC), 1, Dates{}, ErrDateRange},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 32, Dates{}, ErrDateRange},
	} {
		got, err := compatibleDates(tt.now, tt.years)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("compatibleDates(%v, %d) = %+v, %v; want %+v, %v", tt.now, tt.years, got, err, tt.want, tt.err)
		}
	}
}

func TestNewDeviceFeb29(t *testing.T) {
	signerKey := testutil.NewP256(t)
	now := time.Date(2028, 2, 29, 10, 30, 15, 0, time.UTC)
	signerDER, err := NewSigner(rand.Reader, signerKey, 4, now)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := x509.ParseCertificate(signerDER)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2032, 2, 29, 10, 0, 0, 0, time.UTC); !signer.NotAfter.Equal(want) {
		t.Fatalf("signer notAfter %v, want %v (Feb 29 kept when the expiry year is leap)", signer.NotAfter, want)
	}
	dev := testutil.NewP256(t)
	der, comp, err := NewDevice(rand.Reader, &dev.PublicKey, [9]byte{9}, "LEAP", signer, signerKey, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("device certificate issued on Feb 29 does not parse: %v", err)
	}
	if nb, na := cert.NotBefore, cert.NotAfter; !nb.Equal(time.Date(2028, 2, 28, 10, 0, 0, 0, time.UTC)) ||
		!na.Equal(time.Date(2059, 2, 28, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("validity %v .. %v", nb, na)
	}
	if comp.Dates != (Dates{2028, 2, 28, 10, 31}) {
		t.Fatalf("compressed dates %+v", comp.Dates)
	}
	if err := cert.CheckSignatureFrom(signer); err != nil {
		t.Fatal(err)
	}
}

func TestCheckSignerExplains(t *testing.T) {
	key := testutil.NewP256(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	der, err := NewSigner(rand.Reader, key, 2, now)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(old, new string) *x509.Certificate {
		t.Helper()
		m := bytes.Replace(der, []byte(old), []byte(new), 1)
		if bytes.Equal(m, der) {
			t.Fatalf("%q not found", old)
		}
		c, err := x509.ParseCertificate(m)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	xy := testutil.PublicXY(t, &key.PublicKey)
	kid := nervesKeyKeyID(xy)
	serial := SerialFromPublicKey(xy, Dates{2026, 1, 2, 3, 2}.encode())

	// A signer made with crypto/x509, right in every value, differs in
	// the string type of CN=Signer.
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(serial[:]),
		Subject:               pkix.Name{CommonName: "Signer"},
		NotBefore:             time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2028, 1, 2, 3, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		SubjectKeyId:          kid[:],
		AuthorityKeyId:        kid[:],
	}
	goDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	goCert, _ := x509.ParseCertificate(goDER)

	for _, tt := range []struct {
		name  string
		cert  *x509.Certificate
		field string
		msg   string
	}{
		{"minutes", mutate("260102030000Z", "260102030400Z"), "notBefore", `UTCTime "260102030400Z"`},
		{"notAfter month", mutate("280102030000Z", "280302030000Z"), "notAfter", `UTCTime "280302030000Z"`},
		{"crypto/x509 signer", goCert, "issuer", `"/CN=Signer (PrintableString)", compressed form rebuilds "/CN=Signer"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSigner(tt.cert)
			var me *MismatchError
			if !errors.As(err, &me) || me.Field != tt.field || !errors.Is(err, ErrNotCompressible) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %s mismatch mentioning %s", err, tt.field, tt.msg)
			}
			t.Log(err)
		})
	}
	// The same signer cannot issue device certificates that compress.
	_, _, err = NewDevice(rand.Reader, &testutil.NewP256(t).PublicKey, [9]byte{}, "N", goCert, key, now)
	var me *MismatchError
	if !errors.As(err, &me) || me.Field != "issuer" {
		t.Fatalf("NewDevice with crypto/x509 signer: %v", err)
	}
	t.Log(err)

	// Not P-256.
	rk, _ := rsa.GenerateKey(rand.Reader, 1024)
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Signer"}, NotBefore: now, NotAfter: now.AddDate(1, 0, 0)}
	rder, _ := x509.CreateCertificate(rand.Reader, rt, rt, &rk.PublicKey, rk)
	rc, _ := x509.ParseCertificate(rder)
	if err := CheckSigner(rc); !errors.Is(err, ErrKey) {
		t.Fatalf("RSA signer: %v", err)
	}
	if _, err := Compress(rder, NervesKeySignerTemplate); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Compress(RSA cert): %v", err)
	}
	// Key mismatch.
	sc, _ := x509.ParseCertificate(der)
	if err := CheckSignerKey(sc, testutil.NewP256(t)); !errors.Is(err, ErrKey) {
		t.Fatalf("CheckSignerKey with other key: %v", err)
	}
	if _, err := NewSigner(rand.Reader, rk, 1, now); !errors.Is(err, ErrKey) {
		t.Fatalf("NewSigner(RSA): %v", err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := NewSigner(rand.Reader, p384, 1, now); !errors.Is(err, ErrKey) {
		t.Fatalf("NewSigner(P-384): %v", err)
	}
}

func TestParseSignerPEM(t *testing.T) {
	key := testutil.NewP256(t)
	der, err := NewSigner(rand.Reader, key, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	sec1, _ := x509.MarshalECPrivateKey(key)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edPKCS8, _ := x509.MarshalPKCS8PrivateKey(edKey)
	other, _ := x509.MarshalECPrivateKey(testutil.NewP256(t))
	block := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	for _, tt := range []struct {
		name    string
		cert    []byte
		key     []byte
		wantErr error
	}{
		{"SEC1", certPEM, block("EC PRIVATE KEY", sec1), nil},
		{"PKCS8", certPEM, block("PRIVATE KEY", pkcs8), nil},
		{"EC PARAMETERS first", certPEM, append(block("EC PARAMETERS", []byte{6, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 3, 1, 7}), block("EC PRIVATE KEY", sec1)...), nil},
		{"other key", certPEM, block("EC PRIVATE KEY", other), ErrKey},
		{"ed25519", certPEM, block("PRIVATE KEY", edPKCS8), ErrKey},
		{"no key", certPEM, []byte("nothing"), ErrMalformed},
		{"no key is a key error", certPEM, []byte("nothing"), ErrKey},
		{"broken SEC1", certPEM, block("EC PRIVATE KEY", []byte{0x30, 0}), ErrKey},
		{"encrypted SEC1", certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"}, Bytes: sec1}), ErrKey},
		{"encrypted PKCS8", certPEM, block("ENCRYPTED PRIVATE KEY", []byte{0x30, 0}), ErrKey},
		{"P-384", certPEM, block("EC PRIVATE KEY", p384SEC1(t)), ErrKey},
		{"no cert", []byte("x"), block("EC PRIVATE KEY", sec1), ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, k, err := ParseSignerPEM(tt.cert, tt.key)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil {
				if err := CheckSignerKey(c, k); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestNewDebugDevice(t *testing.T) {
	signerKey := testutil.NewP256(t)
	now := time.Now()
	signerDER, err := NewSigner(rand.Reader, signerKey, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := x509.ParseCertificate(signerDER)
	der, key, err := NewDebugDevice(nil, "debug-device", signer, signerKey, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) || cert.Subject.CommonName != "debug-device" || len(cert.SerialNumber.Bytes()) != 16 {
		t.Fatalf("debug device: CN %q serial %x", cert.Subject.CommonName, cert.SerialNumber)
	}
	verifyChain(t, der, signerDER)

	// The key and certificate work with openssl as a pair.
	openssl := testutil.NeedTool(t, "openssl")
	dir := t.TempDir()
	sec1, _ := x509.MarshalECPrivateKey(key)
	kp := filepath.Join(dir, "device.key")
	if err := os.WriteFile(kp, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), 0o600); err != nil {
		t.Fatal(err)
	}
	cp := writePEM(t, dir, "device.pem", der)
	out, err := exec.Command(openssl, "x509", "-in", cp, "-noout", "-pubkey").Output()
	if err != nil {
		t.Fatal(err)
	}
	out2, err := exec.Command(openssl, "pkey", "-in", kp, "-pubout").Output()
	if err != nil || !bytes.Equal(out, out2) {
		t.Fatalf("openssl: certificate and key public keys differ: %v\n%s\n%s", err, out, out2)
	}
}

func p384SEC1(t *testing.T) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDescribeKey checks keys are named as users know them, not as Go
// types.
func TestDescribeKey(t *testing.T) {
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 1024)
	epub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, tt := range []struct {
		pub  crypto.PublicKey
		want string
	}{
		{&k384.PublicKey, "an ECDSA P-384 key"},
		{&rk.PublicKey, "an RSA 1024-bit key"},
		{epub, "an Ed25519 key"},
		{nil, "no key"},
	} {
		if got := describeKey(tt.pub); got != tt.want {
			t.Errorf("describeKey(%T) = %q, want %q", tt.pub, got, tt.want)
		}
	}
}
