package atecc

import (
	"encoding/binary"
	"fmt"

	"github.com/nerveskey/nerveskey/internal/i2c"
)

// Config byte offsets (DS508 Table 2-5; DS608-TFLX Table 2-3;
// docs/atecc.md §2.1, docs/nerves_key.md §3.1).
const (
	cfgRevNum      = 4
	cfgI2CAddress  = 16
	cfgOTPMode     = 18 // 508 OTPmode, 608 CountMatch
	cfgChipMode    = 19
	cfgSlotConfig  = 20
	cfgVolatileKey = 69 // 608 VolatileKeyPermission
	cfgUserExtra   = 84
	cfgLockValue   = 86
	cfgLockConfig  = 87
	cfgSlotLocked  = 88
	cfgKeyConfig   = 96
	unlocked       = 0x55 // LockValue/LockConfig before locking
)

// A Revision is the chip model, decoded from RevNum (config bytes 4–7).
type Revision int

// Revisions. ATECC608A covers silicon revisions 1 (00 00 60 01) and
// 2 (00 00 60 02).
const (
	RevisionUnknown Revision = iota
	ATECC508A                // 00 00 50 xx
	ATECC608A                // 00 00 60 01, 00 00 60 02
	ATECC608B                // 00 00 60 03
)

// String returns the part name, e.g. "ATECC608A".
func (r Revision) String() string {
	switch r {
	case ATECC508A:
		return "ATECC508A"
	case ATECC608A:
		return "ATECC608A"
	case ATECC608B:
		return "ATECC608B"
	}
	return "unknown"
}

// Is608 reports whether r is a 608A or 608B, which share a command set.
func (r Revision) Is608() bool { return r == ATECC608A || r == ATECC608B }

// RevisionOf decodes a RevNum. Byte 2 names the family (0x50 = 508A,
// 0x60 = 608), as cryptoauthlib does; on a 608, byte 3 = 0x03 is the 608B
// (docs/atecc.md §2.4).
func RevisionOf(revNum [4]byte) Revision {
	if revNum[0] != 0 || revNum[1] != 0 {
		return RevisionUnknown
	}
	switch revNum[2] {
	case 0x50:
		return ATECC508A
	case 0x60:
		if revNum[3] == 0x03 {
			return ATECC608B
		}
		return ATECC608A
	}
	return RevisionUnknown
}

// A Config is the 128-byte configuration zone, with accessors for its
// fields. The zero value is all zeros; use ParseConfig on chip data.
type Config [ConfigSize]byte

// ParseConfig returns the config zone in b, which must be 128 bytes.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if len(b) != ConfigSize {
		return c, fmt.Errorf("config zone is %d bytes, want %d", len(b), ConfigSize)
	}
	copy(c[:], b)
	return c, nil
}

// CRC returns the CRC-16 of the whole zone, the summary the Lock command
// (mode 0x00) compares before locking the config zone (DS508 §9.10).
func (c *Config) CRC() uint16 { return i2c.CRC16(c[:]) }

// SerialNumber returns the 9-byte chip serial: bytes 0–3 then 8–12.
func (c *Config) SerialNumber() [9]byte {
	var sn [9]byte
	copy(sn[:4], c[0:4])
	copy(sn[4:], c[8:13])
	return sn
}

// RevNum returns config bytes 4–7.
func (c *Config) RevNum() [4]byte { return [4]byte(c[cfgRevNum : cfgRevNum+4]) }

// Revision decodes RevNum.
func (c *Config) Revision() Revision { return RevisionOf(c.RevNum()) }

// ChipMode returns byte 19. On a 608, bits 7..3 are the clock divider.
func (c *Config) ChipMode() byte { return c[cfgChipMode] }

// LockValue returns byte 86: 0x55 while the data and OTP zones are
// unlocked, 0x00 once locked.
func (c *Config) LockValue() byte { return c[cfgLockValue] }

// LockConfig returns byte 87: 0x55 while the config zone is unlocked.
func (c *Config) LockConfig() byte { return c[cfgLockConfig] }

// ConfigLocked reports whether the config zone is locked.
func (c *Config) ConfigLocked() bool { return c[cfgLockConfig] != unlocked }

// DataLocked reports whether the data and OTP zones are locked.
func (c *Config) DataLocked() bool { return c[cfgLockValue] != unlocked }

// SlotLocked reports whether slot is individually locked (its SlotLocked
// bit, bytes 88–89, is 0). It reports false for a slot outside 0–15.
func (c *Config) SlotLocked(slot int) bool {
	if checkSlot(slot) != nil {
		return false
	}
	return binary.LittleEndian.Uint16(c[cfgSlotLocked:])&(1<<slot) == 0
}

// SlotConfig returns slot's SlotConfig word, or 0 for a slot outside 0–15.
func (c *Config) SlotConfig(slot int) SlotConfig {
	if checkSlot(slot) != nil {
		return 0
	}
	return SlotConfig(binary.LittleEndian.Uint16(c[cfgSlotConfig+2*slot:]))
}

// KeyConfig returns slot's KeyConfig word, or 0 for a slot outside 0–15.
func (c *Config) KeyConfig(slot int) KeyConfig {
	if checkSlot(slot) != nil {
		return 0
	}
	return KeyConfig(binary.LittleEndian.Uint16(c[cfgKeyConfig+2*slot:]))
}

// A SlotConfig is a slot's 16-bit SlotConfig word (DS508 Table 2-6).
type SlotConfig uint16

// IsSecret returns the IsSecret field (bit 7).
func (s SlotConfig) IsSecret() bool { return s&(1<<7) != 0 }

// WriteConfig returns the WriteConfig field (bits 15..12).
func (s SlotConfig) WriteConfig() int { return int(s >> 12) }

// ECDH returns the ECDH field (ReadKey bit 2 on a private-key slot).
func (s SlotConfig) ECDH() bool { return s&4 != 0 }

// A KeyConfig is a slot's 16-bit KeyConfig word (DS508 Table 2-12).
type KeyConfig uint16

// PubInfo returns the PubInfo field (bit 1).
func (k KeyConfig) PubInfo() bool { return k&2 != 0 }
