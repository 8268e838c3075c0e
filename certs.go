package nerveskey

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// Info is a chip's identity, as nerves_key reports it.
type Info struct {
	// Provisioned reports whether the data and OTP zones are locked
	// (nerves_key's provisioned?). A Trust&Go part reads as provisioned.
	Provisioned bool
	// Mode is how the chip is configured, as nerves_key's
	// provisioning_info names it (docs/nerves_key.md §3.4):
	// "unprovisioned" (the data zone is not locked), "regular" (a
	// NervesKey with its key usable at any time), "volatile" (a 608
	// NervesKey whose key needs the persistent latch, set with
	// Options.ActivationKey) or "unrecognized" (locked, but not with a
	// NervesKey configuration).
	Mode string
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
	// provisioned, or is not a NervesKey ("unrecognized") and its OTP
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
	// all zeros, as nerves_key's has_aux_certificates? decides).
	HasAux bool
	// MAC is a Trust&Go chip's EUI-48 MAC address as Microchip stores it
	// in slot 5: 12 upper-case hex digits, e.g. "E8EB1B202027"; empty on
	// a chip not opened as TrustAndGo.
	MAC string
	// Type and Addr are the device type and 7-bit I2C address the chip
	// was opened with (Options.Type and Options.Addr or their defaults).
	Type DeviceType
	Addr uint16
	// ConfigZone is the 128-byte configuration zone as read when the chip
	// was opened (DS508 Table 2-5, DS608-TFLX Table 2-3), what "nerveskey
	// config" decodes; Layout says what it makes the chip.
	ConfigZone [128]byte
	// UserData is the OTP user data (bytes 32–63, nerves_key's OTP user
	// field, ProvisioningInfo.UserData), all zeros when there is none:
	// when ManufacturerSN does not come from the OTP, or is over 16 bytes
	// and takes those bytes.
	UserData [32]byte
}

