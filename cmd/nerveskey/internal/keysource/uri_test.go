package keysource

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		in      string
		want    *URI
		wantErr string
	}{
		{in: "pkcs11:token=factory;object=signer", want: &URI{Token: "factory", Object: "signer"}},
		{in: "PKCS11:token=My%20Token;id=%01%02?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
			want: &URI{Token: "My Token", ID: []byte{1, 2}, ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PinSource: "file:/run/pin"}},
		{in: "pkcs11:serial=0123;object=s;type=private?pin-value=1234", want: &URI{Serial: "0123", Object: "s", Type: "private", PinValue: "1234"}},
		{in: "pkcs11:token=t;object=s?pin-source=file:///run/pin", want: &URI{Token: "t", Object: "s", PinSource: "file:///run/pin"}},
		{in: "pkcs11:object=s", wantErr: "no token"},
		{in: "pkcs11:token=t", wantErr: "no key"},
		{in: "pkcs11:token=t;object=s;object=u", wantErr: "given twice"},
		{in: "pkcs11:token=t;objet=s", wantErr: `unsupported attribute "objet"`},
		{in: "pkcs11:token=t;object=s;type=cert", wantErr: "only type=private"},
		{in: "pkcs11:token=t;object=%zz", wantErr: "bad percent-encoding"},
		{in: "pkcs11:token=t;object", wantErr: "not name=value"},
		{in: "pkcs11:token=t;object=s?pin-value=1&pin-source=file:/p", wantErr: "both pin-value and pin-source"},
		{in: "pkcs11:token=t;object=s?pin-source=https://example.com/pin", wantErr: "only file:PATH"},
		{in: "pkcs11:token=t;object=s?pin-source=file://host/pin", wantErr: "names no file"},
		{in: "pkcs11:token=t;object=s?module-name=softhsm2", wantErr: `unsupported attribute "module-name"`},
		{in: "signer.key", wantErr: "does not start"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := ParseURI(tt.in)
			if tt.wantErr != "" {
				var ue *URIError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want a URIError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(u, tt.want) {
				t.Fatalf("got %+v, want %+v", u, tt.want)
			}
		})
	}
}

func TestURIStringHidesPIN(t *testing.T) {
	u, err := ParseURI("pkcs11:token=t;object=s?pin-value=9876")
	if err != nil {
		t.Fatal(err)
	}
	if s := u.String(); strings.Contains(s, "9876") {
		t.Fatalf("String %q shows the PIN", s)
	}
}

// FuzzURI checks that ParseURI never panics and that the canonical form
// of what it accepts parses back to the same URI.
func FuzzURI(f *testing.F) {
	f.Add("pkcs11:token=factory;object=signer?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin")
	f.Add("pkcs11:serial=01;id=%01%ff;type=private?pin-value=1234")
	f.Add("pkcs11:token=a%3Bb;object=c%3Fd")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		canon := u.format(false)
		v, err := ParseURI(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if len(u.ID) == 0 {
			u.ID = nil
		}
		if len(v.ID) == 0 {
			v.ID = nil
		}
		if !reflect.DeepEqual(u, v) || !bytes.Equal(u.ID, v.ID) {
			t.Fatalf("%q: %+v, canonical %q: %+v", s, u, canon, v)
		}
	})
}
