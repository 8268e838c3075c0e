package nerveskey

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// compareProvisioned checks a fully provisioned chip against the inputs:
// the chip those inputs make is a success (AlreadyProvisioned), any other
// is ErrAlreadyProvisioned with what differs. Nothing is written.
func (p *provisioning) compareProvisioned(ctx context.Context) (*ProvisionResult, error) {
	pub, dev, err := p.readBack(ctx)
	if err != nil {
		if errors.Is(err, ErrVerify) {
			return nil, fmt.Errorf("%w (data zone and key slot locked), and not as these inputs make it: %w", ErrAlreadyProvisioned, err)
		}
		return nil, err
	}
	p.res.Status = AlreadyProvisioned
	p.res.PublicKey, p.res.DeviceCert = pub, dev
	p.res.KeyProof = "read back with genkey public; the device certificate holds that key and verifies under the signer"
	p.progress(stepValidate, true, false, "the chip is already provisioned as these inputs make it; nothing written")
	for s := stepConfigure; s <= stepLockKey; s++ {
		p.skip(s, "already provisioned")
	}
	return p.res, nil
}

// verify rebuilds the certificates from OTP and slot bytes with the read
// path and checks them against the inputs and the chip's public key.
func (p *provisioning) verify(pub *ecdsa.PublicKey, otpb [atecc.OTPSize]byte, devB, pubB, signerB []byte) (*x509.Certificate, error) {
	otp, err := layout.ParseOTP(otpb)
	if err != nil {
		return nil, fmt.Errorf("%w: OTP: %w", ErrVerify, err)
	}
	if otp.ManufacturerSN != p.info.ManufacturerSN || otp.BoardName != p.info.BoardName {
		return nil, fmt.Errorf("%w: the OTP holds serial %q and board %q, not %q and %q", ErrVerify,
			otp.ManufacturerSN, otp.BoardName, p.info.ManufacturerSN, p.info.BoardName)
	}
	if otp.User != p.info.UserData {
		return nil, fmt.Errorf("%w: the OTP holds user data %x, not %x", ErrVerify, otp.User, p.info.UserData)
	}
	dev, err := rebuildPair(pub, p.sn, otp.ManufacturerSN, devB, pubB, signerB, p.signerCert, p.now)
	if err != nil {
		return nil, err
	}
	return dev, nil
}

// rebuildPair rebuilds a NervesKey certificate pair from its three slots,
// checks that the signer is signerCert, and verifies the device
// certificate's chain and key.
func rebuildPair(pub *ecdsa.PublicKey, sn [9]byte, mfgSN string, devB, pubB, signerB []byte, signerCert *x509.Certificate, now time.Time) (*x509.Certificate, error) {
	fail := func(format string, args ...any) (*x509.Certificate, error) {
		return nil, fmt.Errorf("%w: %s", ErrVerify, fmt.Sprintf(format, args...))
	}
	pb, err := pub.Bytes()
	if err != nil {
		return nil, err
	}
	signerXY := layout.SignerXY(pubB, false)
	signer, err := layout.RebuildSigner(signerB, signerXY, false)
	if err != nil {
		return fail("signer certificate slot: %v", err)
	}
	if !bytes.Equal(signer.Raw, signerCert.Raw) {
		return fail("the signer certificate rebuilt from the chip is not the signer given")
	}
	dev, err := layout.RebuildDevice(devB, pb[1:], signerXY, sn, mfgSN, false)
	if err != nil {
		return fail("device certificate slot: %v", err)
	}
	if !pub.Equal(dev.PublicKey) {
		return fail("the device certificate does not hold the chip's public key")
	}
	if err := dev.CheckSignatureFrom(signerCert); err != nil {
		return fail("the device certificate's signature does not verify under the signer (was slot 0's key replaced?): %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(signerCert)
	if _, err := dev.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fail("the device certificate chain does not verify: %v", err)
	}
	return dev, nil
}