// Info returns the chip's identity. It works on unprovisioned chips too,
// whose OTP zone cannot be read yet: ManufacturerSN and BoardName are then
// empty. On a NervesKey (Mode "regular" or "volatile") whose OTP zone has no
// NervesKey layout it returns an error wrapping ErrNotNervesKeyOTP. The result is read once and
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
		Mode:        modeOf(cfg).String(),
		Layout:      layout.Detect(cfg).String(),
		Revision:    cfg.Revision().String(),
		Serial:      cfg.SerialNumber(),
		Type:        c.typ,
		Addr:        c.addr,
		ConfigZone:  [128]byte(*cfg),
	}
	info.DefaultManufacturerSN = layout.DefaultManufacturerSN(info.Serial)
	if !info.Provisioned {
		return info, nil
	}
	// A chip that is not a NervesKey may refuse reads of its OTP or slot
	// 9; that is no error, only less to report.
	foreign := modeOf(cfg) == modeUnrecognized
	// Slot 9 and the OTP zone in one wake; the reads below use the cache.
	if err := c.prefetch(ctx, fetchList{slots: []int{layout.DeviceCertSlot[Aux]}, otp: c.typ != TrustAndGo}); err != nil && !foreign {
		return nil, err
	}
	if c.typ == TrustAndGo {
		info.ManufacturerSN = fmt.Sprintf("%X", info.Serial[:])
		if info.MAC, err = c.mac(ctx); err != nil && !foreign {
			return nil, err
		}
	} else {
		o, err := c.otp(ctx)
		switch {
		case err == nil:
			info.ManufacturerSN, info.BoardName = o.ManufacturerSN, o.BoardName
			info.UserData = o.User // zero in the long-serial layout
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

// otp is the decoded NervesKey OTP zone.
type otp = layout.OTP

// decodeOTP decodes an OTP zone as nerves_key's OTP.from_raw does; a
// magic other than "Nrvs" gives an error wrapping ErrNotNervesKeyOTP.
func decodeOTP(b [atecc.OTPSize]byte) (otp, error) {
	return layout.ParseOTP(b)
}

// otp reads and decodes the OTP zone (cached raw).
func (c *Chip) otp(ctx context.Context) (otp, error) {
	b, err := c.otpZone(ctx)
	if err != nil {
		return otp{}, err
	}
	return decodeOTP(b)
}

func (c *Chip) hasAux(ctx context.Context) (bool, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return false, err
	}
	if !cfg.DataLocked() {
		return false, nil
	}
	b, err := c.slot(ctx, layout.DeviceCertSlot[Aux])
	if err != nil {
		return false, err
	}
	return !layout.AllZero(b), nil
}

func (c *Chip) mac(ctx context.Context) (string, error) {
	b, err := c.slot(ctx, layout.MACSlot)
	if err != nil {
		return "", err
	}
	mac := b[:layout.MACLen]
	for _, ch := range mac {
		if !('0' <= ch && ch <= '9' || 'A' <= ch && ch <= 'F' || 'a' <= ch && ch <= 'f') {
			return "", fmt.Errorf("slot %d does not start with a MAC address: %q is not 12 hex digits", layout.MACSlot, mac)
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

// Certificates rebuilds the certificate pair p from the chip: the device
// certificate and the signer certificate that issued it.
//
// The device certificate comes from the compressed certificate in slot 10
// (9 for Aux), the signer public key in slot 11 (14), the device public
// key (GenKey; slot 0 is never read), the chip serial and the
// manufacturer serial number from the OTP zone, which is its subject CN.
// The signer certificate comes from slot 12 (15) and the signer public
// key: a NervesKey signer (issuer and subject CN=Signer, self-signed). On
// a chip opened as TrustAndGo the primary pair uses Microchip's Trust&Go
// templates, slot 11's padded key format and the MAC in slot 5, and its
// signer is issued by Microchip's "Crypto Authentication Root CA 002".
//
// Unlike nerves_key, signatures are always minimal DER, so Raw is the
// certificate as originally signed and verifies with crypto/x509 and
// OpenSSL (nerves_key's rebuild differs for about 1 certificate in 256).
// The device certificate's signature is checked under the signer public
// key, and a NervesKey signer's self-signature too (a Trust&Go signer's is
// left to the caller, who verifies the chain up to Microchip's root): a
// mismatch is a *CertificateError wrapping ErrSignature, bad slot data a
// *CertificateError wrapping ErrMalformedCertificate, an OTP zone without
// the NervesKey layout ErrNotNervesKeyOTP. A missing aux pair is ErrNoAux,
// an unprovisioned chip ErrNotProvisioned. A volatile-key chip computes
// the device public key only with its persistent latch set: without
// Options.ActivationKey the error is ErrActivationKey.
//
// Aux certificates always use the NervesKey templates and key format, on
// Trust&Go chips too, where the subject CN is the MAC, as nerves_key's
// provision_aux_certificates writes them (nerves_key itself reads them back
// with the Trust&Go templates, which cannot match; docs/nerves_key.md
// §4.4).
//
// When only the device certificate fails (a volatile-key chip without its activation key, a device key that
// does not match), signer is returned with the error.
//
// The certificates are read once and cached, and shared by all callers:
// they must not be modified.
func (c *Chip) Certificates(ctx context.Context, p Pair) (device, signer *x509.Certificate, err error) {
	device, err = c.certificate(ctx, p, deviceCert) // reads what both need in one wake
	signer, serr := c.certificate(ctx, p, signerCert)
	switch {
	case serr != nil && err != nil:
		return nil, nil, err
	case serr != nil:
		return nil, nil, serr
	case err != nil:
		return nil, signer, err
	}
	return device, signer, nil
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

	slot, other := layout.DeviceCertSlot[p], layout.SignerCertSlot[p]
	if k == signerCert {
		slot, other = other, slot
	}
	// Read what this certificate needs, and the other slots of the pair
	// (the other certificate is usually wanted next, as for a TLS chain),
	// in one wake. The device public key and the OTP or MAC are read only
	// for a device certificate: a signer certificate does not need them.
	fl := fetchList{slots: []int{slot, other, layout.SignerKeySlot[p]}, stopIfEmpty: true}
	if k == deviceCert {
		fl.pub = true
		if c.typ == TrustAndGo {
			fl.slots = append(fl.slots, layout.MACSlot)
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
	if layout.AllZero(data) {
		if p == Aux {
			return nil, ErrNoAux
		}
		return nil, certErr(slot, fmt.Errorf("%w: slot is empty", ErrMalformedCertificate))
	}
	keyData, err := c.slot(ctx, layout.SignerKeySlot[p])
	if err != nil {
		return nil, err
	}
	signerXY := layout.SignerXY(keyData, trustAndGo)
	signerPub, err := publicKeyFromXY(signerXY)
	if err != nil {
		return nil, certErr(layout.SignerKeySlot[p], fmt.Errorf("signer %w", err))
	}

	var crt *x509.Certificate
	if k == signerCert {
		crt, err = layout.RebuildSigner(data, signerXY, trustAndGo)
	} else {
		devXY, derr := c.devicePublicXY(ctx, modeOf(cfg))
		if derr != nil {
			return nil, derr
		}
		// The subject CN: a Trust&Go chip's MAC (for its aux pair too,
		// as nerves_key writes it), else the OTP manufacturer serial.
		var subject string
		if c.typ == TrustAndGo {
			subject, err = c.mac(ctx)
		} else {
			var o layout.OTP
			o, err = c.otp(ctx)
			subject = o.ManufacturerSN
		}
		if err != nil {
			return nil, err
		}
		crt, err = layout.RebuildDevice(data, devXY, signerXY, cfg.SerialNumber(), subject, trustAndGo)
	}
	if err != nil {
		return nil, certErr(slot, err)
	}
	if k == deviceCert || !trustAndGo {
		h := sha256.Sum256(crt.RawTBSCertificate)
		if crt.SignatureAlgorithm != x509.ECDSAWithSHA256 || !ecdsa.VerifyASN1(signerPub, h[:], crt.Signature) {
			return nil, &CertificateError{Pair: p, Cert: k.String(), Slot: layout.SignerKeySlot[p], Err: ErrSignature}
		}
	}
	return crt, nil
}
