package cert

import (
	"fmt"
	"strconv"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// A Template is one of the four certificate layouts a compressed
// certificate can be rebuilt into. It fixes the trailer (template ID, chain
// ID, serial-number source) and every certificate field that is not stored
// on the chip.
type Template int

// The templates nerves_key and atecc508a know.
const (
	// NervesKeyDeviceTemplate is the device certificate in slot 10 (aux:
	// slot 9): template 0, serial from the chip serial (0xB).
	NervesKeyDeviceTemplate Template = iota + 1
	// NervesKeySignerTemplate is the signer certificate in slot 12 (aux:
	// slot 15): template 1, serial from the public key (0xA).
	NervesKeySignerTemplate
	// TrustAndGoDeviceTemplate is Microchip's Trust&Go device certificate
	// in slot 10: template 3, serial from the public key.
	TrustAndGoDeviceTemplate
	// TrustAndGoSignerTemplate is Microchip's Trust&Go signer certificate
	// in slot 12: template 1, serial from the public key.
	TrustAndGoSignerTemplate
)

type templateInfo struct {
	name       string
	templateID byte
	snSource   byte
	trustAndGo bool // signer ID is free (it is part of the names)
}

var templates = map[Template]templateInfo{
	NervesKeyDeviceTemplate:  {"NervesKey device", 0, SNSourceDeviceSN, false},
	NervesKeySignerTemplate:  {"NervesKey signer", 1, SNSourcePublicKey, false},
	TrustAndGoDeviceTemplate: {"Trust&Go device", 3, SNSourcePublicKey, true},
	TrustAndGoSignerTemplate: {"Trust&Go signer", 1, SNSourcePublicKey, true},
}

// String returns the template's name, e.g. "NervesKey device".
func (t Template) String() string {
	if i, ok := templates[t]; ok {
		return i.name
	}
	return "Template(" + strconv.Itoa(int(t)) + ")"
}

// TemplateID returns the template ID stored in byte 69 of the compressed
// certificate.
func (t Template) TemplateID() byte { return templates[t].templateID }

// SNSource returns the serial-number source stored in byte 70.
func (t Template) SNSource() byte { return templates[t].snSource }

// check verifies the trailer the way nerves_key's decompressor does:
// template ID, chain ID and (NervesKey) signer ID must match. Trust&Go
// also needs serial-number source 0xA, the only one it can rebuild.
func (t Template) check(c *Compressed) error {
	info, ok := templates[t]
	if !ok {
		return fmt.Errorf("unknown template %d", int(t))
	}
	if c == nil {
		return &FormatError{Input: "compressed certificate", Msg: "nil"}
	}
	switch {
	case c.TemplateID != info.templateID:
		return &TemplateError{t, "template_id", int(c.TemplateID), int(info.templateID)}
	case c.ChainID != 0:
		return &TemplateError{t, "chain_id", int(c.ChainID), 0}
	case !info.trustAndGo && c.SignerID != 0:
		return &TemplateError{t, "signer_id", int(c.SignerID), 0}
	case info.trustAndGo && c.SNSource != SNSourcePublicKey:
		return &TemplateError{t, "sn_source", int(c.SNSource), SNSourcePublicKey}
	case c.FormatVersion != 0:
		return &FormatError{Input: "compressed certificate", Field: "format_version", Msg: fmt.Sprintf("%d, want 0", c.FormatVersion)}
	}
	if err := c.Dates.Validate(); err != nil {
		return err
	}
	return nil
}

const rawKeySize = 64

func checkXY(what string, xy []byte) error {
	if len(xy) != rawKeySize {
		return &FormatError{Input: what, Msg: fmt.Sprintf("%d bytes, want a %d-byte X‖Y", len(xy), rawKeySize)}
	}
	return nil
}

var signerName = attr{oidCN, asn1.UTF8String, "Signer"}

const microchip = "Microchip Technology Inc"

// tbsInput holds what differs between TBSCertificates.
type tbsInput struct {
	serial      [16]byte
	issuer      func(*cryptobyte.Builder)
	dates       Dates
	genNotAfter bool // Trust&Go: notAfter always GeneralizedTime
	subject     func(*cryptobyte.Builder)
	xy          []byte
	exts        func(*cryptobyte.Builder)
}

func (in *tbsInput) build() ([]byte, error) {
	b := cryptobyte.NewBuilder(make([]byte, 0, 512))
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1Int64(2) // v3
		})
		b.AddASN1(asn1.INTEGER, func(b *cryptobyte.Builder) { b.AddBytes(in.serial[:]) })
		addSigAlg(b)
		in.issuer(b)
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addTime(b, in.dates.notBefore(), false)
			addTime(b, in.dates.notAfter(), in.genNotAfter)
		})
		in.subject(b)
		addSPKI(b, in.xy)
		b.AddASN1(asn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, in.exts)
		})
	})
	return b.Bytes()
}

