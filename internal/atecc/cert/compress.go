package cert

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Compress returns the compressed form of a DER certificate for template
// t, as nerves_key's compressor computes it (docs/nerves_key.md §7.1,
// §7.2): R and S from the signature, the dates from the validity (issue
// year clamped to 2000..2031, a span under 1 year stored as 1 and over 31
// as 0, minutes and seconds dropped) and the trailer from the template.
// For Trust&Go templates the signer ID is read from the signer's common
// name ("Crypto Authentication Signer 2C00").
//
// Like upstream, Compress does not check that der can be rebuilt from the
// result; rebuild it and call [Compare] for that. Malformed input gives a
// [*FormatError], never a panic. A signature integer with redundant
// leading zeros (as in nerves_key's rebuilt certificates) is accepted.
func Compress(der []byte, t Template) (*Compressed, error) {
	info, ok := templates[t]
	if !ok {
		return nil, fmt.Errorf("unknown template %d", int(t))
	}
	f, err := parseCert(der)
	if err != nil {
		return nil, err
	}
	d := datesFromValidity(f.notBefore, f.notAfter)
	if err := d.Validate(); err != nil {
		return nil, &FormatError{Input: "certificate", Field: "notBefore", Msg: fmt.Sprintf("%v: %v", f.notBefore, err)}
	}
	c := &Compressed{
		Signature:  f.sig,
		Dates:      d,
		TemplateID: info.templateID,
		SNSource:   info.snSource,
	}
	if info.trustAndGo {
		name, field := f.subject, "subject"
		if t == TrustAndGoDeviceTemplate {
			name, field = f.issuer, "issuer"
		}
		cn, _ := nameValue(name, oidCN)
		hexID, ok := strings.CutPrefix(cn, trustAndGoSignerPrefix)
		id, err := strconv.ParseUint(hexID, 16, 16)
		if !ok || err != nil {
			return nil, &FormatError{Input: "certificate", Field: field, Msg: fmt.Sprintf("CN %q is not %q followed by a 16-bit hex signer ID", cn, trustAndGoSignerPrefix)}
		}
		c.SignerID = uint16(id)
	}
	return c, nil
}

// Compare reports whether rebuilt, a certificate rebuilt from the
// compressed form of der, equals der byte for byte. If not, it returns a
// [*MismatchError] naming the first field that differs (for example
// "notAfter" for a validity that is not whole years, or "issuer" for a
// signer certificate not named CN=Signer). A der that does not parse gives
// a [*FormatError].
func Compare(der, rebuilt []byte) error {
	if bytes.Equal(der, rebuilt) {
		return nil
	}
	a, err := parseCert(der)
	if err != nil {
		return err
	}
	b, err := parseCert(rebuilt)
	if err != nil {
		return fmt.Errorf("rebuilt %w", err)
	}
	n := max(len(a.fields), len(b.fields))
	for i := range n {
		var fa, fb field
		if i < len(a.fields) {
			fa = a.fields[i]
		}
		if i < len(b.fields) {
			fb = b.fields[i]
		}
		if fa.name != fb.name || !bytes.Equal(fa.der, fb.der) {
			name := fa.name
			if name == "" {
				name = fb.name
			}
			return &MismatchError{Field: name, Cert: fa.der, Rebuilt: fb.der}
		}
	}
	// Every field is equal, so the outer encoding differs.
	return &MismatchError{Field: "encoding", Cert: der, Rebuilt: rebuilt}
}
