package nerveskey

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	ni2c "github.com/nerveskey/nerveskey/internal/i2c"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// A step is one step of Provision, in order; StepEvent reports it by
// number and name.
type step int

// The steps of Provision. numSteps is their count.
const (
	stepValidate   step = iota + 1 // check chip state and inputs; nothing written
	stepConfigure                  // write the NervesKey configuration
	stepLockConfig                 // lock the configuration zone (irreversible)
	stepWriteOTP                   // write manufacturer serial and board name
	stepGenKey                     // generate the device key in slot 0, or reuse one
	stepWriteSlots                 // sign the device certificate, write slots 1–15
	stepVerify                     // rebuild and verify the certificates from the written bytes
	stepLockData                   // lock the data and OTP zones (irreversible)
	stepLockKey                    // read back and verify, then lock the key slot(s)

	numSteps = 9
)

var stepNames = [...]string{
	stepValidate:   "validate inputs and chip",
	stepConfigure:  "write configuration",
	stepLockConfig: "lock configuration zone",
	stepWriteOTP:   "write OTP (serial number, board name)",
	stepGenKey:     "generate device key (slot 0)",
	stepWriteSlots: "write certificates (slots 1-15)",
	stepVerify:     "verify certificates",
	stepLockData:   "lock data and OTP zones",
	stepLockKey:    "read back, verify and lock key slot",
}

// String returns the step's name, e.g. "write OTP (serial number, board
// name)".
func (s step) String() string {
	if s >= stepValidate && s <= stepLockKey {
		return stepNames[s]
	}
	return fmt.Sprintf("step(%d)", int(s))
}

// A StepEvent reports progress: once when a step starts (Done false), once
// when it ends (Done true). A step the chip had already done is reported
// once, with Done and Skipped set. The CLI prints it as
// "step 4/9: write OTP (serial number, board name)".
//
// The steps, numbered 1 to 9: validate inputs and chip (nothing written);
// write configuration; lock configuration zone (irreversible); write OTP
// (serial number, board name); generate device key (slot 0), or reuse
// one; write certificates (slots 1-15); verify certificates (rebuilt from
// the bytes written); lock data and OTP zones (irreversible); read back,
// verify and lock key slot.
type StepEvent struct {
	Step    int    // the step's number, 1 to Steps
	Steps   int    // how many steps provisioning has (9)
	Name    string // the step's name, e.g. "lock configuration zone"
	Done    bool   // false when the step starts, true when it has ended
	Skipped bool   // the chip had already done this step (with Done)
	Detail  string // e.g. "reused the key left in slot 0 by an interrupted run"
}

func (p *provisioning) progress(s step, done, skipped bool, detail string) {
	if p.o != nil && p.o.Progress != nil {
		p.o.Progress(StepEvent{Step: int(s), Steps: numSteps, Name: s.String(), Done: done, Skipped: skipped, Detail: detail})
	}
}

// run runs step s unless ctx is done.
func (p *provisioning) run(ctx context.Context, s step, f func() (string, error)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("before step %d/%d (%v): %w", s, numSteps, s, err)
	}
	p.progress(s, false, false, "")
	detail, err := f()
	if err != nil {
		return fmt.Errorf("step %d/%d (%v): %w", s, numSteps, s, err)
	}
	p.progress(s, true, false, detail)
	return nil
}

func (p *provisioning) skip(s step, why string) { p.progress(s, true, true, why) }

// confirm builds the plan and calls ProvisionOptions.Confirm with it.
// first is the first step that will run; the earlier ones are skipped.
func (p *provisioning) confirm(ctx context.Context, first step) error {
	if p.o == nil || p.o.Confirm == nil {
		return nil
	}
	plan := &ProvisionPlan{
		Revision:        p.cfg.Revision().String(),
		Serial:          p.sn,
		Info:            p.info,
		SignerSubject:   p.signerCert.Subject.String(),
		SignerNotBefore: p.signerCert.NotBefore,
		SignerNotAfter:  p.signerCert.NotAfter,
		IssuedAt:        p.now,
		Volatile:        p.volatile,
		ConfigLocked:    p.cfg.ConfigLocked(),
		DataLocked:      p.cfg.DataLocked(),
		ReuseKey:        p.reuse != nil,
		DryRun:          p.o.DryRun,
	}
	for s := stepConfigure; s <= stepLockKey; s++ {
		if s < first {
			plan.Skipped = append(plan.Skipped, s.String())
		} else {
			plan.Steps = append(plan.Steps, s.String())
		}
	}
	if err := p.o.Confirm(ctx, plan); err != nil {
		return fmt.Errorf("%w: %w", ErrAborted, err)
	}
	return nil
}

