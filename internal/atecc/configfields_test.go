package atecc

// Config and slot-field accessors only the tests use; the library reads
// the fields it needs directly.

// I2CAddress returns the 7-bit I2C address of byte 16 (bits 7..1).
func (c *Config) I2CAddress() uint16 { return uint16(c[cfgI2CAddress] >> 1) }

// VolatileKeyPermission decodes 608 byte 69: bit 7 enables the
// persistent latch, bits 3..0 name the slot whose CheckMac sets it.
func (c *Config) VolatileKeyPermission() (enabled bool, slot int) {
	b := c[cfgVolatileKey]
	return b&0x80 != 0, int(b & 0x0F)
}

// ReadKey returns the ReadKey field (bits 3..0; for private keys the sign/ECDH permissions).
func (s SlotConfig) ReadKey() int { return int(s & 0xF) }

// ExternalSign returns the ExternalSign field (ReadKey bit 0 on a private-key slot).
func (s SlotConfig) ExternalSign() bool { return s&1 != 0 }

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

// PersistentDisable returns the PersistentDisable field (bit 12 (508: IntrusionDisable)).
func (k KeyConfig) PersistentDisable() bool { return k&(1<<12) != 0 }
