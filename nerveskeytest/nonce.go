package nerveskeytest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"hash"
)

// shaContext is a SHA command's running hash.
type shaContext struct {
	h    hash.Hash
	hmac bool // started by HMAC start
}

func (c *Chip) cmdNonce(cmd command) []byte {
	mode := cmd.p1
	low := mode & 3
	if c.rev == ATECC508A && mode&0xFC != 0 || mode&0x1C != 0 || low == 2 {
		return status(statusParse)
	}
	if low != 3 {
		// Random nonce: NumIn is 20 bytes; Param2 0x8000 hashes TempKey
		// instead of a random number.
		if mode&0xE0 != 0 || len(cmd.data) != 20 || (cmd.p2 != 0 && cmd.p2 != 0x8000) {
			return status(statusParse)
		}
		var randOut []byte
		old := c.vol.tk
		if cmd.p2 == 0x8000 {
			c.useTempKey()
			if !old.valid {
				return status(statusExecution)
			}
			randOut = append([]byte{}, old.data[:32]...)
		} else {
			randOut = c.randomBytes(32)
		}
		h := sha256.New()
		h.Write(randOut)
		h.Write(cmd.data)
		h.Write([]byte{opNonce, mode, 0x00})
		d := h.Sum(nil)
		if cmd.p2 == 0x8000 {
			if c.rev == ATECC508A {
				c.vol.tk = old // 508 keeps every flag
			} else {
				c.vol.tk = tempKey{valid: true}
			}
			c.vol.tk.valid = true
			c.vol.tk.data = [64]byte{}
			copy(c.vol.tk.data[:], d)
			c.tkLoaded = true
			return d
		}
		c.loadTempKey(d, false)
		return randOut
	}
	// Pass-through.
	if cmd.p2 != 0 {
		return status(statusParse)
	}
	n := 32
	if mode&0x20 != 0 {
		n = 64
	}
	if len(cmd.data) != n {
		return status(statusParse)
	}
	switch mode >> 6 {
	case 0:
		c.loadTempKey(cmd.data, true)
	case 1:
		c.vol.digest = [64]byte{}
		copy(c.vol.digest[:], cmd.data)
		c.vol.digestValid = true
	case 2:
		if n != 32 {
			return status(statusParse)
		}
		copy(c.vol.altKey[:], cmd.data)
		c.vol.altKeyValid = true
	default:
		return status(statusParse)
	}
	return status(statusOK)
}

func (c *Chip) cmdRandom(cmd command) []byte {
	legal := byte(0)
	if c.rev == ATECC508A {
		legal = 1
	}
	if cmd.p1&^legal != 0 || cmd.p2 != 0 || len(cmd.data) != 0 {
		return status(statusParse)
	}
	return c.randomBytes(32)
}