// slotImages returns slots 1–15 at full size, as nerves_key's slot_data
// (or volatile_slot_data) lays them out.
func (p *provisioning) slotImages(devComp *cert.Compressed) ([atecc.NumSlots][]byte, error) {
	var s [atecc.NumSlots][]byte
	for i := 1; i < atecc.NumSlots; i++ {
		s[i] = make([]byte, atecc.SlotSize(i))
	}
	d, err := devComp.Marshal()
	if err != nil {
		return s, err
	}
	copy(s[layout.DeviceCertSlot[Primary]], d)
	xy, sc, err := compressSigner(p.signerCert)
	if err != nil {
		return s, err
	}
	copy(s[layout.SignerKeySlot[Primary]], xy)
	copy(s[layout.SignerCertSlot[Primary]], sc)
	if p.volatile {
		copy(s[layout.ActivationSlot], p.o.Volatile.Activation[:])
		copy(s[layout.EncryptionSlot], p.o.Volatile.Encryption[:])
	}
	return s, nil
}

// compressSigner returns the signer's raw public key X‖Y and its 72-byte
// compressed certificate.
func compressSigner(c *x509.Certificate) (xy, comp []byte, err error) {
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("signer public key is %T: %w", c.PublicKey, ErrSignerKey)
	}
	b, err := pub.Bytes()
	if err != nil {
		return nil, nil, err
	}
	sc, err := cert.Compress(c.Raw, cert.NervesKeySignerTemplate)
	if err != nil {
		return nil, nil, err
	}
	comp, err = sc.Marshal()
	return b[1:], comp, err
}

// dataCRC returns the summary CRC the data lock carries: slots 1–15 at
// full size, then the OTP zone (slot 0, the private key, is excluded).
func dataCRC(slots *[atecc.NumSlots][]byte, otp *[atecc.OTPSize]byte) uint16 {
	var b []byte
	for i := 1; i < atecc.NumSlots; i++ {
		b = append(b, slots[i]...)
	}
	return ni2c.CRC16(append(b, otp[:]...))
}

