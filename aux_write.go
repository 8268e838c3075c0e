package nerveskey

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
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
// manufacturer serial number), that
// the chain verifies at ProvisionOptions.Now, and that nerves_key would
// rebuild the device certificate with a minimal DER signature too (1
// signature in 256 it would not; have the CA sign again). Otherwise it
// returns an *InputError naming the certificate; for a certificate that
// does not fit the template it wraps a *MismatchError naming the first
// field that differs, e.g. "extension 4 (subjectKeyIdentifier)".
//
// A chip whose slot 9, 14 or 15 is locked, secret or encrypted for reads
// (a Trust&Go part: its slot 9 holds a secret key) is refused with a
// *ConfigError. The pair is read back and verified after writing. Only
// Now and DryRun of opts are used; DryRun stops after the checks. The
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
	return c.writeAuxSlots(ctx, k.pub, sn, name, im, signerCert, deviceCert.Raw, now)
}

// auxImages are the bytes of an aux pair: the compressed device
// certificate (slot 9), the signer public key X‖Y (the first 64 bytes of
// slot 14) and the compressed signer certificate (slot 15).
type auxImages struct {
	device, signerXY, signer []byte
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
	s := make([]byte, atecc.SlotSize(slotAuxDevice))
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

// auxSubject returns the chip serial number and the aux device
// certificate's subject CN: the OTP manufacturer serial number on a
// NervesKey, the MAC in slot 5 on a Trust&Go chip, as upstream.
func (c *Chip) auxSubject(ctx context.Context) ([9]byte, string, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return [9]byte{}, "", err
	}
	sn := cfg.SerialNumber()
	if c.typ == TrustAndGo {
		s5, err := c.dev.ReadSlot(ctx, slotMAC)
		if err != nil {
			return sn, "", err
		}
		return sn, string(s5[:12]), nil
	}
	b, err := c.dev.ReadOTP(ctx)
	if err != nil {
		return sn, "", err
	}
	otp, err := atecc.ParseNervesKeyOTP(b)
	if err != nil {
		return sn, "", err
	}
	return sn, otp.ManufacturerSN, nil
}

// checkAuxSlots refuses, before anything is written, a chip whose slots
// 9, 14 and 15 cannot hold an aux pair: a slot that is locked, or secret
// or encrypted for reads (so the pair could not be read back), as slot 9
// of a Trust&Go part, where Microchip's configuration keeps a secret key.
func (c *Chip) checkAuxSlots(ctx context.Context) error {
	cfg, err := c.config(ctx)
	if err != nil {
		return err
	}
	for _, slot := range []int{slotAuxDevice, slotAuxSignerPub, slotAuxSigner} {
		sc := cfg.SlotConfig(slot)
		switch {
		case cfg.SlotLocked(slot):
			return &ConfigError{Op: "aux", Reason: fmt.Sprintf("slot %d is locked", slot)}
		case sc.IsSecret() || sc.EncryptRead():
			return &ConfigError{Op: "aux", Reason: fmt.Sprintf("slot %d SlotConfig 0x%04x is secret or encrypted for reads (IsSecret, EncryptRead): an aux certificate written there could not be read back, and would overwrite a key", slot, uint16(sc))}
		}
	}
	return nil
}

// writeAuxSlots writes an aux pair as nerves_key does (slot 14 as two
// 32-byte writes, leaving bytes 64–71 as they were), reads it back, and
// checks that it rebuilds into the device certificate der, chained to
// signerCert.
func (c *Chip) writeAuxSlots(ctx context.Context, pub *ecdsa.PublicKey, sn [9]byte, name string, im auxImages, signerCert *x509.Certificate, der []byte, now time.Time) error {
	if err := c.checkAuxSlots(ctx); err != nil {
		return err
	}
	var s9, s14, s15 []byte
	err := c.dev.Do(ctx, func(s *atecc.Session) error {
		if err := s.WriteSlot(ctx, slotAuxDevice, im.device); err != nil {
			return err
		}
		if err := s.WriteSlot(ctx, slotAuxSignerPub, im.signerXY); err != nil { // 64 bytes only, as upstream
			return err
		}
		if err := s.WriteSlot(ctx, slotAuxSigner, im.signer); err != nil {
			return err
		}
		var err error
		if s9, err = s.ReadSlot(ctx, slotAuxDevice); err != nil {
			return err
		}
		if s14, err = s.ReadSlot(ctx, slotAuxSignerPub); err != nil {
			return err
		}
		s15, err = s.ReadSlot(ctx, slotAuxSigner)
		return err
	})
	if err != nil {
		return err
	}
	dev, err := rebuildPair(pub, sn, name, s9, s14, s15, signerCert, now)
	if err != nil {
		return err
	}
	if !bytes.Equal(dev.Raw, der) {
		return fmt.Errorf("%w: the aux device certificate read back differs from the one given", ErrVerify)
	}
	return nil
}
