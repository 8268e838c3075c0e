package nerveskeytest

import (
	"crypto/sha256"
	"hash"
)

// shaContext is a SHA command's running hash.
type shaContext struct {
	h hash.Hash
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
	case 1: // Update
		if !lengthOK || len(cmd.data) == 0 || len(cmd.data) > 64 || (c.rev == ATECC508A && len(cmd.data) != 64) {
			return status(statusParse)
		}
		if c.vol.sha == nil {
			return status(statusExecution)
		}
		c.vol.sha.h.Write(cmd.data)
		return status(statusOK)
	case 2: // End
		max := 64
		if c.rev == ATECC508A {
			max = 63
		}
		if !lengthOK || len(cmd.data) > max || mode>>6 == 2 {
			return status(statusParse)
		}
		if c.vol.sha == nil {
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
	}
	return status(statusParse) // Public, HMAC and context modes are not modeled
}

func (c *Chip) cmdCheckMac(cmd command) []byte {
	mode := cmd.p1
	if mode&^0x07 != 0 || len(cmd.data) != 77 {
		return status(statusParse)
	}
	slot := int(cmd.p2 & 0xF)
	tk := c.vol.tk
	usesTK := mode&0x03 != 0
	if usesTK {
		c.useTempKey()
		if !tk.valid || tk.sourceInput != (mode&0x04 != 0) {
			return status(statusExecution)
		}
	}
	key := c.slots[slot][:32]
	if mode&0x02 != 0 {
		key = tk.data[:32]
	} else if kcPrivate(c.keyConfig(slot)) {
		return status(statusExecution)
	}
	challenge := cmd.data[:32]
	if mode&0x01 != 0 {
		challenge = tk.data[:32]
	}
	od := cmd.data[64:77]
	sn := c.serial()
	h := sha256.New()
	h.Write(key)
	h.Write(challenge)
	h.Write(od[0:4])
	h.Write(make([]byte, 8))
	h.Write(od[4:7])
	h.Write([]byte{sn[8]})
	h.Write(od[7:11])
	h.Write([]byte{sn[0], sn[1]})
	h.Write(od[11:13])
	if string(h.Sum(nil)) != string(cmd.data[32:64]) {
		c.vol.authValid = false
		return status(statusMiscomp)
	}
	c.vol.authValid = true
	c.vol.authKeyID = byte(slot)
	return status(statusOK)
}
