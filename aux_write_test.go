package nerveskey_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// provisionedForAux returns a freshly provisioned simulated 608A, its
// Chip, and the chip's public key as a CA learns it: from a certificate
// request the chip signed.
func provisionedForAux(t *testing.T) (*nerveskeytest.Chip, *nerveskey.Chip, *ecdsa.PublicKey, [9]byte) {
	t.Helper()
	signerCert, signerKey := testSigner(t)
	sim, c := newBlankChip(t, nerveskeytest.ATECC608A, nil)
	res, err := c.Provision(t.Context(), testInfo, signerCert, signerKey, provOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	k, err := c.Key(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	der, err := k.CertificateRequest(t.Context(), &x509.CertificateRequest{Subject: pkix.Name{CommonName: testInfo.ManufacturerSN}})
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatal(err)
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("CSR key is %T", csr.PublicKey)
	}
	return sim, c, pub, res.Serial
}

// TestWriteAux writes a pair issued from the chip's CSR by another signer,
// reads it back through the read path and verifies it with crypto/x509
// and openssl.
func TestWriteAux(t *testing.T) {
	sim, c, pub, sn := provisionedForAux(t)
	auxCert, auxKey := testSigner(t)
	der, _, err := cert.NewDevice(rand.Reader, pub, sn, testInfo.ManufacturerSN, auxCert, auxKey, provNow)
	if err != nil {
		t.Fatal(err)
	}
	devCert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	before := sim.Image()
	if err := c.WriteAux(t.Context(), devCert, auxCert, provOpts(&nerveskey.ProvisionOptions{DryRun: true})); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if !reflect.DeepEqual(sim.Image(), before) {
		t.Fatal("a dry run changed the chip")
	}
	if err := c.WriteAux(t.Context(), devCert, auxCert, provOpts(nil)); err != nil {
		t.Fatal(err)
	}
	// The layout ProvisionAux writes: slot 14 is X‖Y and 8 bytes left as
	// they were (zeros here), slots 9 and 15 the compressed certificates.
	img := sim.Image()
	xy, _ := auxCert.PublicKey.(*ecdsa.PublicKey).Bytes()
	if !bytes.Equal(img.Slots[14], append(xy[1:], make([]byte, 8)...)) {
		t.Errorf("slot 14 = %x", img.Slots[14])
	}
	dc, err := cert.Compress(der, cert.NervesKeyDeviceTemplate)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := dc.Marshal(); !bytes.Equal(img.Slots[9], want) {
		t.Errorf("slot 9 = %x, want %x", img.Slots[9], want)
	}
	for i := range img.Slots {
		if i != 9 && i != 14 && i != 15 && !bytes.Equal(img.Slots[i], before.Slots[i]) {
			t.Errorf("slot %d changed", i)
		}
	}

	got, gotSigner, err := c.Certificates(t.Context(), nerveskey.Aux)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Raw, der) {
		t.Fatal("the aux device certificate read back is not the one written")
	}
	if !bytes.Equal(gotSigner.Raw, auxCert.Raw) {
		t.Fatal("the aux signer certificate read back is not the one written")
	}
	if ok, err := hasAux(t.Context(), c); err != nil || !ok {
		t.Fatalf("HasAux = %v, %v", ok, err)
	}

	openssl := needTool(t, "openssl")
	dir := t.TempDir()
	ca, leaf := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "dev.pem")
	os.WriteFile(ca, cert.EncodeCertificatePEM(gotSigner), 0o600)
	os.WriteFile(leaf, cert.EncodeCertificatePEM(got), 0o600)
	out, err := exec.Command(openssl, "verify", "-attime", fmt.Sprint(provNow.Unix()), "-purpose", "sslclient", "-CAfile", ca, leaf).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
}

