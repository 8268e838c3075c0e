package nerveskeytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"regexp"
	"testing"
	"time"
)

// TestTrustAndGoChip checks the embedded Trust&Go image without the
// driver: its layout, the address it answers at, and that the slot 0 key
// signs; nerveskey's TestTrustAndGoImage reads its certificates.
func TestTrustAndGoChip(t *testing.T) {
	c := NewTrustAndGoChip(t, &Options{Seed: 1})
	if c.Revision() != ATECC608B {
		t.Errorf("revision %v, want ATECC608B", c.Revision())
	}
	im := c.Image()
	if im.Config[16] != 0x6A || im.Config[12] != 0x01 || im.Config[0] != 0x01 || im.Config[1] != 0x23 {
		t.Errorf("config bytes 0,1,12,16 = % x, want 01 23 01 6a", []byte{im.Config[0], im.Config[1], im.Config[12], im.Config[16]})
	}
	if im.Config[86] != 0x00 || im.Config[87] != 0x00 {
		t.Errorf("LockValue, LockConfig = %#x, %#x, want both locked (0x00)", im.Config[86], im.Config[87])
	}
	if mac := im.Slots[5][:12]; !regexp.MustCompile(`^[0-9A-F]{12}$`).Match(mac) || !allZero(im.Slots[5][12:]) {
		t.Errorf("slot 5 = %q, want 12 upper-case hex digits then zeros", im.Slots[5])
	}
	s11 := im.Slots[11]
	if !allZero(s11[0:4]) || !allZero(s11[36:40]) {
		t.Errorf("slot 11 = %x, want 00000000‖X‖00000000‖Y", s11)
	}
	signerXY := append(append([]byte{4}, s11[4:36]...), s11[40:72]...)
	if _, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), signerXY); err != nil {
		t.Errorf("slot 11 signer key: %v", err)
	}

	h := newHost(t, c)
	if err := c.Tx(0, []byte{0}, nil); !errors.Is(err, ErrNAK) {
		t.Fatalf("wake pulse: %v", err)
	}
	h.sleep(1500 * time.Microsecond)
	if err := c.Tx(0x60, nil, make([]byte, 4)); !errors.Is(err, ErrNAK) {
		t.Errorf("read at 0x60 = %v, want ErrNAK (the chip is at 0x35)", err)
	}
	h.addr = 0x35
	r := make([]byte, 4)
	if err := c.Tx(h.addr, nil, r); err != nil || !bytes.Equal(r, []byte{0x04, 0x11, 0x33, 0x43}) {
		t.Fatalf("wake read at 0x35 = % x, %v", r, err)
	}
	pub := publicOf(t, h.ok(64, opGenKey, 0, 0, nil))
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), im.Slots[0][4:36])
	if err != nil {
		t.Fatal(err)
	}
	if !priv.PublicKey.Equal(pub) {
		t.Error("GenKey's public key is not the slot 0 private key's")
	}
	digest := sha256.Sum256([]byte("trust and go"))
	h.ok(1, opNonce, 0x03, 0, digest[:])
	verifyRS(t, pub, digest[:], h.ok(64, opSign, 0x80, 0, nil))

	// Trust&Go's configuration, not a NervesKey's: the permanent slot 0
	// key cannot be regenerated, and the I/O protection key (slot 6) is
	// secret.
	if !bytes.Equal(im.Config[trustAndGoConfigStart:], trustAndGoConfig[:]) {
		t.Errorf("config bytes 16–127 = % x, want trustAndGoConfig", im.Config[16:])
	}
	if sc, kc := im.Config[20:22], im.Config[96:98]; !bytes.Equal(sc, []byte{0x85, 0x00}) || !bytes.Equal(kc, []byte{0x53, 0x00}) {
		t.Errorf("slot 0 SlotConfig % x KeyConfig % x, want 85 00 and 53 00", sc, kc)
	}
	h.wantStatus(statusExecution, opGenKey, 0x04, 0, nil)
	h.wantStatus(statusExecution, opRead, 0x82, 6<<3, nil)
	if got := h.ok(32, opRead, 0x82, 5<<3, nil); !bytes.Equal(got[:12], im.Slots[5][:12]) {
		t.Errorf("slot 5 read %q, want the MAC", got[:12])
	}
}

// TestTrustAndGoTestRoot checks the exported root: a self-signed CA
// certificate with Microchip's root name.
func TestTrustAndGoTestRoot(t *testing.T) {
	root := TrustAndGoTestRoot()
	if !root.IsCA || !root.BasicConstraintsValid {
		t.Error("test root is not a CA certificate")
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("test root is not self-signed: %v", err)
	}
	if got, want := root.Subject.String(), "CN=Crypto Authentication Root CA 002,O=Microchip Technology Inc"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	if p := TrustAndGoTestRootPEM(); !bytes.Contains(p, []byte("-----BEGIN CERTIFICATE-----")) {
		t.Errorf("TrustAndGoTestRootPEM = %q", p)
	}
}

func allZero(b []byte) bool { return len(bytes.Trim(b, "\x00")) == 0 }
