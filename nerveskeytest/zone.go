package nerveskeytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
)

const (
	zoneConfig = 0
	zoneOTP    = 1
	zoneData   = 2
)

// location is a decoded Read/Write address.
type location struct {
	zone   int
	slot   int // data zone
	offset int // byte offset in the zone or slot
	size   int // 4 or 32
	avail  int // bytes that exist from offset (< size for a short last block)
}

// locate decodes zone and address (docs/atecc.md §3). ok is false for an
// address that does not exist.
func (c *Chip) locate(zone int, p2 uint16, size int) (loc location, ok bool) {
	loc = location{zone: zone, size: size}
	block := int(p2 >> 3)
	word := int(p2 & 7)
	if size == 32 {
		word = 0
	}
	switch zone {
	case zoneConfig, zoneOTP:
		maxBlock := 3
		if zone == zoneOTP {
			maxBlock = 1
		}
		if block > maxBlock {
			return loc, false
		}
		loc.offset = block*32 + word*4
		loc.avail = size
	case zoneData:
		if p2&0x80 != 0 {
			return loc, false
		}
		loc.slot = int(p2>>3) & 0xF
		block = int(p2 >> 8)
		loc.offset = block*32 + word*4
		n := slotSize(loc.slot)
		if loc.offset >= n {
			return loc, false
		}
		loc.avail = min(size, n-loc.offset)
		if size == 4 && loc.avail < 4 {
			return loc, false
		}
	}
	return loc, true
}

// decodeSlot0 reports whether a Read/Write addresses slot 0 data, for the
// Stats counters.
func isSlot0(p1 byte, p2 uint16) bool {
	return p1&3 == zoneData && (p2>>3)&0xF == 0
}

func (c *Chip) cmdRead(cmd command) []byte {
	if isSlot0(cmd.p1, cmd.p2) {
		c.stats.Slot0Reads++
	}
	if len(cmd.data) != 0 || cmd.p1&0x7C != 0 || cmd.p1&3 == 3 {
		return status(statusParse)
	}
	size := 4
	if cmd.p1&0x80 != 0 {
		size = 32
	}
	loc, ok := c.locate(int(cmd.p1&3), cmd.p2, size)
	if !ok {
		return status(c.opts.Profile.BadAddressStatus)
	}
	out := make([]byte, size)
	switch loc.zone {
	case zoneConfig:
		copy(out, c.config[loc.offset:])
	case zoneOTP:
		if !c.dataLocked() {
			return status(statusExecution)
		}
		copy(out, c.otp[loc.offset:])
	case zoneData:
		if !c.dataLocked() {
			return status(statusExecution)
		}
		sc, kc := c.slotConfig(loc.slot), c.keyConfig(loc.slot)
		if kcPrivate(kc) {
			return status(statusExecution)
		}
		copy(out, c.slots[loc.slot][loc.offset:loc.offset+loc.avail])
		switch {
		case !isSecret(sc) && !encryptRead(sc):
		case isSecret(sc) && encryptRead(sc) && size == 32:
			tk := c.vol.tk
			c.useTempKey()
			if !tk.valid || !tk.genDigData || uint16(tk.keyID) != readKey(sc) || tk.sourceInput {
				return status(statusExecution)
			}
			for i := range out {
				out[i] ^= tk.data[i]
			}
		default:
			return status(statusExecution)
		}
	}
	return out
}

func (c *Chip) cmdWrite(cmd command) []byte {
	if isSlot0(cmd.p1, cmd.p2) {
		c.stats.Slot0Writes++
	}
	if cmd.p1&0x3C != 0 || cmd.p1&3 == 3 {
		return status(statusParse)
	}
	size := 4
	if cmd.p1&0x80 != 0 {
		size = 32
	}
	zone := int(cmd.p1 & 3)
	encrypted := cmd.p1&0x40 != 0
	var mac []byte
	switch {
	case len(cmd.data) == size:
	case size == 32 && len(cmd.data) == 64:
		mac = cmd.data[32:]
	default:
		return status(statusParse)
	}
	data := cmd.data[:size]
	if zone == zoneConfig && (encrypted || mac != nil) {
		return status(statusParse)
	}
	loc, ok := c.locate(zone, cmd.p2, size)
	if !ok {
		return status(c.opts.Profile.BadAddressStatus)
	}
	switch zone {
	case zoneConfig:
		return c.writeConfig(loc, data)
	case zoneOTP:
		return c.writeOTP(cmd, loc, data, encrypted, mac)
	}
	return c.writeData(cmd, loc, data, encrypted, mac)
}

func (c *Chip) writeConfig(loc location, data []byte) []byte {
	if c.configLocked() {
		return status(statusExecution)
	}
	lo, hi := loc.offset, loc.offset+loc.size
	if lo < 16 || (lo < cfgLockConfig+1 && hi > cfgUserExtra) {
		return status(statusExecution)
	}
	copy(c.config[lo:hi], data)
	return status(statusOK)
}