func nameBuilder(attrs ...attr) func(*cryptobyte.Builder) {
	return func(b *cryptobyte.Builder) { addName(b, attrs...) }
}

func rawBuilder(der []byte) func(*cryptobyte.Builder) {
	return func(b *cryptobyte.Builder) { b.AddBytes(der) }
}

func addKeyUsage(b *cryptobyte.Builder, bits ...byte) {
	addExt(b, oidKeyUsage, true, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.BIT_STRING, func(b *cryptobyte.Builder) { b.AddBytes(bits) })
	})
}

func addCABasicConstraints(b *cryptobyte.Builder) {
	addExt(b, oidBasicConstr, true, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Boolean(true)
			b.AddASN1Int64(0) // pathLenConstraint
		})
	})
}

// nervesKeySignerTBS is the TBSCertificate of a NervesKey signer
// (docs/nerves_key.md §7.5).
func nervesKeySignerTBS(d Dates, signerXY []byte) ([]byte, error) {
	kid := nervesKeyKeyID(signerXY)
	in := tbsInput{
		serial:  SerialFromPublicKey(signerXY, d.encode()),
		issuer:  nameBuilder(signerName),
		dates:   d,
		subject: nameBuilder(signerName),
		xy:      signerXY,
		exts: func(b *cryptobyte.Builder) {
			addCABasicConstraints(b)
			addKeyUsage(b, 0x01, 0x86) // digitalSignature, keyCertSign, cRLSign
			addExt(b, oidExtKeyUsage, false, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					addOID(b, oidServerAuth)
					addOID(b, oidClientAuth)
				})
			})
			addExt(b, oidSKI, false, func(b *cryptobyte.Builder) { addKeyID(b, kid) })
			addExt(b, oidAKI, false, func(b *cryptobyte.Builder) { addAKI(b, kid[:]) })
		},
	}
	return in.build()
}

// nervesKeyDeviceTBS is the TBSCertificate of a NervesKey device. issuer is
// the issuer Name's DER and aki the authority key identifier; nil omits
// the extension, as the x509 library does for a signer without SKI.
func nervesKeyDeviceTBS(d Dates, deviceXY []byte, chipSN [9]byte, manufacturerSN string, issuer, aki []byte) ([]byte, error) {
	in := tbsInput{
		serial:  SerialFromDeviceSN(chipSN, d.encode()),
		issuer:  rawBuilder(issuer),
		dates:   d,
		subject: nameBuilder(attr{oidCN, asn1.UTF8String, manufacturerSN}),
		xy:      deviceXY,
		exts: func(b *cryptobyte.Builder) {
			addExt(b, oidBasicConstr, false, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(*cryptobyte.Builder) {})
			})
			addKeyUsage(b, 0x05, 0xa0) // digitalSignature, keyEncipherment
			addExt(b, oidExtKeyUsage, false, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { addOID(b, oidClientAuth) })
			})
			if aki != nil {
				addExt(b, oidAKI, false, func(b *cryptobyte.Builder) { addAKI(b, aki) })
			}
		},
	}
	return in.build()
}

// signerNameDER is the DER of the Name CN=Signer.
var signerNameDER = func() []byte {
	var b cryptobyte.Builder
	addName(&b, signerName)
	return b.BytesOrPanic()
}()

func rebuild(tbs []byte, err error, c *Compressed) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return assemble(tbs, nil, &c.Signature, true)
}

