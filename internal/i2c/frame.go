package i2c

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Word address bytes: the first byte of every write to the chip
// (DS508 Table 6-2; docs/atecc.md §1.3).
const (
	wordReset   byte = 0x00
	wordSleep   byte = 0x01
	wordIdle    byte = 0x02
	wordCommand byte = 0x03
)

// Frame limits (DS508 Table 9-1; docs/atecc.md §1.5).
const (
	minCount       = 4                  // count, 1 payload byte, CRC
	maxCount       = 155                // largest count the chip accepts
	maxCommandData = maxCount - 7       // count, opcode, p1, p2 (2), CRC (2)
	maxResponseLen = 0xff - 3           // largest payload a count byte can describe
	frameOverhead  = 3                  // count byte and CRC
	wakeResponse   = "\x04\x11\x33\x43" // status 0x11 group
)

// A Command is one chip command: opcode, parameters, data, and what the
// transport needs to wait for and check its answer.
type Command struct {
	Name string // command and target for errors and traces, e.g. "read config block 0"
	Op   byte   // opcode
	P1   byte   // Param1 (mode or zone)
	P2   uint16 // Param2, sent little-endian
	Data []byte // at most 148 bytes

	// RespLen is the payload length of a successful answer; 1 for
	// commands that answer with a status byte only (0x00 = success).
	RespLen int

	// RawStatus returns a 1-byte payload as data instead of mapping it to
	// a status, for commands whose 1-byte answer is a result (SelfTest's
	// failure bitmap). The transport codes 0x11, 0xEE and 0xFF still give a
	// [*StatusError].
	RawStatus bool

	// Typical and Max are the execution times of this command on this chip
	// (DS508 Table 9-4; docs/atecc.md §6.1). The default wait strategy
	// sleeps Typical, then polls until Max plus a small margin.
	Typical, Max time.Duration

	// ElixirT is the Elixir atecc508a library's timeout for this command,
	// used only by [WaitElixir]; zero means Max.
	ElixirT time.Duration
}

// AppendCommand appends the command packet for c to b: word address 0x03,
// count, opcode, Param1, Param2 (LE), data, then CRC-16 (LE) of
// count..data.
func AppendCommand(b []byte, c *Command) ([]byte, error) {
	if len(c.Data) > maxCommandData {
		return nil, fmt.Errorf("%s: command data is %d bytes, max %d", c.Name, len(c.Data), maxCommandData)
	}
	b = append(b, wordCommand)
	start := len(b)
	b = append(b, byte(7+len(c.Data)), c.Op, c.P1)
	b = binary.LittleEndian.AppendUint16(b, c.P2)
	b = append(b, c.Data...)
	return binary.LittleEndian.AppendUint16(b, CRC16(b[start:])), nil
}

// ParseResponse checks a response frame (count, payload, CRC-16 LE) at the
// start of b and returns its payload, which aliases b. Bytes after count are
// ignored: the chip sends 0xFF past the end of its answer. A 1-byte payload
// is a status code, which ParseResponse returns as data; see
// [Session.Execute] for its interpretation.
func ParseResponse(b []byte) ([]byte, error) {
	if len(b) < minCount {
		return nil, fmt.Errorf("%w: %d bytes, need at least %d", ErrFrame, len(b), minCount)
	}
	n := int(b[0])
	if n < minCount || n > len(b) {
		return nil, fmt.Errorf("%w: count byte %d with %d bytes read", ErrFrame, n, len(b))
	}
	got := binary.LittleEndian.Uint16(b[n-2 : n])
	if want := CRC16(b[:n-2]); got != want {
		return nil, fmt.Errorf("%w: crc %04x, computed %04x", ErrFrame, got, want)
	}
	return b[1 : n-2], nil
}
