package cert

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// dateTime is a calendar date and time held as plain integers, so that
// dates such as 2059-02-29 survive unnormalised (docs/nerves_key.md §7.2).
type dateTime struct {
	year, month, day, hour, min, sec int
}

// appendUTCTime appends YYMMDDHHMMSSZ.
func (t dateTime) appendUTCTime(b []byte) []byte {
	b = append2(b, t.year%100)
	return t.appendRest(b)
}

// appendGeneralizedTime appends YYYYMMDDHHMMSSZ.
func (t dateTime) appendGeneralizedTime(b []byte) []byte {
	b = append2(b, t.year/100%100)
	b = append2(b, t.year%100)
	return t.appendRest(b)
}

func (t dateTime) appendRest(b []byte) []byte {
	for _, v := range [...]int{t.month, t.day, t.hour, t.min, t.sec} {
		b = append2(b, v)
	}
	return append(b, 'Z')
}

func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10%10), byte('0'+v%10))
}

func (t dateTime) String() string {
	return fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", t.year, t.month, t.day, t.hour, t.min, t.sec)
}

// addTime adds t as UTCTime when its year is before 2050 and generalized
// is false, else as GeneralizedTime (X509.DateTime.new; Trust&Go notAfter
// is always GeneralizedTime).
func addTime(b *cryptobyte.Builder, t dateTime, generalized bool) {
	var buf [15]byte
	if t.year < 2050 && !generalized {
		b.AddASN1(asn1.UTCTime, func(b *cryptobyte.Builder) { b.AddBytes(t.appendUTCTime(buf[:0])) })
		return
	}
	b.AddASN1(asn1.GeneralizedTime, func(b *cryptobyte.Builder) { b.AddBytes(t.appendGeneralizedTime(buf[:0])) })
}

// parseTime reads a UTCTime or GeneralizedTime in the DER forms RFC 5280
// requires. A UTCTime year YY is read as 20YY, even for YY ≥ 50, as
// nerves_key's compressor does. The calendar is not checked.
func parseTime(tag asn1.Tag, v []byte) (dateTime, error) {
	var t dateTime
	var want int
	switch tag {
	case asn1.UTCTime:
		want = 13
	case asn1.GeneralizedTime:
		want = 15
	default:
		return t, fmt.Errorf("time has tag %#x", uint8(tag))
	}
	if len(v) != want || v[want-1] != 'Z' {
		return t, fmt.Errorf("time %q is not in DER form", v)
	}
	n := make([]int, 0, 7)
	for i := 0; i+1 < want; i += 2 {
		hi, lo := v[i]-'0', v[i+1]-'0'
		if hi > 9 || lo > 9 {
			return t, fmt.Errorf("time %q has a non-digit", v)
		}
		n = append(n, int(hi)*10+int(lo))
	}
	if tag == asn1.UTCTime {
		t.year, n = 2000+n[0], n[1:]
	} else {
		t.year, n = n[0]*100+n[1], n[2:]
	}
	t.month, t.day, t.hour, t.min, t.sec = n[0], n[1], n[2], n[3], n[4]
	return t, nil
}

// Object identifiers, as DER contents.
var (
	oidECDSAWithSHA256 = []byte{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}
	oidECPublicKey     = []byte{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01}
	oidP256            = []byte{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	oidCN              = []byte{0x55, 0x04, 0x03}
	oidSerialNumber    = []byte{0x55, 0x04, 0x05}
	oidO               = []byte{0x55, 0x04, 0x0a}
	oidSKI             = []byte{0x55, 0x1d, 0x0e}
	oidKeyUsage        = []byte{0x55, 0x1d, 0x0f}
	oidSAN             = []byte{0x55, 0x1d, 0x11}
	oidBasicConstr     = []byte{0x55, 0x1d, 0x13}
	oidAKI             = []byte{0x55, 0x1d, 0x23}
	oidExtKeyUsage     = []byte{0x55, 0x1d, 0x25}
	oidServerAuth      = []byte{0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01}
	oidClientAuth      = []byte{0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02}
)

var extNames = map[string]string{
	string(oidSKI):         "subjectKeyIdentifier",
	string(oidKeyUsage):    "keyUsage",
	string(oidSAN):         "subjectAltName",
	string(oidBasicConstr): "basicConstraints",
	string(oidAKI):         "authorityKeyIdentifier",
	string(oidExtKeyUsage): "extKeyUsage",
}

var attrNames = map[string]string{
	string(oidCN):           "CN",
	string(oidO):            "O",
	string(oidSerialNumber): "serialNumber",
}

func addOID(b *cryptobyte.Builder, oid []byte) {
	b.AddASN1(asn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(oid) })
}

