package cert

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// CompressedSize is the length of a compressed certificate (Atmel-8974A),
// the contents of slots 10 and 12 (9 and 15 for aux certificates).
const CompressedSize = 72

// Bit limits of the 24-bit date field and the trailer, docs/nerves_key.md §7.1.
const (
	minIssueYear   = 2000
	maxIssueYear   = 2031
	maxExpireYears = 31
)

// Serial-number sources (byte 70, high nibble).
const (
	SNSourceStored     = 0x0 // serial stored elsewhere; unsupported by nerves_key
	SNSourcePublicKey  = 0xA // SerialFromPublicKey
	SNSourceDeviceSN   = 0xB // SerialFromDeviceSN
	compressedFormatV0 = 0
)

// Dates is the 24-bit date field of a compressed certificate: the issue
// time to the hour and a validity in whole years.
//
// The rebuilt notBefore is Year-Month-Day Hour:00:00 UTC and notAfter is
// (Year+ExpireYears)-Month-Day Hour:00:00, or 9999-12-31 23:59:59 when
// ExpireYears is 0. Dates are formatted from these integers, never through
// [time.Time], so an issue date of February 29 gives a notAfter of
// February 29 even in a common year, exactly as nerves_key does.
type Dates struct {
	Year  int // issue year, 2000..2031
	Month int // 1..12
	Day   int // 1..31; not checked against the month, as upstream
	Hour  int // 0..23

	// ExpireYears is the validity in years, 1..31; 0 means no expiry
	// (notAfter 9999-12-31 23:59:59).
	ExpireYears int
}

// Validate reports whether every field is within its range.
func (d Dates) Validate() error {
	bad := func(field string, v int) error {
		return &FormatError{Input: "dates", Field: field, Msg: fmt.Sprintf("%d out of range", v)}
	}
	switch {
	case d.Year < minIssueYear || d.Year > maxIssueYear:
		return &DateError{Field: "issue year", Value: d.Year}
	case d.Month < 1 || d.Month > 12:
		return bad("month", d.Month)
	case d.Day < 1 || d.Day > 31:
		return bad("day", d.Day)
	case d.Hour < 0 || d.Hour > 23:
		return bad("hour", d.Hour)
	case d.ExpireYears < 0 || d.ExpireYears > maxExpireYears:
		return &DateError{Field: "validity years", Value: d.ExpireYears}
	}
	return nil
}

// Encode returns the 3-byte big-endian date field: issue year−2000 (5
// bits), month (4), day (5), hour (5), expire years (5).
func (d Dates) Encode() ([3]byte, error) {
	if err := d.Validate(); err != nil {
		return [3]byte{}, err
	}
	return d.encode(), nil
}

func (d Dates) encode() [3]byte {
	v := uint32(d.Year-minIssueYear)<<19 | uint32(d.Month)<<15 | uint32(d.Day)<<10 |
		uint32(d.Hour)<<5 | uint32(d.ExpireYears)
	return [3]byte{byte(v >> 16), byte(v >> 8), byte(v)}
}

// DecodeDates decodes a 3-byte date field. It fails on a month, day or hour
// that no certificate could have produced.
func DecodeDates(b [3]byte) (Dates, error) {
	v := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	d := Dates{
		Year:        minIssueYear + int(v>>19&0x1f),
		Month:       int(v >> 15 & 0x0f),
		Day:         int(v >> 10 & 0x1f),
		Hour:        int(v >> 5 & 0x1f),
		ExpireYears: int(v & 0x1f),
	}
	if err := d.Validate(); err != nil {
		return Dates{}, err
	}
	return d, nil
}

// notBefore and notAfter return the validity bounds as plain integers.
func (d Dates) notBefore() dateTime {
	return dateTime{d.Year, d.Month, d.Day, d.Hour, 0, 0}
}

func (d Dates) notAfter() dateTime {
	if d.ExpireYears == 0 {
		return dateTime{9999, 12, 31, 23, 59, 59}
	}
	return dateTime{d.Year + d.ExpireYears, d.Month, d.Day, d.Hour, 0, 0}
}

// datesFromValidity computes the compressed dates of a certificate validity
// the way nerves_key's compressor does (docs/nerves_key.md §7.2): the issue
// year is clamped to 2000..2031, minutes and seconds and notAfter's month,
// day and hour are dropped, and a span under 1 year becomes 1, over 31
// becomes 0 (no expiry). It cannot fail; Compare finds what was lost.
func datesFromValidity(nb, na dateTime) Dates {
	d := Dates{Year: min(max(nb.year, minIssueYear), maxIssueYear), Month: nb.month, Day: nb.day, Hour: nb.hour}
	switch span := na.year - nb.year; {
	case span < 1:
		d.ExpireYears = 1
	case span > maxExpireYears:
		d.ExpireYears = 0
	default:
		d.ExpireYears = span
	}
	return d
}

