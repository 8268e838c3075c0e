package nerveskeytest

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// ErrNAK is wrapped by every error Tx returns for a byte the chip did not
// acknowledge: its address while it is asleep, idle, waking or busy, any
// other address, the wake pulse itself, and rejected data bytes.
var ErrNAK = errors.New("nerveskeytest: address not acknowledged")

// Errors of the I2CDev mode: the texts periph's sysfs bus gives for the
// errno values Linux i2c-dev returns (ENXIO, EREMOTEIO), unwrappable.
var (
	errI2CDevAddr  = errors.New("sysfs-i2c: no such device or address")
	errI2CDevData  = errors.New("sysfs-i2c: remote I/O error")
	errI2CDevSpeed = errors.New("sysfs-i2c: the bus speed cannot be changed from user space")
	errDataNAK     = errors.New("data byte not acknowledged")
)

// ErrClosed is returned by Tx and SetSpeed after Close.
var ErrClosed = errors.New("nerveskeytest: chip closed")

// Revision is a simulated device type.
type Revision int

const (
	// ATECC508A has RevNum 00 00 50 00.
	ATECC508A Revision = iota + 1
	// ATECC608A has RevNum 00 00 60 02.
	ATECC608A
	// ATECC608B has RevNum 00 00 60 03.
	ATECC608B
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
	return fmt.Sprintf("Revision(%d)", int(r))
}

// revNum returns config bytes 4–7 for the revision.
func (r Revision) revNum() [4]byte {
	switch r {
	case ATECC508A:
		return [4]byte{0x00, 0x00, 0x50, 0x00}
	case ATECC608B:
		return [4]byte{0x00, 0x00, 0x60, 0x03}
	}
	return [4]byte{0x00, 0x00, 0x60, 0x02}
}

// Profile holds the rules docs/atecc.md marks unconfirmed. The zero value takes
// the strict reading of each; set a field to take the other one.
type Profile struct {
	// RandomKeepsTempKey508 makes Random leave TempKey alone on a 508, as
	// DS508 §3.3.2 suggests. Default: Random clears it (DS508 §2.5.1).
	RandomKeepsTempKey508 bool

	// LockMismatchStatus is the status for a Lock whose summary CRC does not
	// match. Default 0x0F (execution error); nothing locks either way.
	LockMismatchStatus byte

	// BadAddressStatus is the status for a Read or Write of a word or block
	// that does not exist. Default 0x03 (parse error); cryptoauthlib also
	// accepts 0x0F.
	BadAddressStatus byte

	// PartialReadACK makes a read during a partly received command answer
	// 0xFF bytes (DS508 §6.6). Default: NAK (DS508 §6.5, DS608).
	PartialReadACK bool

	// SHALenientLength accepts a SHA command whose Param2 differs from its
	// data length (the Elixir library sends 0). Default: 0x03.
	SHALenientLength bool

	// UpdateExtraNeedsConfigLock refuses UpdateExtra with 0x0F while the
	// config zone is unlocked. Default: accepted in every state, as
	// cryptoauthlib's tests expect (docs/atecc.md §5.12).
	UpdateExtraNeedsConfigLock bool

	// SignReadKeyAfterDataLockOnly checks SlotConfig.ReadKey bit 0 for
	// external Sign only after the data lock. Default: checked once the
	// config zone is locked (docs/atecc.md §4.1 notes).
	SignReadKeyAfterDataLockOnly bool

	// IdleLosesSHAContext drops the SHA context on idle, on the 508 and the
	// 608: the strict reading of DS508 §6.3 (docs/atecc.md §1.3). Default:
	// idle keeps it, as Microchip's cryptoauthlib test suite expects of
	// both families (its SHA functions idle the chip between Start,
	// Update and End).
	IdleLosesSHAContext bool

	// Deprecated: idle keeps the SHA context by default on both families
	// now, so this field has no effect. Set IdleLosesSHAContext for the
	// strict reading.
	IdleKeepsSHAContext608 bool
}

