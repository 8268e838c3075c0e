package atecc

import "encoding/binary"

// Config and slot-field accessors for decoding a configuration zone
// field by field: what "nerveskey config" prints, and what ECDH, the
// foreign-chip key and the layout detection check (DS508 Tables 2-5, 2-6
// and 2-12; DS608-TFLX Table 2-3).

// cfgChipOptions is the 608 ChipOptions word (bytes 90–91; RFU on a 508).
const cfgChipOptions = 90

// I2CAddress returns the 7-bit I2C address of byte 16 (bits 7..1).
func (c *Config) I2CAddress() uint16 { return uint16(c[cfgI2CAddress] >> 1) }

// OTPMode returns byte 18: OTPmode on a 508 (0xAA read-only, 0x55
// consumption), CountMatch on a 608.
func (c *Config) OTPMode() byte { return c[cfgOTPMode] }

// VolatileKeyPermission decodes 608 byte 69: bit 7 enables the
// persistent latch, bits 3..0 name the slot whose CheckMac sets it.
func (c *Config) VolatileKeyPermission() (enabled bool, slot int) {
	b := c[cfgVolatileKey]
	return b&0x80 != 0, int(b & 0x0F)
}

// ChipOptions returns the 608 ChipOptions word (bytes 90–91, little-endian):
// bits 9..8 protect ECDH output (0 clear output allowed, 1 encrypted only,
// 2 kept in the chip).
func (c *Config) ChipOptions() uint16 { return binary.LittleEndian.Uint16(c[cfgChipOptions:]) }

// ReadKey returns the ReadKey field (bits 3..0; for private keys the sign/ECDH permissions).
func (s SlotConfig) ReadKey() int { return int(s & 0xF) }

// NoMac returns the NoMac field (bit 4).
func (s SlotConfig) NoMac() bool { return s&(1<<4) != 0 }

// LimitedUse returns the LimitedUse field (bit 5).
func (s SlotConfig) LimitedUse() bool { return s&(1<<5) != 0 }

// EncryptRead returns the EncryptRead field (bit 6).
func (s SlotConfig) EncryptRead() bool { return s&(1<<6) != 0 }

// WriteKey returns the WriteKey field (bits 11..8).
func (s SlotConfig) WriteKey() int { return int(s>>8) & 0xF }

// ExternalSign returns the ExternalSign field (ReadKey bit 0 on a private-key slot).
func (s SlotConfig) ExternalSign() bool { return s&1 != 0 }

// InternalSign returns the InternalSign field (ReadKey bit 1 on a private-key slot).
func (s SlotConfig) InternalSign() bool { return s&2 != 0 }

// GenKeyAllowed returns the GenKeyAllowed field (WriteConfig bit 13 (after the data lock)).
func (s SlotConfig) GenKeyAllowed() bool { return s&(1<<13) != 0 }

// Private returns the Private field (bit 0).
func (k KeyConfig) Private() bool { return k&1 != 0 }

// KeyType returns the KeyType field (bits 4..2: 4 = P-256, 6 = AES, 7 = data).
func (k KeyConfig) KeyType() int { return int(k>>2) & 7 }

// Lockable returns the Lockable field (bit 5).
func (k KeyConfig) Lockable() bool { return k&(1<<5) != 0 }

// ReqRandom returns the ReqRandom field (bit 6).
func (k KeyConfig) ReqRandom() bool { return k&(1<<6) != 0 }

// ReqAuth returns the ReqAuth field (bit 7).
func (k KeyConfig) ReqAuth() bool { return k&(1<<7) != 0 }

// AuthKey returns the AuthKey field (bits 11..8).
func (k KeyConfig) AuthKey() int { return int(k>>8) & 0xF }

// PersistentDisable returns the PersistentDisable field (bit 12 (508: IntrusionDisable)).
func (k KeyConfig) PersistentDisable() bool { return k&(1<<12) != 0 }

// X509ID returns the X509ID field (bits 15..14).
func (k KeyConfig) X509ID() int { return int(k >> 14) }
