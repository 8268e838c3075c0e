package cert

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"io"
	mrand "math/rand/v2"
	"testing"
	"time"
)

// signOnce signs tbs with no retry, so signatures with R or S below 2^247
// come through.
func signOnce(t testing.TB, k *ecdsa.PrivateKey, tbs []byte) [64]byte {
	t.Helper()
	d := sha256Sum(tbs)
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	rs, ok := parseECDSASig(sig)
	if !ok {
		t.Fatal("parse signature")
	}
	return rs
}

func randomDates(r *mrand.Rand) Dates {
	return Dates{
		Year:        2000 + r.IntN(32),
		Month:       1 + r.IntN(12),
		Day:         1 + r.IntN(28),
		Hour:        r.IntN(24),
		ExpireYears: r.IntN(32),
	}
}

// TestRoundTripRandomKeys signs signer and device certificates with
// thousands of random keys, without the retry NewSigner and NewDevice do,
// and checks that compress → rebuild gives back the signed bytes, also
// when R or S is below 2^247 (where nerves_key's rebuild is invalid).
func TestRoundTripRandomKeys(t *testing.T) {
	n := 4000
	if testing.Short() {
		n = 300
	}
	r := mrand.New(mrand.NewPCG(1, 2))
	below248, quirks := 0, 0
	for i := range n {
		signer, device := testutil.NewP256(t), testutil.NewP256(t)
		signerXY, deviceXY := testutil.PublicXY(t, &signer.PublicKey), testutil.PublicXY(t, &device.PublicKey)
		var sn [9]byte
		for j := range sn {
			sn[j] = byte(r.Uint32())
		}
		d := randomDates(r)

		tbs, err := nervesKeySignerTBS(d, signerXY)
		if err != nil {
			t.Fatal(err)
		}
		srs := signOnce(t, signer, tbs)
		signerDER, err := assemble(tbs, nil, &srs, true)
		if err != nil {
			t.Fatal(err)
		}
		checkRoundTrip(t, signerDER, NervesKeySignerTemplate, func(c *Compressed) ([]byte, error) {
			return NervesKeySigner(c, signerXY)
		})

		aki := nervesKeyKeyID(signerXY)
		dd := randomDates(r)
		tbs, err = nervesKeyDeviceTBS(dd, deviceXY, sn, "dev-"+string(rune('A'+i%26)), signerNameDER, aki[:])
		if err != nil {
			t.Fatal(err)
		}
		drs := signOnce(t, signer, tbs)
		deviceDER, err := assemble(tbs, nil, &drs, true)
		if err != nil {
			t.Fatal(err)
		}
		checkRoundTrip(t, deviceDER, NervesKeyDeviceTemplate, func(c *Compressed) ([]byte, error) {
			return NervesKeyDevice(c, deviceXY, signerXY, sn, "dev-"+string(rune('A'+i%26)))
		})

		for _, c := range []struct {
			der []byte
			rs  [64]byte
		}{{signerDER, srs}, {deviceDER, drs}} {
			if c.rs[0] == 0 || c.rs[32] == 0 {
				below248++
			}
			ex, err := ElixirDER(c.der)
			if err != nil {
				t.Fatal(err)
			}
			if !elixirQuirk(&c.rs) {
				if !bytes.Equal(ex, c.der) {
					t.Fatalf("ElixirDER changed a certificate without the quirk: rs %x", c.rs)
				}
				continue
			}
			quirks++
			// Our rebuild verifies; nerves_key's encoding of the same
			// signature differs and is rejected.
			cert, err := x509.ParseCertificate(c.der)
			if err != nil {
				t.Fatalf("parse small-R/S certificate: %v", err)
			}
			digest := sha256Sum(cert.RawTBSCertificate)
			if !ecdsa.VerifyASN1(&signer.PublicKey, digest[:], cert.Signature) {
				t.Fatal("small-R/S certificate does not verify")
			}
			if bytes.Equal(ex, c.der) {
				t.Fatalf("ElixirDER did not reproduce the quirk: rs %x", c.rs)
			}
			if ec, err := x509.ParseCertificate(ex); err == nil && ecdsa.VerifyASN1(&signer.PublicKey, digest[:], ec.Signature) {
				t.Fatal("nerves_key's non-minimal encoding verified")
			}
		}
	}
	t.Logf("%d certificates: %d with R or S below 2^248, %d below 2^247 (nerves_key quirk)", 2*n, below248, quirks)
	if !testing.Short() && quirks == 0 {
		t.Fatal("no signature with R or S below 2^247 was hit")
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func checkRoundTrip(t *testing.T, der []byte, tmpl Template, rebuild func(*Compressed) ([]byte, error)) {
	t.Helper()
	c, err := Compress(der, tmpl)
	if err != nil {
		t.Fatalf("Compress: %v", err)
	}
	m, err := c.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	c2, err := ParseCompressed(m)
	if err != nil {
		t.Fatalf("ParseCompressed: %v", err)
	}
	got, err := rebuild(c2)
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	if err := Compare(der, got); err != nil {
		t.Fatalf("%v round trip: %v", tmpl, err)
	}
}

// TestNewSignerNewDevice runs the public write path with random keys and
// dates and checks the results against crypto/x509.
func TestNewSignerNewDevice(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 40
	}
	r := mrand.New(mrand.NewPCG(3, 4))
	for i := range n {
		signerKey := testutil.NewP256(t)
		years := 1 + r.IntN(31)
		now := time.Date(2000+r.IntN(32), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e9), time.UTC)
		signerDER, err := NewSigner(rand.Reader, signerKey, years, now)
		if err != nil {
			t.Fatalf("NewSigner(%d, %v): %v", years, now, err)
		}
		signer, err := x509.ParseCertificate(signerDER)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckSignerKey(signer, signerKey); err != nil {
			t.Fatalf("CheckSignerKey: %v", err)
		}
		wantNB := now.Truncate(time.Hour)
		if !signer.NotBefore.Equal(wantNB) || !signer.NotAfter.Equal(wantNB.AddDate(years, 0, 0)) || !signer.IsCA {
			t.Fatalf("signer validity %v..%v, want %v + %d years", signer.NotBefore, signer.NotAfter, wantNB, years)
		}

		device := testutil.NewP256(t)
		var sn [9]byte
		rand.Read(sn[:])
		mfg := "SN" + string(rune('0'+i%10))
		deviceDER, comp, err := NewDevice(rand.Reader, &device.PublicKey, sn, mfg, signer, signerKey, now)
		if err != nil {
			t.Fatalf("NewDevice: %v", err)
		}
		if comp.ElixirQuirk() {
			t.Fatal("NewDevice produced a signature nerves_key would rebuild wrongly")
		}
		if sc, _ := Compress(signerDER, NervesKeySignerTemplate); sc.ElixirQuirk() {
			t.Fatal("NewSigner produced a signature nerves_key would rebuild wrongly")
		}
		got, err := NervesKeyDevice(comp, testutil.PublicXY(t, &device.PublicKey), testutil.PublicXY(t, &signerKey.PublicKey), sn, mfg)
		if err != nil || !bytes.Equal(got, deviceDER) {
			t.Fatalf("device rebuild: %v %v", err, Compare(deviceDER, got))
		}
		dc, err := x509.ParseCertificate(deviceDER)
		if err != nil {
			t.Fatal(err)
		}
		if err := dc.CheckSignatureFrom(signer); err != nil {
			t.Fatal(err)
		}
		if dc.Subject.CommonName != mfg || !bytes.Equal(dc.AuthorityKeyId, signer.SubjectKeyId) ||
			!dc.NotAfter.Equal(wantNB.AddDate(31, 0, 0)) {
			t.Fatalf("device cert fields: CN %q AKI %x notAfter %v", dc.Subject.CommonName, dc.AuthorityKeyId, dc.NotAfter)
		}
		if i == 0 {
			verifyChain(t, deviceDER, signerDER)
		}
	}
}

