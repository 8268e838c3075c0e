package nerveskeytest

import (
	"encoding/binary"
	"math/bits"
)

// counterLimit is the largest count (DS508 §9.3).
const counterLimit = 2097151

// cfgCounter is the config offset of Counter[0]; Counter[1] follows at
// +8 (DS508 Table 2-4, bytes 52–67).
const cfgCounter = 52

// Each counter is stored in its 8 config bytes as four big-endian 16-bit
// words linA, linB, binA, binB, the encoding cryptoauthlib's
// calib_write_config_counter writes before the config lock and a blank
// chip's FF FF FF FF 00 00 00 00 follows (value 0):
//
//	linA = 0xFFFF >> (v mod 32)            binA = v / 32
//	linB = 0xFFFF >> ((v-16) mod 32)       binB = (v-16) / 32   (0 and 0xFFFF while v < 16)
//
// A shift by 16 or more gives 0. The chip counts in this form, so a value
// written into the config zone before the lock is the counter's value.

// encodeCounter returns the 8 config bytes of count v.
func encodeCounter(v uint32) [8]byte {
	linA := uint16(0xFFFF >> (v % 32))
	linB, binB := uint16(0xFFFF), uint16(0)
	if v >= 16 {
		linB = uint16(0xFFFF >> ((v - 16) % 32))
		binB = uint16((v - 16) / 32)
	}
	var b [8]byte
	binary.BigEndian.PutUint16(b[0:], linA)
	binary.BigEndian.PutUint16(b[2:], linB)
	binary.BigEndian.PutUint16(b[4:], uint16(v/32))
	binary.BigEndian.PutUint16(b[6:], binB)
	return b
}

// decodeCounter returns the count stored in b. Bytes that are not a
// valid encoding decode to the count binA and linA give, which
// re-encodes differently; the chip's answer for such bytes is unknown.
func decodeCounter(b []byte) uint32 {
	linA := binary.BigEndian.Uint16(b[0:])
	linB := binary.BigEndian.Uint16(b[2:])
	binA := uint32(binary.BigEndian.Uint16(b[4:]))
	r := uint32(16 - bits.Len16(linA))
	if linA == 0 {
		r = 16 + uint32(16-bits.Len16(linB))
	}
	return min(binA*32+r, counterLimit)
}

// counter returns Counter[i].
func (c *Chip) counter(i int) uint32 {
	return decodeCounter(c.config[cfgCounter+8*i:])
}

// setCounter stores v in Counter[i].
func (c *Chip) setCounter(i int, v uint32) {
	b := encodeCounter(v)
	copy(c.config[cfgCounter+8*i:], b[:])
}

func (c *Chip) cmdCounter(cmd command) []byte {
	if cmd.p1 > 1 || cmd.p2 > 1 || len(cmd.data) != 0 {
		return status(statusParse)
	}
	i := int(cmd.p2)
	n := c.counter(i)
	if cmd.p1 == 1 {
		if n >= counterLimit {
			return status(statusExecution)
		}
		n++
		c.setCounter(i, n)
	}
	return binary.LittleEndian.AppendUint32(nil, n)
}

// countMatchReached reports whether the 608 CountMatch feature disables
// LimitedUse keys at Counter[i] = n: CountMatch (config byte 18) bit 0
// enables it for Counter[0], bits 7–4 name the slot whose first 4 bytes
// (LE, repeated in bytes 4–7) hold the match value, a multiple of 32
// (DS608-TFLX §2.2.6; cryptoauthlib's counter_match test: with the
// counter at 31 and the match at 32 one use succeeds, the next fails).
// A slot that holds no well-formed match value (zero, not a multiple of
// 32, or the two copies differ) sets no limit: cryptoauthlib's suite signs
// with a LimitedUse key before it writes any match value (the reading of
// an unwritten match slot is unconfirmed).
func (c *Chip) countMatchReached(i int, n uint32) bool {
	if c.rev == ATECC508A || i != 0 || c.config[cfgOTPMode]&1 == 0 {
		return false
	}
	s := c.slots[c.config[cfgOTPMode]>>4]
	m := binary.LittleEndian.Uint32(s[0:4])
	if m == 0 || m%32 != 0 || m != binary.LittleEndian.Uint32(s[4:8]) {
		return false
	}
	return n >= m
}

// cfgLastKeyUse is the 508 LastKeyUse field: 128 bits that limit the uses
// of the key in slot 15 (DS508 §2.2.5, bytes 68–83).
const cfgLastKeyUse = 68

// useLimited accounts one use of the key in slot under SlotConfig
// LimitedUse (bit 5) and reports whether the use is allowed. On a 608
// each use increments Counter[0] and fails once it reaches its limit or
// the CountMatch value; nothing changes on failure. On a 508 only slot 15
// is limited: each use clears one bit of LastKeyUse, lowest first, and a
// use with every bit clear fails.
func (c *Chip) useLimited(slot int) bool {
	if c.slotConfig(slot)&(1<<5) == 0 {
		return true
	}
	if c.rev != ATECC508A {
		n := c.counter(0)
		if n >= counterLimit || c.countMatchReached(0, n) {
			return false
		}
		c.setCounter(0, n+1)
		return true
	}
	if slot != 15 {
		return true
	}
	for i := cfgLastKeyUse; i < cfgLastKeyUse+16; i++ {
		if b := c.config[i]; b != 0 {
			c.config[i] = b & (b - 1)
			return true
		}
	}
	return false
}
