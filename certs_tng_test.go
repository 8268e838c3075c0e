package nerveskey_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// Trust&Go fixture (atecc508a test/atecc608b/trust_and_go_cert_test.exs;
// testdata/nerves_key_ref.py), made by Microchip.
const (
	tngSlot10 = "e197aa26d2d0ac94ab4decc230554f5611cd53ae24ad1ae2737ea2d69ecaa2ad25d05c0e6ea51c603e5a5b84e04cab5126c6bdb37c8906a159606c3482b024afa5ac9c2c0030a000"
	tngSlot11 = "000000002eba1b2ad0b73e4e44725e0c09348d4092a08bd7a8b7619bfdc7a56eb2054bdc00000000a338f00dc64dec1d84b4b36ec62426bd4c9340244fa853e235d053c05df67ef4"
	tngSlot12 = "ecc949988f619130b9277322958cfda97d9b0a8cb8f37894bcc473e9d47a40872123d5a2566b89a159bc8a8de52283ce16b5337b2a2599afe4d75efa073ed611963a9f2c0010a000"
	tngSN     = "0123a23f29f9366a01"
	tngMAC    = "E8EB1B202027"
	// Microchip's Crypto Authentication Root CA 002 public key X‖Y.
	tngRootXY = "bd54e66de3875484006b53ae1580d50aa069e78adf5578d85ce2d54dd5b830296bffdd6e6f7256fbd99ef1a116b11d33ad49103aa1858739dcfae437e19d634e"
)

// tngImage returns a Trust&Go-like image: a provisioned 608B image moved
// to address 0x35 (config byte 16 = 0x6A), with the fixture's serial,
// slot 5 MAC and slots 10–12 as given, device key devKey in slot 0, and
// an OTP zone that is not a NervesKey's.
func tngImage(tb testing.TB, devKey *ecdsa.PrivateKey, slot10, slot11, slot12 []byte) *nerveskeytest.Image {
	tb.Helper()
	img := provisionedImage(tb, nerveskeytest.ATECC608B)
	img.Config[16] = 0x35 << 1
	sn := testutil.Unhex(tb, tngSN)
	copy(img.Config[0:4], sn[:4])
	copy(img.Config[8:13], sn[4:])
	img.OTP = [64]byte{0xAA, 0xBB}
	clear(img.Slots[5])
	copy(img.Slots[5], tngMAC)
	img.Slots[0] = append(make([]byte, 4), testutil.PrivateKeyBytes(tb, devKey)...)
	img.Slots[10], img.Slots[11], img.Slots[12] = slot10, slot11, slot12
	for _, s := range []int{9, 14, 15} {
		img.Slots[s] = make([]byte, 72)
	}
	return img
}

func tngChip(tb testing.TB, img *nerveskeytest.Image) (*nerveskey.Chip, *nerveskeytest.Chip) {
	tb.Helper()
	bus := imageChip(tb, img, nil)
	return openChip(tb, bus, &nerveskey.Options{Type: nerveskey.TrustAndGo}), bus
}