// quirkFirstSigner returns, on its first call, a valid signature whose R
// or S is below 2^247, then ordinary ones.
type quirkFirstSigner struct {
	*ecdsa.PrivateKey
	calls int
}

func (s *quirkFirstSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.calls++
	for {
		sig, err := ecdsa.SignASN1(r, s.PrivateKey, digest)
		if err != nil || s.calls > 1 {
			return sig, err
		}
		if rs, _ := parseECDSASig(sig); elixirQuirk(&rs) {
			return sig, nil
		}
	}
}

func TestNewDeviceResignsQuirkySignature(t *testing.T) {
	signerKey := testutil.NewP256(t)
	now := time.Date(2026, 11, 25, 8, 30, 0, 0, time.UTC)
	signerDER, err := NewSigner(rand.Reader, signerKey, 5, now)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := x509.ParseCertificate(signerDER)
	qs := &quirkFirstSigner{PrivateKey: signerKey}
	der, comp, err := NewDevice(rand.Reader, &testutil.NewP256(t).PublicKey, [9]byte{1, 2, 3}, "N1", signer, qs, now)
	if err != nil {
		t.Fatal(err)
	}
	if qs.calls != 2 || comp.ElixirQuirk() {
		t.Fatalf("signer called %d times, quirk %v; want a second signature", qs.calls, comp.ElixirQuirk())
	}
	dc, _ := x509.ParseCertificate(der)
	if err := dc.CheckSignatureFrom(signer); err != nil {
		t.Fatal(err)
	}

	// A signer that always returns the same quirky signature gives up.
	fixed := &fixedSigner{signerKey, nil}
	if _, _, err := NewDevice(rand.Reader, &testutil.NewP256(t).PublicKey, [9]byte{}, "N1", signer, fixed, now); err == nil {
		t.Fatal("NewDevice accepted a signer stuck on quirky signatures")
	}
}

