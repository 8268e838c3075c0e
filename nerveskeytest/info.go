package nerveskeytest

func (c *Chip) cmdInfo(cmd command) []byte {
	if len(cmd.data) != 0 {
		return status(statusParse)
	}
	switch cmd.p1 {
	case 0x00:
		if cmd.p2 != 0 {
			return status(statusParse)
		}
		return append([]byte{}, c.config[4:8]...)
	case 0x01:
		if cmd.p2 > 15 {
			return status(statusParse)
		}
		slot := int(cmd.p2)
		out := make([]byte, 4)
		if kcPrivate(c.keyConfig(slot)) && kcKeyType(c.keyConfig(slot)) == keyTypeP256 && c.keyValid[slot] {
			out[0] = 1
		}
		return out
	case 0x02:
		if cmd.p2 != 0 {
			return status(statusParse)
		}
		tk := &c.vol.tk
		var b0, b1 byte
		b0 = tk.keyID & 0xF
		if tk.noMacFlag {
			b0 |= 0x80
		}
		if tk.genKeyData {
			b0 |= 0x40
		}
		if tk.genDigData {
			b0 |= 0x20
		}
		if tk.sourceInput {
			b0 |= 0x10
		}
		if tk.valid {
			b1 |= 0x80
		}
		b1 |= (c.vol.authKeyID & 0xF) << 3
		if c.vol.authValid {
			b1 |= 0x04
		}
		return []byte{b0, b1, 0, 0}
	case 0x03:
		return status(statusExecution) // GPIO: single-wire parts only
	case 0x04:
		if c.rev == ATECC508A || cmd.p2&^0x3 != 0 {
			return status(statusParse)
		}
		if cmd.p2&0x2 != 0 {
			set := cmd.p2&1 != 0
			if set {
				perm := c.config[cfgVolatileKeyPerm]
				if perm&0x80 == 0 || !c.vol.authValid || c.vol.authKeyID != perm&0xF {
					return status(statusExecution)
				}
			}
			c.latch = set
		}
		out := make([]byte, 4)
		if c.latch {
			out[0] = 1
		}
		return out
	}
	return status(statusParse)
}

func (c *Chip) cmdUpdateExtra(cmd command) []byte {
	mode := cmd.p1
	if mode&0xFC != 0 || cmd.p2&0xFF00 != 0 || len(cmd.data) != 0 || (c.rev != ATECC508A && mode > 1) {
		return status(statusParse)
	}
	if !c.configLocked() && c.opts.Profile.UpdateExtraNeedsConfigLock {
		return status(statusExecution)
	}
	v := byte(cmd.p2)
	switch {
	case mode&0x02 != 0:
		if c.rev != ATECC508A || v > 15 {
			return status(statusParse)
		}
		// Decrement the limited-use counter of slot v; a slot without
		// limited use succeeds and changes nothing (DS508 §9.19).
		if !c.useLimited(int(v)) {
			return status(statusExecution)
		}
	case mode == 0:
		if c.config[cfgUserExtra] != 0 {
			return status(statusExecution)
		}
		c.config[cfgUserExtra] = v
	default:
		if (c.rev != ATECC508A || c.config[cfgChipMode]&1 != 0) && c.config[cfgSelector] != 0 {
			return status(statusExecution)
		}
		c.config[cfgSelector] = v
	}
	return status(statusOK)
}

func (c *Chip) cmdSelfTest(cmd command) []byte {
	if cmd.p1&0xC0 != 0 || cmd.p2 != 0 || len(cmd.data) != 0 {
		return status(statusParse)
	}
	if c.faults.SelfTestFailure > 0 && cmd.p1&0x3D != 0 {
		c.faults.SelfTestFailure--
		c.vol.selfTestFail = cmd.p1 & 0x3D
		return status(c.vol.selfTestFail)
	}
	if cmd.p1 == 0 {
		return status(c.vol.selfTestFail)
	}
	c.vol.selfTestFail = 0
	return status(statusOK)
}
