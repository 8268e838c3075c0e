package atecc

import "github.com/nerveskey/nerveskey/internal/i2c"

// A StatusError is a non-zero status byte returned by the chip, with the
// command and target that got it (e.g. "write slot 10 block 0"). It
// unwraps to the sentinel for its status, so errors.Is(err, ErrExecution)
// works.
type StatusError = i2c.StatusError

// Sentinel errors for chip status codes (DS508 Table 9-3; docs/atecc.md
// §1.7).
var (
	ErrMiscompare = i2c.ErrMiscompare // 0x01: CheckMac or Verify miscompare
	ErrParse      = i2c.ErrParse      // 0x03: illegal length, opcode or parameter (e.g. a 608-only mode on a 508)
	ErrECCFault   = i2c.ErrECCFault   // 0x05: ECC computation failed; retried
	ErrSelfTest   = i2c.ErrSelfTest   // 0x07: 608 self-test failure state
	ErrHealthTest = i2c.ErrHealthTest // 0x08: 608 RNG health-test failure
	ErrExecution  = i2c.ErrExecution  // 0x0F: not allowed in the current lock state or configuration
	ErrNoWake     = i2c.ErrNoWake     // 0x11: the chip answered as freshly woken
	ErrWatchdog   = i2c.ErrWatchdog   // 0xEE: watchdog about to expire; retried
	ErrCRC        = i2c.ErrCRC        // 0xFF: the chip saw a bad CRC; retried
)

// Transport errors.
var (
	ErrTimeout = i2c.ErrTimeout // the chip stayed busy past the command's maximum time
	ErrFrame   = i2c.ErrFrame   // a response with a bad count, length or CRC
	ErrWake    = i2c.ErrWake    // no wake response
)
