package nerveskey

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"errors"
	"fmt"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// Slots of the certificate pairs (spec/nerves_key.md §1), indexed by Pair.
var (
	pairDeviceSlot    = [2]int{10, 9}
	pairSignerKeySlot = [2]int{11, 14}
	pairSignerSlot    = [2]int{12, 15}
)

// tngMACSlot holds a Trust&Go chip's EUI-48 MAC, as 12 ASCII characters in
// its first bytes.
const (
	tngMACSlot = 5
	tngMACLen  = 12
)

// Errors of reading identity and certificates. The typed errors below
// wrap them, so callers can branch with errors.Is.
var (
	// ErrNoAux reports that the chip has no aux certificates (slot 9, or
	// the aux certificate slot asked for, is all zeros).
	ErrNoAux = errors.New("chip has no aux certificates")
	// ErrNotNervesKeyOTP reports an OTP zone without the NervesKey layout
	// (its first bytes are not "Nrvs"): the chip was provisioned by
	// something else. It is wrapped by an *OTPError.
	ErrNotNervesKeyOTP = atecc.ErrNotNervesKeyOTP
	// ErrTemplateMismatch reports a compressed certificate whose template
	// ID, chain ID or signer ID is not the one its slot needs. It is
	// wrapped by a *CertificateError.
	ErrTemplateMismatch = cert.ErrTemplateMismatch
	// ErrMalformedCertificate reports slot data that is not a compressed
	// certificate (bad dates, reserved bits set, an empty slot), or a
	// rebuild that crypto/x509 cannot parse. It is wrapped by a
	// *CertificateError.
	ErrMalformedCertificate = cert.ErrMalformed
	// ErrSignature reports a rebuilt certificate whose signature does not
	// verify under its signer's public key. It is wrapped by a
	// *SignatureError.
	ErrSignature = errors.New("certificate signature does not verify")
)

// An OTPError reports an OTP zone that is not a NervesKey's (wrapping
// ErrNotNervesKeyOTP), or a board name or serial number that does not fit
// it.
type OTPError = atecc.OTPError

// A CertificateError reports certificate data on the chip that cannot be
// rebuilt: a slot that is empty or not a compressed certificate, a trailer
// that does not match the template (wrapping ErrTemplateMismatch), or a
// signer public key that is not a P-256 point.
type CertificateError struct {
	Pair Pair   // Primary or Aux
	Cert string // "device" or "signer"
	Slot int    // the slot whose contents are wrong
	Err  error  // what is wrong with it
}

// Error names the certificate, the slot and the problem.
func (e *CertificateError) Error() string {
	return fmt.Sprintf("%v %s certificate: slot %d: %v", e.Pair, e.Cert, e.Slot, e.Err)
}

// Unwrap returns the underlying error.
func (e *CertificateError) Unwrap() error { return e.Err }

// A SignatureError reports a certificate rebuilt from the chip whose
// signature does not verify under its signer's public key: the device
// certificate under the signer key in slot 11 (14 for aux), a NervesKey
// signer certificate under its own key. The slots disagree, or hold
// corrupted data, or the device key in slot 0 is not the one the
// certificate was issued for. It unwraps to ErrSignature.
type SignatureError struct {
	Pair Pair   // Primary or Aux
	Cert string // "device" or "signer"
	Slot int    // slot of the signer public key it was checked with
}

// Error names the certificate and the key it was checked with.
func (e *SignatureError) Error() string {
	return fmt.Sprintf("%v %s certificate: %v under the signer public key in slot %d", e.Pair, e.Cert, ErrSignature, e.Slot)
}

// Unwrap returns ErrSignature.
func (e *SignatureError) Unwrap() error { return ErrSignature }