// TestTrustAndGoFixture loads Microchip's fixture slots into a simulated
// Trust&Go chip: the signer rebuilds and its signature verifies under
// Microchip's root key. The fixture's device key is not known, so slot 0
// holds another one and the device certificate must fail its signature
// check (the fixture's device certificate rebuilds byte for byte in
// internal/atecc/cert, which takes the public key as input).
func TestTrustAndGoFixture(t *testing.T) {
	img := tngImage(t, testutil.NewP256(t), testutil.Unhex(t, tngSlot10), testutil.Unhex(t, tngSlot11), testutil.Unhex(t, tngSlot12))
	c, bus := tngChip(t, img)
	ctx := t.Context()
	if addrOf(t.Context(), c) != 0x35 {
		t.Fatalf("Addr = %#x", addrOf(t.Context(), c))
	}
	signer, err := signerOf(c, ctx, nerveskey.Primary)
	if err != nil {
		t.Fatal(err)
	}
	root, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, testutil.Unhex(t, tngRootXY)...))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(signer.RawTBSCertificate)
	if !ecdsa.VerifyASN1(root, h[:], signer.Signature) {
		t.Error("Trust&Go signer does not verify under Microchip's Root CA 002 key")
	}
	if got, want := signer.Subject.CommonName, "Crypto Authentication Signer 2C00"; got != want {
		t.Errorf("signer CN = %q, want %q", got, want)
	}
	if got, want := signer.Issuer.CommonName, "Crypto Authentication Root CA 002"; got != want {
		t.Errorf("signer issuer CN = %q, want %q", got, want)
	}
	// Compressing the rebuild gives the fixture slot back.
	comp, err := cert.Compress(signer.Raw, cert.TrustAndGoSignerTemplate)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := comp.Marshal(); !bytes.Equal(m, testutil.Unhex(t, tngSlot12)) {
		t.Errorf("signer compresses to %x, want the fixture slot 12", m)
	}

	_, _, err = c.Certificates(ctx, nerveskey.Primary)
	if e, ok := errors.AsType[*nerveskey.CertificateError](err); !ok || e.Cert != "device" || e.Slot != 11 {
		t.Errorf("device certificate with a foreign device key: err = %v, want a *SignatureError", err)
	}
	mac, err := macOf(ctx, c)
	if err != nil || mac != tngMAC {
		t.Errorf("MAC = %q, %v; want %q", mac, err, tngMAC)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.ManufacturerSN != "0123A23F29F9366A01" || info.BoardName != "" || !info.Provisioned || info.HasAux {
		t.Errorf("Info = %+v", info)
	}
	if n := bus.Stats().Slot0Reads; n != 0 {
		t.Errorf("slot 0 read %d times", n)
	}
}

// signCompressed fills c's signature by rebuilding the certificate with
// rebuild, signing its TBS with key and storing R‖S, and returns the
// 72-byte slot contents.
func signCompressed(tb testing.TB, c *cert.Compressed, key *ecdsa.PrivateKey, rebuild func(*cert.Compressed) ([]byte, error)) []byte {
	tb.Helper()
	c.Signature = [64]byte{31: 1, 63: 1}
	der, err := rebuild(c)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	h := sha256.Sum256(tmpl.RawTBSCertificate)
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		tb.Fatal(err)
	}
	r.FillBytes(c.Signature[:32])
	s.FillBytes(c.Signature[32:])
	m, err := c.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// TestTrustAndGoChip reads a Trust&Go chip built with a fresh device key
