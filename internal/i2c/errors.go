package i2c

import (
	"errors"
	"fmt"
)

// Status codes returned by the chip in a 4-byte response
// (DS508 Table 9-3; DS608-TFLX Table 4-3; docs/atecc.md §1.7).
const (
	StatusOK         byte = 0x00 // success, commands without output
	StatusMiscompare byte = 0x01 // CheckMac or Verify miscompare
	StatusParse      byte = 0x03 // illegal length, opcode or parameter
	StatusECCFault   byte = 0x05 // ECC computation failed; a retry may succeed
	StatusSelfTest   byte = 0x07 // 608 self-test failure state
	StatusHealthTest byte = 0x08 // 608 RNG health-test failure
	StatusExecution  byte = 0x0F // not allowed in the current state or configuration
	StatusWake       byte = 0x11 // awake, no command received yet
	StatusWatchdog   byte = 0xEE // too little watchdog time left; not executed
	StatusCRC        byte = 0xFF // the chip saw a bad CRC or a framing error
)

// Sentinel errors for chip status codes. A [*StatusError] unwraps to the one
// matching its status, so callers write errors.Is(err, i2c.ErrExecution).
var (
	ErrMiscompare = errors.New("checkmac or verify miscompare")
	ErrParse      = errors.New("parse error")
	ErrECCFault   = errors.New("ecc fault")
	ErrSelfTest   = errors.New("self-test failure")
	ErrHealthTest = errors.New("rng health-test failure")
	ErrExecution  = errors.New("execution error")
	ErrNoWake     = errors.New("chip answered as freshly woken")
	ErrWatchdog   = errors.New("watchdog about to expire")
	ErrCRC        = errors.New("chip reported a crc or communication error")
)

// Transport-level sentinel errors.
var (
	// ErrTimeout reports that the chip still NAKed its address when the
	// command's maximum execution time (plus a margin) had passed.
	ErrTimeout = errors.New("timed out waiting for the chip")

	// ErrFrame reports a response that is too short, has an impossible
	// count byte, a count that does not fit the command, or a bad CRC.
	ErrFrame = errors.New("malformed response frame")

	// ErrWake reports that the chip did not answer a wake with 04 11 33 43.
	ErrWake = errors.New("chip did not wake (check the I2C address and that the wake pulse runs at 133 kHz or less)")
)

// A StatusError is a non-zero status byte returned by the chip.
type StatusError struct {
	Op     string // command and target, e.g. "write slot 10"
	Status byte   // e.g. 0x0f
}

// Error returns e.g. "write slot 10: chip status 0x0f (execution error)".
func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: chip status 0x%02x (%s)", e.Op, e.Status, statusText(e.Status))
}

// Unwrap returns the sentinel for e.Status, or nil for an unknown status.
func (e *StatusError) Unwrap() error {
	switch e.Status {
	case StatusMiscompare:
		return ErrMiscompare
	case StatusParse:
		return ErrParse
	case StatusECCFault:
		return ErrECCFault
	case StatusSelfTest:
		return ErrSelfTest
	case StatusHealthTest:
		return ErrHealthTest
	case StatusExecution:
		return ErrExecution
	case StatusWake:
		return ErrNoWake
	case StatusWatchdog:
		return ErrWatchdog
	case StatusCRC:
		return ErrCRC
	}
	return nil
}

// Retryable reports whether a new wake cycle may cure the status, following
// the Elixir driver's table (docs/nerves_key.md §8.1) with one change: ECC
// fault, no-wake, watchdog, CRC and unknown codes are retried; success,
// miscompare, self-test, health-test, execution and parse errors are not.
// Elixir retries a parse error for its whole budget, but the datasheet
// defines 0x03 as illegal in any state, so a retry cannot cure it.
func (e *StatusError) Retryable() bool {
	switch e.Status {
	case StatusOK, StatusMiscompare, StatusParse, StatusSelfTest, StatusHealthTest, StatusExecution:
		return false
	}
	return true
}

func statusText(s byte) string {
	switch s {
	case StatusOK:
		return "success"
	case StatusMiscompare:
		return "miscompare"
	case StatusParse:
		return "parse error"
	case StatusECCFault:
		return "ecc fault"
	case StatusSelfTest:
		return "self-test failure"
	case StatusHealthTest:
		return "health-test failure"
	case StatusExecution:
		return "execution error"
	case StatusWake:
		return "after wake, no command"
	case StatusWatchdog:
		return "watchdog about to expire"
	case StatusCRC:
		return "crc or communication error"
	}
	return "unknown status"
}

// A BusError is an error from the I2C bus during a transfer to an awake
// chip (a NAK where an ACK was expected, or an adapter error). It is
// retried with a new wake cycle.
type BusError struct {
	Op  string // what the transport was doing, e.g. "send read config block 0"
	Err error  // from i2c.Bus.Tx
}

// Error returns the operation and the bus error.
func (e *BusError) Error() string { return e.Op + ": i2c: " + e.Err.Error() }

// Unwrap returns e.Err.
func (e *BusError) Unwrap() error { return e.Err }

// retryable reports whether a fresh wake cycle may cure err.
func retryable(err error) bool {
	if se, ok := errors.AsType[*StatusError](err); ok {
		return se.Retryable()
	}
	if _, ok := errors.AsType[*BusError](err); ok {
		return true
	}
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrFrame) || errors.Is(err, ErrWake)
}
