package nerveskeytest

import (
	"bytes"
	"time"
)

// A CommandHook sees each command the chip accepts (its CRC good, before
// it starts executing) and may change how long the command runs and what
// becomes of its answer. It is the one place a test sets per-command
// timing and per-command faults. It runs with the chip's lock held, so it
// must not call the Chip's methods; it may keep its own state (counting
// commands, choosing the nth Sign) and must be safe for the goroutines
// that drive the bus.
type CommandHook func(*Command)

// A Command is one accepted command, as a CommandHook sees it. The hook
// changes the exported fields it wants; the zero value of each changes
// nothing.
type Command struct {
	Opcode byte   // the command's opcode (DS508 Table 9-4)
	Param1 byte   // Param1 (mode)
	Param2 uint16 // Param2 (key ID / address), little-endian on the wire
	Data   []byte // the data bytes (a copy; changing it has no effect)

	// ExecTime is how long the command keeps the chip busy. On entry it
	// holds the time the timing mode chose; a hook may set any
	// non-negative value, past the datasheet maximum too. A command whose
	// time does not fit in what is left of the watchdog period is not
	// executed and answers 0xEE, as on a real chip.
	ExecTime time.Duration

	// Typical and Max are the table's typical and maximum execution
	// times of this command on this chip (the timing modes' bounds), for
	// a hook that sets ExecTime relative to them. Changing them has no
	// effect.
	Typical, Max time.Duration

	// Answer, if set, is called after the command executed (its effects
	// on the chip are kept) with the payload of its answer (one status
	// byte, or the output bytes) and returns the payload sent instead,
	// framed with a correct count and CRC: a well-formed forged answer.
	// It may return the argument changed in place.
	Answer func(payload []byte) []byte

	// Lose loses the answer of a command that executed (its effects on
	// the chip are kept): see Loss.
	Lose Loss
}

// Loss says how a Command's answer is lost after the command executed.
type Loss int

const (
	// Delivered: the answer is read as the chip made it.
	Delivered Loss = iota
	// LostNAK: every read of the answer is not acknowledged, until the
	// host's next write (a command, idle, sleep or reset), as if the
	// response never crossed the bus.
	LostNAK
	// LostGarbage: the answer is replaced by bytes of the same length
	// whose count byte is right and whose CRC fails.
	LostGarbage
)

// String returns the loss's name.
func (l Loss) String() string {
	switch l {
	case Delivered:
		return "delivered"
	case LostNAK:
		return "lost (NAK)"
	case LostGarbage:
		return "lost (garbage)"
	}
	return "Loss(?)"
}

// SetCommandHook installs h for every command accepted from now on; nil
// removes it.
func (c *Chip) SetCommandHook(h CommandHook) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hook = h
}

// Slower returns a CommandHook that makes every command whose opcode is
// in ops (every command, if ops is empty) run extra longer than the
// timing mode chose, as a chip slower than the datasheet does. A command
// that no longer fits in what is left of the watchdog period answers
// 0xEE.
func Slower(extra time.Duration, ops ...byte) CommandHook {
	return func(c *Command) {
		if len(ops) == 0 || bytes.IndexByte(ops, c.Opcode) >= 0 {
			c.ExecTime += extra
		}
	}
}

// SlowSign608 is the slowest ATECC608 Sign seen in the field: the Elixir
// driver raised its Sign timeout from 115 ms to 179 ms after failures on
// production 608s (129 ms passed 500 runs), so real 608s sign in up to
// about 179 ms, past the 115 ms maximum of cryptoauthlib's table.
const SlowSign608 = 179 * time.Millisecond

// Slow608 returns a CommandHook for the slow 608 preset: Sign (0x41)
// takes SlowSign608, every other command its time under the timing mode.
func Slow608() CommandHook {
	return func(c *Command) {
		if c.Opcode == opSign {
			c.ExecTime = SlowSign608
		}
	}
}
