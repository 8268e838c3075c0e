package atecc

import (
	"context"
	"time"

	periphi2c "periph.io/x/conn/v3/i2c"

	"github.com/nerveskey/nerveskey/internal/i2c"
)

// Options configures New; it is the transport's [i2c.Options]. A nil
// *Options selects the defaults.
type Options = i2c.Options

// A Dev is one ATECC508A/608A chip. It is safe for concurrent use by
// multiple goroutines: every method runs in its own session of the
// underlying transport, and sessions are serialized.
type Dev struct {
	t *i2c.Transport

	// prof is read from config block 0 at the start of the first session
	// and reset by WriteConfig. It is only touched inside a session, so
	// the transport's session lock guards it.
	prof *profile
}

// New returns a Dev for the chip on bus. It does no I/O; the first method
// call wakes the chip and reads its revision. The caller keeps ownership
// of bus.
func New(bus periphi2c.Bus, opts *Options) *Dev {
	return &Dev{t: i2c.New(bus, opts)}
}

// Transport returns the underlying transport.
func (d *Dev) Transport() *i2c.Transport { return d.t }

// String describes the device.
func (d *Dev) String() string { return d.t.String() }

// A Session is one wake cycle of the chip, in which callers compose
// commands that must not be separated by a sleep: the chip loses TempKey,
// the 608 digest buffer and CheckMac authorization when it sleeps. It is
// valid only inside the function passed to [Dev.Do] and not safe for
// concurrent use.
type Session struct {
	d *Dev
	s *i2c.Session
}

// Do runs f in one session: the chip is woken, f runs, the chip sleeps.
// On a transient error (bus NAK, timeout, frame CRC, or status 0x03, 0x05,
// 0x11, 0xEE, 0xFF) the whole of f runs again from a new wake, so a
// Nonce→Sign transaction is restarted as a whole, never step by step. f
// must therefore be safe to run more than once. f must not call methods of
// d (they would wait for the session f is in).
func (d *Dev) Do(ctx context.Context, f func(s *Session) error) error {
	return d.t.Do(ctx, func(is *i2c.Session) error {
		s := &Session{d: d, s: is}
		if d.prof == nil {
			if err := s.loadProfile(ctx); err != nil {
				return err
			}
		}
		return f(s)
	})
}

// loadProfile reads config block 0 and caches revision, ChipMode and
// serial number.
func (s *Session) loadProfile(ctx context.Context) error {
	b, err := s.s.Execute(ctx, i2c.Command{
		Name: "read config block 0", Op: byte(OpRead), P1: zoneLen32 | byte(ZoneConfig),
		RespLen: BlockSize, Typical: bootTyp, Max: bootMax, ElixirT: execTimeOf(OpRead).elixir,
	})
	if err != nil {
		return err
	}
	var c Config
	copy(c[:], b)
	s.d.prof = &profile{rev: c.Revision(), chipMode: c.ChipMode(), serial: c.SerialNumber()}
	return nil
}

// Revision returns the chip revision decoded from RevNum.
func (s *Session) Revision() Revision { return s.d.prof.rev }

// SerialNumber returns the 9-byte chip serial, read at the first session.
func (s *Session) SerialNumber() [9]byte { return s.d.prof.serial }

// command builds a transport command with the timing of op on this chip.
func (s *Session) command(name string, op Opcode, p1 byte, p2 uint16, data []byte, respLen int) i2c.Command {
	typ, max, elixir := s.d.prof.times(op)
	return i2c.Command{
		Name: name, Op: byte(op), P1: p1, P2: p2, Data: data,
		RespLen: respLen, Typical: typ, Max: max, ElixirT: elixir,
	}
}

// exec runs one command with the timing of op on this chip.
func (s *Session) exec(ctx context.Context, name string, op Opcode, p1 byte, p2 uint16, data []byte, respLen int) ([]byte, error) {
	return s.s.Execute(ctx, s.command(name, op, p1, p2, data, respLen))
}

// Refresh restarts the chip's watchdog (Idle, then wake), keeping TempKey.
// Sessions do this by themselves before a command that could outlive the
// watchdog; see [i2c.Session.Refresh].
func (s *Session) Refresh(ctx context.Context) error { return s.s.Refresh(ctx) }

// Now returns the transport clock's time.
func (s *Session) Now() time.Time { return s.s.Clock().Now() }

// Revision returns the chip revision, waking the chip on first use.
func (d *Dev) Revision(ctx context.Context) (Revision, error) {
	var r Revision
	err := d.Do(ctx, func(s *Session) error { r = s.Revision(); return nil })
	return r, err
}

// SerialNumber returns the 9-byte chip serial (config bytes 0–3, 8–12).
func (d *Dev) SerialNumber(ctx context.Context) ([9]byte, error) {
	var sn [9]byte
	err := d.Do(ctx, func(s *Session) error { sn = s.SerialNumber(); return nil })
	return sn, err
}