func (c *Chip) writeOTP(cmd command, loc location, data []byte, encrypted bool, mac []byte) []byte {
	switch {
	case !c.configLocked():
		return status(statusExecution)
	case !c.dataLocked():
		if loc.size != 32 {
			return status(statusExecution)
		}
		plain, st := c.decryptWrite(cmd, data, encrypted, mac, false, 0)
		if st != statusOK {
			return status(st)
		}
		copy(c.otp[loc.offset:], plain)
		return status(statusOK)
	}
	if c.rev != ATECC508A || c.config[cfgOTPMode] != 0x55 || encrypted || mac != nil {
		return status(statusExecution)
	}
	for i, b := range data {
		c.otp[loc.offset+i] &= b
	}
	return status(statusOK)
}

func (c *Chip) writeData(cmd command, loc location, data []byte, encrypted bool, mac []byte) []byte {
	if !c.configLocked() {
		return status(statusExecution)
	}
	slot := loc.slot
	sc, kc := c.slotConfig(slot), c.keyConfig(slot)
	if kcPrivate(kc) || c.slotLocked(slot) {
		return status(statusExecution)
	}
	var plain []byte
	if !c.dataLocked() {
		if loc.size != 32 {
			return status(statusExecution)
		}
		var st byte
		plain, st = c.decryptWrite(cmd, data, encrypted, mac, false, 0)
		if st != statusOK {
			return status(st)
		}
	} else {
		wc := writeConfig(sc)
		switch {
		case wc&0x4 != 0: // Encrypt
			if loc.size != 32 || mac == nil {
				return status(statusExecution)
			}
			var st byte
			plain, st = c.decryptWrite(cmd, data, true, mac, true, writeKey(sc))
			if st != statusOK {
				return status(st)
			}
		case wc == 0: // Always
			if mac != nil || (loc.size == 4 && isSecret(sc)) {
				return status(statusExecution)
			}
			plain = data
		case wc == 1: // PubInvalid
			if mac != nil || loc.size != 32 || !kcPubInfo(kc) || c.slots[slot][0]>>4 == 0x5 {
				return status(statusExecution)
			}
			plain = data
		default:
			return status(statusExecution)
		}
	}
	copy(c.slots[slot][loc.offset:loc.offset+loc.avail], plain)
	if slot >= 8 && !kcPrivate(kc) && kcPubInfo(kc) && kcKeyType(kc) == keyTypeP256 {
		// Any write marks a validatable public key invalid (docs/atecc.md §4.3).
		c.slots[slot][0] = c.slots[slot][0]&0x0F | 0xA0
	}
	return status(statusOK)
}

// decryptWrite returns the plaintext of a Write. For an encrypted write it
// checks TempKey and the MAC (docs/atecc.md §4.3): after the data lock TempKey
// must come from GenDig over key.
func (c *Chip) decryptWrite(cmd command, data []byte, encrypted bool, mac []byte, locked bool, key byte) ([]byte, byte) {
	if !encrypted {
		if mac != nil {
			return nil, statusParse
		}
		return data, statusOK
	}
	if mac == nil {
		return nil, statusParse
	}
	tk := c.vol.tk
	c.useTempKey()
	if !tk.valid || (locked && (!tk.genDigData || tk.keyID != key)) {
		return nil, statusExecution
	}
	plain := make([]byte, 32)
	for i := range plain {
		plain[i] = data[i] ^ tk.data[i]
	}
	sn := c.serial()
	h := sha256.New()
	h.Write(tk.data[:32])
	h.Write([]byte{cmd.op, cmd.p1, byte(cmd.p2), byte(cmd.p2 >> 8), sn[8], sn[0], sn[1]})
	h.Write(make([]byte, 25))
	h.Write(plain)
	if !bytes.Equal(h.Sum(nil), mac) {
		return nil, statusExecution
	}
	return plain, statusOK
}

// dataSummary is the data+OTP lock summary: every slot with Private = 0,
// full size, in slot order, then the OTP zone (docs/atecc.md §4.4).
func (c *Chip) dataSummary() uint16 {
	var b []byte
	for i := range c.slots {
		if !kcPrivate(c.keyConfig(i)) {
			b = append(b, c.slots[i]...)
		}
	}
	return crc16(append(b, c.otp[:]...))
}

func (c *Chip) cmdLock(cmd command) []byte {
	mode := cmd.p1
	if len(cmd.data) != 0 || mode&3 == 3 || mode&0x40 != 0 || (mode&3 != 2 && mode&0x3C != 0) {
		return status(statusParse)
	}
	check := mode&0x80 == 0
	switch mode & 3 {
	case 0:
		if c.configLocked() {
			return status(statusExecution)
		}
		if check && crc16(c.config[:]) != cmd.p2 {
			return status(c.opts.Profile.LockMismatchStatus)
		}
		c.config[cfgLockConfig] = 0x00
	case 1:
		if !c.configLocked() || c.dataLocked() {
			return status(statusExecution)
		}
		if check && c.dataSummary() != cmd.p2 {
			return status(c.opts.Profile.LockMismatchStatus)
		}
		c.config[cfgLockValue] = 0x00
	case 2:
		slot := int(mode>>2) & 0xF
		if !c.configLocked() || !kcLockable(c.keyConfig(slot)) || c.slotLocked(slot) {
			return status(statusExecution)
		}
		v := binary.LittleEndian.Uint16(c.config[cfgSlotLocked:]) &^ (1 << slot)
		binary.LittleEndian.PutUint16(c.config[cfgSlotLocked:], v)
	}
	return status(statusOK)
}
