package atecc

import "time"

// execTime holds one opcode's execution times (docs/atecc.md §6.1).
type execTime struct {
	typ508, max508 time.Duration    // DS508 Table 9-4
	max608         [3]time.Duration // cryptoauthlib device_execution_time_608_m0/m1/m2
	elixir         time.Duration    // the Elixir atecc508a timeout T, for WaitElixir
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func all3(v float64) [3]time.Duration { return [3]time.Duration{ms(v), ms(v), ms(v)} }

// execTimeOf returns op's execution times. An opcode missing from the
// datasheet tables gets a cautious 1 s maximum.
func execTimeOf(op Opcode) execTime {
	switch op {
	case OpCheckMac:
		return execTime{ms(5), ms(13), all3(40), ms(1000)}
	case OpCounter:
		return execTime{ms(5), ms(20), all3(25), ms(20)}
	case OpECDH:
		return execTime{ms(38), ms(58), [3]time.Duration{ms(75), ms(172), ms(531)}, ms(998)}
	case OpGenKey:
		return execTime{ms(11), ms(115), [3]time.Duration{ms(115), ms(215), ms(653)}, ms(653)}
	case OpInfo:
		return execTime{ms(0.1), ms(1), all3(5), ms(200)}
	case OpLock:
		return execTime{ms(8), ms(32), all3(35), ms(100)}
	case OpMAC:
		return execTime{ms(5), ms(14), all3(55), ms(500)}
	case OpNonce:
		return execTime{ms(0.1), ms(7), all3(20), ms(29)}
	case OpRandom:
		return execTime{ms(1), ms(23), all3(23), ms(23)}
	case OpRead:
		return execTime{ms(0.1), ms(1), all3(5), ms(5)}
	case OpSelfTest:
		return execTime{ms(125), ms(250), [3]time.Duration{ms(250), ms(625), ms(2324)}, ms(2324)}
	case OpSHA:
		return execTime{ms(7), ms(9), [3]time.Duration{ms(36), ms(42), ms(75)}, ms(500)}
	case OpSign:
		return execTime{ms(42), ms(50), [3]time.Duration{ms(115), ms(220), ms(665)}, ms(179)}
	case OpUpdateExtra:
		return execTime{ms(8), ms(10), all3(10), ms(10)}
	case OpVerify:
		return execTime{ms(38), ms(58), [3]time.Duration{ms(105), ms(295), ms(1085)}, ms(1085)}
	case OpWrite:
		return execTime{ms(7), ms(26), all3(45), ms(100)}
	}
	return execTime{ms(1), ms(1000), all3(1000), ms(1000)}
}

// A profile is what the driver needs to know about the chip to time its
// commands: read once from config block 0 at the first session.
type profile struct {
	rev      Revision
	chipMode byte
	serial   [9]byte
}

// divider returns the 608 clock divider index (0 = M0, 1 = M1, 2 = M2)
// from ChipMode bits 7..3 (docs/atecc.md §2.3). An undocumented value
// gets the slowest table.
func (p *profile) divider() int {
	switch p.chipMode >> 3 {
	case 0x00:
		return 0
	case 0x05:
		return 1
	}
	return 2
}

// times returns the typical and maximum execution time of op on this chip,
// and the Elixir driver's timeout for it.
//
// The 608's typical times are not public. This driver assumes half the
// cryptoauthlib maximum for the chip's clock divider. The table only
// seeds the transport: it learns each command's completion time from the
// chip and polls past the maximum up to the chip's watchdog (internal/i2c,
// learn.go), so a chip faster or slower than the table costs neither
// latency nor correctness once seen.
func (p *profile) times(op Opcode) (typ, max, elixir time.Duration) {
	e := execTimeOf(op)
	if p.rev == ATECC508A {
		return e.typ508, e.max508, e.elixir
	}
	max = e.max608[p.divider()]
	return max / 2, max, e.elixir
}

// bootTimes are the Read timings used for the first config read, before
// the revision is known: the 508 typical and the larger (608) maximum.
const (
	bootTyp = 100 * time.Microsecond
	bootMax = 5 * time.Millisecond
)
