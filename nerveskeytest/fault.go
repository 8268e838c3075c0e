package nerveskeytest

import "time"

// Faults are injected failures, consumed as they trigger. Set them with
// SetFaults; read what is left with Faults.
type Faults struct {
	// NAK makes the next NAK transactions addressed to the awake chip fail
	// with ErrNAK as if it were busy (a NAK storm). Wake pulses and other
	// addresses do not consume it.
	NAK int

	// CorruptResponse flips bit 0 of the first payload byte of the next
	// CorruptResponse command responses, so their CRC fails. The chip's
	// state is as if the response had been sent intact.
	CorruptResponse int

	// DropWake makes the next DropWake wake pulses that would wake the chip
	// do nothing.
	DropWake int

	// ECCFault makes the next ECCFault Sign or GenKey(create) commands that
	// pass their checks answer 0x05 (ECC fault) without effect; on a 508
	// TempKey survives, on a 608 it is consumed (docs/atecc.md §5.5).
	ECCFault int

	// SelfTestFailure makes the next SelfTestFailure 608 SelfTest commands
	// fail: they answer the bitmap of the tests asked for and leave the chip
	// in the failure state, where every command but config reads and
	// SelfTest answers 0x07, until a passing SelfTest or a sleep.
	SelfTestFailure int

	// PowerCutAfter cuts power after this many more Tx calls (any address),
	// 0 = never. The cut loses all volatile state, the 608 persistent latch
	// and any command still executing; EEPROM holds what completed commands
	// wrote. Power returns at once: the chip is asleep, as after power-up,
	// and answers the next wake.
	PowerCutAfter int

	// WatchdogAfter, if positive, makes the watchdog of an awake or waking
	// chip expire this long after SetFaults instead of at its period. The
	// chip knows it, so commands that cannot finish in time answer 0xEE.
	WatchdogAfter time.Duration
}

// SetFaults replaces the pending faults.
func (c *Chip) SetFaults(f Faults) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.WatchdogAfter > 0 && (c.state == stateAwake || c.state == stateWaking) {
		c.watchdogAt = c.now.Add(f.WatchdogAfter)
	}
	f.WatchdogAfter = 0
	c.faults = f
}

// Faults returns the faults not yet triggered.
func (c *Chip) Faults() Faults {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.faults
}

// ExpireWatchdog makes the watchdog expire now: an awake, waking or busy
// chip goes to sleep, losing all volatile state; a command still executing
// is abandoned and changes nothing.
func (c *Chip) ExpireWatchdog() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateAwake || c.state == stateWaking {
		c.sleep()
	}
}

// PowerCycle cuts power and restores it at once (see Faults.PowerCutAfter).
func (c *Chip) PowerCycle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.powerUp()
}
