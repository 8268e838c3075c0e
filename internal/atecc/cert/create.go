package cert

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits for certificate creation (spec/nerves_key.md §7.5).
const (
	// DeviceValidityYears is the validity of device certificates.
	DeviceValidityYears = 31
	// MaxManufacturerSNLen is the longest manufacturer serial number, in
	// bytes, that a device certificate accepts (atecc508a ≥ 0.2.3).
	MaxManufacturerSNLen = 48

	maxSignAttempts = 32
)

// compatibleDates is nerves_key's create_compatible_validity: now in UTC
// with minutes and seconds dropped, valid for whole years. Issue years that
// the compressed format cannot hold are refused.
//
// Departure from upstream: on February 29, when the expiry year is not a
// leap year, the issue date becomes February 28 (same hour). nerves_key
// would sign a notAfter of February 29 in a common year, which
// crypto/x509 and many other parsers reject. The shifted dates are stored
// and rebuilt exactly, by nerves_key too; the certificate is merely valid
// from one day earlier.
func compatibleDates(now time.Time, years int) (Dates, error) {
	if years < 1 || years > maxExpireYears {
		return Dates{}, &DateError{Field: "validity years", Value: years}
	}
	now = now.UTC()
	y, m, d := now.Date()
	if y < minIssueYear || y > maxIssueYear {
		return Dates{}, &DateError{Field: "issue year", Value: y}
	}
	if m == time.February && d == 29 && !isLeap(y+years) {
		d = 28
	}
	return Dates{Year: y, Month: int(m), Day: d, Hour: now.Hour(), ExpireYears: years}, nil
}

// describeKey names a public key's algorithm and size as a user knows it,
// e.g. "an ECDSA P-384 key" or "an RSA 2048-bit key".
func describeKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "an ECDSA key of unknown curve"
		}
		return "an ECDSA " + k.Curve.Params().Name + " key"
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return "an RSA key"
		}
		return fmt.Sprintf("an RSA %d-bit key", k.N.BitLen())
	case ed25519.PublicKey:
		return "an Ed25519 key"
	case *ecdh.PublicKey:
		return "an ECDH (X25519 or NIST) key, not an ECDSA key"
	case nil:
		return "no key"
	}
	return fmt.Sprintf("an unsupported key (%T)", pub)
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// p256XY returns the raw point X‖Y of a P-256 ECDSA public key.
func p256XY(what string, pub crypto.PublicKey) ([]byte, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k == nil || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s is %s, want an ECDSA P-256 key: %w", what, describeKey(pub), ErrKey)
	}
	b, err := k.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", what, err, ErrKey)
	}
	return b[1:], nil
}

// sign signs tbs with key and returns R‖S. The signature must verify
// under pub. It signs again, up to maxSignAttempts times, while R or S is
// below 2^247 ([Compressed.ElixirQuirk]): nerves_key would rebuild such a certificate with a
// non-minimal DER signature that fails to verify, so avoiding them keeps
// chips provisioned here readable by the Elixir libraries.
func sign(rand io.Reader, key crypto.Signer, pub *ecdsa.PublicKey, tbs []byte) ([64]byte, error) {
	digest := sha256.Sum256(tbs)
	for range maxSignAttempts {
		sig, err := key.Sign(rand, digest[:], crypto.SHA256)
		if err != nil {
			return [64]byte{}, fmt.Errorf("sign certificate: %w", err)
		}
		rs, ok := parseECDSASig(sig)
		if !ok {
			return [64]byte{}, &FormatError{Input: "signature from signer key", Msg: "not a P-256 ECDSA signature"}
		}
		r, s := new(big.Int).SetBytes(rs[:32]), new(big.Int).SetBytes(rs[32:])
		if !ecdsa.Verify(pub, digest[:], r, s) {
			return [64]byte{}, fmt.Errorf("signature does not verify under the signer certificate's public key: %w", ErrKey)
		}
		if !elixirQuirk(&rs) {
			return rs, nil
		}
	}
	return [64]byte{}, fmt.Errorf("sign certificate: %d signatures in a row had R or S below 2^247; the signer may be deterministic", maxSignAttempts)
}