// NervesKeySigner rebuilds a NervesKey signer certificate from its
// compressed form (slot 12, or 15 for aux) and the signer's raw public key
// X‖Y (the first 64 bytes of slot 11, or 14).
//
// Unlike nerves_key, the signature is minimal DER, so the result equals
// the certificate as originally signed and verifies with crypto/x509 and
// OpenSSL even when nerves_key's rebuild would not ([Compressed.ElixirQuirk]).
// [ElixirDER] gives nerves_key's bytes. As upstream, the trailer's
// template ID, chain ID and signer ID are checked ([*TemplateError]) and
// its serial-number source is ignored (the template's is used).
func NervesKeySigner(c *Compressed, signerXY []byte) ([]byte, error) {
	if err := NervesKeySignerTemplate.check(c); err != nil {
		return nil, err
	}
	if err := checkXY("signer public key", signerXY); err != nil {
		return nil, err
	}
	tbs, err := nervesKeySignerTBS(c.Dates, signerXY)
	return rebuild(tbs, err, c)
}

// NervesKeyDevice rebuilds a NervesKey device certificate from its
// compressed form (slot 10, or 9 for aux), the device public key X‖Y (from
// GenKey on slot 0), the signer public key X‖Y (slot 11, or 14), the 9-byte
// chip serial number and the manufacturer serial number from the OTP zone,
// which becomes the subject CN. The issuer is always CN=Signer and the
// authority key identifier is SHA-1 of the signer's SubjectPublicKeyInfo.
//
// Unlike nerves_key, the signature is minimal DER; see [NervesKeySigner].
// The manufacturer serial number is used as given, as upstream does on
// this path; [NewDevice] applies the creation rules.
func NervesKeyDevice(c *Compressed, deviceXY, signerXY []byte, chipSN [9]byte, manufacturerSN string) ([]byte, error) {
	if err := NervesKeyDeviceTemplate.check(c); err != nil {
		return nil, err
	}
	if err := checkXY("device public key", deviceXY); err != nil {
		return nil, err
	}
	if err := checkXY("signer public key", signerXY); err != nil {
		return nil, err
	}
	aki := nervesKeyKeyID(signerXY)
	tbs, err := nervesKeyDeviceTBS(c.Dates, deviceXY, chipSN, manufacturerSN, signerNameDER, aki[:])
	return rebuild(tbs, err, c)
}

// trustAndGoSignerCN is the signer's CN. The ID is uppercase hex without
// zero padding, as atecc508a formats it (Integer.to_string(id, 16)).
func trustAndGoSignerCN(id uint16) string {
	return fmt.Sprintf("Crypto Authentication Signer %X", id)
}

const trustAndGoSignerPrefix = "Crypto Authentication Signer "

// trustAndGoRoot is the raw public key X‖Y of Microchip's "Crypto
// Authentication Root CA 002", the issuer of Trust&Go signer certificates.
var trustAndGoRoot = [64]byte{
	0xbd, 0x54, 0xe6, 0x6d, 0xe3, 0x87, 0x54, 0x84, 0x00, 0x6b, 0x53, 0xae, 0x15, 0x80, 0xd5, 0x0a,
	0xa0, 0x69, 0xe7, 0x8a, 0xdf, 0x55, 0x78, 0xd8, 0x5c, 0xe2, 0xd5, 0x4d, 0xd5, 0xb8, 0x30, 0x29,
	0x6b, 0xff, 0xdd, 0x6e, 0x6f, 0x72, 0x56, 0xfb, 0xd9, 0x9e, 0xf1, 0xa1, 0x16, 0xb1, 0x1d, 0x33,
	0xad, 0x49, 0x10, 0x3a, 0xa1, 0x85, 0x87, 0x39, 0xdc, 0xfa, 0xe4, 0x37, 0xe1, 0x9d, 0x63, 0x4e,
}