// Options configures a simulated chip. A nil *Options, or a zero field,
// selects the default.
type Options struct {
	// Addr pins the 7-bit I2C address. Default: config byte 16 shifted
	// right, latched at power-up and at each wake from sleep (0x60 on a
	// blank chip, whose byte 16 NewChip sets to Addr<<1 when Addr is set).
	Addr uint16

	// Revision selects the device. Default ATECC608A.
	Revision Revision

	// Serial is the 9-byte serial number of a blank chip. Default
	// 01 23 00 11 22 33 44 55 EE, i.e. 01 23 … EE. Ignored for images.
	Serial [9]byte

	// Timing selects typical (default), maximum or random execution times.
	Timing TimingMode

	// Watchdog is tWATCHDOG with ChipMode bit 2 clear. Default 1.3 s
	// (datasheet min/typ/max 0.7/1.3/1.7 s). With bit 2 set it is 10 s.
	Watchdog time.Duration

	// Seed seeds the chip's random number generator (Random, Nonce, GenKey)
	// and random timing. Default 0: seeded from crypto/rand. Signatures are
	// always made by crypto/ecdsa with its own randomness.
	Seed uint64

	// Speed is the initial bus speed. Default 100 kHz.
	Speed physic.Frequency

	// FactorySlotFill is the byte a blank chip's data slots hold (the
	// factory contents are unpublished). Default 0x00.
	FactorySlotFill byte

	// Profile selects readings of unconfirmed datasheet rules.
	Profile Profile

	// I2CDev makes the chip look as it does through Linux i2c-dev
	// (periph's sysfs bus): every NAK, the wake pulse to address 0
	// included, is an error carrying only the errno text ("no such device
	// or address" for the address, "remote I/O error" for a data byte),
	// not [ErrNAK], and SetSpeed fails, because user space cannot change
	// the bus speed. The environment variable NERVESKEYTEST_I2CDEV=1 sets
	// it for every chip, so a whole test suite can run in this mode.
	I2CDev bool
}

// Stats counts bus activity since the chip was made or ResetStats.
type Stats struct {
	Transactions int           // every Tx, NAKed ones and wake pulses included
	BusTime      time.Duration // virtual time elapsed: wire time plus Sleep calls
	Commands     int           // commands accepted for execution (CRC good)
	NAKs         int           // Tx calls that returned an error wrapping ErrNAK
	Wakes        int           // wake pulses that woke the chip
	CRCErrors    int           // commands answered 0xFF
	Slot0Reads   int           // host Read commands addressing slot 0 data, refused or not
	Slot0Writes  int           // host Write commands addressing slot 0 data, refused or not

	// ExecTime is the sum of the execution times of the commands
	// accepted: the time the chip was busy, the floor under BusTime.
	ExecTime time.Duration
	// ReadDelay is the sum, over answers read, of the time from the end
	// of the command's execution to the start of the host's first read
	// that got the answer: how late the host polled.
	ReadDelay time.Duration
}

type powerState int

const (
	stateAsleep powerState = iota
	stateWaking
	stateAwake
	stateIdle
)

// tempKey is TempKey with its flags (DS508 Table 2-16).
type tempKey struct {
	valid       bool
	data        [64]byte
	sourceInput bool // SourceFlag: false = Rand, true = Input
	genDigData  bool
	genKeyData  bool
	noMacFlag   bool
	keyID       byte

	genKeyPrivate bool // data[:32] is a private key from GenKey (608, KeyID 0xFFFF)
}

// volatileState is everything a sleep loses.
type volatileState struct {
	tk           tempKey
	digest       [64]byte // 608 message digest buffer
	digestValid  bool
	altKey       [32]byte // 608 alternate key buffer
	altKeyValid  bool
	authValid    bool
	authKeyID    byte
	sha          *shaContext
	selfTestFail byte
}

