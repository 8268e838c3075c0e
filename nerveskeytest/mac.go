package nerveskeytest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// This file holds the symmetric-key commands: MAC, HMAC (508), CheckMac,
// GenDig, DeriveKey and PrivWrite. Their message layouts are those of
// DS508 §9.2, §9.4, §9.6, §9.8, §9.11 and §9.14 (the same on the 608,
// DS608-TFLX §5.3); the host side of each is public in Microchip's
// cryptoauthlib, whose tests fix the expected digests.

// slotSecret returns the first 32 bytes of slot, the key a symmetric
// command uses.
func (c *Chip) slotSecret(slot int) []byte { return c.slots[slot][:32] }

// symmetricKeyOK reports whether slot may serve as the key of a MAC,
// HMAC, CheckMac, GenDig or SHA HMAC: not an ECC private key, authorized
// (ReqAuth, 608 PersistentDisable), and a use left under LimitedUse.
func (c *Chip) symmetricKeyOK(slot int) bool {
	kc := c.keyConfig(slot)
	if kcPrivate(kc) && kcKeyType(kc) == keyTypeP256 {
		return false
	}
	return c.authorized(slot) && c.useLimited(slot)
}

// noMac reports SlotConfig bit 4: the key may not be used by MAC or HMAC,
// and GenDig hashes OtherData in place of its opcode and parameters.
func noMac(sc uint16) bool { return sc&(1<<4) != 0 }

// takeTempKey returns TempKey for a command that uses it and marks it
// used (consumed on a 608). ok is false unless TempKey is valid, was not
// made from a NoMac key, and its SourceFlag equals the mode's bit 2
// (1 = Input).
func (c *Chip) takeTempKey(mode byte) (tk tempKey, ok bool) {
	tk = c.vol.tk
	c.useTempKey()
	return tk, tk.valid && !tk.noMacFlag && tk.sourceInput == (mode&0x04 != 0)
}

// includeData is the tail of the MAC and HMAC messages: OTP[0:10] (mode
// bit 4) or OTP[0:7] (bit 5) or zeros, 3 zeros, SN8, SN4..7 (bit 6) or
// zeros, SN0..1, SN2..3 (bit 6) or zeros.
func (c *Chip) includeData(mode byte) []byte {
	sn := c.serial()
	b := make([]byte, 0, 20)
	switch {
	case mode&0x10 != 0:
		b = append(b, c.otp[:11]...)
	case mode&0x20 != 0:
		b = append(append(b, c.otp[:8]...), 0, 0, 0)
	default:
		b = append(b, make([]byte, 11)...)
	}
	b = append(b, sn[8])
	if mode&0x40 != 0 {
		b = append(b, sn[4:8]...)
	} else {
		b = append(b, 0, 0, 0, 0)
	}
	b = append(b, sn[0], sn[1])
	if mode&0x40 != 0 {
		b = append(b, sn[2:4]...)
	} else {
		b = append(b, 0, 0)
	}
	return b
}

func (c *Chip) cmdMAC(cmd command) []byte {
	mode := cmd.p1
	if mode&^0x77 != 0 || cmd.p2 > 15 {
		return status(statusParse)
	}
	if (mode&0x01 == 0) != (len(cmd.data) == 32) || (mode&0x01 != 0 && len(cmd.data) != 0) {
		return status(statusParse)
	}
	slot := int(cmd.p2)
	var tk tempKey
	if mode&0x03 != 0 {
		var ok bool
		if tk, ok = c.takeTempKey(mode); !ok {
			return status(statusExecution)
		}
	}
	key := tk.data[:32]
	if mode&0x02 == 0 {
		sc, kc := c.slotConfig(slot), c.keyConfig(slot)
		if noMac(sc) || (kcReqRandom(kc) && (mode&0x01 == 0 || tk.sourceInput)) || !c.symmetricKeyOK(slot) {
			return status(statusExecution)
		}
		key = c.slotSecret(slot)
	}
	challenge := cmd.data
	if mode&0x01 != 0 {
		challenge = tk.data[:32]
	}
	h := sha256.New()
	h.Write(key)
	h.Write(challenge)
	h.Write([]byte{opMAC, mode, byte(cmd.p2), byte(cmd.p2 >> 8)})
	h.Write(c.includeData(mode))
	return h.Sum(nil)
}