// Info is a chip's identity, as nerves_key reports it.
type Info struct {
	// Provisioned reports whether the data and OTP zones are locked
	// (nerves_key's provisioned?). A Trust&Go part reads as provisioned.
	Provisioned bool
	// Mode is how the chip is configured (nerves_key.md §3.4).
	Mode Mode
	// Layout is what the configuration zone makes the chip, whatever
	// Options.Type says: "blank" (configuration zone unlocked),
	// "nerves_key", "nerves_key_volatile", "trust_and_go" or "foreign".
	// Mode and Key are decided from the same detection.
	Layout string
	// Revision is the part, from config bytes 4–7: "ATECC508A",
	// "ATECC608A", "ATECC608B" or "unknown".
	Revision string
	// Serial is the 9-byte chip serial number (config bytes 0–3, 8–12).
	Serial [9]byte
	// ManufacturerSN is the manufacturer serial number: from the OTP zone
	// on a NervesKey (trailing zero bytes trimmed), the upper-case hex of
	// Serial on a Trust&Go chip. It is empty when the chip is not
	// provisioned, or is not a NervesKey (ModeUnrecognized) and its OTP
	// has no NervesKey layout.
	ManufacturerSN string
	// BoardName is the board name from the OTP zone, empty when
	// ManufacturerSN does not come from the OTP.
	BoardName string
	// DefaultManufacturerSN is the serial nerves_key proposes for
	// provisioning: Serial in RFC 4648 Base32, upper case, without
	// padding (15 characters).
	DefaultManufacturerSN string
	// HasAux reports whether aux certificates are present (slot 9 is not
	// all zeros).
	HasAux bool
	// UserData is the OTP user data (bytes 32–63, nerves_key's OTP user
	// field, ProvisioningInfo.UserData), all zeros when there is none:
	// when ManufacturerSN does not come from the OTP, or is over 16 bytes
	// and takes those bytes.
	UserData [32]byte
}

// Info returns the chip's identity. It works on unprovisioned chips too,
// whose OTP zone cannot be read yet: ManufacturerSN and BoardName are then
// empty. On a NervesKey (ModeRegular or ModeVolatile) whose OTP zone has no
// NervesKey layout it returns an *OTPError. The result is read once and
// cached; each call returns a fresh copy.
func (c *Chip) Info(ctx context.Context) (*Info, error) {
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("nerveskey: info: %w", err)
	}
	c.mu.Lock()
	cached := c.cache.info
	c.mu.Unlock()
	if cached != nil {
		info := *cached
		return &info, nil
	}
	info, err := c.readInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: info: %w", err)
	}
	c.mu.Lock()
	c.cache.info = info
	c.mu.Unlock()
	copied := *info
	return &copied, nil
}

func (c *Chip) readInfo(ctx context.Context) (*Info, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	info := &Info{
		Provisioned: cfg.DataLocked(),
		Mode:        modeOf(cfg),
		Layout:      layout.Detect(cfg).String(),
		Revision:    cfg.Revision().String(),
		Serial:      cfg.SerialNumber(),
	}
	info.DefaultManufacturerSN = defaultManufacturerSN(info.Serial)
	if !info.Provisioned {
		return info, nil
	}
	// A chip that is not a NervesKey may refuse reads of its OTP or slot
	// 9; that is no error, only less to report.
	foreign := info.Mode == ModeUnrecognized
	// Slot 9 and the OTP zone in one wake; the reads below use the cache.
	if err := c.prefetch(ctx, fetchList{slots: []int{pairDeviceSlot[Aux]}, otp: c.typ != TrustAndGo}); err != nil && !foreign {
		return nil, err
	}
	if c.typ == TrustAndGo {
		info.ManufacturerSN = fmt.Sprintf("%X", info.Serial[:])
	} else {
		o, err := c.otp(ctx)
		switch {
		case err == nil:
			info.ManufacturerSN, info.BoardName = o.ManufacturerSN, o.BoardName
			info.UserData = userData(&o)
		case !foreign:
			return nil, err
		}
	}
	info.HasAux, err = c.hasAux(ctx)
	if err != nil && !foreign {
		return nil, err
	}
	return info, nil
}

// defaultManufacturerSN is nerves_key's default serial number:
// Base.encode32(sn9, padding: false).
func defaultManufacturerSN(sn [9]byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sn[:])
}

// otp is the decoded NervesKey OTP zone.
type otp = atecc.NervesKeyOTP

// decodeOTP decodes an OTP zone as nerves_key's OTP.from_raw does; a
// magic other than "Nrvs" gives an *OTPError wrapping ErrNotNervesKeyOTP.
func decodeOTP(b [atecc.OTPSize]byte) (otp, error) {
	return atecc.ParseNervesKeyOTP(b)
}

// otp reads and decodes the OTP zone (cached raw).
func (c *Chip) otp(ctx context.Context) (otp, error) {
	b, err := c.otpZone(ctx)
	if err != nil {
		return otp{}, err
	}
	return decodeOTP(b)
}

// HasAux reports whether the chip holds aux certificates: whether slot 9
// is not all zeros, as nerves_key's has_aux_certificates? decides. An
// unprovisioned chip has none.
func (c *Chip) HasAux(ctx context.Context) (bool, error) {
	ok, err := c.hasAux(ctx)
	if err != nil {
		return false, fmt.Errorf("nerveskey: aux certificates: %w", err)
	}
	return ok, nil
}

