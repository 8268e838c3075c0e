package atecc

import "context"

// ReadConfig reads the config zone of the chip with four 32-byte reads.
func (s *Session) ReadConfig(ctx context.Context) (Config, error) {
	var c Config
	for block := range ConfigSize / BlockSize {
		b, err := s.Read(ctx, ZoneConfig, ConfigAddr(block, 0), BlockSize)
		if err != nil {
			return c, err
		}
		copy(c[block*BlockSize:], b)
	}
	return c, nil
}

// configWrites is the Elixir Configuration.write sequence (docs/nerves_key.md
// §3.2): words 4–7, block 1, words 16–20, word 23, block 3. It skips the
// bytes the chip never lets Write change (0–15, 84–87) and, like Elixir,
// SlotLocked and RFU/ChipOptions (88–91), whose factory values stay.
var configWrites = [...]struct{ byteOff, n int }{
	{16, 4}, {20, 4}, {24, 4}, {28, 4},
	{32, 32},
	{64, 4}, {68, 4}, {72, 4}, {76, 4}, {80, 4},
	{92, 4},
	{96, 32},
}

// WriteConfig writes the writable bytes of c to the unlocked config zone,
// exactly as the Elixir driver does: 4-byte writes at words 4–7, a 32-byte
// write of block 1, 4-byte writes at words 16–20 and 23, a 32-byte write
// of block 3 (12 commands). Nothing is read back; lock with
// LockConfig(c.CRC()), which the chip refuses if what it holds differs.
func (s *Session) WriteConfig(ctx context.Context, c *Config) error {
	for _, w := range configWrites {
		addr := uint16(w.byteOff / WordSize)
		if err := s.Write(ctx, ZoneConfig, addr, c[w.byteOff:w.byteOff+w.n]); err != nil {
			return err
		}
	}
	// ChipMode may have changed the 608 clock divider.
	s.d.prof.chipMode = c.ChipMode()
	return nil
}

// ReadConfig reads the config zone in one session.
func (d *Dev) ReadConfig(ctx context.Context) (Config, error) {
	var c Config
	err := d.Do(ctx, func(s *Session) error {
		var err error
		c, err = s.ReadConfig(ctx)
		return err
	})
	return c, err
}

// WriteConfig writes c to the unlocked config zone in one session; see
// [Session.WriteConfig].
func (d *Dev) WriteConfig(ctx context.Context, c *Config) error {
	return d.Do(ctx, func(s *Session) error { return s.WriteConfig(ctx, c) })
}

// LockConfig locks the config zone if its CRC-16 is crc.
func (d *Dev) LockConfig(ctx context.Context, crc uint16) error {
	return d.Do(ctx, func(s *Session) error { return s.LockConfig(ctx, crc) })
}

// LockData locks the data and OTP zones if their summary CRC is crc.
func (d *Dev) LockData(ctx context.Context, crc uint16) error {
	return d.Do(ctx, func(s *Session) error { return s.LockData(ctx, crc) })
}

// LockSlot locks one Lockable slot.
func (d *Dev) LockSlot(ctx context.Context, slot int) error {
	return d.Do(ctx, func(s *Session) error { return s.LockSlot(ctx, slot) })
}
