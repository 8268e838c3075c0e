package layout

import (
	"crypto/x509"
	"fmt"

	"github.com/nerveskey/nerveskey/internal/atecc/cert"
)

// SignerXY returns the signer public key X‖Y held in a signer key slot: its
// first 64 bytes, or on the primary pair of a Trust&Go chip (trustAndGo)
// Microchip's padded format, 4 pad bytes, X, 4 pad bytes, Y.
func SignerXY(keySlot []byte, trustAndGo bool) []byte {
	if trustAndGo {
		return append(append([]byte(nil), keySlot[4:36]...), keySlot[40:72]...)
	}
	return keySlot[:64]
}

// RebuildSigner rebuilds a signer certificate from its slot (the 72-byte
// compressed certificate first) and the signer public key X‖Y: nerves_key's
// self-signed signer template, or with trustAndGo Microchip's Trust&Go
// signer. It is the one rebuild that reading certificates and verifying
// provisioning both use (docs/nerves_key.md §7.6); the signature is left to
// the caller. Errors wrap cert.ErrMalformed or cert.ErrTemplateMismatch.
func RebuildSigner(slot, signerXY []byte, trustAndGo bool) (*x509.Certificate, error) {
	return rebuild(slot, func(c *cert.Compressed) ([]byte, error) {
		if trustAndGo {
			return cert.TrustAndGoSigner(c, signerXY)
		}
		return cert.NervesKeySigner(c, signerXY)
	})
}

// RebuildDevice rebuilds a device certificate from its slot, the device
// and signer public keys (X‖Y), the chip serial number and the subject CN
// (the OTP manufacturer serial number, or a Trust&Go chip's MAC address):
// nerves_key's device template, or with trustAndGo Microchip's Trust&Go
// device template. As [RebuildSigner], the signature is left to the
// caller.
func RebuildDevice(slot, deviceXY, signerXY []byte, sn [9]byte, subject string, trustAndGo bool) (*x509.Certificate, error) {
	return rebuild(slot, func(c *cert.Compressed) ([]byte, error) {
		if trustAndGo {
			return cert.TrustAndGoDevice(c, deviceXY, signerXY, sn, subject)
		}
		return cert.NervesKeyDevice(c, deviceXY, signerXY, sn, subject)
	})
}

func rebuild(slot []byte, f func(*cert.Compressed) ([]byte, error)) (*x509.Certificate, error) {
	if len(slot) < cert.CompressedSize {
		return nil, fmt.Errorf("%w: slot holds %d bytes, want at least %d", cert.ErrMalformed, len(slot), cert.CompressedSize)
	}
	comp, err := cert.ParseCompressed(slot[:cert.CompressedSize])
	if err != nil {
		return nil, err
	}
	der, err := f(comp)
	if err != nil {
		return nil, err
	}
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: rebuilt certificate does not parse: %v", cert.ErrMalformed, err)
	}
	return crt, nil
}
