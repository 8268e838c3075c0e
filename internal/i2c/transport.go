package i2c

import (
	"context"
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// Defaults and datasheet timings used by the transport.
const (
	// DefaultAddr is the factory 7-bit I2C address (DS508 Table 2-5 byte 16).
	DefaultAddr uint16 = 0x60

	// DefaultRetryBudget is how long Do keeps retrying, as in the Elixir
	// driver (docs/nerves_key.md §8.1).
	DefaultRetryBudget = time.Second

	// WatchdogBudget is the part of the chip's minimum watchdog period
	// (0.7 s, DS508 Table 8-2) a session may use before it idles and wakes
	// the chip again; the rest covers bus and host latency.
	WatchdogBudget = 600 * time.Millisecond

	// watchdogMax is the longest tWATCHDOG (DS508 Table 8-2): the chip
	// is asleep, its command lost, by then after a wake.
	watchdogMax = 1700 * time.Millisecond

	// tWHI is the wake high time after the wake pulse (DS508 Table 8-2).
	tWHI = 1500 * time.Microsecond

	// maxWakeSpeed is the fastest bus on which an address-0 write still
	// holds SDA low for tWLO (60 µs) (docs/atecc.md §1.2).
	maxWakeSpeed = 133 * physic.KiloHertz

	wakeAttempts   = 4                      // as the Elixir driver
	minPoll        = 500 * time.Microsecond // default strategy's poll interval bounds
	maxPoll        = 10 * time.Millisecond
	pollMargin     = 2 * time.Millisecond // past Max before ErrTimeout
	elixirPoll     = 2 * time.Millisecond // docs/nerves_key.md §8.1
	firstBackoff   = 2 * time.Millisecond
	maxBackoff     = 100 * time.Millisecond // the Elixir driver's fixed back-off
	busyRetryDelay = 5 * time.Millisecond   // before re-sending sleep to a busy chip
)

// WaitStrategy selects how the transport waits for a command to finish.
type WaitStrategy int

const (
	// WaitPoll polls for the answer from when the chip was seen to
	// complete the same command kind before (at first, the command's
	// typical time), at an interval that follows how much those times
	// spread (at first (max-typical)/16 bounded to 0.5–10 ms), and past
	// the table maximum until the chip's watchdog would have put it to
	// sleep. It is the default.
	WaitPoll WaitStrategy = iota

	// WaitElixir copies the Elixir atecc508a driver (docs/nerves_key.md §8.1):
	// sleep round(T/2) ms, then poll every 2 ms while elapsed+2 < T, where
	// T is the command's Elixir timeout. It exists so benchmarks can show
	// the difference.
	WaitElixir
)

// String returns "poll" or "elixir".
func (w WaitStrategy) String() string {
	switch w {
	case WaitPoll:
		return "poll"
	case WaitElixir:
		return "elixir"
	}
	return fmt.Sprintf("WaitStrategy(%d)", int(w))
}

// Options configures New. A nil *Options, or a zero field, selects the
// default.
type Options struct {
	Addr        uint16        // 7-bit I2C address; default 0x60
	Clock       Clock         // default: the bus if it implements Clock, else the wall clock
	Wait        WaitStrategy  // default WaitPoll
	RetryBudget time.Duration // retries of a whole session after the first; default 1 s; negative disables retries

	// WakeDelay is the wait between the wake pulse and reading the wake
	// response; default tWHI, 1.5 ms. Set 20 ms (tWHIST) for a 608 with
	// power-on self-test enabled (DS608-TFLX Table 9-2).
	WakeDelay time.Duration

	// BusSpeed is the bus speed the caller configured, if known. When it
	// is above 133 kHz the transport calls SetSpeed(WakeSpeed) for the
	// wake pulse and restores BusSpeed afterwards; SetSpeed errors are
	// ignored, because most Linux adapters cannot change speed. Zero
	// means unknown: the speed is left alone.
	BusSpeed physic.Frequency
	// WakeSpeed is the bus speed for the wake pulse; default 100 kHz.
	WakeSpeed physic.Frequency

	// LockPath names a file (or the bus device node) to lock around each
	// session, so several processes can share one chip; it is opened once
	// and kept open until Close. Empty means no file lock. Waits are
	// bounded by ctx and DefaultLockWait. See LockSupported.
	LockPath string

	Trace *Trace // optional hooks
}

// A Trace holds optional hooks, called synchronously while the transport
// holds the bus, in the style of net/http/httptrace. Any field may be nil.
// Hooks must not call back into the Transport.
type Trace struct {
	// Wake is called after each wake attempt sequence with the number of
	// attempts used and the resulting error (nil on success).
	Wake func(attempts int, err error)
	// Command is called after each command with its name, the time from
	// sending it to having its answer, and the error, if any.
	Command func(op string, elapsed time.Duration, err error)
	// Retry is called before a session is run again, with the attempt
	// number that failed (1 for the first), its error and the back-off.
	Retry func(attempt int, err error, backoff time.Duration)
}

// A Transport talks to one chip on a bus. It is safe for concurrent use:
// sessions are serialized by a one-slot semaphore that also honours the
// caller's context while waiting.
type Transport struct {
	bus  i2c.Bus
	opts Options // defaults filled in by New, never changed
	clk  Clock

	sem chan struct{} // holds a token while a session runs; guards the bus and learned
	lk  *busLock      // Options.LockPath, or nil; see lock.go

	learned map[timingKey]*opTiming // completion times seen per command kind (learn.go)
}

// New returns a Transport for the chip at opts.Addr on bus. The caller keeps
// ownership of bus.
func New(bus i2c.Bus, opts *Options) *Transport {
	t := &Transport{bus: bus, sem: make(chan struct{}, 1), learned: make(map[timingKey]*opTiming)}
	if opts != nil {
		t.opts = *opts
	}
	o := &t.opts
	if o.Addr == 0 {
		o.Addr = DefaultAddr
	}
	if o.RetryBudget == 0 {
		o.RetryBudget = DefaultRetryBudget
	}
	if o.WakeDelay == 0 {
		o.WakeDelay = tWHI
	}
	if o.WakeSpeed == 0 {
		o.WakeSpeed = 100 * physic.KiloHertz
	}
	if o.LockPath != "" {
		t.lk = &busLock{path: o.LockPath}
	}
	t.clk = o.Clock
	if t.clk == nil {
		if c, ok := bus.(Clock); ok {
			t.clk = c
		} else {
			t.clk = realClock{}
		}
	}
	return t
}

// String describes the transport, e.g. "atecc@0x60 on I2C1".
func (t *Transport) String() string {
	return fmt.Sprintf("atecc@%#02x on %v", t.opts.Addr, t.bus)
}

// Clock returns the clock the transport waits on.
func (t *Transport) Clock() Clock { return t.clk }

// Options returns the options in effect, defaults filled in.
func (t *Transport) Options() Options { return t.opts }

// Do runs f in one wake cycle of the chip and puts the chip to sleep
// afterwards, whatever the outcome. It holds the transport (and
// Options.LockPath) for the whole call, so the commands f sends are atomic
// with respect to other callers: use one Do for every sequence that relies
// on TempKey (Nonce then Sign).
//
// If f fails with a transient error (see the package doc), Do sleeps the
// chip, backs off and runs f again from a new wake: once in any case, then
// until RetryBudget has passed since the first attempt; f must therefore
// be safe to run again.
// Other errors, including every error f makes itself, return at once.
// ctx is checked between commands and before retries, never inside a
// command. Waiting for the bus (another goroutine's session, or another
// process's lock on Options.LockPath) ends with ctx or, when ctx has no
// deadline, after DefaultLockWait, with an error wrapping
// context.DeadlineExceeded. f must not call Do on the same Transport.
func (t *Transport) Do(ctx context.Context, f func(s *Session) error) error {
	if err := t.acquire(ctx); err != nil {
		return err
	}
	defer func() { <-t.sem }()

	unlock, err := t.lockBus(ctx)
	if err != nil {
		return err
	}
	defer unlock()

	start := t.clk.Now()
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		err := t.session(ctx, f)
		if err == nil || !retryable(err) || t.opts.RetryBudget < 0 || ctx.Err() != nil {
			return err
		}
		// The first retry is always made: a command whose answer never
		// came is waited for until the chip's watchdog, which may use up
		// the budget in one attempt (session.go, await).
		if attempt > 1 && t.clk.Now().Add(backoff).Sub(start) > t.opts.RetryBudget {
			return fmt.Errorf("no more retries after %d attempts: %w", attempt, err)
		}
		if tr := t.opts.Trace; tr != nil && tr.Retry != nil {
			tr.Retry(attempt, err, backoff)
		}
		if err := t.clk.Sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// session runs one wake cycle.
func (t *Transport) session(ctx context.Context, f func(s *Session) error) error {
	s := &Session{t: t}
	if err := t.wake(); err != nil {
		return err
	}
	s.wokeAt = t.clk.Now()
	err := f(s)
	t.sleep(1)
	return err
}

// wake wakes the chip and checks the wake response 04 11 33 43. A chip that
// was already awake answers with stale buffer contents (a wake is ignored
// while awake, DS508 §6.1.1); it is sent to sleep and woken again.
func (t *Transport) wake() error {
	var err error
	n := 0
	for n = 1; n <= wakeAttempts; n++ {
		if err = t.wakeOnce(); err == nil {
			break
		}
		if n < wakeAttempts {
			// The chip may be awake with stale data, or still busy with a
			// command from an aborted session: put it to sleep, retrying
			// while it NAKs, before the next pulse.
			t.sleep(3)
		}
	}
	if tr := t.opts.Trace; tr != nil && tr.Wake != nil {
		tr.Wake(n, err)
	}
	return err
}

func (t *Transport) wakeOnce() error {
	bg := context.Background() // a wake is never interrupted halfway
	slow := t.opts.BusSpeed > maxWakeSpeed
	if slow {
		_ = t.bus.SetSpeed(t.opts.WakeSpeed)
	}
	// Nobody ACKs address 0; the write only holds SDA low.
	_ = t.bus.Tx(0, []byte{0x00}, nil)
	if slow {
		_ = t.bus.SetSpeed(t.opts.BusSpeed)
	}
	_ = t.clk.Sleep(bg, t.opts.WakeDelay)
	var r [4]byte
	if err := t.bus.Tx(t.opts.Addr, nil, r[:]); err != nil {
		return fmt.Errorf("%w: %w", ErrWake, &BusError{Op: "read wake response", Err: err})
	}
	if string(r[:]) != wakeResponse {
		return fmt.Errorf("%w: wake response % x", ErrWake, r)
	}
	return nil
}

// sleep sends the Sleep word address, up to tries times: a busy chip NAKs
// it. If the chip still NAKs (busy, or already asleep after its watchdog),
// its watchdog puts it to sleep soon enough.
func (t *Transport) sleep(tries int) {
	for i := range tries {
		if t.bus.Tx(t.opts.Addr, []byte{wordSleep}, nil) == nil {
			return
		}
		if i+1 < tries {
			_ = t.clk.Sleep(context.Background(), busyRetryDelay)
		}
	}
}

// errNoLock is returned when LockPath is set on a system without flock.
//
//lint:ignore U1000 used by flock_other.go, on systems without flock
var errNoLock = errors.New("i2c: Options.LockPath is not supported on this system")
