package etf

import (
	"errors"
	"fmt"
	"reflect"
)

// ErrCorrupt means the bytes are not a term that binary_to_term accepts:
// a version byte other than 131 (unwritten, all-zero storage gives this),
// a length past the end, an unknown tag, an atom that is too long or not
// UTF-8, a NaN or infinite float, or a map with a duplicate key (0.0 and
// -0.0 count as the same key, as they do before OTP 27). Elixir's
// NervesKey.get_settings returns {:error, :corrupt} for all of these.
var ErrCorrupt = errors.New("corrupt term")

// ErrUnsupported means the bytes hold a valid term that is outside what
// this package models: a pid, port, reference, fun, bitstring, improper
// list, old text float or compressed term.
var ErrUnsupported = errors.New("unsupported term")

// ErrLimit means the term nests deeper than [MaxDepth] or holds an integer
// longer than [MaxBigBytes]. Erlang itself would accept it.
var ErrLimit = errors.New("term exceeds decoder limits")

// A DecodeError reports where and why decoding stopped. Err is
// [ErrCorrupt], [ErrUnsupported] or [ErrLimit].
type DecodeError struct {
	Offset int    // offset in the input of the term or field at fault
	Msg    string // e.g. "binary length 4294967295 exceeds the 3 bytes left"
	Err    error
}

// Error returns the sentinel's text, the offset and the reason.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("%v at byte %d: %s", e.Err, e.Offset, e.Msg)
}

// Unwrap returns Err, for [errors.Is].
func (e *DecodeError) Unwrap() error { return e.Err }

// An EncodeError reports a Go value that has no Erlang term: an
// unsupported type, a NaN or infinite float, an atom longer than 255
// characters or not UTF-8, a map with two keys that are the same term,
// or a value nested deeper than [MaxDepth] (a cycle, for instance).
type EncodeError struct {
	Type reflect.Type // type of the value at fault; nil for a nil *big.Int
	Msg  string
}

// Error returns the type and the reason.
func (e *EncodeError) Error() string {
	if e.Type == nil {
		return "cannot encode: " + e.Msg
	}
	return fmt.Sprintf("cannot encode %v: %s", e.Type, e.Msg)
}