// addSigAlg adds the ecdsa-with-SHA256 AlgorithmIdentifier (no parameters).
func addSigAlg(b *cryptobyte.Builder) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { addOID(b, oidECDSAWithSHA256) })
}

// attr is one attribute of a Name; each gets its own RDN SET.
type attr struct {
	oid   []byte
	tag   asn1.Tag // asn1.UTF8String or asn1.PrintableString
	value string
}

func addName(b *cryptobyte.Builder, attrs ...attr) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, a := range attrs {
			b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					addOID(b, a.oid)
					b.AddASN1(a.tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(a.value)) })
				})
			})
		}
	})
}

// addSPKI adds a P-256 SubjectPublicKeyInfo for the raw point X‖Y.
func addSPKI(b *cryptobyte.Builder, xy []byte) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addOID(b, oidECPublicKey)
			addOID(b, oidP256)
		})
		b.AddASN1BitString(append([]byte{0x04}, xy...))
	})
}

// spkiPrefix is the DER of a P-256 SubjectPublicKeyInfo up to the point.
var spkiPrefix = []byte{
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
}

// nervesKeyKeyID is the x509 library's key identifier: SHA-1 of the whole
// DER SubjectPublicKeyInfo, not RFC 5280 method 1 (docs/nerves_key.md §7.5).
func nervesKeyKeyID(xy []byte) [20]byte {
	h := sha1.New()
	h.Write(spkiPrefix)
	h.Write(xy)
	return [20]byte(h.Sum(nil))
}

// trustAndGoKeyID is RFC 5280 method 1: SHA-1 of 04‖X‖Y.
func trustAndGoKeyID(xy []byte) [20]byte {
	h := sha1.New()
	h.Write([]byte{0x04})
	h.Write(xy)
	return [20]byte(h.Sum(nil))
}

// addExt adds an Extension; critical FALSE is omitted (DER DEFAULT).
func addExt(b *cryptobyte.Builder, oid []byte, critical bool, value func(*cryptobyte.Builder)) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addOID(b, oid)
		if critical {
			b.AddASN1Boolean(true)
		}
		b.AddASN1(asn1.OCTET_STRING, value)
	})
}

func addKeyID(b *cryptobyte.Builder, id [20]byte) {
	b.AddASN1OctetString(id[:])
}

func addAKI(b *cryptobyte.Builder, id []byte) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(id) })
	})
}

// addUnsigned adds a non-negative INTEGER from big-endian bytes. With
// minimal set it uses the shortest encoding, as DER requires. Otherwise it
// reproduces nerves_key's decompress_signature: the 32 bytes are kept as is,
// with 00 prepended when the top bit is set.
func addUnsigned(b *cryptobyte.Builder, x []byte, minimal bool) {
	if minimal {
		for len(x) > 1 && x[0] == 0 {
			x = x[1:]
		}
	}
	b.AddASN1(asn1.INTEGER, func(b *cryptobyte.Builder) {
		if x[0]&0x80 != 0 {
			b.AddUint8(0)
		}
		b.AddBytes(x)
	})
}

// addSignatureValue adds the signatureValue BIT STRING holding the
// ECDSA-Sig-Value for the raw R‖S.
func addSignatureValue(b *cryptobyte.Builder, rs *[64]byte, minimal bool) {
	b.AddASN1(asn1.BIT_STRING, func(b *cryptobyte.Builder) {
		b.AddUint8(0) // no unused bits
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addUnsigned(b, rs[:32], minimal)
			addUnsigned(b, rs[32:], minimal)
		})
	})
}

// assemble wraps a TBSCertificate with the signature algorithm (DER;
// nil means ecdsa-with-SHA256) and the signature R‖S.
func assemble(tbs, sigAlg []byte, rs *[64]byte, minimal bool) ([]byte, error) {
	b := cryptobyte.NewFixedBuilder(make([]byte, 0, len(tbs)+96))
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		if sigAlg == nil {
			addSigAlg(b)
		} else {
			b.AddBytes(sigAlg)
		}
		addSignatureValue(b, rs, minimal)
	})
	return b.Bytes()
}

// parseSigInt reads a non-negative ECDSA-Sig-Value INTEGER into 32 bytes.
// Unlike DER it accepts redundant leading zeros, so certificates rebuilt by
// nerves_key (with its signature quirk) compress too.
func parseSigInt(s *cryptobyte.String, out []byte) bool {
	var v cryptobyte.String
	if !s.ReadASN1(&v, asn1.INTEGER) || len(v) == 0 || v[0]&0x80 != 0 {
		return false
	}
	for len(v) > 0 && v[0] == 0 {
		v = v[1:]
	}
	if len(v) > len(out) {
		return false
	}
	copy(out[len(out)-len(v):], v)
	return true
}

