package cert

import (
	"errors"
	"fmt"
)

// Sentinel errors. Typed errors in this package unwrap to one of them, so
// callers can branch with [errors.Is].
var (
	// ErrMalformed means input bytes (a compressed certificate or a DER
	// certificate) could not be parsed.
	ErrMalformed = errors.New("malformed certificate data")

	// ErrTemplateMismatch means a compressed certificate's trailer (template
	// ID, chain ID, signer ID or serial-number source) is not the one the
	// requested template needs. nerves_key raises in the same case.
	ErrTemplateMismatch = errors.New("compressed certificate does not match template")

	// ErrNotCompressible means a certificate does not rebuild byte for byte
	// from its compressed form, so storing it on a chip would lose it.
	ErrNotCompressible = errors.New("certificate does not rebuild from its compressed form")

	// ErrDateRange means a date cannot be held by the 24-bit compressed date
	// field (issue years 2000–2031, validity 1–31 years).
	ErrDateRange = errors.New("date cannot be represented in a compressed certificate")

	// ErrKey means a key cannot be used: a signer key PEM without a
	// readable, unencrypted key block, a key that is not a P-256 ECDSA key,
	// or one that does not match the certificate it is used with.
	ErrKey = errors.New("unsuitable key")
)

// A FormatError describes why bytes could not be parsed as a compressed
// certificate or as a DER certificate. It unwraps to [ErrMalformed].
type FormatError struct {
	Input string // what was parsed, e.g. "compressed certificate"
	Field string // the offending field, e.g. "reserved byte"
	Msg   string // what is wrong with it
}

// Error describes the input, field and problem.
func (e *FormatError) Error() string {
	if e.Field == "" {
		return e.Input + ": " + e.Msg
	}
	return e.Input + ": " + e.Field + ": " + e.Msg
}

// Unwrap returns [ErrMalformed].
func (e *FormatError) Unwrap() error { return ErrMalformed }

// A TemplateError reports a compressed-certificate trailer field that does
// not have the value a template requires. It unwraps to
// [ErrTemplateMismatch] and to [ErrMalformed]: slot data with another
// template's trailer is not a certificate of this slot.
type TemplateError struct {
	Template Template
	Field    string // "template_id", "chain_id", "signer_id" or "sn_source"
	Got      int
	Want     int
}

// Error describes the template, field and both values.
func (e *TemplateError) Error() string {
	return fmt.Sprintf("%v: compressed %s is %#x, template needs %#x", e.Template, e.Field, e.Got, e.Want)
}

// Unwrap returns [ErrTemplateMismatch].
func (e *TemplateError) Unwrap() []error { return []error{ErrTemplateMismatch, ErrMalformed} }

// A DateError reports a date or validity period that a compressed
// certificate cannot hold. It unwraps to [ErrDateRange].
type DateError struct {
	Field string // "issue year" or "validity years"
	Value int
}

// Error describes the value and the range it misses.
func (e *DateError) Error() string {
	switch e.Field {
	case "issue year":
		if e.Value > maxIssueYear {
			return fmt.Sprintf("issue year %d is after %d, the last year a compressed certificate can hold (the year-2032 limit of the Atmel format)", e.Value, maxIssueYear)
		}
		return fmt.Sprintf("issue year %d is before %d, the first year a compressed certificate can hold (is the clock set?)", e.Value, minIssueYear)
	case "validity years":
		return fmt.Sprintf("validity of %d years is outside 1..%d", e.Value, maxExpireYears)
	}
	return fmt.Sprintf("%s %d out of range", e.Field, e.Value)
}

// Unwrap returns [ErrDateRange].
func (e *DateError) Unwrap() error { return ErrDateRange }

// A MismatchError names the first field where a certificate and its rebuild
// from compressed form differ. Cert and Rebuilt hold that field's DER (or
// nil when the field is missing on one side). It unwraps to
// [ErrNotCompressible].
type MismatchError struct {
	Field   string // e.g. "issuer", "notAfter", "extension 4 (subjectKeyIdentifier)"
	Cert    []byte
	Rebuilt []byte
}

// Error describes the field and both values, names and times as text.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s differs: certificate has %s, compressed form rebuilds %s",
		e.Field, describeDER(e.Cert), describeDER(e.Rebuilt))
}

// Unwrap returns [ErrNotCompressible].
func (e *MismatchError) Unwrap() error { return ErrNotCompressible }