func (c *Chip) cmdHMAC(cmd command) []byte {
	mode := cmd.p1
	if mode&^0x74 != 0 || cmd.p2 > 15 || len(cmd.data) != 0 {
		return status(statusParse)
	}
	slot := int(cmd.p2)
	tk, ok := c.takeTempKey(mode)
	if !ok || noMac(c.slotConfig(slot)) || !c.symmetricKeyOK(slot) {
		return status(statusExecution)
	}
	m := hmac.New(sha256.New, c.slotSecret(slot))
	m.Write(make([]byte, 32))
	m.Write(tk.data[:32])
	m.Write([]byte{opHMAC, mode, byte(cmd.p2), byte(cmd.p2 >> 8)})
	m.Write(c.includeData(mode))
	return m.Sum(nil)
}

func (c *Chip) cmdCheckMac(cmd command) []byte {
	mode := cmd.p1
	if mode&^0x27 != 0 || len(cmd.data) != 77 || cmd.p2 > 15 {
		return status(statusParse)
	}
	slot := int(cmd.p2)
	var tk tempKey
	if mode&0x03 != 0 {
		var ok bool
		if tk, ok = c.takeTempKey(mode); !ok {
			return status(statusExecution)
		}
	}
	key := tk.data[:32]
	if mode&0x02 == 0 {
		if !c.symmetricKeyOK(slot) {
			return status(statusExecution)
		}
		key = c.slotSecret(slot)
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
	if mode&0x20 != 0 {
		h.Write(c.otp[:8])
	} else {
		h.Write(make([]byte, 8))
	}
	h.Write(od[4:7])
	h.Write([]byte{sn[8]})
	h.Write(od[7:11])
	h.Write([]byte{sn[0], sn[1]})
	h.Write(od[11:13])
	if !hmac.Equal(h.Sum(nil), cmd.data[32:64]) {
		c.vol.authValid = false
		return status(statusMiscomp)
	}
	c.vol.authValid = true
	c.vol.authKeyID = byte(slot)
	return status(statusOK)
}

// GenDig zones (Param1).
const (
	genDigConfig      = 0
	genDigOTP         = 1
	genDigData        = 2
	genDigSharedNonce = 3
	genDigCounter     = 4 // 608
	genDigKeyConfig   = 5 // 608
)

func (c *Chip) cmdGenDig(cmd command) []byte {
	zone := cmd.p1
	maxZone := byte(genDigSharedNonce)
	if c.rev != ATECC508A {
		maxZone = genDigKeyConfig
	}
	if zone > maxZone || (len(cmd.data) != 0 && len(cmd.data) != 4 && len(cmd.data) != 32) {
		return status(statusParse)
	}
	first := make([]byte, 32)
	var mid []byte // 25 bytes after SN0..1
	slot := -1
	switch zone {
	case genDigConfig:
		if cmd.p2 > 3 {
			return status(statusParse)
		}
		copy(first, c.config[32*cmd.p2:])
	case genDigOTP:
		if cmd.p2 > 1 {
			return status(statusParse)
		}
		copy(first, c.otp[32*cmd.p2:])
	case genDigData:
		if cmd.p2 > 15 {
			return status(statusParse)
		}
		slot = int(cmd.p2)
		copy(first, c.slotSecret(slot))
	case genDigSharedNonce:
		if len(cmd.data) != 32 {
			return status(statusParse)
		}
	case genDigCounter:
		if cmd.p2 > 1 {
			return status(statusParse)
		}
		mid = make([]byte, 25)
		binary.LittleEndian.PutUint32(mid[1:], c.counter(int(cmd.p2)))
	case genDigKeyConfig:
		if cmd.p2 > 15 {
			return status(statusParse)
		}
		s := int(cmd.p2)
		mid = make([]byte, 25)
		binary.LittleEndian.PutUint16(mid[1:], c.slotConfig(s))
		binary.LittleEndian.PutUint16(mid[3:], c.keyConfig(s))
		if !c.slotLocked(s) {
			mid[5] = 1
		}
	}
	tk := c.vol.tk
	c.useTempKey()
	if !tk.valid {
		return status(statusExecution)
	}
	noMacKey := false
	if slot >= 0 {
		kc := c.keyConfig(slot)
		if kcReqRandom(kc) && tk.sourceInput || !c.symmetricKeyOK(slot) {
			return status(statusExecution)
		}
		if noMacKey = noMac(c.slotConfig(slot)); noMacKey && len(cmd.data) != 4 {
			return status(statusExecution)
		}
	}
	last := tk.data[:32]
	if zone == genDigSharedNonce {
		if cmd.p2&0x8000 != 0 {
			copy(first, tk.data[:32])
			last = cmd.data
		} else {
			copy(first, cmd.data)
		}
	}
	if mid == nil {
		mid = make([]byte, 25)
	}
	sn := c.serial()
	h := sha256.New()
	h.Write(first)
	switch {
	case noMacKey:
		h.Write(cmd.data[:4])
	case zone == genDigSharedNonce:
		h.Write([]byte{opGenDig, zone, byte(cmd.p2), 0})
	default:
		h.Write([]byte{opGenDig, zone, byte(cmd.p2), byte(cmd.p2 >> 8)})
	}
	h.Write([]byte{sn[8], sn[0], sn[1]})
	h.Write(mid)
	h.Write(last)
	c.loadTempKey(h.Sum(nil), tk.sourceInput)
	if slot >= 0 {
		c.vol.tk.genDigData = true
		c.vol.tk.keyID = byte(slot)
		c.vol.tk.noMacFlag = noMacKey
	}
	return status(statusOK)
}

func (c *Chip) cmdDeriveKey(cmd command) []byte {
	mode := cmd.p1
	if mode&^0x04 != 0 || cmd.p2 > 15 || (len(cmd.data) != 0 && len(cmd.data) != 32) {
		return status(statusParse)
	}
	target := int(cmd.p2)
	sc, kc := c.slotConfig(target), c.keyConfig(target)
	wc := writeConfig(sc)
	// WriteConfig for DeriveKey (DS508 Table 2-9): bit 13 allows it,
	// bit 12 picks the parent (0: the target itself, "roll"; 1: WriteKey,
	// "create"), bit 15 requires an authorizing MAC.
	if !c.configLocked() || kcPrivate(kc) || c.slotLocked(target) || wc&0x2 == 0 {
		return status(statusExecution)
	}
	parent := target
	if wc&0x1 != 0 {
		parent = int(writeKey(sc))
	}
	sn := c.serial()
	params := []byte{opDeriveKey, mode, byte(cmd.p2), byte(cmd.p2 >> 8), sn[8], sn[0], sn[1]}
	if wc&0x8 != 0 {
		h := sha256.New()
		h.Write(c.slotSecret(parent))
		h.Write(params)
		if len(cmd.data) != 32 || !hmac.Equal(h.Sum(nil), cmd.data) {
			c.useTempKey()
			return status(statusExecution)
		}
	}
	tk, ok := c.takeTempKey(mode)
	if !ok {
		return status(statusExecution)
	}
	h := sha256.New()
	h.Write(c.slotSecret(parent))
	h.Write(params)
	h.Write(make([]byte, 25))
	h.Write(tk.data[:32])
	copy(c.slots[target][:32], h.Sum(nil))
	return status(statusOK)
}

func (c *Chip) cmdPrivWrite(cmd command) []byte {
	if cmd.p1&^0x40 != 0 || cmd.p2 > 15 || len(cmd.data) != 36+32 {
		return status(statusParse)
	}
	slot := int(cmd.p2)
	sc, kc := c.slotConfig(slot), c.keyConfig(slot)
	encrypted := cmd.p1&0x40 != 0
	if !c.configLocked() || !kcPrivate(kc) || kcKeyType(kc) != keyTypeP256 || c.slotLocked(slot) {
		return status(statusExecution)
	}
	value, mac := cmd.data[:36], cmd.data[36:]
	plain := value
	if c.dataLocked() || encrypted {
		// After the data lock only an encrypted PrivWrite is taken, to a
		// slot whose WriteConfig bit 14 allows it, under a TempKey made
		// by GenDig over the slot's WriteKey (DS508 §9.14, Table 2-11).
		tk := c.vol.tk
		c.useTempKey()
		if !encrypted || !tk.valid || tk.noMacFlag {
			return status(statusExecution)
		}
		if c.dataLocked() && (writeConfig(sc)&0x4 == 0 || !tk.genDigData || tk.keyID != writeKey(sc)) {
			return status(statusExecution)
		}
		pad := sha256.Sum256(tk.data[:32])
		plain = make([]byte, 36)
		for i := range plain {
			if i < 32 {
				plain[i] = value[i] ^ tk.data[i]
			} else {
				plain[i] = value[i] ^ pad[i-32]
			}
		}
		sn := c.serial()
		h := sha256.New()
		h.Write(tk.data[:32])
		h.Write([]byte{opPrivWrite, cmd.p1, byte(cmd.p2), byte(cmd.p2 >> 8), sn[8], sn[0], sn[1]})
		h.Write(make([]byte, 21))
		h.Write(plain)
		if !hmac.Equal(h.Sum(nil), mac) {
			return status(statusExecution)
		}
	}
	copy(c.slots[slot][:36], plain)
	c.keyValid[slot] = bytes.Equal(plain[:4], []byte{0, 0, 0, 0}) && validScalar(plain[4:36])
	return status(statusOK)
}
