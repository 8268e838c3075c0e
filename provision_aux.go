package nerveskey

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"

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
// certificates never rebuild there; docs/nerves_key.md §4.4). The pair is
// read back and verified after writing. Only Now, Rand and DryRun of opts
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
	cfg, err := c.config(ctx)
	if err != nil {
		return err
	}
	sn := cfg.SerialNumber()
	var name string
	if c.typ == TrustAndGo {
		s5, err := c.dev.ReadSlot(ctx, layout.MACSlot)
		if err != nil {
			return err
		}
		name = string(s5[:12])
	} else {
		b, err := c.dev.ReadOTP(ctx)
		if err != nil {
			return err
		}
		otp, err := layout.ParseOTP(b)
		if err != nil {
			return err
		}
		name = otp.ManufacturerSN
	}
	k, err := c.key(ctx)
	if err != nil {
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
	var s9, s14, s15 []byte
	err = c.dev.Do(ctx, func(s *atecc.Session) error {
		if err := s.WriteSlot(ctx, layout.DeviceCertSlot[Aux], dc); err != nil {
			return err
		}
		if err := s.WriteSlot(ctx, layout.SignerKeySlot[Aux], xy); err != nil { // 64 bytes only, as upstream
			return err
		}
		if err := s.WriteSlot(ctx, layout.SignerCertSlot[Aux], sc); err != nil {
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
	dev, err := rebuildPair(k.pub, sn, name, s9, s14, s15, signerCert, now)
	if err != nil {
		return err
	}
	if !bytes.Equal(dev.Raw, der) {
		return fmt.Errorf("%w: the aux device certificate read back differs from the one signed", ErrVerify)
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