type fixedSigner struct {
	*ecdsa.PrivateKey
	sig []byte
}

func (s *fixedSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	for s.sig == nil {
		sig, _ := ecdsa.SignASN1(r, s.PrivateKey, digest)
		if rs, _ := parseECDSASig(sig); elixirQuirk(&rs) {
			s.sig = sig
		}
	}
	return s.sig, nil
}

func TestNewDeviceErrors(t *testing.T) {
	signerKey := testutil.NewP256(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	signerDER, err := NewSigner(rand.Reader, signerKey, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := x509.ParseCertificate(signerDER)
	pub := &testutil.NewP256(t).PublicKey
	long := string(bytes.Repeat([]byte("x"), MaxManufacturerSNLen))
	for _, tt := range []struct {
		name    string
		mfg     string
		now     time.Time
		key     crypto.Signer
		wantErr error
	}{
		{"ok 48 bytes", long, now, signerKey, nil},
		{"49 bytes", long + "x", now, signerKey, ErrInvalidName},
		{"slash", "a/b", now, signerKey, ErrInvalidName},
		{"empty", "", now, signerKey, ErrInvalidName},
		{"bad utf8", "\xff", now, signerKey, ErrInvalidName},
		{"equals ok", "a=b", now, signerKey, nil},
		{"2032", "N", time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC), signerKey, ErrDateRange},
		{"1999", "N", time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC), signerKey, ErrDateRange},
		{"wrong signer key", "N", now, testutil.NewP256(t), ErrKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := NewDevice(rand.Reader, pub, [9]byte{}, tt.mfg, signer, tt.key, tt.now)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr != nil) != (err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
	var de *DateError
	_, _, err = NewDevice(rand.Reader, pub, [9]byte{}, "N", signer, signerKey, time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC))
	if !errors.As(err, &de) || de.Value != 2032 {
		t.Fatalf("err = %v, want *DateError for 2032", err)
	}
	for _, y := range []int{0, 32, -1} {
		if _, err := NewSigner(rand.Reader, signerKey, y, now); !errors.Is(err, ErrDateRange) {
			t.Errorf("NewSigner(years=%d) err = %v", y, err)
		}
	}
}
