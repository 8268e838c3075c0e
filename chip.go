package nerveskey

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/nerveskey/nerveskey/internal/atecc"
	ni2c "github.com/nerveskey/nerveskey/internal/i2c"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// A DeviceType says how the chip was provisioned. Trust&Go parts are never
// detected automatically, as in nerves_key: the caller says which it is.
type DeviceType int

const (
	// NervesKey is a chip provisioned by nerves_key or nerveskey (the
	// default), at I2C address 0x60.
	NervesKey DeviceType = iota
	// TrustAndGo is a Microchip ATECC608 Trust&Go part, pre-provisioned
	// by Microchip, at I2C address 0x35.
	TrustAndGo
)

// String returns "nerves_key" or "trust_and_go", the names nerves_key uses.
func (t DeviceType) String() string {
	switch t {
	case NervesKey:
		return "nerves_key"
	case TrustAndGo:
		return "trust_and_go"
	}
	return fmt.Sprintf("DeviceType(%d)", int(t))
}

// A Pair selects one of the two certificate pairs a NervesKey stores.
type Pair int

const (
	// Primary is the certificate pair written by provisioning (slots 10–12).
	Primary Pair = iota
	// Aux is the optional auxiliary pair (slots 9, 14, 15).
	Aux
)

// String returns "primary" or "aux".
func (p Pair) String() string {
	switch p {
	case Primary:
		return "primary"
	case Aux:
		return "aux"
	}
	return fmt.Sprintf("Pair(%d)", int(p))
}

// A mode is how a chip is configured (docs/nerves_key.md §3.4); Info.Mode
// holds its name.
type mode int

const (
	modeUnprovisioned mode = iota // the data zone is not locked
	modeRegular                   // a NervesKey with its key usable at any time
	modeVolatile                  // a 608 NervesKey whose key needs the persistent latch
	modeUnrecognized              // locked, but not with a NervesKey configuration
)

// String returns "unprovisioned", "regular", "volatile" or "unrecognized".
func (m mode) String() string {
	return [...]string{"unprovisioned", "regular", "volatile", "unrecognized"}[m]
}

// modeOf classifies a configuration zone as nerves_key's
// Config.provisioning_info does, from the one detection of what a chip is
// (internal/layout), which Info and Key both use.
func modeOf(c *atecc.Config) mode {
	if !c.DataLocked() {
		return modeUnprovisioned
	}
	switch layout.Detect(c) {
	case layout.NervesKeyVolatile:
		return modeVolatile
	case layout.NervesKey:
		return modeRegular
	}
	return modeUnrecognized
}

// A Trace holds optional hooks called while the bus is held, in the style
// of net/http/httptrace. A nil field is not called. The hooks run
// synchronously on the goroutine that holds the bus: they must not call
// the Chip or Key, and should return quickly.
type Trace struct {
	// Wake is called after each wake attempt sequence with the number of
	// attempts used and the resulting error (nil on success).
	Wake func(attempts int, err error)
	// Command is called after each command with its name, the time from
	// sending it to having its answer, and the error, if any.
	Command func(op string, elapsed time.Duration, err error)
	// Retry is called before a whole command sequence is run again, with
	// the attempt number that failed (1 for the first), its error and the
	// back-off; also before a signature that did not verify on the host is
	// made again (its error wraps ErrInconsistent, back-off 0).
	Retry func(attempt int, err error, backoff time.Duration)
}

// Options configures OpenChip, Open and OpenBus. A nil *Options, or a zero
// field, selects the default.
type Options struct {
	// Addr is the 7-bit I2C address; default 0x60, or 0x35 for TrustAndGo.
	Addr uint16
	// Type is how the chip was provisioned; default NervesKey.
	Type DeviceType
	// RetryBudget bounds retries of one command sequence after NAKs, CRC
	// errors, watchdog expiry and other transient failures; default 1 s,
	// as in nerves_key. Negative disables retries.
	RetryBudget time.Duration
	// BusSpeed is the speed the bus runs at, if known. Above 133 kHz the
	// wake pulse is too short; the driver then asks the bus to slow down
	// for the wake (most Linux adapters cannot: use a slower bus).
	BusSpeed physic.Frequency
	// LockFile names a file that is locked (flock(2), or LockFileEx on
	// Windows) around every command sequence, so that several processes
	// can share the chip without interleaving a Nonce and a Sign. It is
	// opened once and kept open until Close. Empty selects the default:
	// off for simulated chips; for a Linux I2C bus its device node (e.g.
	// /dev/i2c-1), so exactly those who may open the bus may hold the
	// lock; for other hardware buses
	// /run/lock/nerveskey-<bus>-<addr>.lock (or in the temporary
	// directory), which any local user can create or hold (SECURITY.md);
	// none on systems without such locks (Solaris, illumos, AIX, Plan 9).
	// "-" turns it off. A wait for the lock, or for another goroutine's
	// command sequence, ends with the context or, without a deadline
	// (crypto.Signer's Sign), after 5 s, with an error wrapping
	// context.DeadlineExceeded.
	LockFile string
	// ActivationKey is the 16-byte activation key of a volatile-key chip
	// (nerves_key's volatile_provision). When the chip's persistent latch
	// is not set, the Key authorizes with it before signing.
	ActivationKey []byte
	// Trace holds optional hooks to watch the bus.
	Trace *Trace
}

