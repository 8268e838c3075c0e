package nerveskey

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// WriteAux writes an aux certificate pair issued elsewhere (a CA that
// signed a request from [Key.CertificateRequest], say) to slots 9, 14 and
// 15, as nerves_key writes aux certificates it is given: the same bytes as
// [Chip.ProvisionAux] writes for a pair it signs itself (docs/nerves_key.md
// §4.4). It replaces an aux pair already there.
//
// A chip stores a certificate compressed and rebuilds it from a fixed
// template, so only certificates shaped exactly like the template fit.
// Before writing anything, WriteAux checks that deviceCert holds the chip's
// slot 0 public key, that signerCert signed it, that signerCert is a
// self-signed NervesKey signer, that both rebuild byte for byte from their
// compressed forms with this chip's serial numbers (subject CN = the OTP
// manufacturer serial number), that the chain verifies at
// ProvisionOptions.Now, and that nerves_key would rebuild the device
// certificate with a minimal DER signature too (1 signature in 256 it
// would not; have the CA sign again). Otherwise it returns an *InputError
// naming the certificate; for a certificate that does not fit the
// template it wraps ErrNotCompressible, and the message names the first
// field that differs, e.g. "extension 4 (subjectKeyIdentifier)".
//
// A chip whose slot 9, 14 or 15 is locked, secret or encrypted for reads
// (a Trust&Go part: its slot 9 holds a secret key) is refused with a
// *ConfigError. Before the write, slot 0 signs a fresh challenge that
// must verify under the public key read, so a pair for another key behind
// forged public-key answers ends in ErrInconsistent with nothing written.
// The pair is read back and verified after writing. Only Now, Rand and
// DryRun of opts are used; DryRun stops after the checks. The
// data zone must be locked (ErrNotProvisioned otherwise, before the
// inputs are checked). On a volatile-key chip, open the Chip with
// Options.ActivationKey.
func (c *Chip) WriteAux(ctx context.Context, deviceCert, signerCert *x509.Certificate, opts *ProvisionOptions) error {
	if err := c.writeAux(ctx, deviceCert, signerCert, opts); err != nil {
		return fmt.Errorf("nerveskey: write aux: %w", err)
	}
	return nil
}

func (c *Chip) writeAux(ctx context.Context, deviceCert, signerCert *x509.Certificate, opts *ProvisionOptions) error {
	if err := c.requireDataLock(ctx); err != nil {
		return err
	}
	c.forget()
	defer c.forget()
	if err := c.checkAuxSlots(ctx); err != nil {
		return err
	}
	if deviceCert == nil {
		return &InputError{Field: "device certificate", Reason: "missing"}
	}
	if signerCert == nil {
		return &InputError{Field: "signer certificate", Reason: "missing"}
	}
	sn, name, err := c.auxSubject(ctx)
	if err != nil {
		return err
	}
	k, err := c.key(ctx)
	if err != nil {
		return err
	}
	now := opts.now()
	im, err := checkAuxPair(k.pub, sn, name, deviceCert, signerCert, now)
	if err != nil {
		return err
	}
	if opts != nil && opts.DryRun {
		return nil
	}
	// The pair matched the public key read; the chip must prove it holds
	// that key before the pair is written.
	if err := k.prove(ctx, opts.rand()); err != nil {
		return err
	}
	return c.writeAuxSlots(ctx, k.pub, sn, name, im, signerCert, deviceCert.Raw, now)
}

// checkAuxPair checks an externally issued aux pair for the chip whose
// key is pub, serial sn and certificate name name, and returns the slot
// bytes. Nothing is read from or written to the chip.
func checkAuxPair(pub *ecdsa.PublicKey, sn [9]byte, name string, deviceCert, signerCert *x509.Certificate, now time.Time) (auxImages, error) {
	bad := func(field, reason string, err error) (auxImages, error) {
		return auxImages{}, &InputError{Field: field, Reason: reason, Err: err}
	}
	if !pub.Equal(deviceCert.PublicKey) {
		return bad("device certificate", fmt.Sprintf("holds %s, not the chip's slot 0 public key", describePublicKey(deviceCert.PublicKey)), nil)
	}
	if err := deviceCert.CheckSignatureFrom(signerCert); err != nil {
		return bad("device certificate", "is not signed by the signer certificate", err)
	}
	if err := cert.CheckSigner(signerCert); err != nil {
		return bad("signer certificate", "does not fit the NervesKey signer template (it does not rebuild from its compressed form)", err)
	}
	if err := signerCert.CheckSignatureFrom(signerCert); err != nil {
		return bad("signer certificate", "is not self-signed, as a NervesKey signer must be", err)
	}
	xy, sc, err := compressSigner(signerCert)
	if err != nil {
		return bad("signer certificate", "cannot be compressed", err)
	}
	pb, err := pub.Bytes()
	if err != nil {
		return auxImages{}, err
	}
	comp, err := cert.Compress(deviceCert.Raw, cert.NervesKeyDeviceTemplate)
	if err != nil {
		return bad("device certificate", "cannot be compressed", err)
	}
	rebuilt, err := cert.NervesKeyDevice(comp, pb[1:], xy, sn, name)
	if err == nil {
		err = cert.Compare(deviceCert.Raw, rebuilt)
	}
	if err != nil {
		return bad("device certificate", fmt.Sprintf("does not fit the NervesKey device template for this chip (subject CN %q, serial from the chip serial %x)", name, sn), err)
	}
	if comp.ElixirQuirk() {
		return bad("device certificate", "its signature has R or S below 2^247, which nerves_key rebuilds as non-minimal DER that fails to verify; have the CA sign it again", nil)
	}
	dc, err := comp.Marshal()
	if err != nil {
		return bad("device certificate", "cannot be compressed", err)
	}
	im := auxImages{device: dc, signerXY: xy, signer: sc}
	// The read path, on the bytes about to be written: what the chip will
	// rebuild verifies now, so the check after writing can only fail for a
	// chip that does not hold what was written.
	if _, err := rebuildPair(pub, sn, name, pad72(dc), pad72(xy), pad72(sc), signerCert, now); err != nil {
		return bad("certificate pair", "does not verify as the chip would rebuild it", err)
	}
	return im, nil
}

// pad72 returns b zero-padded to a 72-byte slot.
func pad72(b []byte) []byte {
	s := make([]byte, atecc.SlotSize(layout.DeviceCertSlot[Aux]))
	copy(s, b)
	return s
}

// describePublicKey names a public key for an error message.
func describePublicKey(pub any) string {
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		if b, err := k.Bytes(); err == nil {
			return fmt.Sprintf("the %s key %x…", k.Curve.Params().Name, b[1:9])
		}
	}
	return fmt.Sprintf("a %T key", pub)
}