// A Chip is a simulated ATECC508A/608A/608B that is a periph [i2c.Bus].
//
// A Chip is safe for concurrent use by multiple goroutines: one mutex
// guards all of its state, so each Tx is atomic, as on a real bus.
type Chip struct {
	mu sync.Mutex // guards every field below

	opts     Options
	rev      Revision
	rng      *rand.ChaCha8
	timeRand *rand.Rand

	// EEPROM: kept over sleep, watchdog and power loss. The monotonic
	// counters live in config bytes 52–67 (see counter.go).
	config   [128]byte
	otp      [64]byte
	slots    [16][]byte
	keyValid [16]bool

	// Bus and power.
	now         time.Time
	state       powerState
	addr        uint16
	speed       physic.Frequency
	wakeReadyAt time.Time
	watchdogAt  time.Time
	in          []byte // partly received command
	out         []byte // output buffer
	outPos      int
	busy        bool
	busyUntil   time.Time
	pending     []byte // command executing
	tkLoaded    bool   // the executing command loaded TempKey

	vol   volatileState
	latch bool // 608 persistent latch: kept over sleep, lost on power loss

	faults     Faults
	hook       CommandHook
	pendingCmd *Command  // the hook's view of the executing command, or nil
	outLost    bool      // reads of the output NAK until the next write
	doneAt     time.Time // when the last command's answer became readable; zero once read
	stats      Stats
	statsSince time.Time
	closed     bool
}

var _ i2c.BusCloser = (*Chip)(nil)

// epoch is where every chip's virtual clock starts.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewChip returns a blank factory chip: serial number, RevNum and a
// factory-like configuration, every zone unlocked, asleep. A nil opts
// selects the defaults.
func NewChip(opts *Options) *Chip {
	c := newChip(opts)
	c.config = factoryConfig(c.rev, c.opts.Serial, c.opts.Addr)
	copy(c.otp[:], bytesOf(0xFF, 64))
	for i := range c.slots {
		c.slots[i] = bytesOf(c.opts.FactorySlotFill, slotSize(i))
	}
	c.powerUp()
	return c
}

func bytesOf(b byte, n int) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = b
	}
	return s
}

func newChip(opts *Options) *Chip {
	c := &Chip{}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.Revision == 0 {
		c.opts.Revision = ATECC608A
	}
	c.rev = c.opts.Revision
	if c.opts.Serial == ([9]byte{}) {
		c.opts.Serial = [9]byte{0x01, 0x23, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0xEE}
	}
	if c.opts.Watchdog <= 0 {
		c.opts.Watchdog = 1300 * time.Millisecond
	}
	if os.Getenv("NERVESKEYTEST_I2CDEV") == "1" {
		c.opts.I2CDev = true
	}
	if c.opts.Speed <= 0 {
		c.opts.Speed = 100 * physic.KiloHertz
	}
	if c.opts.Profile.LockMismatchStatus == 0 {
		c.opts.Profile.LockMismatchStatus = statusExecution
	}
	if c.opts.Profile.BadAddressStatus == 0 {
		c.opts.Profile.BadAddressStatus = statusParse
	}
	seed := c.opts.Seed
	if seed == 0 {
		var b [8]byte
		crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	c.rng = rand.NewChaCha8(key)
	c.timeRand = rand.New(rand.NewPCG(seed, 0x6e65727665736b79))
	c.speed = c.opts.Speed
	c.now = epoch
	c.statsSince = epoch
	return c
}

// String describes the chip, e.g. "nerveskeytest.Chip(ATECC608A@0x60)".
func (c *Chip) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("nerveskeytest.Chip(%v@%#02x)", c.rev, c.addr)
}

// Revision returns the simulated device type.
func (c *Chip) Revision() Revision { return c.rev }

// Close marks the chip closed; later Tx calls return ErrClosed. It is
// idempotent.
func (c *Chip) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// SetSpeed records the bus speed used to model wire time and the wake
// pulse (a write to address 0 wakes the chip only if 8 bit times last at
// least 60 µs, i.e. at 133 kHz or less).
func (c *Chip) SetSpeed(f physic.Frequency) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.opts.I2CDev {
		return errI2CDevSpeed
	}
	if f <= 0 || f > 10*physic.MegaHertz {
		return fmt.Errorf("nerveskeytest: bus speed %v out of range", f)
	}
	c.speed = f
	return nil
}