// clock is what the driver uses for time; a simulated bus provides it.
type clock = ni2c.Clock

func (o *Options) addr() uint16 {
	switch {
	case o != nil && o.Addr != 0:
		return o.Addr
	case o != nil && o.Type == TrustAndGo:
		return 0x35
	}
	return 0x60
}

func (o *Options) typ() DeviceType {
	if o == nil {
		return NervesKey
	}
	return o.Type
}

// lockPath returns the flock path for bus, or "" for none.
func (o *Options) lockPath(bus i2c.Bus) string {
	var p string
	if o != nil {
		p = o.LockFile
	}
	switch {
	case p == "-":
		return ""
	case p != "":
		return p
	}
	if _, simulated := bus.(clock); simulated || !ni2c.LockSupported {
		return ""
	}
	if p := ni2c.DeviceLockPath(bus.String()); p != "" {
		return p
	}
	dir := "/run/lock"
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		dir = os.TempDir()
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, bus.String())
	return filepath.Join(dir, fmt.Sprintf("nerveskey-%s-%02x.lock", name, o.addr()))
}

// A Chip is an ATECC508A/608A, provisioned or not: it reads identity,
// certificates and settings, and provisions. Use [Chip.Key] (or [Open])
// for the signing key.
//
// A Chip is safe for concurrent use by multiple goroutines. Commands are
// serialized on the bus, and a command sequence that needs one wake cycle
// (Nonce then Sign) is never interleaved with another.
type Chip struct {
	dev    *atecc.Dev
	typ    DeviceType
	addr   uint16
	actKey []byte
	trace  *Trace    // Options.Trace, or nil
	bus    io.Closer // closed by Close when OpenBus opened it

	mu     sync.Mutex // guards the fields below
	closed bool
	cfg    *atecc.Config // cached configuration zone; reset by provisioning
	cache  chipCache     // identity and certificates read from the chip
}

// OpenChip wakes the chip on bus and reads its configuration zone. It
// works on blank, provisioned and foreign chips alike. The caller keeps
// ownership of bus: Close does not close it.
func OpenChip(ctx context.Context, bus i2c.Bus, opts *Options) (*Chip, error) {
	if bus == nil {
		return nil, errors.New("nerveskey: open: nil bus")
	}
	var o ni2c.Options
	if opts != nil {
		o.RetryBudget = opts.RetryBudget
		o.BusSpeed = opts.BusSpeed
		o.Trace = (*ni2c.Trace)(opts.Trace)
	}
	o.Addr = opts.addr()
	o.LockPath = opts.lockPath(bus)
	c := &Chip{dev: atecc.New(bus, &o), typ: opts.typ(), addr: o.Addr}
	if opts != nil {
		c.trace = opts.Trace
	}
	if opts != nil && opts.ActivationKey != nil {
		if len(opts.ActivationKey) != 16 {
			return nil, fmt.Errorf("nerveskey: open: activation key is %d bytes, want 16", len(opts.ActivationKey))
		}
		c.actKey = append([]byte(nil), opts.ActivationKey...)
	}
	if _, err := c.config(ctx); err != nil {
		return nil, fmt.Errorf("nerveskey: open %s at 0x%02x: %w", bus, o.Addr, err)
	}
	return c, nil
}

// Close puts the chip to sleep (it already sleeps between command
// sequences) and releases the bus if OpenBus opened it. Close is
// idempotent; later calls on the Chip return ErrClosed.
func (c *Chip) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	lerr := c.dev.Transport().Close() // waits for a command sequence in progress
	if c.bus != nil {
		if err := c.bus.Close(); err != nil {
			return fmt.Errorf("nerveskey: close: %w", err)
		}
	}
	if lerr != nil {
		return fmt.Errorf("nerveskey: close: %w", lerr)
	}
	return nil
}

// check returns ErrClosed after Close.
func (c *Chip) check() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	return nil
}

// config returns the configuration zone, reading it once.
func (c *Chip) config(ctx context.Context) (*atecc.Config, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()
	if cfg != nil {
		return cfg, nil
	}
	v, err := c.dev.ReadConfig(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.cfg = &v
	c.mu.Unlock()
	return &v, nil
}

// forget drops everything cached from the chip; provisioning calls it
// after changing the chip.
func (c *Chip) forget() {
	c.mu.Lock()
	c.cfg = nil
	c.cache = chipCache{}
	c.mu.Unlock()
}
