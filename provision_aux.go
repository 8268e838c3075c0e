package nerveskey

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// ProvisionAux signs an auxiliary device certificate for the chip's key
// with signer and writes the aux pair (slots 9, 14, 15), as nerves_key's
// provision_aux_certificates does, byte for byte: slot 14 gets the signer
// public key as two 32-byte writes, leaving bytes 64–71 as they were. It
// can be repeated, to replace the pair. The chip must be provisioned: on a
// chip whose data zone is not locked it returns ErrNotProvisioned, before
// checking its inputs, and writes nothing.
//
// The subject CN is the OTP manufacturer serial number on a NervesKey; on a
// Trust&Go chip it is the MAC address in slot 5, as upstream. Departure
// from nerves_key: on both device types the aux pair is written and read
// back with the NervesKey templates (nerves_key writes NervesKey-format
// data on a Trust&Go chip but reads it with Trust&Go templates, so its aux
// certificates never rebuild there; docs/nerves_key.md §4.4). A chip whose
// slot 9, 14 or 15 is locked, secret or encrypted for reads (slot 9 of a
// Trust&Go part as Microchip configures it holds a secret key) is refused
// with a *ConfigError before anything is written. Before signer signs,
// slot 0 signs a fresh challenge that must verify under the public key
// read, so a forged public-key answer ends in ErrInconsistent with nothing
// certified or written (one chip signature; SECURITY.md). The pair is read
// back and verified after writing. Only Now, Rand and DryRun of opts
// are used. On a volatile-key chip, open the Chip with
// Options.ActivationKey: the device public key needs the persistent latch.
func (c *Chip) ProvisionAux(ctx context.Context, signerCert *x509.Certificate, signer crypto.Signer, opts *ProvisionOptions) error {
	if err := c.provisionAux(ctx, signerCert, signer, opts); err != nil {
		return fmt.Errorf("nerveskey: provision aux: %w", err)
	}
	return nil
}

func (c *Chip) provisionAux(ctx context.Context, signerCert *x509.Certificate, signer crypto.Signer, opts *ProvisionOptions) error {
	if err := c.requireDataLock(ctx); err != nil {
		return err
	}
	c.forget()
	defer c.forget()
	now, rnd := opts.now(), opts.rand()
	if err := checkSigner(signerCert, signer, now); err != nil {
		return err
	}
	sn, name, err := c.auxSubject(ctx)
	if err != nil {
		return err
	}
	k, err := c.key(ctx)
	if err != nil {
		return err
	}
	if err := k.prove(ctx, rnd); err != nil {
		return err
	}
	der, comp, err := cert.NewDevice(rnd, k.pub, sn, name, signerCert, signer, now)
	if err != nil {
		return &InputError{Field: "signer", Reason: "cannot make an aux device certificate", Err: err}
	}
	if opts != nil && opts.DryRun {
		return nil
	}
	dc, err := comp.Marshal()
	if err != nil {
		return err
	}
	xy, sc, err := compressSigner(signerCert)
	if err != nil {
		return err
	}
	return c.writeAuxSlots(ctx, k.pub, sn, name, auxImages{device: dc, signerXY: xy, signer: sc}, signerCert, der, now)
}

// auxImages are the bytes of an aux pair: the compressed device
// certificate (slot 9), the signer public key X‖Y (the first 64 bytes of
// slot 14) and the compressed signer certificate (slot 15).
type auxImages struct {
	device, signerXY, signer []byte
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
		s5, err := c.dev.ReadSlot(ctx, layout.MACSlot)
		if err != nil {
			return sn, "", err
		}
		return sn, string(s5[:layout.MACLen]), nil
	}
	b, err := c.dev.ReadOTP(ctx)
	if err != nil {
		return sn, "", err
	}
	otp, err := layout.ParseOTP(b)
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
	for _, slot := range []int{layout.DeviceCertSlot[Aux], layout.SignerKeySlot[Aux], layout.SignerCertSlot[Aux]} {
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
		if err := s.WriteSlot(ctx, layout.DeviceCertSlot[Aux], im.device); err != nil {
			return err
		}
		if err := s.WriteSlot(ctx, layout.SignerKeySlot[Aux], im.signerXY); err != nil { // 64 bytes only, as upstream
			return err
		}
		if err := s.WriteSlot(ctx, layout.SignerCertSlot[Aux], im.signer); err != nil {
			return err
		}
		var err error
		if s9, err = s.ReadSlot(ctx, layout.DeviceCertSlot[Aux]); err != nil {
			return err
		}
		if s14, err = s.ReadSlot(ctx, layout.SignerKeySlot[Aux]); err != nil {
			return err
		}
		s15, err = s.ReadSlot(ctx, layout.SignerCertSlot[Aux])
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

// requireDataLock returns ErrNotProvisioned unless the data zone is locked.
// It runs before anything is written to the aux slots: a chip whose
// configuration is locked but data zone is not (a provisioning interrupted
// after the configuration lock) accepts clear writes to them, which would
// leave it half-written. A cached configuration that says unlocked is read
// again, since the chip may have been provisioned through another handle;
// one that says locked is trusted, as a lock cannot be undone.
func (c *Chip) requireDataLock(ctx context.Context) error {
	cfg, err := c.config(ctx)
	if err != nil {
		return err
	}
	if cfg.DataLocked() {
		return nil
	}
	c.forget()
	if cfg, err = c.config(ctx); err != nil {
		return err
	}
	if !cfg.DataLocked() {
		return ErrNotProvisioned
	}
	return nil
}

// ClearAux removes the aux certificate pair, writing 72 zero bytes to
// slots 9, 14 and 15 as nerves_key's clear_aux_certificates does. The data
// zone must be locked: before that, slots 9, 14 and 15 are no aux pair,
// and ClearAux returns ErrNotProvisioned without writing anything.
func (c *Chip) ClearAux(ctx context.Context) error {
	if err := c.requireDataLock(ctx); err != nil {
		return fmt.Errorf("nerveskey: clear aux: %w", err)
	}
	defer c.forget()
	zero := make([]byte, atecc.SlotSize(layout.DeviceCertSlot[Aux]))
	err := c.dev.Do(ctx, func(s *atecc.Session) error {
		for _, slot := range []int{layout.DeviceCertSlot[Aux], layout.SignerKeySlot[Aux], layout.SignerCertSlot[Aux]} {
			if err := s.WriteSlot(ctx, slot, zero); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("nerveskey: clear aux: %w", err)
	}
	return nil
}

// prove has slot 0 sign a fresh challenge from rnd, which must verify
// under the public key read (Key.Sign verifies every signature on the
// host), so that one forged public-key answer cannot get a foreign key
// certified or written beside the chip's (SECURITY.md). It costs one chip
// signature.
func (k *Key) prove(ctx context.Context, rnd io.Reader) error {
	var challenge [32]byte
	if _, err := io.ReadFull(rnd, challenge[:]); err != nil {
		return err
	}
	if _, err := k.SignContext(ctx, challenge[:], crypto.SHA256); err != nil {
		return fmt.Errorf("proving the device key before certificates are made for it: %w", err)
	}
	return nil
}