func (c *Chip) hasAux(ctx context.Context) (bool, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return false, err
	}
	if !cfg.DataLocked() {
		return false, nil
	}
	b, err := c.slot(ctx, pairDeviceSlot[Aux])
	if err != nil {
		return false, err
	}
	return !zeroSlot(b), nil
}

// MAC returns a Trust&Go chip's EUI-48 MAC address as Microchip stores it
// in slot 5: 12 upper-case hex digits, e.g. "E8EB1B202027". Only Trust&Go
// chips have one.
func (c *Chip) MAC(ctx context.Context) (string, error) {
	if c.typ != TrustAndGo {
		return "", fmt.Errorf("nerveskey: mac: only Trust&Go chips have a MAC address in slot %d; this chip was opened as %v", tngMACSlot, c.typ)
	}
	mac, err := c.mac(ctx)
	if err != nil {
		return "", fmt.Errorf("nerveskey: mac: %w", err)
	}
	return mac, nil
}

func (c *Chip) mac(ctx context.Context) (string, error) {
	b, err := c.slot(ctx, tngMACSlot)
	if err != nil {
		return "", err
	}
	mac := b[:tngMACLen]
	for _, ch := range mac {
		if !('0' <= ch && ch <= '9' || 'A' <= ch && ch <= 'F' || 'a' <= ch && ch <= 'f') {
			return "", fmt.Errorf("slot %d does not start with a MAC address: %q is not 12 hex digits", tngMACSlot, mac)
		}
	}
	return string(mac), nil
}

// certKind says which certificate of a pair.
type certKind int

const (
	deviceCert certKind = iota
	signerCert
	numCertKinds
)

func (k certKind) String() string {
	if k == deviceCert {
		return "device"
	}
	return "signer"
}

// DeviceCertificate rebuilds the device certificate of pair p from the
// chip: the compressed certificate in slot 10 (9 for Aux), the signer public
// key in slot 11 (14), the device public key (GenKey; slot 0 is never read),
// the chip serial and the manufacturer serial number from the OTP zone,
// which is its subject CN. On a chip opened as TrustAndGo the primary pair
// uses Microchip's Trust&Go template, slot 11's padded key format and the
// MAC in slot 5.
//
// Unlike nerves_key, its signature is always minimal DER, so Raw is the
// certificate as originally signed and verifies with crypto/x509 and
// OpenSSL; [ElixirDER] gives the bytes nerves_key rebuilds. The signature
// is checked under the signer public key before the certificate is
// returned: a mismatch is a *SignatureError, bad slot data a
// *CertificateError, an OTP zone without the NervesKey layout an
// *OTPError. A missing aux pair is ErrNoAux, an unprovisioned chip
// ErrNotProvisioned. A volatile-key chip computes the device public key
// only with its persistent latch set: without Options.ActivationKey the
// error is ErrActivationKey.
//
// Aux certificates always use the NervesKey templates and key format, on
// Trust&Go chips too, where the subject CN is the MAC, as nerves_key's
// provision_aux_certificates writes them (nerves_key itself reads them back
// with the Trust&Go templates, which cannot match; spec/nerves_key.md §4.4).
//
// The certificate is read once and cached, and shared by all callers: it
// must not be modified.
func (c *Chip) DeviceCertificate(ctx context.Context, p Pair) (*x509.Certificate, error) {
	return c.certificate(ctx, p, deviceCert)
}

// SignerCertificate rebuilds the signer certificate of pair p from slot 12
// (15 for Aux) and the signer public key in slot 11 (14): a NervesKey
// signer (issuer and subject CN=Signer, self-signed), or on a chip opened
// as TrustAndGo, for the primary pair, Microchip's Trust&Go signer issued
// by its "Crypto Authentication Root CA 002".
//
// A NervesKey signer's self-signature is checked (*SignatureError); a
// Trust&Go signer's is left to the caller, who verifies the chain up to
// Microchip's root. Errors and caching are as for
// [Chip.DeviceCertificate].
func (c *Chip) SignerCertificate(ctx context.Context, p Pair) (*x509.Certificate, error) {
	return c.certificate(ctx, p, signerCert)
}

func (c *Chip) certificate(ctx context.Context, p Pair, k certKind) (*x509.Certificate, error) {
	if p != Primary && p != Aux {
		return nil, fmt.Errorf("nerveskey: read %v certificate: unknown pair %v", k, p)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("nerveskey: read %v %v certificate: %w", p, k, err)
	}
	c.mu.Lock()
	crt := c.cache.certs[p][k]
	c.mu.Unlock()
	if crt != nil {
		return crt, nil
	}
	crt, err := c.readCertificate(ctx, p, k)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: read %v %v certificate: %w", p, k, err)
	}
	c.mu.Lock()
	c.cache.certs[p][k] = crt
	c.mu.Unlock()
	return crt, nil
}

