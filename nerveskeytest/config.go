package nerveskeytest

// Word address bytes (docs/atecc.md §1.3).
const (
	wordReset   = 0x00
	wordSleep   = 0x01
	wordIdle    = 0x02
	wordCommand = 0x03
)

// Count limits of a command packet (docs/atecc.md §1.5).
const (
	minCount = 4
	maxCount = 155
)

// Status codes (docs/atecc.md §1.7).
const (
	statusOK        = 0x00
	statusMiscomp   = 0x01
	statusParse     = 0x03
	statusECC       = 0x05
	statusSelfTest  = 0x07
	statusExecution = 0x0F
	statusWake      = 0x11
	statusWatchdog  = 0xEE
	statusCRC       = 0xFF
)

// Opcodes (docs/atecc.md §5.1).
const (
	opPause       = 0x01
	opRead        = 0x02
	opMAC         = 0x08
	opHMAC        = 0x11
	opWrite       = 0x12
	opGenDig      = 0x15
	opNonce       = 0x16
	opLock        = 0x17
	opRandom      = 0x1B
	opDeriveKey   = 0x1C
	opUpdateExtra = 0x20
	opCounter     = 0x24
	opCheckMac    = 0x28
	opInfo        = 0x30
	opGenKey      = 0x40
	opSign        = 0x41
	opECDH        = 0x43
	opVerify      = 0x45
	opPrivWrite   = 0x46
	opSHA         = 0x47
	opAES         = 0x51
	opKDF         = 0x56
	opSelfTest    = 0x77
	opSecureBoot  = 0x80
)

// Config zone offsets (docs/atecc.md §2.1).
const (
	cfgI2CAddress      = 16
	cfgOTPMode         = 18 // 508; CountMatch on the 608
	cfgChipMode        = 19
	cfgSlotConfig      = 20
	cfgVolatileKeyPerm = 69 // 608
	cfgUserExtra       = 84
	cfgSelector        = 85 // 508; UserExtraAdd on the 608
	cfgUserExtraAdd    = 85
	cfgLockValue       = 86
	cfgLockConfig      = 87
	cfgSlotLocked      = 88
	cfgChipOptions     = 90 // 608
	cfgKeyConfig       = 96
)

// slotSize returns the size of data slot i (docs/atecc.md §2.6).
func slotSize(i int) int {
	switch {
	case i < 8:
		return 36
	case i == 8:
		return 416
	}
	return 72
}

func (c *Chip) configLocked() bool { return c.config[cfgLockConfig] != 0x55 }
func (c *Chip) dataLocked() bool   { return c.config[cfgLockValue] != 0x55 }

func (c *Chip) slotConfig(slot int) uint16 {
	return uint16(c.config[cfgSlotConfig+2*slot]) | uint16(c.config[cfgSlotConfig+2*slot+1])<<8
}

func (c *Chip) keyConfig(slot int) uint16 {
	return uint16(c.config[cfgKeyConfig+2*slot]) | uint16(c.config[cfgKeyConfig+2*slot+1])<<8
}

// slotLocked reports whether SlotLocked bit slot is 0.
func (c *Chip) slotLocked(slot int) bool {
	v := uint16(c.config[cfgSlotLocked]) | uint16(c.config[cfgSlotLocked+1])<<8
	return v&(1<<slot) == 0
}

// SlotConfig fields (docs/atecc.md §2.2).
func readKey(sc uint16) uint16     { return sc & 0xF }
func encryptRead(sc uint16) bool   { return sc&(1<<6) != 0 }
func isSecret(sc uint16) bool      { return sc&(1<<7) != 0 }
func writeKey(sc uint16) byte      { return byte(sc>>8) & 0xF }
func writeConfig(sc uint16) uint16 { return sc >> 12 }

// KeyConfig fields (docs/atecc.md §2.2).
func kcPrivate(kc uint16) bool           { return kc&1 != 0 }
func kcPubInfo(kc uint16) bool           { return kc&2 != 0 }
func kcKeyType(kc uint16) uint16         { return (kc >> 2) & 7 }
func kcLockable(kc uint16) bool          { return kc&(1<<5) != 0 }
func kcReqRandom(kc uint16) bool         { return kc&(1<<6) != 0 }
func kcReqAuth(kc uint16) bool           { return kc&(1<<7) != 0 }
func kcAuthKey(kc uint16) byte           { return byte(kc>>8) & 0xF }
func kcPersistentDisable(kc uint16) bool { return kc&(1<<12) != 0 }

const keyTypeP256 = 4

// serial returns the 9-byte serial number from the config zone.
func (c *Chip) serial() [9]byte {
	var s [9]byte
	copy(s[:4], c.config[0:4])
	copy(s[4:], c.config[8:13])
	return s
}

// factoryConfig returns a blank chip's config zone. Bytes 0–15 carry the
// serial number and RevNum; the rest follows Microchip's sample
// configuration, with both lock bytes 0x55 and every SlotLocked bit set.
func factoryConfig(rev Revision, sn [9]byte, addr uint16) [128]byte {
	var cfg [128]byte
	copy(cfg[0:4], sn[0:4])
	rn := rev.revNum()
	copy(cfg[4:8], rn[:])
	copy(cfg[8:13], sn[4:9])
	if rev != ATECC508A {
		// AES_Enable: 0x01 in public dumps of blank 608A rev 02 parts.
		cfg[13] = 0x01
	}
	cfg[14] = 0x01 // I2C_Enable
	cfg[cfgI2CAddress] = 0xC0
	if addr != 0 {
		cfg[cfgI2CAddress] = byte(addr << 1)
	}
	if rev == ATECC508A {
		cfg[cfgOTPMode] = 0x55
	}
	slotCfg := []byte{
		0x83, 0x20, 0x87, 0x20, 0x8F, 0x20, 0xC4, 0x8F, 0x8F, 0x8F, 0x8F, 0x8F, 0x9F, 0x8F, 0xAF, 0x8F,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xAF, 0x8F,
	}
	copy(cfg[cfgSlotConfig:], slotCfg)
	copy(cfg[52:], []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00})
	if rev == ATECC508A {
		copy(cfg[68:84], bytesOf(0xFF, 16))
	}
	cfg[cfgLockValue] = 0x55
	cfg[cfgLockConfig] = 0x55
	cfg[cfgSlotLocked] = 0xFF
	cfg[cfgSlotLocked+1] = 0xFF
	keyCfg := []byte{
		0x33, 0x00, 0x33, 0x00, 0x33, 0x00, 0x1C, 0x00, 0x1C, 0x00, 0x1C, 0x00, 0x1C, 0x00, 0x1C, 0x00,
		0x3C, 0x00, 0x3C, 0x00, 0x3C, 0x00, 0x3C, 0x00, 0x3C, 0x00, 0x3C, 0x00, 0x3C, 0x00, 0x1C, 0x00,
	}
	copy(cfg[cfgKeyConfig:], keyCfg)
	return cfg
}
