package nerveskey

import (
	"errors"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/i2c"
)

// A StatusError is a non-zero status byte returned by the chip, with the
// command that got it. It unwraps to the sentinel for its status, so
// errors.Is(err, nerveskey.ErrExecution) works.
type StatusError = i2c.StatusError

// A BusError is an error from the I2C bus while talking to an awake chip.
type BusError = i2c.BusError

// Sentinels for the chip's status codes (ATECC508A datasheet Table 9-3).
var (
	// ErrExecution is status 0x0F: the command is legal but not allowed in
	// the chip's current lock state or configuration (for example a write
	// to a locked slot).
	ErrExecution = atecc.ErrExecution
	// ErrParse is status 0x03: an illegal opcode, mode or length.
	ErrParse = atecc.ErrParse
	// ErrMiscompare is status 0x01: a CheckMac or Verify did not match.
	ErrMiscompare = atecc.ErrMiscompare
	// ErrECCFault is status 0x05: an ECC computation failed; it is retried.
	ErrECCFault = atecc.ErrECCFault
	// ErrSelfTest is status 0x07: a 608 is in its self-test failure state.
	ErrSelfTest = atecc.ErrSelfTest
	// ErrHealthTest is status 0x08: a 608's RNG health test failed.
	ErrHealthTest = atecc.ErrHealthTest
	// ErrWatchdog is status 0xEE: too little watchdog time was left; retried.
	ErrWatchdog = atecc.ErrWatchdog
	// ErrCRC is status 0xFF: the chip saw a bad CRC; retried.
	ErrCRC = atecc.ErrCRC
	// ErrTimeout reports a chip that stayed busy past a command's maximum
	// execution time.
	ErrTimeout = atecc.ErrTimeout
	// ErrFrame reports a response frame with a bad count or CRC.
	ErrFrame = atecc.ErrFrame
	// ErrWake reports that no chip answered the wake sequence at the
	// address: check the address, the wiring and the bus speed.
	ErrWake = atecc.ErrWake
)

// Conditions callers branch on.
var (
	// ErrClosed is returned by every method of a closed Chip or Key.
	ErrClosed = errors.New("chip closed")
	// ErrNotProvisioned reports a chip whose data zone is not locked yet:
	// it has no device key to sign with. Provision it first.
	ErrNotProvisioned = errors.New("chip not provisioned")
	// ErrNotNervesKey reports a provisioned chip whose configuration is not
	// a NervesKey's (nerves_key.md §3.4 "unrecognized").
	ErrNotNervesKey = errors.New("chip is not configured as a NervesKey")
	// ErrActivationKey reports a volatile-key chip (608) whose key is not
	// usable: its persistent latch is not set and Options.ActivationKey
	// is missing or wrong.
	ErrActivationKey = errors.New("volatile-key chip needs its activation key")
)

// A ConfigError reports an operation the chip's configuration does not
// permit, or does not permit safely, found before the command is sent:
// ECDH on a slot that forbids it or would write the secret to another
// slot, a foreign chip's slot 0 without external signatures, random bytes
// from a chip whose configuration zone is not locked.
type ConfigError struct {
	Op     string // "ecdh", "random", "key"
	Reason string // what in the configuration refuses it, e.g. "slot 0 SlotConfig 0x2083: ECDH not allowed (ReadKey bit 2)"
}

func (e *ConfigError) Error() string {
	return e.Op + ": not permitted by the chip's configuration: " + e.Reason
}
