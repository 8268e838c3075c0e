package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nerveskey/nerveskey"
	ni2c "github.com/nerveskey/nerveskey/internal/i2c"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// globals are the flags every command accepts.
type globals struct {
	bus           string
	addr          uint16 // 0: the default for the device type
	typ           nerveskey.DeviceType
	sim           string
	activationKey []byte
	stdin         io.Reader // read by a key flag given as "-"
	stdinUsed     bool      // a key flag has read stdin
}

// register adds the global flags to fs. The flag values write through to
// g without resetting it, so a subcommand's FlagSet can accept them after
// the command name too.
func (g *globals) register(fs *flag.FlagSet) {
	fs.Var(funcValue{func() string { return g.bus }, func(s string) error { g.bus = s; return nil }},
		"bus", "the I2C bus `NAME`, e.g. /dev/i2c-1 (default the first I2C bus)")
	fs.Var(funcValue{func() string {
		if g.addr == 0 {
			return ""
		}
		return fmt.Sprintf("0x%02x", g.addr)
	}, g.setAddr}, "addr", "the chip's 7-bit I2C address `0xNN` (default 0x60, 0x35 for trust_and_go)")
	fs.Var(funcValue{func() string { return "" }, g.setType},
		"type", "the device `TYPE`: nerves_key or trust_and_go (default nerves_key)")
	fs.Var(funcValue{func() string { return g.sim }, func(s string) error {
		if s == "" {
			return errors.New("empty file name")
		}
		g.sim = s
		return nil
	}}, "sim", "use the simulated chip image in `FILE` (JSON, as written by 'sim new') instead of a bus; commands that change the chip write it back")
	fs.Var(funcValue{func() string { return "" }, g.setActivationKey},
		"activation-key", "the 16-byte activation key of a volatile-key chip, as 32 `HEX` digits, or @FILE holding them, or - to read them from standard input (keeps the key out of the process list)")
}

// flagSet returns a FlagSet holding only the global flags, for the help.
func (g *globals) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("nerveskey", flag.ContinueOnError)
	(&globals{}).register(fs)
	return fs
}

func (g *globals) setAddr(s string) error {
	v, err := strconv.ParseUint(s, 0, 16)
	if err != nil || v < 0x08 || v > 0x77 {
		return fmt.Errorf("%q is not a 7-bit I2C address (0x08 to 0x77)", s)
	}
	g.addr = uint16(v)
	return nil
}

func (g *globals) setType(s string) error {
	switch s {
	case "nerves_key":
		g.typ = nerveskey.NervesKey
	case "trust_and_go":
		g.typ = nerveskey.TrustAndGo
	default:
		return fmt.Errorf("%q is not nerves_key or trust_and_go", s)
	}
	return nil
}

func (g *globals) setActivationKey(s string) error {
	b, err := g.readKeyArg(s, 16)
	if err != nil {
		return err
	}
	g.activationKey = b
	return nil
}

// funcValue is a flag.Value made of two funcs.
type funcValue struct {
	get func() string
	set func(string) error
}

func (v funcValue) String() string {
	if v.get == nil {
		return ""
	}
	return v.get()
}
func (v funcValue) Set(s string) error { return v.set(s) }

// parseHex decodes hex digits (spaces and a 0x prefix allowed) and, when
// n > 0, checks the length is n bytes.
func parseHex(s string, n int) ([]byte, error) {
	t := strings.Join(strings.Fields(s), "")
	t = strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	b, err := hex.DecodeString(t)
	if err != nil {
		var ie hex.InvalidByteError
		switch {
		case errors.As(err, &ie):
			return nil, fmt.Errorf("invalid hex: %q is not a hex digit", rune(ie))
		case errors.Is(err, hex.ErrLength):
			return nil, fmt.Errorf("invalid hex: odd number of digits (%d)", len(t))
		}
		return nil, fmt.Errorf("invalid hex: %v", err)
	}
	if n > 0 && len(b) != n {
		return nil, fmt.Errorf("hex value is %d bytes, want %d (%d digits)", len(b), n, 2*n)
	}
	return b, nil
}

func (g *globals) options() *nerveskey.Options {
	return &nerveskey.Options{Addr: g.addr, Type: g.typ, ActivationKey: g.activationKey}
}

// A session is an open chip, real or simulated.
type session struct {
	*nerveskey.Chip
	sim     *nerveskeytest.Chip // nil on hardware
	path    string              // the image file, with sim
	mode    os.FileMode         // its permissions
	initial []byte              // the image as loaded
	unlock  func()              // releases the image file's lock (simlock_*.go)
	shared  bool                // the lock is shared: the image is never saved
	bus     io.Closer           // the hardware bus, closed by finish; nil with sim
}

// open opens the chip the global flags name, for a command that may
// change it.
func (c *cli) open() (*session, error) { return c.openChip(false) }

// openRead opens the chip the global flags name for a command that only
// reads and signs: a simulated image is locked shared, so an agent and a
// sign beside it can both use it, and is never saved.
func (c *cli) openRead() (*session, error) { return c.openChip(true) }