func (p *provisioning) provisionUnlocked(ctx context.Context, want *atecc.Config) error {
	d := p.c.dev
	if p.cfg.ConfigLocked() {
		p.skip(stepConfigure, "configuration already locked and compatible")
		p.skip(stepLockConfig, "configuration already locked")
	} else {
		if err := p.run(ctx, stepConfigure, func() (string, error) { return "", d.WriteConfig(ctx, want) }); err != nil {
			return err
		}
		err := p.run(ctx, stepLockConfig, func() (string, error) {
			err := d.LockConfig(ctx, want.CRC())
			if err == nil || !errors.Is(err, ErrExecution) {
				return "", err
			}
			// A retried lock whose first answer was lost is refused
			// as already locked: read the lock byte to tell.
			have, rerr := d.ReadConfig(ctx)
			if rerr != nil {
				return "", fmt.Errorf("the chip refused the lock (%w), and reading its state failed: %w", err, rerr)
			}
			if !have.ConfigLocked() {
				return "", fmt.Errorf("the chip refused the lock: its config zone differs from the image written: %w", err)
			}
			locked := *want
			locked[layout.LockConfigOffset] = have[layout.LockConfigOffset]
			if i := layout.ConfigDiff(&have, &locked); i >= 0 {
				return "", fmt.Errorf("%w: the configuration zone is locked, but byte %d is %02x, not %02x", ErrConfigIncompatible, i, have[i], want[i])
			}
			return "already locked as intended (the answer to an earlier lock was lost)", nil
		})
		if err != nil {
			return err
		}
	}
	if err := p.run(ctx, stepWriteOTP, func() (string, error) { return "", d.WriteOTP(ctx, p.otp) }); err != nil {
		return err
	}
	var pub *ecdsa.PublicKey
	err := p.run(ctx, stepGenKey, func() (string, error) {
		// The plan said whether slot 0's key is reused (probeKey).
		var xy [64]byte
		if p.reuse != nil {
			xy = *p.reuse
		} else {
			var err error
			if xy, err = d.GenKey(ctx, layout.KeySlot, true); err != nil {
				return "", err
			}
		}
		var err error
		if pub, err = publicKeyFromXY(xy[:]); err != nil {
			return "", err
		}
		proof, err := p.proveKey(ctx, xy, pub)
		if err != nil {
			return "", err
		}
		p.res.KeyProof = proof
		if p.reuse != nil {
			return "reused the valid key left in slot 0 by an interrupted run; " + proof, nil
		}
		return "generated a new key; " + proof, nil
	})
	if err != nil {
		return err
	}
	var slots [atecc.NumSlots][]byte
	var devDER []byte
	err = p.run(ctx, stepWriteSlots, func() (string, error) {
		der, comp, err := cert.NewDevice(p.rand, pub, p.sn, p.info.ManufacturerSN, p.signerCert, p.signer, p.now)
		if err != nil {
			return "", fmt.Errorf("device certificate: %w", err)
		}
		devDER = der
		if slots, err = p.slotImages(comp); err != nil {
			return "", err
		}
		return "", p.writeSlots(ctx, &slots, false)
	})
	if err != nil {
		return err
	}
	err = p.run(ctx, stepVerify, func() (string, error) {
		dev, err := p.verify(pub, p.otp, slots[layout.DeviceCertSlot[Primary]], slots[layout.SignerKeySlot[Primary]], slots[layout.SignerCertSlot[Primary]])
		if err != nil {
			return "", err
		}
		if !bytes.Equal(dev.Raw, devDER) {
			return "", fmt.Errorf("%w: the device certificate rebuilt from slot 10 differs from the one signed", ErrVerify)
		}
		return "", nil
	})
	if err != nil {
		return err
	}
	err = p.run(ctx, stepLockData, func() (string, error) {
		// The last read of the key before the irreversible step: the
		// key the certificate holds must still be slot 0's.
		if err := p.sameKey(ctx, pub, "immediately before the data lock"); err != nil {
			return "", err
		}
		if p.signRefused && p.volatile {
			// A volatile key may sign only with the persistent latch
			// set, which needs the activation key now in slot 1.
			switch err := p.challenge(ctx, pub, true); {
			case err == nil:
				p.res.KeyProof += "; with the persistent latch set, slot 0 signed a random challenge that verified before the data lock"
			case !errors.Is(err, ErrExecution):
				return "", err
			}
		}
		crc := dataCRC(&slots, &p.otp)
		err := d.LockData(ctx, crc)
		if err == nil {
			return "", nil
		}
		if !errors.Is(err, ErrExecution) {
			return "", err
		}
		if locked, err := p.dataLocked(ctx, err); err != nil || locked {
			return "already locked (the answer to an earlier lock was lost)", err
		}
		// The all-zero slots were not written; the chip's differ (factory
		// contents, an interrupted run). Write them and lock again.
		if err := p.writeSlots(ctx, &slots, true); err != nil {
			return "", err
		}
		if err := d.LockData(ctx, crc); err != nil {
			if !errors.Is(err, ErrExecution) {
				return "", err
			}
			if locked, lerr := p.dataLocked(ctx, err); lerr != nil || locked {
				return "wrote the unused slots as zeros first; already locked (the answer to an earlier lock was lost)", lerr
			}
			return "", fmt.Errorf("%w: the chip refused the data lock, so its slots or OTP differ from what was written (nothing was locked; run Provision again): %w", ErrVerify, err)
		}
		return "wrote the unused slots as zeros first", nil
	})
	if err != nil {
		return err
	}
	return p.run(ctx, stepLockKey, func() (string, error) { return p.finish(ctx, layout.KeySlots(p.volatile)) })
}

