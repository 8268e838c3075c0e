package layout

import (
	"encoding/base32"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultBoardName is nerves_key's default board name.
const DefaultBoardName = "NervesKey"

// DefaultManufacturerSN is nerves_key's default manufacturer serial
// number for a chip: its 9-byte serial number in base32 (RFC 4648, no
// padding, 15 characters), as Base.encode32(sn, padding: false).
func DefaultManufacturerSN(sn [9]byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sn[:])
}

// ManufacturerSNProblem returns why sn cannot be a NervesKey's
// manufacturer serial number, or "" if it can. The serial is written to
// the OTP zone (at most [MaxManufacturerSNLen] bytes, nerves_key's limit)
// and is the device certificate's subject CN (a UTF8String), so it must
// be non-empty valid UTF-8 without '/' (nerves_key cannot put it in a
// certificate name), control characters or zero bytes (which would not
// read back from the OTP). This is the one serial rule: provisioning, the
// OTP encoder and the debug certificates all apply it.
func ManufacturerSNProblem(sn string) string {
	switch {
	case sn == "":
		return "is empty"
	case len(sn) > MaxManufacturerSNLen:
		return fmt.Sprintf("is %d bytes, max %d", len(sn), MaxManufacturerSNLen)
	case !utf8.ValidString(sn):
		return "is not valid UTF-8"
	case strings.ContainsRune(sn, '/'):
		return "contains '/', which nerves_key cannot put in a certificate name"
	case strings.ContainsFunc(sn, unicode.IsControl):
		return "contains a control character"
	}
	return ""
}

// BoardNameProblem returns why name cannot be a NervesKey's board name, or
// "" if it can: at most [MaxBoardNameLen] bytes (nerves_key silently
// truncates longer ones), valid UTF-8, no control characters or zero
// bytes. An empty board name is allowed.
func BoardNameProblem(name string) string {
	switch {
	case len(name) > MaxBoardNameLen:
		return fmt.Sprintf("is %d bytes, max %d (nerves_key would truncate it)", len(name), MaxBoardNameLen)
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	case strings.ContainsFunc(name, unicode.IsControl):
		return "contains a control character"
	}
	return ""
}

// AllZero reports whether b holds only zero bytes: an empty slot, an
// unused aux pair, a blank settings block.
func AllZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
