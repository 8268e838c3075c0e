package nerveskeytest

import (
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"errors"
	"testing"
)

// trustAndGoJSON is a simulated Microchip Trust&Go part, generated once by
// TestTrustAndGoImage in the nerveskey package (go test -run
// TestTrustAndGoImage -update) and committed.
//
//go:embed testdata/trust_and_go.json
var trustAndGoJSON []byte

// trustAndGoRootPEM is the test root that issued the signer certificate
// of trustAndGoJSON.
//
//go:embed testdata/trust_and_go_root.pem
var trustAndGoRootPEM []byte

// NewTrustAndGoChip returns an asleep ATECC608B set up like a Microchip
// Trust&Go (ATECC608B-TNGTLS) part: I2C address 0x35, a serial number
// ending in 0x01, Trust&Go's configuration zone (trustAndGoConfig), both
// zones locked, a P-256 private key in slot 0, the ASCII EUI-48 MAC in
// slot 5, the compressed device certificate in slot 10, the signer public
// key in Microchip's padded format (4 zero bytes, X, 4 zero bytes, Y) in
// slot 11, and the compressed signer certificate in slot 12. Open it with
// the nerveskey Options Type TrustAndGo. tb.Cleanup closes it. It calls
// tb.Fatal if the embedded image cannot be loaded, or if opts asks for a
// revision other than ATECC608B.
//
// The certificates use Microchip's Trust&Go templates, but the signer is
// issued by a test root made for this package ([TrustAndGoTestRoot]),
// whose private key was thrown away: a real Trust&Go chip chains to
// Microchip's "Crypto Authentication Root CA 002" instead, which has the
// same subject and a different key.
func NewTrustAndGoChip(tb testing.TB, opts *Options) *Chip {
	tb.Helper()
	if opts != nil && opts.Revision != 0 && opts.Revision != ATECC608B {
		tb.Fatalf("nerveskeytest: Trust&Go chip: revision %v, only ATECC608B is available", opts.Revision)
	}
	im, err := ParseImage(trustAndGoJSON)
	if err != nil {
		tb.Fatalf("nerveskeytest: Trust&Go image: %v", err)
	}
	copy(im.Config[trustAndGoConfigStart:], trustAndGoConfig[:])
	c, err := NewChipFromImage(im, opts)
	if err != nil {
		tb.Fatalf("nerveskeytest: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// trustAndGoConfigStart is the first configuration byte trustAndGoConfig
// sets; bytes 0–15 (serial number, revision, AES and I2C enables) are
// factory-fixed and come from the image.
const trustAndGoConfigStart = 16

// trustAndGoConfig is Microchip's Trust&Go (TNGTLS) configuration zone
// from byte 16 on, with both zones locked. Microchip publishes it in the
// ATECC608A-TNGTLS data sheet (DS40002112, Table 2-3); the bytes here are
// as public reconstructions of that table list them (two independent ones
// agree on the I2C address, ChipMode, ChipOptions and the slot and key
// configuration of slots 0–4, 6, 8 and 9). Slot by slot (SlotConfig,
// KeyConfig as stored):
//
//	0      85 00, 53 00  primary private key: external sign, ECDH; never written
//	1      82 00, 53 00  internal-sign private key
//	2–4    85 20, 73 00  secondary private keys, GenKey allowed
//	5      0f 8f, 38 00  EUI-48 MAC (see below)
//	6      8f 0f, 7c 00  I/O protection key (ChipOptions names slot 6)
//	7      9f 8f, 1c 00  reserved (secure boot)
//	8      0f 0f, 3c 00  general data, 416 bytes
//	9      8f 0f, 1a 00  AES key
//	10–12  0f 0f, 3c 00 / 30 00 / 3c 00  device cert, signer public key, signer cert
//	13     0f 0f, 30 00  parent public key
//	14     0d 1f, 12 00  validated public key
//	15     0f 0f, 30 00  public key
//
// Byte 16 = 0x6A (address 0x35), ChipMode 0x01 (UserExtraAdd), counters
// at zero, SecureBoot 03 f7, KdfIvStr 69 76, SlotLocked ff ff,
// ChipOptions 0x600E (I/O protection key on, slot 6; ECDH output in clear
// allowed), X509format 0.
//
// One departure: the reconstructions give slot 5 a secret SlotConfig, but
// a Trust&Go development kit's slot 5 reads in clear as the ASCII MAC
// (nerves_key's Trust&Go fixture, docs/nerves_key.md), which nerves_key's
// manufacturer_mac relies on; slot 5 is therefore clear-readable and never
// writable here (0f 8f), which is unconfirmed for the exact word.
var trustAndGoConfig = [128 - trustAndGoConfigStart]byte{
	0x6A, 0x00, 0x00, 0x01, // 16–19: I2C address, reserved, CountMatch, ChipMode
	0x85, 0x00, 0x82, 0x00, 0x85, 0x20, 0x85, 0x20, 0x85, 0x20, 0x0F, 0x8F, 0x8F, 0x0F, 0x9F, 0x8F, // SlotConfig 0–7
	0x0F, 0x0F, 0x8F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0D, 0x1F, 0x0F, 0x0F, // SlotConfig 8–15
	0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, // Counter 0
	0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, // Counter 1
	0x00, 0x00, 0x03, 0xF7, 0x00, 0x69, 0x76, 0x00, // UseLock, VolatileKeyPermission, SecureBoot, KdfIvLoc, KdfIvStr, reserved
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // reserved
	0x00, 0x00, 0x00, 0x00, // UserExtra, UserExtraAdd, LockValue, LockConfig (both locked)
	0xFF, 0xFF, 0x0E, 0x60, // SlotLocked, ChipOptions
	0x00, 0x00, 0x00, 0x00, // X509format
	0x53, 0x00, 0x53, 0x00, 0x73, 0x00, 0x73, 0x00, 0x73, 0x00, 0x38, 0x00, 0x7C, 0x00, 0x1C, 0x00, // KeyConfig 0–7
	0x3C, 0x00, 0x1A, 0x00, 0x3C, 0x00, 0x30, 0x00, 0x3C, 0x00, 0x30, 0x00, 0x12, 0x00, 0x30, 0x00, // KeyConfig 8–15
}

// TrustAndGoTestRoot returns the self-signed test root certificate that
// issued the signer certificate of [NewTrustAndGoChip]'s chips, for tests
// to verify the chip's chain up to a root. Its subject is that of
// Microchip's "Crypto Authentication Root CA 002" (O=Microchip Technology
// Inc, CN=Crypto Authentication Root CA 002), as the Trust&Go signer
// template fixes the issuer name, and so is its subject key identifier,
// which the template fixes as the signer's authority key identifier; its
// key is not Microchip's. Real Trust&Go chips do not verify under it.
// Each call returns a new copy.
func TrustAndGoTestRoot() *x509.Certificate {
	c, err := x509.ParseCertificate(trustAndGoTestRootDER())
	if err != nil {
		panic("nerveskeytest: embedded Trust&Go test root: " + err.Error()) // checked by tests
	}
	return c
}

// TrustAndGoTestRootPEM returns [TrustAndGoTestRoot] as a PEM
// "CERTIFICATE" block, as a file for a --roots flag holds it.
func TrustAndGoTestRootPEM() []byte {
	return append([]byte(nil), trustAndGoRootPEM...)
}

func trustAndGoTestRootDER() []byte {
	b, _ := pem.Decode(trustAndGoRootPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		panic(errors.New("nerveskeytest: embedded Trust&Go test root is not a PEM certificate")) // checked by tests
	}
	return b.Bytes
}
