package atecc

import "encoding/binary"

// Config508 is the ATECC508A view of the config zone, field for field as
// the Elixir ATECC508A.Configuration struct (docs/nerves_key.md §3.1). Multi-byte
// integers are little-endian, as the chip stores them. Config508 and
// [Config.Config508] round-trip every 128-byte image.
type Config508 struct {
	SerialNumber [9]byte  // bytes 0–3, 8–12
	RevNum       [4]byte  // 4–7
	Reserved0    byte     // 13
	I2CEnable    byte     // 14
	Reserved1    byte     // 15
	I2CAddress   byte     // 16, 8-bit form (0xC0 = 7-bit 0x60)
	Reserved2    byte     // 17
	OTPMode      byte     // 18
	ChipMode     byte     // 19
	SlotConfig   [32]byte // 20–51
	Counter0     uint64   // 52–59
	Counter1     uint64   // 60–67
	LastKeyUse   [16]byte // 68–83
	UserExtra    byte     // 84
	Selector     byte     // 85
	LockValue    byte     // 86
	LockConfig   byte     // 87
	SlotLocked   uint16   // 88–89, bit n = 0: slot n locked
	RFU          [2]byte  // 90–91
	X509Format   [4]byte  // 92–95
	KeyConfig    [32]byte // 96–127
}

// Config608 is the ATECC608A/B view of the config zone (Elixir Config608,
// docs/nerves_key.md §3.1), with multi-byte integers little-endian as stored.
type Config608 struct {
	SerialNumber          [9]byte  // bytes 0–3, 8–12
	RevNum                [4]byte  // 4–7
	AESEnable             byte     // 13
	I2CEnable             byte     // 14
	Reserved0             byte     // 15
	I2CAddress            byte     // 16, 8-bit form
	Reserved1             byte     // 17
	CountMatch            byte     // 18
	ChipMode              byte     // 19
	SlotConfig            [32]byte // 20–51
	Counter0              uint64   // 52–59
	Counter1              uint64   // 60–67
	UseLock               byte     // 68
	VolatileKeyPermission byte     // 69: enabled<<7 | slot
	SecureBoot            uint16   // 70–71
	KdfIvLoc              byte     // 72
	KdfIvStr              [2]byte  // 73–74
	Reserved2             [9]byte  // 75–83
	UserExtra             byte     // 84
	UserExtraAdd          byte     // 85
	LockValue             byte     // 86
	LockConfig            byte     // 87
	SlotLocked            uint16   // 88–89
	ChipOptions           uint16   // 90–91
	X509Format            [4]byte  // 92–95
	KeyConfig             [32]byte // 96–127
}

// Config508 decodes c as a 508A config zone.
func (c *Config) Config508() Config508 {
	le := binary.LittleEndian
	return Config508{
		SerialNumber: c.SerialNumber(),
		RevNum:       c.RevNum(),
		Reserved0:    c[13],
		I2CEnable:    c[14],
		Reserved1:    c[15],
		I2CAddress:   c[16],
		Reserved2:    c[17],
		OTPMode:      c[18],
		ChipMode:     c[19],
		SlotConfig:   [32]byte(c[20:52]),
		Counter0:     le.Uint64(c[52:]),
		Counter1:     le.Uint64(c[60:]),
		LastKeyUse:   [16]byte(c[68:84]),
		UserExtra:    c[84],
		Selector:     c[85],
		LockValue:    c[86],
		LockConfig:   c[87],
		SlotLocked:   le.Uint16(c[88:]),
		RFU:          [2]byte(c[90:92]),
		X509Format:   [4]byte(c[92:96]),
		KeyConfig:    [32]byte(c[96:128]),
	}
}

// Config encodes s back into the 128 config bytes.
func (s *Config508) Config() Config {
	var c Config
	le := binary.LittleEndian
	putSerial(&c, s.SerialNumber)
	copy(c[4:8], s.RevNum[:])
	c[13], c[14], c[15], c[16], c[17], c[18], c[19] = s.Reserved0, s.I2CEnable, s.Reserved1, s.I2CAddress, s.Reserved2, s.OTPMode, s.ChipMode
	copy(c[20:52], s.SlotConfig[:])
	le.PutUint64(c[52:], s.Counter0)
	le.PutUint64(c[60:], s.Counter1)
	copy(c[68:84], s.LastKeyUse[:])
	c[84], c[85], c[86], c[87] = s.UserExtra, s.Selector, s.LockValue, s.LockConfig
	le.PutUint16(c[88:], s.SlotLocked)
	copy(c[90:92], s.RFU[:])
	copy(c[92:96], s.X509Format[:])
	copy(c[96:128], s.KeyConfig[:])
	return c
}

// Config608 decodes c as a 608A/B config zone.
func (c *Config) Config608() Config608 {
	le := binary.LittleEndian
	return Config608{
		SerialNumber:          c.SerialNumber(),
		RevNum:                c.RevNum(),
		AESEnable:             c[13],
		I2CEnable:             c[14],
		Reserved0:             c[15],
		I2CAddress:            c[16],
		Reserved1:             c[17],
		CountMatch:            c[18],
		ChipMode:              c[19],
		SlotConfig:            [32]byte(c[20:52]),
		Counter0:              le.Uint64(c[52:]),
		Counter1:              le.Uint64(c[60:]),
		UseLock:               c[68],
		VolatileKeyPermission: c[69],
		SecureBoot:            le.Uint16(c[70:]),
		KdfIvLoc:              c[72],
		KdfIvStr:              [2]byte(c[73:75]),
		Reserved2:             [9]byte(c[75:84]),
		UserExtra:             c[84],
		UserExtraAdd:          c[85],
		LockValue:             c[86],
		LockConfig:            c[87],
		SlotLocked:            le.Uint16(c[88:]),
		ChipOptions:           le.Uint16(c[90:]),
		X509Format:            [4]byte(c[92:96]),
		KeyConfig:             [32]byte(c[96:128]),
	}
}

// Config encodes s back into the 128 config bytes.
func (s *Config608) Config() Config {
	var c Config
	le := binary.LittleEndian
	putSerial(&c, s.SerialNumber)
	copy(c[4:8], s.RevNum[:])
	c[13], c[14], c[15], c[16], c[17], c[18], c[19] = s.AESEnable, s.I2CEnable, s.Reserved0, s.I2CAddress, s.Reserved1, s.CountMatch, s.ChipMode
	copy(c[20:52], s.SlotConfig[:])
	le.PutUint64(c[52:], s.Counter0)
	le.PutUint64(c[60:], s.Counter1)
	c[68], c[69] = s.UseLock, s.VolatileKeyPermission
	le.PutUint16(c[70:], s.SecureBoot)
	c[72] = s.KdfIvLoc
	copy(c[73:75], s.KdfIvStr[:])
	copy(c[75:84], s.Reserved2[:])
	c[84], c[85], c[86], c[87] = s.UserExtra, s.UserExtraAdd, s.LockValue, s.LockConfig
	le.PutUint16(c[88:], s.SlotLocked)
	le.PutUint16(c[90:], s.ChipOptions)
	copy(c[92:96], s.X509Format[:])
	copy(c[96:128], s.KeyConfig[:])
	return c
}

func putSerial(c *Config, sn [9]byte) {
	copy(c[0:4], sn[:4])
	copy(c[8:13], sn[4:])
}