func (c *Chip) cmdSHA(cmd command) []byte {
	mode := cmd.p1
	if c.rev == ATECC508A && mode&0xF8 != 0 || mode&0x38 != 0 {
		return status(statusParse)
	}
	if mode&0xC0 != 0 && mode&7 != 2 {
		return status(statusParse)
	}
	lengthOK := int(cmd.p2) == len(cmd.data) || c.opts.Profile.SHALenientLength
	switch mode & 7 {
	case 0: // Start
		if len(cmd.data) != 0 || cmd.p2 != 0 {
			return status(statusParse)
		}
		c.vol.sha = &shaContext{h: sha256.New()}
		return status(statusOK)
	case 4: // HMAC start: the key is slot Param2, or TempKey (608, 0xFFFF)
		if len(cmd.data) != 0 || cmd.p2 > 15 && (c.rev == ATECC508A || cmd.p2 != 0xFFFF) {
			return status(statusParse)
		}
		var key []byte
		if cmd.p2 == 0xFFFF {
			tk := c.vol.tk
			c.useTempKey()
			if !tk.valid {
				return status(statusExecution)
			}
			key = tk.data[:32]
		} else {
			if !c.symmetricKeyOK(int(cmd.p2)) {
				return status(statusExecution)
			}
			key = c.slotSecret(int(cmd.p2))
		}
		c.vol.sha = &shaContext{h: hmac.New(sha256.New, key), hmac: true}
		return status(statusOK)
	case 1: // Update
		if !lengthOK || len(cmd.data) == 0 || len(cmd.data) > 64 || (c.rev == ATECC508A && len(cmd.data) != 64) {
			return status(statusParse)
		}
		if c.vol.sha == nil {
			return status(statusExecution)
		}
		c.vol.sha.h.Write(cmd.data)
		return status(statusOK)
	case 2, 5: // End; HMAC end is 5 on a 508, 2 on a 608
		max := 64
		if c.rev == ATECC508A {
			max = 63
		}
		if !lengthOK || len(cmd.data) > max || mode>>6 == 2 || mode&7 == 5 && c.rev != ATECC508A {
			return status(statusParse)
		}
		if c.vol.sha == nil || c.rev == ATECC508A && c.vol.sha.hmac != (mode&7 == 5) {
			c.vol.sha = nil
			return status(statusExecution)
		}
		c.vol.sha.h.Write(cmd.data)
		d := c.vol.sha.h.Sum(nil)
		c.vol.sha = nil
		switch mode >> 6 {
		case 0:
			c.loadTempKey(d, true)
		case 1:
			c.vol.digest = [64]byte{}
			copy(c.vol.digest[:], d)
			c.vol.digestValid = true
		}
		return d
	case 6, 7: // 608 read and write context
		if c.rev == ATECC508A {
			return status(statusParse)
		}
		if mode&7 == 6 {
			if len(cmd.data) != 0 || cmd.p2 != 0 {
				return status(statusParse)
			}
			if c.vol.sha == nil || c.vol.sha.hmac {
				return status(statusExecution)
			}
			return shaContextBytes(c.vol.sha.h)
		}
		if !lengthOK || len(cmd.data) < 36 || len(cmd.data) > 99 {
			return status(statusParse)
		}
		h, ok := shaFromContext(cmd.data)
		if !ok {
			return status(statusExecution)
		}
		c.vol.sha = &shaContext{h: h}
		return status(statusOK)
	}
	return status(statusParse) // Public mode is not modeled
}

// The 608 SHA context (SHA modes 6 and 7) is the count of bytes hashed
// (4 bytes LE), the eight state words H0..H7 (each 4 bytes LE), then the
// bytes of the unfinished block: 36 to 99 bytes, as the context in
// cryptoauthlib's sha_context test shows (05 00 00 00, 67 E6 09 6A …,
// 01 02 03 04 05 after hashing five bytes).
//
// Go's SHA-256 state marshals as "sha\x03", H0..H7 (BE), the 64-byte block
// buffer and the byte count (BE uint64); the two forms are converted here.
const goSHAStateSize = 4 + 32 + 64 + 8

func shaContextBytes(h hash.Hash) []byte {
	st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil || len(st) != goSHAStateSize {
		return status(statusExecution)
	}
	n := binary.BigEndian.Uint64(st[100:])
	out := binary.LittleEndian.AppendUint32(nil, uint32(n))
	for i := range 8 {
		out = binary.LittleEndian.AppendUint32(out, binary.BigEndian.Uint32(st[4+4*i:]))
	}
	return append(out, st[36:36+n%64]...)
}

func shaFromContext(b []byte) (hash.Hash, bool) {
	n := binary.LittleEndian.Uint32(b)
	if int(n%64) != len(b)-36 {
		return nil, false
	}
	st := append(make([]byte, 0, goSHAStateSize), "sha\x03"...)
	for i := range 8 {
		st = binary.BigEndian.AppendUint32(st, binary.LittleEndian.Uint32(b[4+4*i:]))
	}
	var blk [64]byte
	copy(blk[:], b[36:])
	st = append(st, blk[:]...)
	st = binary.BigEndian.AppendUint64(st, uint64(n))
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st); err != nil {
		return nil, false
	}
	return h, true
}
