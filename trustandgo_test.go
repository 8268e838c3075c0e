package nerveskey_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// The simulated Trust&Go chip's identity. E8:EB:1B is Microchip's OUI;
// signer ID 7E57 ("test") tells its signer from Microchip's.
const (
	simTNGSN       = "01235a1b2c3d4e5f01"
	simTNGMAC      = "E8EB1B00C0DE"
	simTNGSignerID = 0x7E57
)

// TestTrustAndGoImage checks nerveskeytest's Trust&Go chip through the
// public API: address, identity, MAC, both certificates up to the test
// root with crypto/x509 (and openssl), and a signature. With
// -update it first regenerates the image and the root.
func TestTrustAndGoImage(t *testing.T) {
	if *testutil.Update {
		writeTNGImage(t)
	}
	bus := nerveskeytest.NewTrustAndGoChip(t, nil)
	c := openChip(t, bus, &nerveskey.Options{Type: nerveskey.TrustAndGo})
	ctx := t.Context()
	if addrOf(t.Context(), c) != 0x35 {
		t.Errorf("Addr = %#x, want 0x35", addrOf(t.Context(), c))
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Revision != "ATECC608B" || !info.Provisioned ||
		info.ManufacturerSN != "01235A1B2C3D4E5F01" || info.Serial != [9]byte(testutil.Unhex(t, simTNGSN)) || info.HasAux {
		t.Errorf("Info = %+v", info)
	}
	if mac, err := macOf(ctx, c); err != nil || mac != simTNGMAC {
		t.Errorf("MAC = %q, %v; want %q", mac, err, simTNGMAC)
	}

	dev, _, err := c.Certificates(ctx, nerveskey.Primary)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signerOf(c, ctx, nerveskey.Primary)
	if err != nil {
		t.Fatal(err)
	}
	root := nerveskeytest.TrustAndGoTestRoot()
	if !bytes.Equal(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), nerveskeytest.TrustAndGoTestRootPEM()) {
		t.Error("TrustAndGoTestRootPEM is not TrustAndGoTestRoot")
	}
	if got, want := signer.Subject.CommonName, "Crypto Authentication Signer 7E57"; got != want {
		t.Errorf("signer CN = %q, want %q", got, want)
	}
	if got, want := dev.Subject.CommonName, "sn01235A1B2C3D4E5F01"; got != want {
		t.Errorf("device CN = %q, want %q", got, want)
	}
	if !bytes.Contains(dev.Raw, []byte("eui48_"+simTNGMAC)) {
		t.Error("device certificate has no eui48_ SAN with the MAC")
	}
	verifyTNGChain(t, dev, signer, root)

	k, err := c.Key(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Public().(*ecdsa.PublicKey).Equal(dev.PublicKey) {
		t.Error("device certificate does not hold the slot 0 public key")
	}
	d := sha256.Sum256([]byte("trust and go"))
	sig, err := k.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(dev.PublicKey.(*ecdsa.PublicKey), d[:], sig) {
		t.Error("signature does not verify under the device certificate's key")
	}
	if st := bus.Stats(); st.Slot0Reads != 0 || st.Slot0Writes != 0 {
		t.Errorf("slot 0 touched: %d reads, %d writes", st.Slot0Reads, st.Slot0Writes)
	}

	// Opened as a NervesKey (at its address), the chip has no NervesKey
	// certificates: the templates differ.
	nk := openChip(t, nerveskeytest.NewTrustAndGoChip(t, nil), &nerveskey.Options{Addr: 0x35})
	if _, _, err := nk.Certificates(ctx, nerveskey.Primary); err == nil {
		t.Error("Trust&Go signer read with the NervesKey template: no error")
	}
}

// verifyTNGChain verifies dev → signer → root with crypto/x509 now, and
// with openssl verify when it is installed.
func verifyTNGChain(t *testing.T, dev, signer, root *x509.Certificate) {
	t.Helper()
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inter.AddCert(signer)
	chains, err := dev.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		t.Fatalf("crypto/x509: device certificate does not verify up to the test root: %v", err)
	}
	if len(chains) != 1 || len(chains[0]) != 3 || !chains[0][2].Equal(root) {
		t.Errorf("chains = %v, want device, signer, test root", chains)
	}
	if err := signer.CheckSignatureFrom(root); err != nil {
		t.Errorf("signer under the test root: %v", err)
	}

	openssl := needTool(t, "openssl")
	rp, sp, dp := pemFile(t, root), pemFile(t, signer), pemFile(t, dev)
	if out, err := exec.Command(openssl, "verify", "-CAfile", rp, "-untrusted", sp, dp).CombinedOutput(); err != nil {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
}

// writeTNGImage makes a Trust&Go-like chip as tngImage does, with fresh
// device, signer and root keys and the fixture's certificate templates,
// and writes it and the root certificate into nerveskeytest/testdata.
// The signer and root private keys are not kept.
func writeTNGImage(t *testing.T) {
	devKey, signerKey, rootKey := testutil.NewP256(t), testutil.NewP256(t), testutil.NewP256(t)
	signerXY := testutil.PublicXY(t, &signerKey.PublicKey)
	sn := [9]byte(testutil.Unhex(t, simTNGSN))

	sc, err := cert.ParseCompressed(testutil.Unhex(t, tngSlot12))
	if err != nil {
		t.Fatal(err)
	}
	sc.SignerID = simTNGSignerID
	sc.Dates = cert.Dates{Year: 2025, Month: 1, Day: 2, Hour: 10, ExpireYears: 28}
	slot12 := signCompressed(t, sc, rootKey, func(c *cert.Compressed) ([]byte, error) { return cert.TrustAndGoSigner(c, signerXY) })
	signerDER, err := cert.TrustAndGoSigner(sc, signerXY)
	if err != nil {
		t.Fatal(err)
	}
	signerCrt, err := x509.ParseCertificate(signerDER)
	if err != nil {
		t.Fatal(err)
	}

	dc, err := cert.ParseCompressed(testutil.Unhex(t, tngSlot10))
	if err != nil {
		t.Fatal(err)
	}
	dc.SignerID = simTNGSignerID
	dc.Dates = cert.Dates{Year: 2025, Month: 2, Day: 3, Hour: 11, ExpireYears: 0}
	slot10 := signCompressed(t, dc, signerKey, func(c *cert.Compressed) ([]byte, error) {
		return cert.TrustAndGoDevice(c, testutil.PublicXY(t, &devKey.PublicKey), signerXY, sn, simTNGMAC)
	})
	slot11 := make([]byte, 72)
	copy(slot11[4:36], signerXY[:32])
	copy(slot11[40:72], signerXY[32:])

	// The root takes the name and key identifier the signer template
	// fixes for Microchip's root, so that crypto/x509 and openssl chain
	// the signer to it.
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0x7E57),
		RawSubject:            signerCrt.RawIssuer,
		SubjectKeyId:          signerCrt.AuthorityKeyId,
		NotBefore:             time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}

	img := provisionedImage(t, nerveskeytest.ATECC608B)
	img.Config[16] = 0x35 << 1
	copy(img.Config[0:4], sn[:4])
	copy(img.Config[8:13], sn[4:])
	img.OTP = [64]byte{}
	for _, s := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 14, 15} {
		clear(img.Slots[s])
	}
	copy(img.Slots[5], simTNGMAC)
	img.Slots[0] = append(make([]byte, 4), testutil.PrivateKeyBytes(t, devKey)...)
	img.Slots[10], img.Slots[11], img.Slots[12] = slot10, slot11, slot12

	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	err = enc.Encode(struct {
		Source string               `json:"source"`
		Image  *nerveskeytest.Image `json:"image"`
	}{
		Source: fmt.Sprintf("generated by TestTrustAndGoImage -update in the nerveskey package on %s: "+
			"a NervesKey ATECC608B image made Trust&Go-like (address 0x35, serial %s, MAC %s in slot 5, Trust&Go certificates in slots 10-12, "+
			"signer ID %04X issued by the test root in trust_and_go_root.pem, not by Microchip)",
			time.Now().UTC().Format(time.DateOnly), simTNGSN, simTNGMAC, simTNGSignerID),
		Image: img,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("nerveskeytest", "testdata")
	if err := os.WriteFile(filepath.Join(dir, "trust_and_go.json"), out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "trust_and_go_root.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Fatal("regenerated nerveskeytest/testdata/trust_and_go.json and trust_and_go_root.pem: run the tests again without -update (the embedded files are read at build time)")
}