// NewSigner creates a self-signed NervesKey signer certificate for key,
// like nerves_key's create_signing_key_pair: P-256, issuer and subject
// CN=Signer, serial number from the public key, valid from now (UTC, hour
// kept, minutes and seconds zero) for years years (1..31), with the
// extensions of spec/nerves_key.md §7.5.
//
// key may be any [crypto.Signer] holding a P-256 key (an HSM or KMS key
// works); its signature is verified. The certificate is checked to
// rebuild byte for byte from its compressed form. Its signature never has
// R or S below 2^247, so nerves_key rebuilds it correctly too. An issue
// year outside 2000..2031 gives a [*DateError]; see compatibleDates for
// February 29.
func NewSigner(rand io.Reader, key crypto.Signer, years int, now time.Time) ([]byte, error) {
	if key == nil {
		return nil, fmt.Errorf("nil signer key: %w", ErrKey)
	}
	xy, err := p256XY("signer key", key.Public())
	if err != nil {
		return nil, err
	}
	d, err := compatibleDates(now, years)
	if err != nil {
		return nil, err
	}
	tbs, err := nervesKeySignerTBS(d, xy)
	if err != nil {
		return nil, err
	}
	rs, err := sign(rand, key, key.Public().(*ecdsa.PublicKey), tbs)
	if err != nil {
		return nil, err
	}
	der, err := assemble(tbs, nil, &rs, true)
	if err != nil {
		return nil, err
	}
	if err := checkRebuild(der, NervesKeySignerTemplate, func(c *Compressed) ([]byte, error) {
		return NervesKeySigner(c, xy)
	}); err != nil {
		return nil, err
	}
	return der, nil
}

// checkRebuild compresses der, rebuilds it and compares.
func checkRebuild(der []byte, t Template, rebuild func(*Compressed) ([]byte, error)) error {
	c, err := Compress(der, t)
	if err != nil {
		return err
	}
	rebuilt, err := rebuild(c)
	if err != nil {
		return err
	}
	return Compare(der, rebuilt)
}

// checkManufacturerSN applies new_device's rules to a device CN, plus
// valid UTF-8 (it is a UTF8String) and non-empty.
func checkManufacturerSN(sn string) error {
	var why string
	switch {
	case sn == "":
		why = "is empty"
	case len(sn) > MaxManufacturerSNLen:
		why = fmt.Sprintf("is %d bytes, max %d", len(sn), MaxManufacturerSNLen)
	case strings.Contains(sn, "/"):
		why = "contains '/'"
	case !utf8.ValidString(sn):
		why = "is not valid UTF-8"
	default:
		return nil
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidName, sn, why)
}