// writeSlots writes the slot images that hold data (zeros false) or the
// all-zero ones (zeros true), each as nerves_key's write_padded does:
// 32-byte writes of the slot zero-padded to a multiple of 32 bytes.
//
// The all-zero slots (1–9 and 13–15 unless volatile) are at first not
// written: the data lock carries the CRC of the full images, so if the
// chip already holds zeros there (a blank chip) the lock succeeds and 39
// writes are saved; if not, the chip refuses the lock, nothing is locked,
// and they are written before locking again. The check is a 16-bit CRC: a
// chip whose unused slots hold other bytes has a 1 in 65536 chance of
// passing it anyway, leaving those bytes in slots Elixir would have zeroed
// (never in slots 10–12 or the OTP, which are always written and read back).
func (p *provisioning) writeSlots(ctx context.Context, slots *[atecc.NumSlots][]byte, zeros bool) error {
	return p.c.dev.Do(ctx, func(s *atecc.Session) error {
		for i := 1; i < atecc.NumSlots; i++ {
			if layout.AllZero(slots[i]) != zeros {
				continue
			}
			if err := s.WriteSlot(ctx, i, slots[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// dataLocked reads the lock byte after the chip refused a data lock with
// lockErr: a retried lock whose first answer was lost is refused because
// the zone is already locked. The CRC the lock carries means only the
// bytes written could have been locked; finish reads them back.
func (p *provisioning) dataLocked(ctx context.Context, lockErr error) (bool, error) {
	have, err := p.c.dev.ReadConfig(ctx)
	if err != nil {
		return false, fmt.Errorf("the chip refused the data lock (%w), and reading its state failed: %w", lockErr, err)
	}
	return have.DataLocked(), nil
}

// readBack reads the data-locked chip back (OTP, certificate slots, slot 0's
// public key, after setting the latch of a volatile-key chip) and verifies
// it against the inputs.
func (p *provisioning) readBack(ctx context.Context) (*ecdsa.PublicKey, *x509.Certificate, error) {
	var numIn [20]byte
	if _, err := io.ReadFull(p.rand, numIn[:]); err != nil {
		return nil, nil, err
	}
	var otp [atecc.OTPSize]byte
	var s10, s11, s12 []byte
	var xy [64]byte
	err := p.c.dev.Do(ctx, func(s *atecc.Session) error {
		var err error
		if otp, err = s.ReadOTP(ctx); err != nil {
			return err
		}
		if s10, err = s.ReadSlot(ctx, layout.DeviceCertSlot[Primary]); err != nil {
			return err
		}
		if s11, err = s.ReadSlot(ctx, layout.SignerKeySlot[Primary]); err != nil {
			return err
		}
		if s12, err = s.ReadSlot(ctx, layout.SignerCertSlot[Primary]); err != nil {
			return err
		}
		if p.volatile {
			// After the data lock the key needs the persistent latch.
			var key [32]byte
			copy(key[:], p.o.Volatile.Activation[:])
			if err := s.AuthVolatileKey(ctx, layout.ActivationSlot, key, numIn); err != nil {
				if errors.Is(err, atecc.ErrMiscompare) {
					return fmt.Errorf("%w: %w", ErrActivationKey, err)
				}
				return err
			}
		}
		xy, err = s.GenKey(ctx, layout.KeySlot, false)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	pub, err := publicKeyFromXY(xy[:])
	if err != nil {
		return nil, nil, err
	}
	dev, err := p.verify(pub, otp, s10, s11, s12)
	if err != nil {
		return nil, nil, err
	}
	return pub, dev, nil
}

// finish reads the data-locked chip back, verifies it against the inputs
// and locks the key slots in todo. A slot lock the chip refuses because the
// slot is already locked (the answer to an earlier lock was lost) counts
// as done.
func (p *provisioning) finish(ctx context.Context, todo []int) (string, error) {
	pub, dev, err := p.readBack(ctx)
	if err != nil {
		return "", err
	}
	p.res.PublicKey, p.res.DeviceCert = pub, dev
	if p.res.KeyProof == "" {
		p.res.KeyProof = "read back with genkey public after the data lock; the device certificate holds that key and verifies under the signer"
	}
	lost := ""
	for _, slot := range todo {
		err := p.c.dev.LockSlot(ctx, slot)
		if err == nil || !errors.Is(err, ErrExecution) {
			if err != nil {
				return "", err
			}
			continue
		}
		have, rerr := p.c.dev.ReadConfig(ctx)
		if rerr != nil {
			return "", fmt.Errorf("the chip refused to lock slot %d (%w), and reading its state failed: %w", slot, err, rerr)
		}
		if !have.SlotLocked(slot) {
			return "", err
		}
		lost = fmt.Sprintf(" (slot %d was already locked: the answer to an earlier lock was lost)", slot)
	}
	return fmt.Sprintf("verified; locked slot(s) %v%s", todo, lost), nil
}
