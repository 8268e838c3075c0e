package cert

import (
	"bytes"
	"errors"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"testing"
)

func TestDatesVector(t *testing.T) {
	// atecc508a validity_test.exs: 75 3E 0E = 2014-10-15 16:00, 14 years.
	d, err := DecodeDates([3]byte{0x75, 0x3e, 0x0e})
	if err != nil {
		t.Fatal(err)
	}
	want := Dates{Year: 2014, Month: 10, Day: 15, Hour: 16, ExpireYears: 14}
	if d != want {
		t.Fatalf("DecodeDates = %+v, want %+v", d, want)
	}
	if nb, na := d.notBefore().String(), d.notAfter().String(); nb != "2014-10-15 16:00:00" || na != "2028-10-15 16:00:00" {
		t.Fatalf("validity %s .. %s", nb, na)
	}
	if b, err := want.Encode(); err != nil || b != [3]byte{0x75, 0x3e, 0x0e} {
		t.Fatalf("Encode = %x, %v", b, err)
	}
	// The data_test.exs signer: 96 12 81 = 2018-12-04 20:00, 1 year.
	if d, _ := DecodeDates([3]byte{0x96, 0x12, 0x81}); d != (Dates{2018, 12, 4, 20, 1}) {
		t.Fatalf("signer dates %+v", d)
	}
}

func TestDateFormatting(t *testing.T) {
	for _, tt := range []struct {
		d      Dates
		nb, na string // DER time contents
		tng    string // Trust&Go notAfter
	}{
		{Dates{2014, 10, 15, 16, 14}, "141015160000Z", "281015160000Z", "20281015160000Z"},
		{Dates{2026, 3, 1, 0, 0}, "260301000000Z", "99991231235959Z", "99991231235959Z"},
		{Dates{2031, 12, 31, 23, 31}, "311231230000Z", "20621231230000Z", "20621231230000Z"},
		{Dates{2028, 2, 29, 10, 31}, "280229100000Z", "20590229100000Z", "20590229100000Z"}, // not normalised
		{Dates{2019, 2, 29, 1, 30}, "190229010000Z", "490229010000Z", "20490229010000Z"},
	} {
		var buf []byte
		nb := string(tt.d.notBefore().appendUTCTime(buf))
		var na string
		if a := tt.d.notAfter(); a.year < 2050 {
			na = string(a.appendUTCTime(buf))
		} else {
			na = string(a.appendGeneralizedTime(buf))
		}
		tng := string(tt.d.notAfter().appendGeneralizedTime(buf))
		if nb != tt.nb || na != tt.na || tng != tt.tng {
			t.Errorf("%+v: %s %s %s, want %s %s %s", tt.d, nb, na, tng, tt.nb, tt.na, tt.tng)
		}
	}
}