// NewDevice creates and signs a NervesKey device certificate for
// devicePub, like nerves_key's new_device, and returns it with its
// compressed form (for slot 10, or 9 for aux):
//
//   - subject CN = manufacturerSN (1..48 bytes of UTF-8, no '/');
//   - issuer copied from signerCert's subject, authority key identifier
//     from its subject key identifier (omitted if it has none);
//   - valid 31 years from now (UTC, hour kept, minutes and seconds zero);
//   - serial number from chipSN and the dates.
//
// Before returning, the certificate is compressed, rebuilt with
// [NervesKeyDevice] and compared: a signer certificate that is not a
// NervesKey signer (see [CheckSigner]) gives a [*MismatchError] naming the
// field. A signature with R or S below 2^247 is replaced by a fresh one,
// so that nerves_key also rebuilds the certificate correctly.
//
// An issue year the compressed format cannot hold (2032 onwards) gives a
// [*DateError]. On February 29 the certificate is issued as of February 28
// at the same hour, because nerves_key's notAfter of February 29, 31
// years on (never a leap year), would be a date crypto/x509 rejects; the
// compressed dates hold February 28, so nerves_key rebuilds the same bytes.
func NewDevice(rand io.Reader, devicePub *ecdsa.PublicKey, chipSN [9]byte, manufacturerSN string,
	signerCert *x509.Certificate, signerKey crypto.Signer, now time.Time) (der []byte, comp *Compressed, err error) {
	if err := checkManufacturerSN(manufacturerSN); err != nil {
		return nil, nil, err
	}
	if signerCert == nil || signerKey == nil {
		return nil, nil, fmt.Errorf("nil signer certificate or key: %w", ErrKey)
	}
	xy, err := p256XY("device public key", devicePub)
	if err != nil {
		return nil, nil, err
	}
	signerXY, err := p256XY("signer certificate key", signerCert.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	d, err := compatibleDates(now, DeviceValidityYears)
	if err != nil {
		return nil, nil, err
	}
	var aki []byte
	if len(signerCert.SubjectKeyId) > 0 {
		aki = signerCert.SubjectKeyId
	}
	tbs, err := nervesKeyDeviceTBS(d, xy, chipSN, manufacturerSN, signerCert.RawSubject, aki)
	if err != nil {
		return nil, nil, err
	}
	rs, err := sign(rand, signerKey, signerCert.PublicKey.(*ecdsa.PublicKey), tbs)
	if err != nil {
		return nil, nil, err
	}
	if der, err = assemble(tbs, nil, &rs, true); err != nil {
		return nil, nil, err
	}
	if comp, err = Compress(der, NervesKeyDeviceTemplate); err != nil {
		return nil, nil, err
	}
	rebuilt, err := NervesKeyDevice(comp, xy, signerXY, chipSN, manufacturerSN)
	if err != nil {
		return nil, nil, err
	}
	if err := Compare(der, rebuilt); err != nil {
		return nil, nil, fmt.Errorf("device certificate does not survive compression; is the signer certificate a NervesKey signer? %w", err)
	}
	return der, comp, nil
}

// NewDebugDevice makes a device key and certificate without a chip, like
// "mix nerves_key.device create": a fresh P-256 key and a certificate
// from [NewDevice] with CN = name and a random 9-byte chip serial, shaped
// exactly like a chip's. It is a debugging aid: the private key is in
// memory. A nil rand means crypto/rand.
func NewDebugDevice(rand io.Reader, name string, signerCert *x509.Certificate, signerKey crypto.Signer, now time.Time) (certDER []byte, key *ecdsa.PrivateKey, err error) {
	if rand == nil {
		rand = crand.Reader
	}
	if key, err = ecdsa.GenerateKey(elliptic.P256(), rand); err != nil {
		return nil, nil, err
	}
	var sn [9]byte
	if _, err := io.ReadFull(rand, sn[:]); err != nil {
		return nil, nil, fmt.Errorf("random chip serial: %w", err)
	}
	certDER, _, err = NewDevice(rand, &key.PublicKey, sn, name, signerCert, signerKey, now)
	if err != nil {
		return nil, nil, err
	}
	return certDER, key, nil
}

// CheckSigner reports whether cert can serve as a NervesKey signer: a
// P-256 certificate that rebuilds byte for byte from its compressed form
// with the NervesKey signer template. Otherwise it returns an [ErrKey]
// error or a [*MismatchError] naming the first field that differs, e.g.
// "issuer" for a name other than CN=Signer, "notAfter" for a validity that
// is not a whole number of years, "serialNumber" for a serial not derived
// from the public key.
func CheckSigner(cert *x509.Certificate) error {
	if cert == nil {
		return fmt.Errorf("nil signer certificate: %w", ErrKey)
	}
	xy, err := p256XY("signer certificate key", cert.PublicKey)
	if err != nil {
		return err
	}
	return checkRebuild(cert.Raw, NervesKeySignerTemplate, func(c *Compressed) ([]byte, error) {
		return NervesKeySigner(c, xy)
	})
}

// CheckSignerKey runs [CheckSigner] and checks that key's public key is
// the certificate's.
func CheckSignerKey(cert *x509.Certificate, key crypto.Signer) error {
	if err := CheckSigner(cert); err != nil {
		return err
	}
	if key == nil {
		return fmt.Errorf("nil signer key: %w", ErrKey)
	}
	if pub, ok := key.Public().(*ecdsa.PublicKey); !ok || !pub.Equal(cert.PublicKey) {
		return fmt.Errorf("signer key does not match the signer certificate: %w", ErrKey)
	}
	return nil
}

// ParseSignerPEM loads a signer certificate and its private key from PEM,
// as written by "mix nerves_key.signer create" (key as SEC1 "EC PRIVATE
// KEY") or by other tools (PKCS#8 "PRIVATE KEY"; "EC PARAMETERS" blocks are
// skipped). The key must be P-256 and match the certificate. It does not
// check that the certificate is compressible; call [CheckSigner] before
// provisioning.
func ParseSignerPEM(certPEM, keyPEM []byte) (*x509.Certificate, crypto.Signer, error) {
	var cert *x509.Certificate
	for rest := certPEM; cert == nil; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, nil, &FormatError{Input: "signer certificate PEM", Msg: "no CERTIFICATE block"}
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("signer certificate: %w", err)
		}
		cert = c
	}
	var key *ecdsa.PrivateKey
	for rest := keyPEM; key == nil; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, nil, fmt.Errorf("%w: %w", &FormatError{Input: "signer key PEM", Msg: `no "EC PRIVATE KEY" or "PRIVATE KEY" block`}, ErrKey)
		}
		if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, nil, fmt.Errorf("signer key is encrypted; decrypt it first (openssl ec -in KEY -out PLAIN): %w", ErrKey)
		}
		switch b.Type {
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(b.Bytes)
			if err != nil {
				// x509's own message is an ASN.1 dump; say what is wrong.
				return nil, nil, fmt.Errorf("signer key: the EC PRIVATE KEY block is not a valid SEC 1 EC key: %w", ErrKey)
			}
			key = k
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("signer key: the PRIVATE KEY block is not a valid PKCS #8 key: %w", ErrKey)
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				var pub crypto.PublicKey
				if s, ok := k.(crypto.Signer); ok {
					pub = s.Public()
				}
				return nil, nil, fmt.Errorf("signer key is %s, want an ECDSA P-256 key: %w", describeKey(pub), ErrKey)
			}
			key = ek
		case "ENCRYPTED PRIVATE KEY":
			return nil, nil, fmt.Errorf("signer key is encrypted; decrypt it first (openssl pkcs8 -in KEY -out PLAIN): %w", ErrKey)
		}
	}
	if _, err := p256XY("signer key", &key.PublicKey); err != nil {
		return nil, nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, fmt.Errorf("signer key does not match the signer certificate: %w", ErrKey)
	}
	return cert, key, nil
}
