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
// Trust&Go part: I2C address 0x35 (config byte 16 = 0x6A), a serial
// number ending in 0x01, config and data zones locked, a P-256 private
// key in slot 0, the ASCII EUI-48 MAC in slot 5, the compressed device
// certificate in slot 10, the signer public key in Microchip's padded
// format (4 zero bytes, X, 4 zero bytes, Y) in slot 11, and the compressed
// signer certificate in slot 12. Open it with the nerveskey Options Type
// TrustAndGo. tb.Cleanup closes it. It calls tb.Fatal if the embedded
// image cannot be loaded, or if opts asks for a revision other than
// ATECC608B.
//
// The certificates use Microchip's Trust&Go templates, but the signer is
// issued by a test root made for this package ([TrustAndGoTestRoot]),
// whose private key was thrown away: a real Trust&Go chip chains to
// Microchip's "Crypto Authentication Root CA 002" instead, which has the
// same subject and a different key. Only the address, serial and slots
// 0, 5, 10, 11 and 12 are Trust&Go's; the rest of the configuration zone
// (slot and key configuration) is a provisioned NervesKey's, as the
// Trust&Go configuration zone is not in this project's sources; so
// nerveskey's Info.Mode reads "regular" here and may read otherwise on a
// real part.
func NewTrustAndGoChip(tb testing.TB, opts *Options) *Chip {
	tb.Helper()
	if opts != nil && opts.Revision != 0 && opts.Revision != ATECC608B {
		tb.Fatalf("nerveskeytest: Trust&Go chip: revision %v, only ATECC608B is available", opts.Revision)
	}
	im, err := ParseImage(trustAndGoJSON)
	if err != nil {
		tb.Fatalf("nerveskeytest: Trust&Go image: %v", err)
	}
	c, err := NewChipFromImage(im, opts)
	if err != nil {
		tb.Fatalf("nerveskeytest: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
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