func (c *Chip) readCertificate(ctx context.Context, p Pair, k certKind) (*x509.Certificate, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	if !cfg.DataLocked() {
		return nil, ErrNotProvisioned
	}
	certErr := func(slot int, err error) error {
		return &CertificateError{Pair: p, Cert: k.String(), Slot: slot, Err: err}
	}
	trustAndGo := c.typ == TrustAndGo && p == Primary

	slot, other := pairDeviceSlot[p], pairSignerSlot[p]
	if k == signerCert {
		slot, other = other, slot
	}
	// Read what this certificate needs, and the other slots of the pair
	// (the other certificate is usually wanted next, as for a TLS chain),
	// in one wake. The device public key and the OTP or MAC are read only
	// for a device certificate: a signer certificate does not need them.
	fl := fetchList{slots: []int{slot, other, pairSignerKeySlot[p]}, stopIfEmpty: true}
	if k == deviceCert {
		fl.pub = true
		if c.typ == TrustAndGo {
			fl.slots = append(fl.slots, tngMACSlot)
		} else {
			fl.otp = true
		}
	}
	if err := c.prefetch(ctx, fl); err != nil {
		return nil, err
	}
	data, err := c.slot(ctx, slot)
	if err != nil {
		return nil, err
	}
	if zeroSlot(data) {
		if p == Aux {
			return nil, ErrNoAux
		}
		return nil, certErr(slot, fmt.Errorf("%w: slot is empty", ErrMalformedCertificate))
	}
	comp, err := cert.ParseCompressed(data[:cert.CompressedSize])
	if err != nil {
		return nil, certErr(slot, err)
	}

	keyData, err := c.slot(ctx, pairSignerKeySlot[p])
	if err != nil {
		return nil, err
	}
	signerXY := keyData[:64]
	if trustAndGo {
		// Microchip's format: 4 pad bytes, X, 4 pad bytes, Y.
		signerXY = append(append([]byte(nil), keyData[4:36]...), keyData[40:72]...)
	}
	signerPub, err := publicKeyFromXY(signerXY)
	if err != nil {
		return nil, certErr(pairSignerKeySlot[p], fmt.Errorf("signer %w", err))
	}

	var der []byte
	switch {
	case k == signerCert && trustAndGo:
		der, err = cert.TrustAndGoSigner(comp, signerXY)
	case k == signerCert:
		der, err = cert.NervesKeySigner(comp, signerXY)
	default:
		devXY, derr := c.devicePublicXY(ctx, modeOf(cfg))
		if derr != nil {
			return nil, derr
		}
		if c.typ == TrustAndGo {
			mac, merr := c.mac(ctx)
			if merr != nil {
				return nil, merr
			}
			if trustAndGo {
				der, err = cert.TrustAndGoDevice(comp, devXY, signerXY, cfg.SerialNumber(), mac)
			} else {
				der, err = cert.NervesKeyDevice(comp, devXY, signerXY, cfg.SerialNumber(), mac)
			}
			break
		}
		o, oerr := c.otp(ctx)
		if oerr != nil {
			return nil, oerr
		}
		der, err = cert.NervesKeyDevice(comp, devXY, signerXY, cfg.SerialNumber(), o.ManufacturerSN)
	}
	if err != nil {
		return nil, certErr(slot, err)
	}
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, certErr(slot, fmt.Errorf("%w: rebuilt certificate does not parse: %v", ErrMalformedCertificate, err))
	}
	if k == deviceCert || !trustAndGo {
		h := sha256.Sum256(crt.RawTBSCertificate)
		if crt.SignatureAlgorithm != x509.ECDSAWithSHA256 || !ecdsa.VerifyASN1(signerPub, h[:], crt.Signature) {
			return nil, &SignatureError{Pair: p, Cert: k.String(), Slot: pairSignerKeySlot[p]}
		}
	}
	return crt, nil
}

// ElixirDER returns a certificate's DER the way nerves_key rebuilds it:
// each 32-byte signature integer kept whole. It equals der except for
// about 1 certificate in 256, whose signature integer has a leading zero
// byte; nerves_key then produces non-minimal DER, which crypto/x509 and
// OpenSSL reject. Use it only to match bytes recorded from an Elixir
// device, such as a certificate fingerprint a server stored.
func ElixirDER(der []byte) ([]byte, error) {
	b, err := cert.ElixirDER(der)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: elixir DER: %w", err)
	}
	return b, nil
}

func zeroSlot(b []byte) bool {
	return len(bytes.Trim(b, "\x00")) == 0
}