// Compressed is a parsed 72-byte compressed certificate:
//
//	bytes  0–31  R, big-endian, zero-padded
//	bytes 32–63  S
//	bytes 64–66  Dates
//	bytes 67–68  SignerID, big-endian
//	byte  69     TemplateID<<4 | ChainID
//	byte  70     SNSource<<4 | FormatVersion (always 0)
//	byte  71     reserved, 0
//
// The zero value is not useful; use [ParseCompressed] or [Compress].
type Compressed struct {
	Signature  [64]byte // ECDSA R‖S, each 32 bytes big-endian
	Dates      Dates
	SignerID   uint16
	TemplateID byte // 0..15
	ChainID    byte // 0..15
	SNSource   byte // 0..15, see SNSourcePublicKey and SNSourceDeviceSN

	// FormatVersion must be 0, the only version defined.
	FormatVersion byte
}

// ParseCompressed parses a compressed certificate. b must be exactly
// [CompressedSize] bytes with format version 0, a zero reserved byte and a
// valid date field; otherwise the error is a [*FormatError] or
// [*DateError]. It does not check the trailer against a template; the
// rebuild functions do.
func ParseCompressed(b []byte) (*Compressed, error) {
	const in = "compressed certificate"
	if len(b) != CompressedSize {
		return nil, &FormatError{Input: in, Msg: fmt.Sprintf("%d bytes, want %d", len(b), CompressedSize)}
	}
	if b[71] != 0 {
		return nil, &FormatError{Input: in, Field: "reserved byte", Msg: fmt.Sprintf("%#02x, want 0", b[71])}
	}
	if v := b[70] & 0x0f; v != compressedFormatV0 {
		return nil, &FormatError{Input: in, Field: "format_version", Msg: fmt.Sprintf("%d, want 0", v)}
	}
	d, err := DecodeDates([3]byte(b[64:67]))
	if err != nil {
		return nil, &FormatError{Input: in, Field: "dates", Msg: strings.TrimPrefix(err.Error(), "dates: ")}
	}
	c := &Compressed{
		Dates:         d,
		SignerID:      binary.BigEndian.Uint16(b[67:69]),
		TemplateID:    b[69] >> 4,
		ChainID:       b[69] & 0x0f,
		SNSource:      b[70] >> 4,
		FormatVersion: b[70] & 0x0f,
	}
	copy(c.Signature[:], b[:64])
	return c, nil
}

// Marshal returns the 72-byte encoding of c. It fails with a
// [*FormatError] or [*DateError] if a field is out of range (a nibble above
// 15, a non-zero FormatVersion, invalid Dates).
func (c *Compressed) Marshal() ([]byte, error) {
	const in = "compressed certificate"
	for _, f := range []struct {
		name string
		v    byte
	}{{"template_id", c.TemplateID}, {"chain_id", c.ChainID}, {"sn_source", c.SNSource}} {
		if f.v > 0x0f {
			return nil, &FormatError{Input: in, Field: f.name, Msg: fmt.Sprintf("%d does not fit in 4 bits", f.v)}
		}
	}
	if c.FormatVersion != compressedFormatV0 {
		return nil, &FormatError{Input: in, Field: "format_version", Msg: fmt.Sprintf("%d, want 0", c.FormatVersion)}
	}
	d, err := c.Dates.Encode()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, CompressedSize)
	b = append(b, c.Signature[:]...)
	b = append(b, d[:]...)
	b = binary.BigEndian.AppendUint16(b, c.SignerID)
	b = append(b, c.TemplateID<<4|c.ChainID, c.SNSource<<4|c.FormatVersion, 0)
	return b, nil
}

// ElixirQuirk reports whether nerves_key would rebuild c with a non-minimal
// DER signature, which crypto/x509 and OpenSSL reject. That happens when R
// or S is below 2^247: its 32 bytes start with 00 and the next byte does
// not have its top bit set (about 1 certificate in 256). This package's
// rebuild is not affected; [NewSigner] and [NewDevice] never produce such
// certificates.
func (c *Compressed) ElixirQuirk() bool {
	return elixirQuirk(&c.Signature)
}

func elixirQuirk(rs *[64]byte) bool {
	return rs[0] == 0 && rs[1] < 0x80 || rs[32] == 0 && rs[33] < 0x80
}