// Now returns the chip's virtual time. A driver that finds Now and Sleep
// on its bus uses them instead of the real clock.
func (c *Chip) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep advances virtual time by d at once, running whatever the chip
// does meanwhile (finishing a command, waking, watchdog). It returns
// ctx.Err() without advancing if ctx is done.
func (c *Chip) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.advance(d)
	}
	return nil
}

// Stats returns the counters since the chip was made or ResetStats.
func (c *Chip) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.BusTime = c.now.Sub(c.statsSince)
	return s
}

// ResetStats zeroes the counters, typically after test setup.
func (c *Chip) ResetStats() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats = Stats{}
	c.statsSince = c.now
}

// Awake reports whether the chip is awake (possibly busy).
func (c *Chip) Awake() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stateAwake
}

func (c *Chip) bitTime() time.Duration {
	return time.Duration(float64(time.Second) / float64(c.speed) * float64(physic.Hertz))
}

// advance moves virtual time forward by d, processing the events due.
func (c *Chip) advance(d time.Duration) { c.advanceTo(c.now.Add(d)) }

// advanceTo processes, in time order, the events due by t: end of the
// wake delay, end of a command, watchdog expiry.
func (c *Chip) advanceTo(t time.Time) {
	for {
		var next time.Time
		ev := 0
		consider := func(at time.Time, e int) {
			if !at.After(t) && (ev == 0 || at.Before(next)) {
				next, ev = at, e
			}
		}
		if c.state == stateWaking {
			consider(c.wakeReadyAt, 1)
		}
		if c.state == stateAwake && c.busy {
			consider(c.busyUntil, 2)
		}
		if c.state == stateWaking || c.state == stateAwake {
			consider(c.watchdogAt, 3)
		}
		if ev == 0 {
			break
		}
		if next.After(c.now) {
			c.now = next
		}
		switch ev {
		case 1:
			c.state = stateAwake
			c.setOutput([]byte{0x04, statusWake, 0x33, 0x43})
		case 2:
			c.finishCommand()
		case 3:
			c.sleep()
		}
	}
	if t.After(c.now) {
		c.now = t
	}
}

// sleep puts the chip to sleep: all volatile state is lost.
func (c *Chip) sleep() {
	c.state = stateAsleep
	c.vol = volatileState{}
	c.doneAt = time.Time{}
	c.in, c.out, c.outPos, c.outLost = nil, nil, 0, false
	c.busy, c.pending, c.pendingCmd = false, nil, nil
}

// idle enters the idle state: TempKey, the 608 buffers, the SHA context
// (unless the profile drops it) and the authorization are kept; the I/O
// buffer is flushed, the watchdog stops.
func (c *Chip) idle() {
	c.state = stateIdle
	c.in, c.out, c.outPos, c.outLost = nil, nil, 0, false
	c.busy, c.pending, c.pendingCmd = false, nil, nil
	if c.opts.Profile.IdleLosesSHAContext {
		c.vol.sha = nil
	}
}

// powerUp models power being applied: the chip is asleep, the 608 latch
// is clear and the I2C address is latched from the config zone.
func (c *Chip) powerUp() {
	c.sleep()
	c.latch = false
	c.latchAddr()
}

// latchAddr sets the address the chip answers at.
func (c *Chip) latchAddr() {
	switch {
	case c.opts.Addr != 0:
		c.addr = c.opts.Addr
	case c.rev != ATECC508A && c.config[cfgChipMode]&1 != 0 && c.config[cfgUserExtraAdd] != 0:
		c.addr = uint16(c.config[cfgUserExtraAdd] >> 1)
	default:
		c.addr = uint16(c.config[cfgI2CAddress] >> 1)
	}
}

// watchdogPeriod is tWATCHDOG for the current ChipMode.
func (c *Chip) watchdogPeriod() time.Duration {
	if c.config[cfgChipMode]&0x04 != 0 {
		return 10 * time.Second
	}
	return c.opts.Watchdog
}

func (c *Chip) setOutput(b []byte) {
	c.out = b
	c.outPos = 0
	c.outLost = false
}

func nak(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNAK}, args...)...)
}

