package layout

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/nerveskey/nerveskey/internal/atecc"
)

// NervesKey OTP layout (docs/nerves_key.md §5.1).
const (
	otpMagic        = "Nrvs" // bytes 0–3
	otpBoardNameLen = 10     // bytes 6–15
	otpShortSNLen   = 16     // flags 0: bytes 16–31, then 32 user bytes
	otpLongSNLen    = 48     // flags 1: bytes 16–63
	otpUserLen      = 32

	// MaxBoardNameLen is the longest board name, in bytes, the NervesKey
	// OTP holds.
	MaxBoardNameLen = otpBoardNameLen
	// MaxManufacturerSNLen is the longest manufacturer serial number, in
	// bytes, that nerves_key's OTP.new accepts (the layout holds 48).
	MaxManufacturerSNLen = 32
)

// OTP flags values (bytes 4–5, big-endian).
const (
	OTPFlagsShortSN uint16 = 0 // serial in bytes 16–31, user data in 32–63
	OTPFlagsLongSN  uint16 = 1 // serial in bytes 16–63
)

var (
	// ErrNotNervesKeyOTP means an OTP zone does not hold the NervesKey
	// layout (its magic is not "Nrvs").
	ErrNotNervesKeyOTP = errors.New("OTP zone is not a NervesKey's")
	// ErrOTPValue means a board name or manufacturer serial number does not
	// fit the NervesKey OTP layout.
	ErrOTPValue = errors.New("value does not fit the NervesKey OTP")
)

// An OTPError describes an OTP zone that is not a NervesKey's, or a value
// that cannot be written into one. It unwraps to ErrNotNervesKeyOTP or
// ErrOTPValue.
type OTPError struct {
	Field string // "magic", "board name", "manufacturer serial number" or "user data"
	Msg   string // what is wrong with it
	Err   error  // ErrNotNervesKeyOTP or ErrOTPValue
}

// Error describes the field and the problem.
func (e *OTPError) Error() string {
	return fmt.Sprintf("%v: %s %s", e.Err, e.Field, e.Msg)
}

// Unwrap returns ErrNotNervesKeyOTP or ErrOTPValue.
func (e *OTPError) Unwrap() error { return e.Err }

// OTP is the NervesKey OTP zone (nerves_key's NervesKey.OTP,
// docs/nerves_key.md §5.1):
//
//	bytes 0–3    magic "Nrvs"
//	bytes 4–5    flags, big-endian: 1 = long serial, anything else = short
//	bytes 6–15   board name, zero-padded
//	flags 1:     bytes 16–63 manufacturer serial number, zero-padded
//	otherwise:   bytes 16–31 serial, bytes 32–63 user data
//
// Board name and serial number are held with trailing zero bytes trimmed,
// as nerves_key reads them.
type OTP struct {
	Flags          uint16
	BoardName      string
	ManufacturerSN string
	User           [otpUserLen]byte // short layout only; zero otherwise
}

// NewOTP returns the OTP contents nerves_key's provisioning writes
// (OTP.new with no user data): flags 0 and 32 zero user bytes for a serial
// of up to 16 bytes, flags 1 for 17 to 32 bytes. Unlike nerves_key, which
// silently truncates a board name over 10 bytes, it refuses what
// [ManufacturerSNProblem] and [BoardNameProblem] refuse. Errors are *OTPError values wrapping ErrOTPValue.
func NewOTP(boardName, manufacturerSN string) (OTP, error) {
	bad := func(field, format string, args ...any) (OTP, error) {
		return OTP{}, &OTPError{Field: field, Msg: fmt.Sprintf(format, args...), Err: ErrOTPValue}
	}
	if why := BoardNameProblem(boardName); why != "" {
		return bad("board name", "%q %s", boardName, why)
	}
	if why := ManufacturerSNProblem(manufacturerSN); why != "" {
		return bad("manufacturer serial number", "%q %s", manufacturerSN, why)
	}
	o := OTP{Flags: OTPFlagsShortSN, BoardName: boardName, ManufacturerSN: manufacturerSN}
	if len(manufacturerSN) > otpShortSNLen {
		o.Flags = OTPFlagsLongSN
	}
	return o, nil
}

