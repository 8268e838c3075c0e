package nerveskey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// minClockYear is the earliest year Provision believes its clock: an
// earlier one means the clock was never set (nerves_key compares with its
// compile-time year).
const minClockYear = 2025

// checkChip checks the chip's type, revision and configuration against
// the request and returns the configuration to write.
func (p *provisioning) checkChip() (atecc.Config, error) {
	if p.c.typ == TrustAndGo {
		return atecc.Config{}, &InputError{Field: "device type", Reason: "Trust&Go chips are provisioned by Microchip; use ProvisionAux to add certificates"}
	}
	rev := p.cfg.Revision()
	if rev == atecc.RevisionUnknown {
		return atecc.Config{}, &InputError{Field: "chip", Reason: fmt.Sprintf("RevNum %x is not an ATECC508A, 608A or 608B", p.cfg.RevNum())}
	}
	if p.volatile && !rev.Is608() {
		return atecc.Config{}, &InputError{Field: "volatile keys", Reason: fmt.Sprintf("need the persistent latch of an ATECC608A/B; this chip is an %v", rev)}
	}
	want := layout.NervesKeyConfig(&p.cfg, p.volatile)
	if p.cfg.ConfigLocked() {
		if i := layout.ConfigDiff(&p.cfg, &want); i >= 0 {
			kind := "regular"
			if p.volatile {
				kind = "volatile-key"
			}
			hint := ""
			switch k := layout.Detect(&p.cfg); {
			case k == layout.NervesKeyVolatile && !p.volatile:
				hint = " (it is a volatile-key NervesKey configuration: set ProvisionOptions.Volatile)"
			case k == layout.NervesKey && p.volatile:
				hint = " (it is a regular NervesKey configuration)"
			}
			return atecc.Config{}, fmt.Errorf("%w: config byte %d is %02x, the %s NervesKey configuration has %02x%s",
				ErrConfigIncompatible, i, p.cfg[i], kind, want[i], hint)
		}
	}
	return want, nil
}

// checkInputs validates info, the signer and the clock.
func (p *provisioning) checkInputs() error {
	if err := checkManufacturerSN(p.info.ManufacturerSN); err != nil {
		return err
	}
	if err := checkBoardName(p.info.BoardName); err != nil {
		return err
	}
	otp, err := layout.NewOTP(p.info.BoardName, p.info.ManufacturerSN)
	if err == nil {
		if err := otp.SetUserData(p.info.UserData); err != nil {
			return &InputError{Field: "user data", Reason: "does not fit the OTP zone", Err: err}
		}
		p.otp, err = otp.Marshal()
	}
	if err != nil {
		return &InputError{Field: "provisioning info", Reason: "does not fit the OTP zone", Err: err}
	}
	if p.volatile {
		if p.o.Volatile.Activation == ([16]byte{}) {
			return &InputError{Field: "volatile keys", Reason: "the activation key is all zeros"}
		}
	}
	return checkSigner(p.signerCert, p.signer, p.now)
}

// checkSigner checks the signer and the clock before any write.
func checkSigner(signerCert *x509.Certificate, signer crypto.Signer, now time.Time) error {
	if y := now.UTC().Year(); y < minClockYear {
		return &InputError{Field: "clock", Reason: fmt.Sprintf("it says %s; set the clock (nerves_time, NTP) first", now.UTC().Format(time.RFC3339)), Err: ErrClockNotSet}
	} else if y > 2031 {
		return &InputError{Field: "clock", Reason: fmt.Sprintf("it says %d: compressed certificates hold issue years 2000-2031 only, so certificates made now would not rebuild", y),
			Err: ErrDateRange}
	}
	if signerCert == nil {
		return &InputError{Field: "signer certificate", Reason: "missing"}
	}
	if signer == nil {
		return &InputError{Field: "signer key", Reason: "missing"}
	}
	if err := cert.CheckSigner(signerCert); err != nil {
		return &InputError{Field: "signer certificate", Reason: "a chip cannot store it (it does not rebuild from its compressed form)", Err: err}
	}
	if err := cert.CheckSignerKey(signerCert, signer); err != nil {
		return &InputError{Field: "signer key", Reason: "does not match the signer certificate", Err: err}
	}
	switch {
	case now.Before(signerCert.NotBefore):
		return &InputError{Field: "signer certificate", Reason: fmt.Sprintf("not valid before %s (clock: %s)", signerCert.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
	case now.After(signerCert.NotAfter):
		return &InputError{Field: "signer certificate", Reason: fmt.Sprintf("expired on %s", signerCert.NotAfter.UTC().Format(time.RFC3339))}
	}
	return nil
}

// checkManufacturerSN applies the serial rule (internal/layout) to a
// manufacturer serial number.
func checkManufacturerSN(sn string) error {
	why := layout.ManufacturerSNProblem(sn)
	if sn == "" {
		why += ": give one, or nerves_key's default, the chip's 9-byte serial number in base32 (15 characters)"
	}
	if why != "" {
		return &InputError{Field: "manufacturer serial number", Reason: fmt.Sprintf("%q %s", sn, why)}
	}
	return nil
}

// checkBoardName applies the board name rule (internal/layout).
func checkBoardName(name string) error {
	if why := layout.BoardNameProblem(name); why != "" {
		return &InputError{Field: "board name", Reason: fmt.Sprintf("%q %s", name, why)}
	}
	return nil
}

// trialCertificate signs, compresses, rebuilds and compares a device
// certificate for a throwaway key, with this chip's serial and the real
// inputs, so that nothing is written for a signer that cannot work.
func (p *provisioning) trialCertificate() error {
	k, err := ecdsa.GenerateKey(elliptic.P256(), p.rand)
	if err != nil {
		return err
	}
	if _, _, err := cert.NewDevice(p.rand, &k.PublicKey, p.sn, p.info.ManufacturerSN, p.signerCert, p.signer, p.now); err != nil {
		return &InputError{Field: "signer", Reason: "a trial device certificate failed", Err: err}
	}
	return nil
}