// and a signer made here (in place of Microchip's), whose certificates
// are the fixture's templates: the device certificate verifies under the
// signer, and its fields are Microchip's.
func TestTrustAndGoChip(t *testing.T) {
	devKey, signerKey, rootKey := testutil.NewP256(t), testutil.NewP256(t), testutil.NewP256(t)
	signerXY := testutil.PublicXY(t, &signerKey.PublicKey)
	sn := [9]byte(testutil.Unhex(t, tngSN))

	sc, err := cert.ParseCompressed(testutil.Unhex(t, tngSlot12))
	if err != nil {
		t.Fatal(err)
	}
	sc.Dates = cert.Dates{Year: 2024, Month: 3, Day: 5, Hour: 10, ExpireYears: 28}
	slot12 := signCompressed(t, sc, rootKey, func(c *cert.Compressed) ([]byte, error) { return cert.TrustAndGoSigner(c, signerXY) })

	dc, err := cert.ParseCompressed(testutil.Unhex(t, tngSlot10))
	if err != nil {
		t.Fatal(err)
	}
	dc.Dates = cert.Dates{Year: 2024, Month: 6, Day: 7, Hour: 11, ExpireYears: 0}
	slot10 := signCompressed(t, dc, signerKey, func(c *cert.Compressed) ([]byte, error) {
		return cert.TrustAndGoDevice(c, testutil.PublicXY(t, &devKey.PublicKey), signerXY, sn, tngMAC)
	})
	slot11 := make([]byte, 72)
	copy(slot11[4:36], signerXY[:32])
	copy(slot11[40:72], signerXY[32:])

	c, bus := tngChip(t, tngImage(t, devKey, slot10, slot11, slot12))
	ctx := t.Context()
	dev, _, err := c.Certificates(ctx, nerveskey.Primary)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signerOf(c, ctx, nerveskey.Primary)
	if err != nil {
		t.Fatal(err)
	}
	verifyChain(t, dev, signer)
	if !devKey.PublicKey.Equal(dev.PublicKey) {
		t.Error("device certificate does not hold the slot 0 public key")
	}
	if got, want := dev.Subject.CommonName, "sn0123A23F29F9366A01"; got != want {
		t.Errorf("device CN = %q, want %q", got, want)
	}
	if got := dev.Subject.Organization; len(got) != 1 || got[0] != "Microchip Technology Inc" {
		t.Errorf("device O = %q", got)
	}
	if dev.Issuer.String() != signer.Subject.String() {
		t.Errorf("device issuer %q is not the signer's subject %q", dev.Issuer, signer.Subject)
	}
	if !bytes.Equal(dev.AuthorityKeyId, signer.SubjectKeyId) {
		t.Errorf("AKI %x != signer SKI %x", dev.AuthorityKeyId, signer.SubjectKeyId)
	}
	if !bytes.Contains(dev.Raw, []byte("eui48_"+tngMAC)) {
		t.Error("device certificate has no eui48_ SAN with the MAC")
	}
	if y := dev.NotAfter.Year(); y != 9999 {
		t.Errorf("notAfter year %d, want 9999 (no expiry)", y)
	}
	// Compressing the rebuilds gives the slots back.
	for _, x := range []struct {
		crt  *x509.Certificate
		tmpl cert.Template
		slot []byte
	}{{dev, cert.TrustAndGoDeviceTemplate, slot10}, {signer, cert.TrustAndGoSignerTemplate, slot12}} {
		comp, err := cert.Compress(x.crt.Raw, x.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if m, _ := comp.Marshal(); !bytes.Equal(m, x.slot) {
			t.Errorf("%v compresses to %x, want %x", x.tmpl, m, x.slot)
		}
	}
	// The same image opened as a NervesKey applies the NervesKey
	// templates, which cannot match.
	nk := openChip(t, bus, &nerveskey.Options{Addr: 0x35})
	if _, _, err := nk.Certificates(ctx, nerveskey.Primary); err == nil {
		t.Error("Trust&Go signer read with the NervesKey template: no error")
	}
}

// TestTrustAndGoAux checks our rule for the aux pair of a Trust&Go chip:
// NervesKey templates and key format, subject CN = the MAC, as nerves_key's
// provision_aux_certificates writes it.
func TestTrustAndGoAux(t *testing.T) {
	devKey, signerKey := testutil.NewP256(t), testutil.NewP256(t)
	img := tngImage(t, devKey, testutil.Unhex(t, tngSlot10), testutil.Unhex(t, tngSlot11), testutil.Unhex(t, tngSlot12))
	now := time.Date(2025, 5, 6, 7, 0, 0, 0, time.UTC)
	signerDER, err := cert.NewSigner(rand.Reader, signerKey, 5, now)
	if err != nil {
		t.Fatal(err)
	}
	signerCrt, err := x509.ParseCertificate(signerDER)
	if err != nil {
		t.Fatal(err)
	}
	sn := [9]byte(testutil.Unhex(t, tngSN))
	_, dcomp, err := cert.NewDevice(rand.Reader, &devKey.PublicKey, sn, tngMAC, signerCrt, signerKey, now)
	if err != nil {
		t.Fatal(err)
	}
	scomp, err := cert.Compress(signerDER, cert.NervesKeySignerTemplate)
	if err != nil {
		t.Fatal(err)
	}
	img.Slots[9], _ = dcomp.Marshal()
	img.Slots[15], _ = scomp.Marshal()
	img.Slots[14] = append(testutil.PublicXY(t, &signerKey.PublicKey), make([]byte, 8)...)

	c, _ := tngChip(t, img)
	ctx := t.Context()
	dev, _, err := c.Certificates(ctx, nerveskey.Aux)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signerOf(c, ctx, nerveskey.Aux)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(signer.Raw, signerDER) {
		t.Error("aux signer differs from the certificate written")
	}
	if dev.Subject.CommonName != tngMAC {
		t.Errorf("aux device CN = %q, want the MAC %q", dev.Subject.CommonName, tngMAC)
	}
	verifyChain(t, dev, signer)
	if aux, err := hasAux(ctx, c); !aux || err != nil {
		t.Errorf("HasAux = %v, %v", aux, err)
	}
}

func TestMACOnNervesKey(t *testing.T) {
	c := openChip(t, nerveskeytest.NewProvisionedChip(t, nil), nil)
	if _, err := macOf(t.Context(), c); err == nil {
		t.Fatal("MAC on a NervesKey: no error")
	}
}