// dataNAK is a NAK of a data byte rather than of the address.
func dataNAK(format string, args ...any) error {
	return fmt.Errorf("%w: %w: "+format, append([]any{ErrNAK, errDataNAK}, args...)...)
}

// Tx performs one I2C transaction: a write of w (if any), then a read
// into r (if any), with a repeated start between them. A transaction to
// address 0 is a wake pulse and always fails with ErrNAK. Every Tx
// advances virtual time by its modeled wire time.
func (c *Chip) Tx(addr uint16, w, r []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.stats.Transactions++
	err := c.tx(addr, w, r)
	if errors.Is(err, ErrNAK) {
		c.stats.NAKs++
		if c.opts.I2CDev {
			if errors.Is(err, errDataNAK) {
				err = errI2CDevData
			} else {
				err = errI2CDevAddr
			}
		}
	}
	if c.faults.PowerCutAfter > 0 {
		c.faults.PowerCutAfter--
		if c.faults.PowerCutAfter == 0 {
			c.powerUp()
		}
	}
	return err
}

func (c *Chip) tx(addr uint16, w, r []byte) error {
	bit := c.bitTime()
	// Start + address byte + (N)ACK.
	c.advance(10 * bit)
	if addr == 0 {
		// Eight low bits of the address (and R/W = 0) hold SDA low.
		c.wakePulse(8 * bit)
		c.advance(bit) // stop
		return nak("wake pulse at address 0")
	}
	if addr != c.addr || c.state != stateAwake || c.busy {
		c.advance(bit)
		return nak("address %#02x", addr)
	}
	if c.faults.NAK > 0 {
		c.faults.NAK--
		c.advance(bit)
		return nak("address %#02x (injected)", addr)
	}
	if len(w) > 0 {
		// The first write after reads rewinds the output pointer (DS508
		// §6.6), whatever the write holds.
		c.outPos = 0
		c.outLost = false
	}
	if len(w) > 0 || len(r) == 0 {
		c.advance(time.Duration(9*len(w)) * bit)
		if c.state != stateAwake {
			// The watchdog expired during the write: a sleeping chip
			// takes no bytes (docs/atecc.md §1.4).
			c.advance(bit)
			return dataNAK("address %#02x: asleep before the write ended", addr)
		}
		if err := c.write(w); err != nil {
			c.advance(bit)
			c.maybeStart()
			return err
		}
		if len(r) > 0 {
			// Repeated start and the address again.
			c.advance(10 * bit)
			if c.state != stateAwake || c.busy {
				c.advance(bit)
				return nak("address %#02x", addr)
			}
		}
	}
	if len(r) > 0 {
		if len(c.in) > 0 && !c.opts.Profile.PartialReadACK {
			c.advance(bit)
			return nak("address %#02x: command partly received", addr)
		}
		if c.outLost {
			c.advance(bit)
			return nak("address %#02x (answer lost, injected)", addr)
		}
		if !c.doneAt.IsZero() {
			// The read started at its address byte, 10 bit times ago.
			c.stats.ReadDelay += max(c.now.Add(-10*bit).Sub(c.doneAt), 0)
			c.doneAt = time.Time{}
		}
		for i := range r {
			if len(c.in) == 0 && c.outPos < len(c.out) {
				r[i] = c.out[c.outPos]
				c.outPos++
			} else {
				r[i] = 0xFF
			}
		}
		c.advance(time.Duration(9*len(r)) * bit)
	}
	c.advance(bit) // stop
	c.maybeStart()
	return nil
}

// maybeStart starts the command once all its bytes have arrived and the
// host has sent Stop.
func (c *Chip) maybeStart() {
	if c.state == stateAwake && !c.busy && len(c.in) > 0 && len(c.in) == int(c.in[0]) {
		c.startCommand()
	}
}

// wakePulse handles SDA held low for low.
func (c *Chip) wakePulse(low time.Duration) {
	if c.state != stateAsleep && c.state != stateIdle {
		return // a wake while awake is ignored
	}
	if low < 60*time.Microsecond {
		return
	}
	if c.faults.DropWake > 0 {
		c.faults.DropWake--
		return
	}
	if c.state == stateAsleep {
		c.latchAddr()
	}
	c.stats.Wakes++
	c.state = stateWaking
	delay := 1500 * time.Microsecond
	if c.rev != ATECC508A && c.config[cfgChipOptions]&1 != 0 {
		delay = 20 * time.Millisecond
	}
	c.wakeReadyAt = c.now.Add(delay)
	c.watchdogAt = c.now.Add(c.watchdogPeriod())
}

