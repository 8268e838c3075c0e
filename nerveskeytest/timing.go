package nerveskeytest

import "time"

// TimingMode selects how long a simulated command keeps the chip busy.
type TimingMode int

const (
	// TimingTypical uses the typical execution time (the default).
	TimingTypical TimingMode = iota
	// TimingMax uses the maximum execution time.
	TimingMax
	// TimingRandom draws a time uniformly between typical and maximum,
	// from the chip's seeded generator.
	TimingRandom
)

// String returns the mode name.
func (m TimingMode) String() string {
	switch m {
	case TimingTypical:
		return "typical"
	case TimingMax:
		return "max"
	case TimingRandom:
		return "random"
	}
	return "TimingMode(?)"
}

// execTimes holds one opcode's execution times: the DS508 Table 9-4 typical
// and maximum for the 508, and the cryptoauthlib 608 values for clock
// dividers M0, M1, M2 (docs/atecc.md §6.1). Values are in microseconds.
type execTimes struct {
	typ508, max508 int
	cal608         [3]int
}

func ms(v float64) int { return int(v * 1000) }

func t608(m0, m1, m2 float64) [3]int { return [3]int{ms(m0), ms(m1), ms(m2)} }

func same608(v float64) [3]int { return t608(v, v, v) }

// execTable is docs/atecc.md §6.1. Opcodes the datasheet gives no 508 value for
// use the 608 value on the 508 too (they are parse errors there anyway).
var execTable = map[byte]execTimes{
	opAES:         {ms(13.5), ms(27), same608(27)},
	opCheckMac:    {ms(5), ms(13), same608(40)},
	opCounter:     {ms(5), ms(20), same608(25)},
	opDeriveKey:   {ms(2), ms(50), same608(50)},
	opECDH:        {ms(38), ms(58), t608(75, 172, 531)},
	opGenDig:      {ms(5), ms(11), t608(25, 35, 35)},
	opGenKey:      {ms(11), ms(115), t608(115, 215, 653)},
	opHMAC:        {ms(13), ms(23), same608(23)},
	opInfo:        {ms(0.1), ms(1), same608(5)},
	opKDF:         {ms(82.5), ms(165), same608(165)},
	opLock:        {ms(8), ms(32), same608(35)},
	opMAC:         {ms(5), ms(14), same608(55)},
	opNonce:       {ms(0.1), ms(7), same608(20)},
	opPause:       {ms(0.1), ms(3), same608(3)},
	opPrivWrite:   {ms(0.8), ms(48), same608(50)},
	opRandom:      {ms(1), ms(23), same608(23)},
	opRead:        {ms(0.1), ms(1), same608(5)},
	opSecureBoot:  {ms(40), ms(80), t608(80, 160, 480)},
	opSelfTest:    {ms(125), ms(250), t608(250, 625, 2324)},
	opSHA:         {ms(7), ms(9), t608(36, 42, 75)},
	opSign:        {ms(42), ms(50), t608(115, 220, 665)},
	opUpdateExtra: {ms(8), ms(10), same608(10)},
	opVerify:      {ms(38), ms(58), t608(105, 295, 1085)},
	opWrite:       {ms(7), ms(26), same608(45)},
}

// execBounds returns the typical and maximum execution time of op on this
// chip. On a 608 the maximum is the cryptoauthlib value for the ChipMode
// clock divider, and the typical is half of it: no 608 typical times are
// public (docs/atecc.md §6.1).
func (c *Chip) execBounds(op byte) (typ, max time.Duration) {
	e, ok := execTable[op]
	if !ok {
		e = execTimes{ms(0.1), ms(1), same608(1)}
	}
	if c.rev == ATECC508A {
		return time.Duration(e.typ508) * time.Microsecond, time.Duration(e.max508) * time.Microsecond
	}
	var div int
	switch c.config[cfgChipMode] >> 3 {
	case 0x05:
		div = 1
	case 0x0D:
		div = 2
	}
	max = time.Duration(e.cal608[div]) * time.Microsecond
	return max / 2, max
}

// execTime returns how long op keeps the chip busy under the timing mode.
func (c *Chip) execTime(op byte) time.Duration {
	typ, max := c.execBounds(op)
	switch c.opts.Timing {
	case TimingMax:
		return max
	case TimingRandom:
		if max > typ {
			return typ + time.Duration(c.timeRand.Int64N(int64(max-typ)+1))
		}
	}
	return typ
}