// TestWriteAuxRefused offers pairs that do not fit and checks that each
// is refused with a typed error and nothing written.
func TestWriteAuxRefused(t *testing.T) {
	sim, c, pub, sn := provisionedForAux(t)
	auxCert, auxKey := testSigner(t)
	otherCert, _ := testSigner(t)
	device := func(pub *ecdsa.PublicKey, cn string) *x509.Certificate {
		der, _, err := cert.NewDevice(rand.Reader, pub, sn, cn, auxCert, auxKey, provNow)
		if err != nil {
			t.Fatal(err)
		}
		d, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	good := device(pub, testInfo.ManufacturerSN)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	// A CA's own certificate for the chip's key, made with crypto/x509
	// with the template's serial number, names, dates and key, but
	// crypto/x509's extensions (their order, a subject key identifier).
	caTemplate := &x509.Certificate{
		SerialNumber: good.SerialNumber, RawSubject: good.RawSubject,
		NotBefore: good.NotBefore, NotAfter: good.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	goDER, err := x509.CreateCertificate(rand.Reader, caTemplate, auxCert, pub, auxKey)
	if err != nil {
		t.Fatal(err)
	}
	goCert, _ := x509.ParseCertificate(goDER)

	// An RSA CA: x509 verifies its signature, a chip cannot store it.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Signer"},
		NotBefore: provNow.Add(-time.Hour), NotAfter: provNow.AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rsaDER, err := x509.CreateCertificate(rand.Reader, rsaTemplate, rsaTemplate, &rsaKey.PublicKey, rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaCA, _ := x509.ParseCertificate(rsaDER)
	rsaDevDER, err := x509.CreateCertificate(rand.Reader, caTemplate, rsaCA, pub, rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaDev, _ := x509.ParseCertificate(rsaDevDER)

	quirk := resignedWithQuirk(t, good, auxCert, auxKey)

	for _, tt := range []struct {
		name           string
		dev, signer    *x509.Certificate
		field          string // InputError.Field
		mismatchField  string // MismatchError.Field starts with it
		reason         string // InputError.Reason contains it
		wantMismatch   bool
		wantSignerKeyE bool
	}{
		{name: "wrong key", dev: device(&otherKey.PublicKey, testInfo.ManufacturerSN), signer: auxCert, field: "device certificate"},
		{name: "other signer", dev: good, signer: otherCert, field: "device certificate"},
		{name: "wrong CN", dev: device(pub, "SOMEONE-ELSE"), signer: auxCert, field: "device certificate", wantMismatch: true, mismatchField: "subject"},
		{name: "crypto/x509 extensions", dev: goCert, signer: auxCert, field: "device certificate", wantMismatch: true, mismatchField: "extension"},
		{name: "RSA signer", dev: rsaDev, signer: rsaCA, field: "signer certificate", wantSignerKeyE: true},
		{name: "nerves_key would rebuild it wrongly", dev: quirk, signer: auxCert, field: "device certificate", reason: "below 2^247"},
		{name: "no device certificate", signer: auxCert, field: "device certificate"},
		{name: "no signer certificate", dev: good, field: "signer certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := sim.Image()
			err := c.WriteAux(t.Context(), tt.dev, tt.signer, provOpts(nil))
			t.Logf("%v", err)
			ie, ok := errors.AsType[*nerveskey.InputError](err)
			if !ok || !errors.Is(err, nerveskey.ErrInvalidInput) {
				t.Fatalf("err = %v, want an *InputError", err)
			}
			if ie.Field != tt.field || !strings.Contains(ie.Reason, tt.reason) {
				t.Errorf("Field, Reason = %q, %q, want %q and a reason with %q", ie.Field, ie.Reason, tt.field, tt.reason)
			}
			if tt.wantMismatch {
				me, ok := errors.AsType[*cert.MismatchError](err)
				if !ok || !errors.Is(err, nerveskey.ErrNotCompressible) {
					t.Fatalf("err = %v, want a *MismatchError", err)
				}
				if !strings.HasPrefix(me.Field, tt.mismatchField) {
					t.Errorf("MismatchError.Field = %q, want %q", me.Field, tt.mismatchField)
				}
			}
			if tt.wantSignerKeyE && !errors.Is(err, nerveskey.ErrSignerKey) {
				t.Errorf("err = %v, want ErrSignerKey", err)
			}
			if !reflect.DeepEqual(sim.Image(), before) {
				t.Fatal("a refused WriteAux changed the chip")
			}
		})
	}
	if ok, err := hasAux(t.Context(), c); err != nil || ok {
		t.Fatalf("HasAux = %v, %v after refusals", ok, err)
	}

	_, blank := newBlankChip(t, nerveskeytest.ATECC608A, nil)
	if err := blank.WriteAux(t.Context(), good, auxCert, provOpts(nil)); !errors.Is(err, nerveskey.ErrNotProvisioned) {
		t.Fatalf("WriteAux on a blank chip: %v", err)
	}
}

// resignedWithQuirk signs c's TBSCertificate again with key until R or S
// is below 2^247, the signatures nerves_key rebuilds as non-minimal DER
// (about 1 in 256), and returns the certificate with that signature.
func resignedWithQuirk(t *testing.T, c, signer *x509.Certificate, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	digest := sha256.Sum256(c.RawTBSCertificate)
	low := new(big.Int).Lsh(big.NewInt(1), 247)
	for range 1 << 14 {
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		if r.Cmp(low) >= 0 && s.Cmp(low) >= 0 {
			continue
		}
		var b cryptobyte.Builder
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(c.RawTBSCertificate)
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier([]int{1, 2, 840, 10045, 4, 3, 2}) // ecdsa-with-SHA256
			})
			b.AddASN1BitString(func() []byte {
				var sig cryptobyte.Builder
				sig.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1BigInt(r)
					b.AddASN1BigInt(s)
				})
				return sig.BytesOrPanic()
			}())
		})
		q, err := x509.ParseCertificate(b.BytesOrPanic())
		if err != nil {
			t.Fatal(err)
		}
		if err := q.CheckSignatureFrom(signer); err != nil {
			t.Fatal(err)
		}
		return q
	}
	t.Fatal("no signature with R or S below 2^247 in 16384 tries")
	return nil
}