// write handles the bytes after the address in a write to an awake chip.
func (c *Chip) write(w []byte) error {
	if len(w) == 0 {
		return nil
	}
	switch w[0] {
	case wordReset:
		c.in = nil
		c.outPos = 0
	case wordSleep:
		c.sleep()
	case wordIdle:
		c.idle()
	case wordCommand:
		for i, b := range w[1:] {
			if len(c.in) == 0 && (b < minCount || b > maxCount) {
				c.setOutput(statusPacket(statusCRC))
				c.stats.CRCErrors++
				return nil // the rest of the write is ignored
			}
			if len(c.in) > 0 && len(c.in) == int(c.in[0]) {
				return dataNAK("data byte %d beyond command count", i+1)
			}
			c.in = append(c.in, b)
		}
	default:
		return dataNAK("reserved word address %#02x", w[0])
	}
	return nil
}

// startCommand checks a complete command's CRC and makes the chip busy
// for its execution time.
func (c *Chip) startCommand() {
	cmd := c.in
	c.in = nil
	n := len(cmd)
	if crc16(cmd[:n-2]) != binary.LittleEndian.Uint16(cmd[n-2:]) {
		c.stats.CRCErrors++
		c.setOutput(statusPacket(statusCRC))
		return
	}
	op := byte(0)
	if n > 3 {
		op = cmd[1]
	}
	d := c.execTime(op)
	c.pendingCmd = nil
	if c.hook != nil && n >= 7 {
		typ, mx := c.execBounds(op)
		hc := &Command{
			Opcode: op, Param1: cmd[2], Param2: binary.LittleEndian.Uint16(cmd[3:5]),
			Data: append([]byte(nil), cmd[5:n-2]...), ExecTime: d, Typical: typ, Max: mx,
		}
		c.hook(hc)
		d = max(hc.ExecTime, 0)
		c.pendingCmd = hc
	}
	if c.watchdogAt.Sub(c.now) < d {
		// Not executed; on a 508 every status but 0xFF and 0x05 clears
		// TempKey (DS508 §2.5.1, read literally).
		c.clearTempKey508(statusWatchdog)
		c.setOutput(statusPacket(statusWatchdog))
		return
	}
	c.stats.Commands++
	c.stats.ExecTime += d
	c.setOutput(nil)
	c.busy = true
	c.pending = cmd
	c.busyUntil = c.now.Add(d)
}

// finishCommand executes the pending command when its time is over.
func (c *Chip) finishCommand() {
	c.doneAt = c.now
	cmd, hc := c.pending, c.pendingCmd
	c.busy, c.pending, c.pendingCmd = false, nil, nil
	payload := c.execute(cmd)
	if hc != nil && hc.Answer != nil {
		payload = hc.Answer(append([]byte(nil), payload...))
	}
	pkt := make([]byte, 0, len(payload)+3)
	pkt = append(pkt, byte(len(payload)+3))
	pkt = appendCRC(append(pkt, payload...))
	if c.faults.CorruptResponse > 0 {
		c.faults.CorruptResponse--
		pkt[1] ^= 0x01
	}
	if hc != nil {
		switch hc.Lose {
		case LostNAK:
			c.setOutput(pkt)
			c.outLost = true
			return
		case LostGarbage:
			for i := 1; i < len(pkt); i++ {
				pkt[i] = byte(c.rng.Uint64())
			}
			if crc16(pkt[:len(pkt)-2]) == binary.LittleEndian.Uint16(pkt[len(pkt)-2:]) {
				pkt[len(pkt)-1] ^= 0xFF
			}
		}
	}
	c.setOutput(pkt)
}

func statusPacket(s byte) []byte {
	return appendCRC([]byte{4, s})
}