// SetUserData sets the user data, OTP bytes 32–63, as nerves_key's
// OTP.new(board, sn, user) lays them out (docs/nerves_key.md §5.1). Only
// the short layout has room for them: non-zero user data beside a serial
// over 16 bytes (flags 1, whose serial takes those bytes) is an *OTPError
// wrapping ErrOTPValue, and o is left as it was.
func (o *OTP) SetUserData(user [otpUserLen]byte) error {
	if user != ([otpUserLen]byte{}) && o.Flags == OTPFlagsLongSN {
		return &OTPError{Field: "user data", Msg: fmt.Sprintf("needs a manufacturer serial number of at most %d bytes; %q is %d bytes and takes OTP bytes 32–63",
			otpShortSNLen, o.ManufacturerSN, len(o.ManufacturerSN)), Err: ErrOTPValue}
	}
	o.User = user
	return nil
}

// ParseOTP decodes an OTP zone as nerves_key's OTP.from_raw does.
// The only failure is a magic other than "Nrvs" (*OTPError wrapping
// ErrNotNervesKeyOTP); every flags value is accepted, 1 selecting the long
// layout and any other the short one.
func ParseOTP(b [atecc.OTPSize]byte) (OTP, error) {
	if string(b[:4]) != otpMagic {
		return OTP{}, &OTPError{Field: "magic", Msg: fmt.Sprintf("is %x, want %x (%q)", b[:4], otpMagic, otpMagic), Err: ErrNotNervesKeyOTP}
	}
	o := OTP{Flags: binary.BigEndian.Uint16(b[4:6])}
	o.BoardName = trimZeros(b[6 : 6+otpBoardNameLen])
	sn := b[16:]
	if o.Flags != OTPFlagsLongSN {
		sn = b[16 : 16+otpShortSNLen]
		copy(o.User[:], b[16+otpShortSNLen:])
	}
	o.ManufacturerSN = trimZeros(sn)
	return o, nil
}

// Marshal returns the 64 OTP bytes. It fails with an *OTPError wrapping
// ErrOTPValue if a field does not fit its layout (the long layout has no
// user data), never silently truncating.
func (o *OTP) Marshal() ([atecc.OTPSize]byte, error) {
	var b [atecc.OTPSize]byte
	snMax := otpShortSNLen
	if o.Flags == OTPFlagsLongSN {
		snMax = otpLongSNLen
	}
	bad := func(field, format string, args ...any) ([atecc.OTPSize]byte, error) {
		return [atecc.OTPSize]byte{}, &OTPError{Field: field, Msg: fmt.Sprintf(format, args...), Err: ErrOTPValue}
	}
	switch {
	case len(o.BoardName) > otpBoardNameLen:
		return bad("board name", "is %d bytes, max %d", len(o.BoardName), otpBoardNameLen)
	case len(o.ManufacturerSN) > snMax:
		return bad("manufacturer serial number", "is %d bytes, max %d with flags %d", len(o.ManufacturerSN), snMax, o.Flags)
	case o.Flags == OTPFlagsLongSN && o.User != [otpUserLen]byte{}:
		return bad("user data", "must be zero with flags 1 (the serial uses its bytes)")
	}
	copy(b[:4], otpMagic)
	binary.BigEndian.PutUint16(b[4:6], o.Flags)
	copy(b[6:], o.BoardName)
	copy(b[16:], o.ManufacturerSN)
	if o.Flags != OTPFlagsLongSN {
		copy(b[16+otpShortSNLen:], o.User[:])
	}
	return b, nil
}

// trimZeros returns b without its trailing zero bytes, as a string.
func trimZeros(b []byte) string {
	return string(bytes.TrimRight(b, "\x00"))
}