func TestDatesFromValidity(t *testing.T) {
	for _, tt := range []struct {
		name   string
		nb, na dateTime
		want   Dates
	}{
		{"plain", dateTime{2026, 5, 6, 7, 0, 0}, dateTime{2031, 5, 6, 7, 0, 0}, Dates{2026, 5, 6, 7, 5}},
		{"minutes dropped", dateTime{2026, 5, 6, 7, 59, 59}, dateTime{2027, 1, 1, 0, 0, 0}, Dates{2026, 5, 6, 7, 1}},
		{"year below 2000", dateTime{1970, 1, 1, 0, 0, 0}, dateTime{2001, 1, 1, 0, 0, 0}, Dates{2000, 1, 1, 0, 31}},
		{"UTCTime 70 read as 2070", dateTime{2070, 1, 1, 0, 0, 0}, dateTime{2001, 1, 1, 0, 0, 0}, Dates{2031, 1, 1, 0, 1}},
		{"year above 2031", dateTime{2040, 6, 1, 0, 0, 0}, dateTime{2041, 6, 1, 0, 0, 0}, Dates{2031, 6, 1, 0, 1}},
		{"span 0 becomes 1", dateTime{2026, 6, 1, 0, 0, 0}, dateTime{2026, 12, 1, 0, 0, 0}, Dates{2026, 6, 1, 0, 1}},
		{"span 31", dateTime{2026, 6, 1, 0, 0, 0}, dateTime{2057, 6, 1, 0, 0, 0}, Dates{2026, 6, 1, 0, 31}},
		{"span 32 is no expiry", dateTime{2026, 6, 1, 0, 0, 0}, dateTime{2058, 6, 1, 0, 0, 0}, Dates{2026, 6, 1, 0, 0}},
		{"9999", dateTime{2026, 6, 1, 0, 0, 0}, dateTime{9999, 12, 31, 23, 59, 59}, Dates{2026, 6, 1, 0, 0}},
	} {
		if got := datesFromValidity(tt.nb, tt.na); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func validCompressed(t *testing.T) []byte {
	t.Helper()
	return testutil.Unhex(t, nkSlot12)
}

// withDates returns a valid compressed certificate with its date field
// replaced by d, unchecked.
func withDates(t *testing.T, d Dates) []byte {
	b := validCompressed(t)
	e := d.encode()
	copy(b[64:67], e[:])
	return b
}

func TestParseCompressedErrors(t *testing.T) {
	mod := func(i int, v byte) []byte {
		b := validCompressed(t)
		b[i] = v
		return b
	}
	for _, tt := range []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{"ok", validCompressed(t), nil},
		{"empty", nil, ErrMalformed},
		{"71 bytes", validCompressed(t)[:71], ErrMalformed},
		{"73 bytes", append(validCompressed(t), 0), ErrMalformed},
		{"reserved", mod(71, 1), ErrMalformed},
		{"format version", mod(70, 0xa1), ErrMalformed},
		{"month 0", withDates(t, Dates{2026, 0, 1, 1, 1}), ErrMalformed},
		{"month 13", withDates(t, Dates{2026, 13, 1, 1, 1}), ErrMalformed},
		{"day 0", withDates(t, Dates{2026, 1, 0, 1, 1}), ErrMalformed},
		{"hour 24", withDates(t, Dates{2026, 1, 1, 24, 1}), ErrMalformed},
		{"Feb 31 kept, as upstream", withDates(t, Dates{2026, 2, 31, 23, 31}), nil},
		{"no expiry", withDates(t, Dates{2031, 12, 31, 23, 0}), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCompressed(tt.in)
			if (err != nil) != (tt.wantErr != nil) || !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				t.Log(err)
				return
			}
			if m, err := c.Marshal(); err != nil || !bytes.Equal(m, tt.in) {
				t.Fatalf("Marshal = %x, %v", m, err)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	good := func() *Compressed { return mustParseCompressed(t, validCompressed(t)) }
	for _, tt := range []struct {
		name    string
		mod     func(*Compressed)
		wantErr error
	}{
		{"template nibble", func(c *Compressed) { c.TemplateID = 16 }, ErrMalformed},
		{"chain nibble", func(c *Compressed) { c.ChainID = 16 }, ErrMalformed},
		{"sn nibble", func(c *Compressed) { c.SNSource = 0x1a }, ErrMalformed},
		{"format version", func(c *Compressed) { c.FormatVersion = 1 }, ErrMalformed},
		{"year 2032", func(c *Compressed) { c.Dates.Year = 2032 }, ErrDateRange},
		{"year 1999", func(c *Compressed) { c.Dates.Year = 1999 }, ErrDateRange},
		{"expire 32", func(c *Compressed) { c.Dates.ExpireYears = 32 }, ErrDateRange},
		{"month 13", func(c *Compressed) { c.Dates.Month = 13 }, ErrMalformed},
	} {
		c := good()
		tt.mod(c)
		if _, err := c.Marshal(); !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
}

func TestTemplateMismatch(t *testing.T) {
	signerXY := testutil.Unhex(t, nkSignerXY)
	c := mustParseCompressed(t, validCompressed(t)) // a signer (template 1)
	_, err := NervesKeyDevice(c, signerXY, signerXY, [9]byte{}, "x")
	var te *TemplateError
	if !errors.As(err, &te) || te.Field != "template_id" || !errors.Is(err, ErrTemplateMismatch) {
		t.Fatalf("device from signer slot: %v", err)
	}
	c.SignerID = 0x2c00
	if _, err := NervesKeySigner(c, signerXY); !errors.As(err, &te) || te.Field != "signer_id" {
		t.Fatalf("signer_id: %v", err)
	}
	c.SignerID, c.ChainID = 0, 1
	if _, err := NervesKeySigner(c, signerXY); !errors.As(err, &te) || te.Field != "chain_id" {
		t.Fatalf("chain_id: %v", err)
	}
	c.ChainID = 0
	if _, err := NervesKeySigner(c, signerXY[:63]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short key: %v", err)
	}
	if _, err := NervesKeySigner(nil, signerXY); err == nil {
		t.Fatal("nil compressed accepted")
	}
	tc := mustParseCompressed(t, testutil.Unhex(t, tngSlot12))
	tc.SNSource = SNSourceStored
	if _, err := TrustAndGoSigner(tc, signerXY); !errors.As(err, &te) || te.Field != "sn_source" {
		t.Fatalf("sn_source: %v", err)
	}
	if s := NervesKeyDeviceTemplate.String(); s != "NervesKey device" {
		t.Errorf("String = %q", s)
	}
	if Template(9).String() != "Template(9)" || TrustAndGoDeviceTemplate.TemplateID() != 3 || NervesKeyDeviceTemplate.SNSource() != 0xb {
		t.Error("template accessors")
	}
}