// parseECDSASig parses an ECDSA-Sig-Value into R‖S.
func parseECDSASig(sig []byte) (rs [64]byte, ok bool) {
	s := cryptobyte.String(sig)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, asn1.SEQUENCE) || !s.Empty() ||
		!parseSigInt(&seq, rs[:32]) || !parseSigInt(&seq, rs[32:]) || !seq.Empty() {
		return rs, false
	}
	return rs, true
}

// field is one named piece of a certificate, with its full DER (tag and
// length included).
type field struct {
	name string
	der  []byte
}

// certFields splits a DER certificate into the fields Compare and Compress
// look at. It is strict DER except for the signature integers.
type certFields struct {
	fields    []field // in certificate order
	tbs       []byte  // the whole TBSCertificate, DER
	sigAlg    []byte  // the outer signatureAlgorithm, DER
	issuer    []byte
	subject   []byte
	notBefore dateTime
	notAfter  dateTime
	sig       [64]byte
}

func parseCert(der []byte) (*certFields, error) {
	c := &certFields{}
	bad := func(field, msg string) error {
		return &FormatError{Input: "certificate", Field: field, Msg: msg}
	}
	s := cryptobyte.String(der)
	var certSeq, tbsSeq cryptobyte.String
	if !s.ReadASN1(&certSeq, asn1.SEQUENCE) || !s.Empty() {
		return nil, bad("", "not a single DER SEQUENCE")
	}
	if !certSeq.ReadASN1Element((*cryptobyte.String)(&c.tbs), asn1.SEQUENCE) {
		return nil, bad("tbsCertificate", "missing")
	}
	tbsSeq = c.tbs
	if !tbsSeq.ReadASN1(&tbsSeq, asn1.SEQUENCE) {
		return nil, bad("tbsCertificate", "malformed")
	}
	read := func(s *cryptobyte.String, name string, tag asn1.Tag) ([]byte, error) {
		var el cryptobyte.String
		if !s.ReadASN1Element(&el, tag) {
			return nil, bad(name, "missing or malformed")
		}
		c.fields = append(c.fields, field{name, el})
		return el, nil
	}
	var err error
	if _, err = read(&tbsSeq, "version", asn1.Tag(0).Constructed().ContextSpecific()); err != nil {
		return nil, err
	}
	if _, err = read(&tbsSeq, "serialNumber", asn1.INTEGER); err != nil {
		return nil, err
	}
	if _, err = read(&tbsSeq, "signature algorithm (TBS)", asn1.SEQUENCE); err != nil {
		return nil, err
	}
	if c.issuer, err = read(&tbsSeq, "issuer", asn1.SEQUENCE); err != nil {
		return nil, err
	}
	var validity cryptobyte.String
	if !tbsSeq.ReadASN1(&validity, asn1.SEQUENCE) {
		return nil, bad("validity", "missing or malformed")
	}
	for i, name := range []string{"notBefore", "notAfter"} {
		var el, v cryptobyte.String
		var tag asn1.Tag
		if !validity.ReadAnyASN1Element(&el, &tag) {
			return nil, bad(name, "missing or malformed")
		}
		c.fields = append(c.fields, field{name, el})
		el.ReadAnyASN1(&v, &tag)
		t, err := parseTime(tag, v)
		if err != nil {
			return nil, bad(name, err.Error())
		}
		if i == 0 {
			c.notBefore = t
		} else {
			c.notAfter = t
		}
	}
	if !validity.Empty() {
		return nil, bad("validity", "trailing data")
	}
	if c.subject, err = read(&tbsSeq, "subject", asn1.SEQUENCE); err != nil {
		return nil, err
	}
	if _, err = read(&tbsSeq, "subjectPublicKeyInfo", asn1.SEQUENCE); err != nil {
		return nil, err
	}
	var exts cryptobyte.String
	hasExts := false
	if !tbsSeq.ReadOptionalASN1(&exts, &hasExts, asn1.Tag(3).Constructed().ContextSpecific()) {
		return nil, bad("extensions", "malformed")
	}
	if hasExts {
		if !exts.ReadASN1(&exts, asn1.SEQUENCE) {
			return nil, bad("extensions", "malformed")
		}
		for i := 1; !exts.Empty(); i++ {
			var el cryptobyte.String
			if !exts.ReadASN1Element(&el, asn1.SEQUENCE) {
				return nil, bad(fmt.Sprintf("extension %d", i), "malformed")
			}
			c.fields = append(c.fields, field{extFieldName(i, el), el})
		}
	}
	if !tbsSeq.Empty() {
		return nil, bad("tbsCertificate", "unexpected fields after the extensions")
	}
	if c.sigAlg, err = read(&certSeq, "signatureAlgorithm", asn1.SEQUENCE); err != nil {
		return nil, err
	}
	var sigBits cryptobyte.String
	if !certSeq.ReadASN1Element(&sigBits, asn1.BIT_STRING) || !certSeq.Empty() {
		return nil, bad("signatureValue", "missing or malformed")
	}
	c.fields = append(c.fields, field{"signatureValue", sigBits})
	var bits cryptobyte.String
	var ok bool
	if sigBits.ReadASN1(&bits, asn1.BIT_STRING) && len(bits) > 0 && bits[0] == 0 {
		c.sig, ok = parseECDSASig(bits[1:])
	}
	if !ok {
		return nil, bad("signatureValue", "not an ECDSA signature with R and S of at most 32 bytes")
	}
	return c, nil
}

