package keysource

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// A URI is a parsed RFC 7512 PKCS#11 URI naming one key pair:
//
//	pkcs11:token=factory;object=signer?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin
//
// Path attributes select the token (token, serial) and the key (object,
// id); query attributes say how to reach it (module-path, pin-value,
// pin-source). Other attributes are refused rather than ignored, so a
// typing error cannot select another key.
type URI struct {
	Token      string // token label ("token=")
	Serial     string // token serial number ("serial=")
	Object     string // key label, CKA_LABEL ("object=")
	ID         []byte // key id, CKA_ID ("id=", percent-encoded bytes)
	Type       string // "private" or "" ("type=")
	ModulePath string // the PKCS#11 module ("module-path=")
	PinValue   string // the user PIN ("pin-value="; visible in argv)
	PinSource  string // where to read the PIN ("pin-source=", only file: URIs)
}

// A URIError reports a PKCS#11 URI that does not parse or names no key.
type URIError struct {
	Msg string
}

func (e *URIError) Error() string { return "pkcs11 URI: " + e.Msg }

func uriErrorf(format string, args ...any) error {
	return &URIError{Msg: fmt.Sprintf(format, args...)}
}

// IsURI reports whether s is meant as a PKCS#11 URI (it starts with the
// scheme "pkcs11:", in any case).
func IsURI(s string) bool {
	return len(s) >= 7 && strings.EqualFold(s[:7], "pkcs11:")
}

// ParseURI parses a PKCS#11 URI. It requires a token (token= or serial=)
// and a key (object= or id=), and at most one PIN (pin-value or
// pin-source).
func ParseURI(s string) (*URI, error) {
	if !IsURI(s) {
		return nil, uriErrorf("does not start with \"pkcs11:\"")
	}
	rest := s[7:]
	path, query, _ := strings.Cut(rest, "?")
	u := &URI{}
	seen := map[string]bool{}
	set := func(name, raw string, known []string) (string, error) {
		if !slices.Contains(known, name) {
			return "", uriErrorf("unsupported attribute %q (supported: %s)", name, strings.Join(known, ", "))
		}
		if seen[name] {
			return "", uriErrorf("attribute %q given twice", name)
		}
		seen[name] = true
		v, err := url.PathUnescape(raw)
		if err != nil {
			return "", uriErrorf("attribute %q: bad percent-encoding", name)
		}
		return v, nil
	}
	pathAttrs := []string{"token", "serial", "object", "id", "type"}
	if path != "" {
		for attr := range strings.SplitSeq(path, ";") {
			name, raw, ok := strings.Cut(attr, "=")
			if !ok || name == "" {
				return nil, uriErrorf("path attribute %q is not name=value", attr)
			}
			v, err := set(name, raw, pathAttrs)
			if err != nil {
				return nil, err
			}
			switch name {
			case "token":
				u.Token = v
			case "serial":
				u.Serial = v
			case "object":
				u.Object = v
			case "id":
				u.ID = []byte(v)
			case "type":
				if v != "private" {
					return nil, uriErrorf("type=%q: only type=private (a key pair) can sign", v)
				}
				u.Type = v
			}
		}
	}
	queryAttrs := []string{"module-path", "pin-value", "pin-source"}
	if query != "" {
		for attr := range strings.SplitSeq(query, "&") {
			name, raw, ok := strings.Cut(attr, "=")
			if !ok || name == "" {
				return nil, uriErrorf("query attribute %q is not name=value", attr)
			}
			v, err := set(name, raw, queryAttrs)
			if err != nil {
				return nil, err
			}
			switch name {
			case "module-path":
				u.ModulePath = v
			case "pin-value":
				u.PinValue = v
			case "pin-source":
				u.PinSource = v
			}
		}
	}
	switch {
	case u.Token == "" && u.Serial == "":
		return nil, uriErrorf("no token: add token=LABEL (or serial=)")
	case u.Object == "" && len(u.ID) == 0:
		return nil, uriErrorf("no key: add object=LABEL or id=%%XX..")
	case seen["pin-value"] && seen["pin-source"]:
		return nil, uriErrorf("both pin-value and pin-source given")
	case seen["pin-source"] && !strings.HasPrefix(u.PinSource, "file:"):
		return nil, uriErrorf("pin-source=%q: only file:PATH is supported", u.PinSource)
	case seen["pin-source"] && pinFile(u.PinSource) == "":
		return nil, uriErrorf("pin-source=%q names no file", u.PinSource)
	}
	return u, nil
}

// pinFile returns the path of a pin-source file: URI, "file:/run/pin" or
// "file:///run/pin".
func pinFile(src string) string {
	p := strings.TrimPrefix(src, "file:")
	if strings.HasPrefix(p, "//") {
		p = strings.TrimPrefix(p, "//")
		if i := strings.IndexByte(p, '/'); i > 0 {
			return "" // a host part: not a local file
		}
	}
	return p
}

// String returns the URI in its canonical form, with pin-value elided:
// fit for messages and logs.
func (u *URI) String() string {
	return u.format(true)
}

func (u *URI) format(hidePin bool) string {
	var path, query []string
	add := func(list *[]string, name, v string) {
		if v != "" {
			*list = append(*list, name+"="+escape(v))
		}
	}
	add(&path, "token", u.Token)
	add(&path, "serial", u.Serial)
	add(&path, "object", u.Object)
	add(&path, "id", string(u.ID))
	add(&path, "type", u.Type)
	add(&query, "module-path", u.ModulePath)
	pin := u.PinValue
	if hidePin && pin != "" {
		pin = "..."
	}
	add(&query, "pin-value", pin)
	add(&query, "pin-source", u.PinSource)
	s := "pkcs11:" + strings.Join(path, ";")
	if len(query) > 0 {
		s += "?" + strings.Join(query, "&")
	}
	return s
}

// escape percent-encodes every byte but RFC 7512's unreserved characters
// and those it allows unencoded in values ("/" and ":" in paths).
func escape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/', c == ':':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// ErrNoPKCS11 is returned for a PKCS#11 URI by a nerveskey built without
// cgo, which PKCS#11 modules need.
var ErrNoPKCS11 = errors.New("this nerveskey was built without PKCS#11 support (CGO_ENABLED=0); rebuild it with cgo to use pkcs11: keys")