// TrustAndGoDevice rebuilds a Microchip Trust&Go device certificate from
// slot 10, the device public key, the signer public key (slot 11 holds it
// as pad4‖X‖pad4‖Y; pass X‖Y), the chip serial and the 12-character MAC
// from slot 5. Key identifiers are SHA-1 of 04‖X‖Y and notAfter is always
// GeneralizedTime. The signature is minimal DER; see [NervesKeySigner].
func TrustAndGoDevice(c *Compressed, deviceXY, signerXY []byte, chipSN [9]byte, mac string) ([]byte, error) {
	if err := TrustAndGoDeviceTemplate.check(c); err != nil {
		return nil, err
	}
	if err := checkXY("device public key", deviceXY); err != nil {
		return nil, err
	}
	if err := checkXY("signer public key", signerXY); err != nil {
		return nil, err
	}
	ski, aki := trustAndGoKeyID(deviceXY), trustAndGoKeyID(signerXY)
	in := tbsInput{
		serial:      SerialFromPublicKey(deviceXY, c.Dates.encode()),
		issuer:      nameBuilder(attr{oidO, asn1.UTF8String, microchip}, attr{oidCN, asn1.UTF8String, trustAndGoSignerCN(c.SignerID)}),
		dates:       c.Dates,
		genNotAfter: true,
		subject:     nameBuilder(attr{oidO, asn1.UTF8String, microchip}, attr{oidCN, asn1.UTF8String, fmt.Sprintf("sn%X", chipSN[:])}),
		xy:          deviceXY,
		exts: func(b *cryptobyte.Builder) {
			addExt(b, oidSAN, false, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						// PrintableString although '_' is not in its alphabet, as Microchip does.
						addName(b, attr{oidSerialNumber, asn1.PrintableString, "eui48_" + mac})
					})
				})
			})
			addExt(b, oidBasicConstr, true, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(*cryptobyte.Builder) {})
			})
			addKeyUsage(b, 0x03, 0x88) // digitalSignature, keyAgreement
			addExt(b, oidSKI, false, func(b *cryptobyte.Builder) { addKeyID(b, ski) })
			addExt(b, oidAKI, false, func(b *cryptobyte.Builder) { addAKI(b, aki[:]) })
		},
	}
	tbs, err := in.build()
	return rebuild(tbs, err, c)
}

// TrustAndGoSigner rebuilds a Microchip Trust&Go signer certificate from
// slot 12 and the signer public key X‖Y. Its issuer is Microchip's
// "Crypto Authentication Root CA 002". The signature is minimal DER; see
// [NervesKeySigner].
func TrustAndGoSigner(c *Compressed, signerXY []byte) ([]byte, error) {
	if err := TrustAndGoSignerTemplate.check(c); err != nil {
		return nil, err
	}
	if err := checkXY("signer public key", signerXY); err != nil {
		return nil, err
	}
	ski, aki := trustAndGoKeyID(signerXY), trustAndGoKeyID(trustAndGoRoot[:])
	in := tbsInput{
		serial:      SerialFromPublicKey(signerXY, c.Dates.encode()),
		issuer:      nameBuilder(attr{oidO, asn1.UTF8String, microchip}, attr{oidCN, asn1.UTF8String, "Crypto Authentication Root CA 002"}),
		dates:       c.Dates,
		genNotAfter: true,
		subject:     nameBuilder(attr{oidO, asn1.UTF8String, microchip}, attr{oidCN, asn1.UTF8String, trustAndGoSignerCN(c.SignerID)}),
		xy:          signerXY,
		exts: func(b *cryptobyte.Builder) {
			addKeyUsage(b, 0x01, 0x86)
			addCABasicConstraints(b)
			addExt(b, oidSKI, false, func(b *cryptobyte.Builder) { addKeyID(b, ski) })
			addExt(b, oidAKI, false, func(b *cryptobyte.Builder) { addAKI(b, aki[:]) })
		},
	}
	tbs, err := in.build()
	return rebuild(tbs, err, c)
}

// ElixirDER returns cert with its signature re-encoded the way nerves_key
// and atecc508a rebuild it: each 32-byte R and S is kept whole, with 00
// prepended when its top bit is set, and leading zero bytes are never
// removed. When R or S is below 2^247 the result is non-minimal DER that
// crypto/x509 and OpenSSL reject; otherwise it equals cert.
//
// Use it only to match bytes that nerves_key produced, such as a
// certificate fingerprint recorded by a server from an Elixir device.
func ElixirDER(cert []byte) ([]byte, error) {
	f, err := parseCert(cert)
	if err != nil {
		return nil, err
	}
	return assemble(f.tbs, f.sigAlg, &f.sig, false)
}