func extFieldName(i int, ext cryptobyte.String) string {
	var oid cryptobyte.String
	if ext.ReadASN1(&ext, asn1.SEQUENCE) && ext.ReadASN1(&oid, asn1.OBJECT_IDENTIFIER) {
		if n, ok := extNames[string(oid)]; ok {
			return fmt.Sprintf("extension %d (%s)", i, n)
		}
	}
	return fmt.Sprintf("extension %d", i)
}

// nameString renders a Name as "O=…/CN=…", or ok=false if der is not a
// Name of simple string attributes.
func nameString(der []byte) (string, bool) {
	s := cryptobyte.String(der)
	var rdns cryptobyte.String
	if !s.ReadASN1(&rdns, asn1.SEQUENCE) || !s.Empty() {
		return "", false
	}
	var sb strings.Builder
	for !rdns.Empty() {
		var set cryptobyte.String
		if !rdns.ReadASN1(&set, asn1.SET) {
			return "", false
		}
		for !set.Empty() {
			var atv, oid, val cryptobyte.String
			var tag asn1.Tag
			if !set.ReadASN1(&atv, asn1.SEQUENCE) || !atv.ReadASN1(&oid, asn1.OBJECT_IDENTIFIER) ||
				!atv.ReadAnyASN1(&val, &tag) || !utf8.Valid(val) {
				return "", false
			}
			n, ok := attrNames[string(oid)]
			if !ok {
				n = "OID(" + hex.EncodeToString(oid) + ")"
			}
			fmt.Fprintf(&sb, "/%s=%s", n, val)
			switch tag {
			case asn1.UTF8String:
			case asn1.PrintableString:
				sb.WriteString(" (PrintableString)")
			default:
				fmt.Fprintf(&sb, " (tag %#x)", uint8(tag))
			}
		}
	}
	return sb.String(), true
}

// nameValue returns the value of the last attribute with the given OID.
func nameValue(der []byte, oid []byte) (string, bool) {
	s := cryptobyte.String(der)
	var rdns cryptobyte.String
	if !s.ReadASN1(&rdns, asn1.SEQUENCE) {
		return "", false
	}
	var out string
	found := false
	for !rdns.Empty() {
		var set cryptobyte.String
		if !rdns.ReadASN1(&set, asn1.SET) {
			return "", false
		}
		for !set.Empty() {
			var atv, o, val cryptobyte.String
			var tag asn1.Tag
			if !set.ReadASN1(&atv, asn1.SEQUENCE) || !atv.ReadASN1(&o, asn1.OBJECT_IDENTIFIER) ||
				!atv.ReadAnyASN1(&val, &tag) {
				return "", false
			}
			if string(o) == string(oid) {
				out, found = string(val), true
			}
		}
	}
	return out, found
}

// describeDER renders a field's DER for an error message: names and times
// as text, anything else as (possibly shortened) hex.
func describeDER(der []byte) string {
	if der == nil {
		return "nothing"
	}
	if n, ok := nameString(der); ok {
		return fmt.Sprintf("%q", n)
	}
	s := cryptobyte.String(der)
	var v cryptobyte.String
	var tag asn1.Tag
	if s.ReadAnyASN1(&v, &tag) && s.Empty() && (tag == asn1.UTCTime || tag == asn1.GeneralizedTime) {
		kind := "UTCTime"
		if tag == asn1.GeneralizedTime {
			kind = "GeneralizedTime"
		}
		return fmt.Sprintf("%s %q", kind, []byte(v))
	}
	const maxHex = 48
	if len(der) > maxHex {
		return hex.EncodeToString(der[:maxHex]) + "…"
	}
	return hex.EncodeToString(der)
}
