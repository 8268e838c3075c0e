package nerveskeytest

import (
	"crypto/aes"
	"encoding/binary"
)

// cmdAES is the 608 AES command (DS608-TFLX §5.4.1): mode bits 1..0
// select encrypt (00), decrypt (01) or the GCM field multiply (11); bits
// 7..6 pick which 16-byte key of the slot is used; KeyID 0xFFFF takes the
// key from TempKey. The key slot must have KeyType 6 (AES), and config
// byte 13 (AES_Enable) bit 0 must be set. AES never clears TempKey.
func (c *Chip) cmdAES(cmd command) []byte {
	mode := cmd.p1
	op := mode & 0x03
	if mode&0x3C != 0 || op == 0x02 {
		return status(statusParse)
	}
	if op == 0x03 {
		if len(cmd.data) != 32 {
			return status(statusParse)
		}
		if c.config[13]&1 == 0 {
			return status(statusExecution)
		}
		out := gfMul(cmd.data[:16], cmd.data[16:])
		return out[:]
	}
	if len(cmd.data) != 16 || cmd.p2 > 15 && cmd.p2 != 0xFFFF {
		return status(statusParse)
	}
	if c.config[13]&1 == 0 {
		return status(statusExecution)
	}
	idx := int(mode >> 6)
	var key []byte
	if cmd.p2 == 0xFFFF {
		if !c.vol.tk.valid || idx > 3 {
			return status(statusExecution)
		}
		key = c.vol.tk.data[16*idx : 16*idx+16]
	} else {
		slot := int(cmd.p2)
		if kcKeyType(c.keyConfig(slot)) != 6 || 16*idx+16 > slotSize(slot) || !c.authorized(slot) || !c.useLimited(slot) {
			return status(statusExecution)
		}
		key = c.slots[slot][16*idx : 16*idx+16]
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return status(statusExecution)
	}
	out := make([]byte, 16)
	if op == 0 {
		b.Encrypt(out, cmd.data)
	} else {
		b.Decrypt(out, cmd.data)
	}
	return out
}

// gfMul multiplies x and y in GF(2^128) with GCM's bit order and
// polynomial (NIST SP 800-38D §6.3).
func gfMul(x, y []byte) [16]byte {
	xh, xl := binary.BigEndian.Uint64(x), binary.BigEndian.Uint64(x[8:])
	vh, vl := binary.BigEndian.Uint64(y), binary.BigEndian.Uint64(y[8:])
	var zh, zl uint64
	for i := range 128 {
		var bit uint64
		if i < 64 {
			bit = xh >> (63 - i) & 1
		} else {
			bit = xl >> (127 - i) & 1
		}
		if bit == 1 {
			zh ^= vh
			zl ^= vl
		}
		lsb := vl & 1
		vl = vl>>1 | vh<<63
		vh >>= 1
		if lsb == 1 {
			vh ^= 0xE1 << 56
		}
	}
	var out [16]byte
	binary.BigEndian.PutUint64(out[:], zh)
	binary.BigEndian.PutUint64(out[8:], zl)
	return out
}