// TestWriteAuxTrustAndGo refuses to write aux certificates to a Trust&Go
// part, whose slot 9 holds a secret key that cannot be read, before
// anything is written.
func TestWriteAuxTrustAndGo(t *testing.T) {
	sim := nerveskeytest.NewTrustAndGoChip(t, nil)
	c := openChip(t, sim, &nerveskey.Options{Type: nerveskey.TrustAndGo})
	k, err := c.Key(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mac, err := macOf(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	auxCert, auxKey := testSigner(t)
	der, _, err := cert.NewDevice(rand.Reader, k.Public().(*ecdsa.PublicKey), in.Serial, mac, auxCert, auxKey, provNow)
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := x509.ParseCertificate(der)
	before := sim.Image()
	err = c.WriteAux(t.Context(), dev, auxCert, provOpts(nil))
	if ce, ok := errors.AsType[*nerveskey.ConfigError](err); !ok || !strings.Contains(ce.Reason, "slot 9") {
		t.Fatalf("err = %v, want a *ConfigError about slot 9", err)
	}
	if err := c.ProvisionAux(t.Context(), auxCert, auxKey, provOpts(nil)); !errors.As(err, new(*nerveskey.ConfigError)) {
		t.Fatalf("ProvisionAux: err = %v, want a *ConfigError", err)
	}
	if !reflect.DeepEqual(sim.Image(), before) {
		t.Fatal("a refused aux write changed the chip")
	}
}

// TestWriteAuxForgedPublicKey: a genuine pair issued for a foreign key is
// not written when the chip's public-key answers are forged to match it:
// the chip must prove the key (a challenge signature) before the write.
func TestWriteAuxForgedPublicKey(t *testing.T) {
	sim, _, _, sn := provisionedForAux(t)
	xy := foreignXY(t)
	foreign, err := ecdh.P256().NewPublicKey(append([]byte{4}, xy...))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(mustMarshalPKIX(t, foreign))
	if err != nil {
		t.Fatal(err)
	}
	auxCert, auxKey := testSigner(t)
	der, _, err := cert.NewDevice(rand.Reader, pub.(*ecdsa.PublicKey), sn, testInfo.ManufacturerSN, auxCert, auxKey, provNow)
	if err != nil {
		t.Fatal(err)
	}
	devCert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sim.SetCommandHook(func(cmd *nerveskeytest.Command) {
		if cmd.Opcode == opGenKey && cmd.Param1 == 0x00 {
			cmd.Answer = func([]byte) []byte { return xy }
		}
	})
	c, err := nerveskey.OpenChip(t.Context(), sim, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := sim.Image()
	if err := c.WriteAux(t.Context(), devCert, auxCert, provOpts(nil)); !errors.Is(err, nerveskey.ErrInconsistent) {
		t.Fatalf("WriteAux of a foreign key's pair behind forged answers: %v, want ErrInconsistent", err)
	}
	if !reflect.DeepEqual(sim.Image().Slots, before.Slots) {
		t.Error("slots changed after a refused WriteAux")
	}
}

func mustMarshalPKIX(t *testing.T, pub any) []byte {
	t.Helper()
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