func (c *cli) openChip(shared bool) (*session, error) {
	if c.g.sim == "" {
		// A Chip, not a Key: info, provision and config work on blank
		// and foreign chips too.
		bus, err := ni2c.OpenBus(c.g.bus)
		if err != nil {
			return nil, c.openHint(err)
		}
		ch, err := nerveskey.OpenChip(c.ctx, bus, c.g.options())
		if err != nil {
			bus.Close()
			return nil, c.openHint(err)
		}
		return &session{Chip: ch, bus: bus}, nil
	}
	if c.g.bus != "" {
		return nil, usagef("", "--sim and --bus exclude each other")
	}
	s := &session{path: c.g.sim, shared: shared}
	unlock, err := lockImage(c.ctx, s.path, shared, c.stderr)
	if err != nil {
		return nil, withHint(fmt.Errorf("lock sim image: %w", err), "create one with 'nerveskey sim new %s'", s.path)
	}
	s.unlock = unlock
	ok := false
	defer func() {
		if !ok {
			unlock()
		}
	}()
	data, err := os.ReadFile(s.path)
	if err != nil {
		return nil, withHint(fmt.Errorf("read sim image: %w", err), "create one with 'nerveskey sim new %s'", s.path)
	}
	if fi, err := os.Stat(s.path); err == nil {
		s.mode = fi.Mode().Perm()
	}
	img, err := nerveskeytest.ParseImage(data)
	if err != nil {
		return nil, fmt.Errorf("sim image %s: %w", s.path, err)
	}
	s.initial, err = marshalImage(img)
	if err != nil {
		return nil, fmt.Errorf("sim image %s: %w", s.path, err)
	}
	s.sim, err = nerveskeytest.NewChipFromImage(img, &nerveskeytest.Options{Addr: c.g.addr, Timing: c.simTiming})
	if err != nil {
		return nil, fmt.Errorf("sim image %s: %w", s.path, err)
	}
	s.Chip, err = nerveskey.OpenChip(c.ctx, simBus{s.sim, s.path}, c.g.options())
	if err != nil {
		s.sim.Close()
		return nil, c.openHint(err)
	}
	ok = true
	return s, nil
}

// simBus names a simulated chip after its image file in messages.
type simBus struct {
	*nerveskeytest.Chip
	path string
}

func (b simBus) String() string { return "simulated chip " + b.path }

// openHint adds a hint to a chip that did not answer: the address the
// global flags made the program look at.
func (c *cli) openHint(err error) error {
	if !errors.Is(err, nerveskey.ErrWake) {
		return err
	}
	switch {
	case c.g.addr != 0:
		return withHint(err, "nothing answered at --addr 0x%02x; NervesKey chips answer at 0x60, Trust&Go chips at 0x35", c.g.addr)
	case c.g.typ == nerveskey.TrustAndGo:
		return withHint(err, "--type trust_and_go looks for the chip at 0x35, where Trust&Go parts answer; a NervesKey answers at 0x60: drop --type, or give --addr")
	}
	return withHint(err, "nothing answered at 0x60, the NervesKey address; a Trust&Go chip needs --type trust_and_go (0x35), another address --addr")
}

// finish closes the chip. With a simulated chip and a nil err it writes the
// image back if the command changed it; after an error the file is left
// as it was. (A real chip keeps whatever a failed command wrote, which is
// why provisioning can be run again.) It returns err, or the error from
// saving.
func (s *session) finish(err error) error {
	s.Chip.Close()
	if s.bus != nil {
		s.bus.Close()
	}
	if s.sim == nil {
		return err
	}
	defer s.unlock() // after the image is saved
	img := s.sim.Image()
	s.sim.Close()
	if err != nil {
		return err
	}
	data, merr := marshalImage(img)
	if merr != nil {
		return fmt.Errorf("save sim image %s: %w", s.path, merr)
	}
	if bytes.Equal(data, s.initial) {
		return nil
	}
	if s.shared {
		return fmt.Errorf("the command changed simulated chip %s, which it had opened to read only: changes not saved", s.path)
	}
	// The image holds the simulated private key: never wider than 0600.
	if werr := writeFileAtomic(s.path, data, s.mode&0o600|0o400, true); werr != nil {
		return fmt.Errorf("save sim image: %w", werr)
	}
	return nil
}

// marshalImage encodes img as indented JSON with a final newline.
func marshalImage(img *nerveskeytest.Image) ([]byte, error) {
	raw, err := json.Marshal(img)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", " "); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, synced before it takes path's place, so that readers see the
// old or the new contents, never a mix. With replace false it refuses to
// overwrite an existing path (the rename is then a hard link, which fails
// if path exists).
func writeFileAtomic(path string, data []byte, perm os.FileMode, replace bool) (err error) {
	if perm == 0 {
		perm = 0o644
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if replace {
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	} else {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s already exists; not overwriting it", path)
			}
			return err
		}
		os.Remove(tmp)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// refuseExisting returns an error if any of paths exists.
func refuseExisting(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists; not overwriting it", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// readInput reads a named file, or stdin for "-".
func (c *cli) readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(c.stdin)
	}
	return os.ReadFile(name)
}

// simStats returns the simulated chip's counters, or zero on hardware.
func (s *session) simStats() nerveskeytest.Stats {
	if s.sim == nil {
		return nerveskeytest.Stats{}
	}
	return s.sim.Stats()
}
