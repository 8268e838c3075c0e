package nerveskeytest

import "encoding/binary"

// command is a decoded command packet.
type command struct {
	op   byte
	p1   byte
	p2   uint16
	data []byte
}

// status returns a 1-byte status payload.
func status(s byte) []byte { return []byte{s} }

// opcodes508 and opcodes608 list each family's opcodes (docs/atecc.md §5.1,
// §7 item 15).
var (
	opcodes508 = map[byte]bool{
		opPause: true, opRead: true, opMAC: true, opHMAC: true, opWrite: true,
		opGenDig: true, opNonce: true, opLock: true, opRandom: true,
		opDeriveKey: true, opUpdateExtra: true, opCounter: true,
		opCheckMac: true, opInfo: true, opGenKey: true, opSign: true,
		opECDH: true, opVerify: true, opPrivWrite: true, opSHA: true,
	}
	opcodes608 = map[byte]bool{
		opRead: true, opMAC: true, opWrite: true, opGenDig: true,
		opNonce: true, opLock: true, opRandom: true, opDeriveKey: true,
		opUpdateExtra: true, opCounter: true, opCheckMac: true, opInfo: true,
		opGenKey: true, opSign: true, opECDH: true, opVerify: true,
		opPrivWrite: true, opSHA: true, opAES: true, opKDF: true,
		opSelfTest: true, opSecureBoot: true,
	}
)

// execute runs a complete, CRC-checked command packet and returns the
// response payload (a 1-byte status or the command's output).
func (c *Chip) execute(pkt []byte) []byte {
	if len(pkt) < 7 {
		if len(pkt) > 3 && c.rev != ATECC508A && pkt[1] != opNonce && pkt[1] != opSHA {
			c.vol.digestValid = false
		}
		c.clearTempKey508(statusParse)
		return status(statusParse)
	}
	cmd := command{
		op:   pkt[1],
		p1:   pkt[2],
		p2:   binary.LittleEndian.Uint16(pkt[3:5]),
		data: pkt[5 : len(pkt)-2],
	}
	c.tkLoaded = false
	out := c.dispatch(cmd)
	st := byte(statusOK)
	if len(out) == 1 {
		st = out[0]
	}
	if c.rev == ATECC508A {
		c.tempKeyRule508(cmd, st)
		if cmd.op != opSHA || st != statusOK {
			c.vol.sha = nil
		}
	} else if cmd.op != opNonce && cmd.op != opSHA {
		// The 608 digest buffer is wiped by every command but Nonce and
		// SHA (docs/atecc.md §5.1; the exact list is unconfirmed).
		c.vol.digestValid = false
		c.vol.digest = [64]byte{}
	}
	return out
}

// tempKeyRule508 applies DS508 §2.5.1 after a command on a 508.
func (c *Chip) tempKeyRule508(cmd command, st byte) {
	switch {
	case cmd.op == opInfo, st == statusECC, c.tkLoaded:
	case cmd.op == opGenKey && st == statusOK && cmd.p1&0x18 == 0:
		// GenKey without a digest mode leaves TempKey as it was.
	case cmd.op == opRandom && c.opts.Profile.RandomKeepsTempKey508:
	default:
		c.vol.tk = tempKey{}
	}
}

// clearTempKey508 clears TempKey on a 508 unless st spares it.
func (c *Chip) clearTempKey508(st byte) {
	if c.rev == ATECC508A && st != statusECC {
		c.vol.tk = tempKey{}
	}
}

// useTempKey marks TempKey as used by the current command: on a 608 a
// command that uses TempKey consumes it, success or not (docs/atecc.md §5.1).
func (c *Chip) useTempKey() {
	if c.rev != ATECC508A {
		c.vol.tk = tempKey{}
	}
}

func (c *Chip) dispatch(cmd command) []byte {
	known := opcodes608
	if c.rev == ATECC508A {
		known = opcodes508
	}
	if !known[cmd.op] {
		return status(statusParse)
	}
	if c.vol.selfTestFail != 0 && !(cmd.op == opSelfTest || (cmd.op == opRead && cmd.p1&3 == 0)) {
		return status(statusSelfTest)
	}
	switch cmd.op {
	case opRead:
		return c.cmdRead(cmd)
	case opWrite:
		return c.cmdWrite(cmd)
	case opLock:
		return c.cmdLock(cmd)
	case opGenKey:
		return c.cmdGenKey(cmd)
	case opSign:
		return c.cmdSign(cmd)
	case opECDH:
		return c.cmdECDH(cmd)
	case opVerify:
		return c.cmdVerify(cmd)
	case opNonce:
		return c.cmdNonce(cmd)
	case opRandom:
		return c.cmdRandom(cmd)
	case opSHA:
		return c.cmdSHA(cmd)
	case opCheckMac:
		return c.cmdCheckMac(cmd)
	case opInfo:
		return c.cmdInfo(cmd)
	case opCounter:
		return c.cmdCounter(cmd)
	case opUpdateExtra:
		return c.cmdUpdateExtra(cmd)
	case opSelfTest:
		return c.cmdSelfTest(cmd)
	case opMAC:
		return c.cmdMAC(cmd)
	case opHMAC:
		return c.cmdHMAC(cmd)
	case opGenDig:
		return c.cmdGenDig(cmd)
	case opDeriveKey:
		return c.cmdDeriveKey(cmd)
	case opPrivWrite:
		return c.cmdPrivWrite(cmd)
	case opAES:
		return c.cmdAES(cmd)
	case opKDF:
		return c.cmdKDF(cmd)
	case opSecureBoot:
		return c.cmdSecureBoot(cmd)
	}
	// Opcodes of the device that the simulator does not model: Pause.
	return status(statusParse)
}

// randomBytes returns n bytes from the chip's RNG: FF FF 00 00 repeated
// while the config zone is unlocked (docs/atecc.md §5.6).
func (c *Chip) randomBytes(n int) []byte {
	b := make([]byte, n)
	if !c.configLocked() {
		for i := range b {
			if i%4 < 2 {
				b[i] = 0xFF
			}
		}
		return b
	}
	c.rng.Read(b)
	return b
}
