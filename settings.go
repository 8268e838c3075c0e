package nerveskey

import (
	"bytes"
	"context"
	"fmt"

	"github.com/nerveskey/nerveskey/etf"
	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// Settings are an Erlang term, :erlang.term_to_binary(map), stored in the
// spare data slots (docs/nerves_key.md §6.4). Package [etf] builds and
// reads such terms ([etf.Term], [etf.Map], [etf.Atom]).

// RawSettings returns the whole settings area as stored, 524 bytes on a
// NervesKey (slots 8, 7, 6, 5) or 416 on a Trust&Go part (slot 8), as
// nerves_key's get_raw_settings does. It reads the four slots in one wake
// cycle with 19 32-byte reads (Elixir needs 26).
func (c *Chip) RawSettings(ctx context.Context) ([]byte, error) {
	raw, _, err := c.readSettings(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: raw settings: %w", err)
	}
	return raw, nil
}

// SettingsTerm reads and decodes the settings without loss: t.Value is
// normally an [etf.Map], entries in stored order (any term Elixir stored is
// returned), and t.Atoms the atom encoding the writer used, so
// [Chip.PutSettings] of an [etf.Term] writes the same bytes back.
//
// It reads only the blocks the term spans: a short settings map costs one
// or two reads, an unwritten area one. The Chip keeps what it read or
// wrote: a get after a get or a put costs no bus transaction, and does not
// see a put made since by another process or Chip (open a new Chip to read
// the chip again). Errors: [ErrNoSettings] for an unwritten area,
// [ErrSettingsCorrupt] for anything binary_to_term would refuse or an
// interrupted put; [ErrNotProvisioned] before
// the data lock.
func (c *Chip) SettingsTerm(ctx context.Context) (etf.Term, error) {
	_, t, err := c.readSettings(ctx, true)
	if err != nil {
		return etf.Term{}, fmt.Errorf("nerveskey: settings: %w", err)
	}
	return t, nil
}

// Settings reads the settings map keyed by name, the common case: Elixir
// string keys and atom keys (%{"ssid" => …} or %{ssid: …}) both become Go
// string keys. Values keep their decoded types (see [etf.Term]); nested maps
// are [etf.Map]s. If a key is neither a string nor an atom, or a string and an
// atom share a name, it returns [ErrSettingsNotMap]: use [Chip.SettingsTerm].
// Other errors are those of SettingsTerm.
func (c *Chip) Settings(ctx context.Context) (map[string]any, error) {
	_, t, err := c.readSettings(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: settings: %w", err)
	}
	tm, ok := t.Value.(etf.Map)
	if !ok {
		return nil, fmt.Errorf("nerveskey: settings: %w: stored term is a %T", ErrSettingsNotMap, t.Value)
	}
	m, ok := tm.StringMap()
	if !ok {
		return nil, fmt.Errorf("nerveskey: settings: %w: the keys are not distinct strings or atoms", ErrSettingsNotMap)
	}
	return m, nil
}

// PutSettings encodes v as :erlang.term_to_binary does and writes it with
// [Chip.PutRawSettings]. v must be a map: map[string]any (keys become
// Elixir strings, the safe choice), map[etf.Atom]any, map[any]any or [etf.Map]; its
// values may be any type [etf.Term] lists, plus []byte, every Go integer and
// float type and other slices and maps. Atoms are written with
// [etf.AtomsUTF8], as OTP 26 and later do; OTP 20 and later read it.
//
// An [etf.Term] v (as [Chip.SettingsTerm] returns) is written as any term,
// map or not, with its own atom encoding: for a term read from canonical
// bytes (anything term_to_binary wrote), the settings area gets exactly
// the bytes it held, and nothing is written.
//
// Settings longer than the area give a [ErrSettingsTooLarge] and
// nothing is written. Otherwise the area ends holding exactly the bytes a
// full write leaves (the term, zero-padded to 524 or 416 bytes), but only
// the 32-byte blocks and 4-byte words that differ from what is stored are
// written: putting the settings already stored writes nothing, changing a
// value inside the first 32 bytes is one Write, and a small change further
// on is three. The write is not atomic but ordered so that an interrupted
// one reads as the old settings, the new ones or an error, never as other
// settings. See [Chip.PutRawSettings] for the order and the cost.
func (c *Chip) PutSettings(ctx context.Context, v any) error {
	if t, ok := v.(etf.Term); ok {
		return c.putSettings(ctx, t.Value, t.Atoms, false)
	}
	return c.putSettings(ctx, v, etf.AtomsUTF8, true)
}

func (c *Chip) putSettings(ctx context.Context, v any, atoms etf.AtomEncoding, needMap bool) error {
	b, err := etf.Encode(v, &etf.Options{Atoms: atoms})
	if err != nil {
		return fmt.Errorf("nerveskey: put settings: %w", err)
	}
	if needMap && (len(b) < 2 || b[1] != tagMap) {
		return fmt.Errorf("nerveskey: put settings: %w, not %T", ErrSettingsNotMap, v)
	}
	if err := c.writeSettings(ctx, b); err != nil {
		return fmt.Errorf("nerveskey: put settings: %w", err)
	}
	return nil
}

// PutRawSettings writes raw, zero-padded, to the settings area, as
// nerves_key's put_raw_settings does: nothing checks that raw is a term.
// Raw settings longer than the settings area (524 bytes on a NervesKey, 416 on Trust&Go) give a
// [ErrSettingsTooLarge] and nothing is written. The data zone must be
// locked ([ErrNotProvisioned]).
//
// What is written: in one wake cycle, it writes only the units that
// differ from the zero-padded raw: 32-byte blocks, and the 4-byte last
// words of slots 7, 6 and 5 (the units of Elixir's DataZone.write), so the
// area ends byte for byte as after a full write. It reads every unit it
// might skip: the whole area on a Chip that knows nothing of it; on a
// Chip that read or wrote the area before, only the units it knows hold
// the new bytes already, for another process may have written since, and
// rewrites the units it knows differ without reading them. If nothing
// differs, nothing is written. If only the header (the first block of
// slot 8) differs, it is the one Write. If any other unit differs, the
// put first overwrites the header's first word with a version byte of 0
// (skipped if the header was read and its version byte is already 0),
// then writes the differing units in Elixir's order (slot 8, 7, 6, 5),
// then the header block last. New raw settings whose version byte is 0
// (blank) write their header first instead.
//
// The guarantee: the chip has no transactions, so a put is not atomic,
// but if it stops anywhere (power cut, reset, bus failure), the area holds
// the old settings, the new ones, or bytes whose version byte is 0, which
// readers (nerveskey and Elixir alike) report as corrupt
// ([ErrSettingsCorrupt]), never a mix that decodes to some other term: an
// old header left valid over some new and some old later units could
// decode, which is why it is invalidated even when it does not change. A
// retry after a transient error reads the area again and goes on from
// what is stored. This relies on each Write command being applied whole,
// which the datasheet implies but does not promise for a power loss during
// its EEPROM cycle. A put to a settings slot that cannot be read in clear
// (IsSecret) writes every unit, header last.
//
// The cost (simulated, typical times, 100 kHz, 508A / 608A; see
// BenchmarkSettings): on a Chip that knows nothing, the reads, 19
// commands, take 74 / 120 ms and each unit written about 11 / 26 ms. On a
// Chip that knows the area, replacing a 520-byte blob by another (18 of
// 19 units change) is 209 / 506 ms, where Elixir's full write takes
// 207 / 502 ms: the one extra Read checks the unit left alone. A put that
// changes every unit costs one Write more than Elixir's (the header
// invalidated); one that leaves two or more units alone costs less.
func (c *Chip) PutRawSettings(ctx context.Context, raw []byte) error {
	if err := c.writeSettings(ctx, raw); err != nil {
		return fmt.Errorf("nerveskey: put raw settings: %w", err)
	}
	return nil
}

// ETF bytes the settings code looks at (Erlang External etf.Term Format).
const (
	etfVersion = 131 // first byte of every term_to_binary output
	tagMap     = 116 // MAP_EXT
)

// A settingsState is what a Chip knows of its settings area: the bytes
// it last read or wrote, so that a get after a put or a get costs no bus
// transaction, and a put skips reading the units it rewrites. Chip.mu
// guards it (it lives in chipCache, so Chip.forget clears it).
type settingsState struct {
	// known holds the first len(known) bytes of the area, as last read
	// or written; nil when nothing is known. It is replaced, never
	// changed in place, so a reader may keep it after unlocking.
	known []byte
	// gen counts puts begun: a read stores what it read only if no put
	// began meanwhile, and a put that fails forgets what it knew.
	gen uint64
}

// settingsKnown returns the known prefix of the settings area and the
// put generation.
func (c *Chip) settingsKnown() ([]byte, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cache.settings.known, c.cache.settings.gen
}

// learnSettings records raw as the area's first bytes if no put began
// since gen and it knows more than what is known.
func (c *Chip) learnSettings(raw []byte, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := &c.cache.settings
	if st.gen == gen && len(raw) > len(st.known) {
		st.known = bytes.Clone(raw)
	}
}

// decideSettings says what the prefix p of the settings area holds, if p
// is enough to know: a term (decoding reads a prefix the same way
// whatever follows it), ErrNoSettings once the first block is known to be
// zero, or ErrSettingsCorrupt once a non-zero byte in the first block
// follows a version byte that is not 131, or a term does not decode from
// the whole area.
func decideSettings(p []byte, size int) (t etf.Term, err error, done bool) {
	hdr := min(atecc.BlockSize, size)
	switch {
	case len(p) == 0:
		return etf.Term{}, nil, false
	case p[0] != etfVersion:
		return etf.Term{}, classifySettings(p, nil), len(p) >= hdr || !layout.AllZero(p)
	}
	t, err = etf.DecodeTerm(p)
	if err == nil {
		return t, nil, true
	}
	return etf.Term{}, classifySettings(p, err), len(p) >= size
}

// readSettings returns the settings area: what the Chip knows of it when
// that is enough, else read in one session. With lazy, it stops as soon
// as decideSettings can say what the bytes so far hold (a short term
// costs one or two reads, an unwritten area one), and raw holds only what
// was read. Without lazy it returns the whole area and decodes nothing.
func (c *Chip) readSettings(ctx context.Context, lazy bool) ([]byte, etf.Term, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, etf.Term{}, err
	}
	if !cfg.DataLocked() {
		return nil, etf.Term{}, ErrNotProvisioned
	}
	size := layout.SettingsSize(c.typ == TrustAndGo)
	known, gen := c.settingsKnown()
	if lazy {
		if t, err, done := decideSettings(known, size); done {
			return known, t, err
		}
	} else if len(known) == size {
		return bytes.Clone(known), etf.Term{}, nil
	}
	chunks := layout.SettingsChunks(c.typ == TrustAndGo)
	var (
		raw     []byte
		term    etf.Term
		termErr error
	)
	err = c.dev.Do(ctx, func(s *atecc.Session) error {
		raw = raw[:0] // f may be run again after a transient error
		for _, ch := range chunks {
			b, err := s.Read(ctx, atecc.ZoneData, atecc.DataAddr(ch.Slot, ch.Block, 0), atecc.BlockSize)
			if err != nil {
				return err
			}
			raw = append(raw, b[:ch.N]...)
			if lazy {
				var done bool
				if term, termErr, done = decideSettings(raw, size); done {
					return nil
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, etf.Term{}, err
	}
	c.learnSettings(raw, gen)
	if !lazy {
		return raw, etf.Term{}, nil
	}
	return raw, term, termErr
}

// classifySettings turns the outcome of a read into the settings error.
func classifySettings(raw []byte, termErr error) error {
	switch {
	case raw[0] != etfVersion && layout.AllZero(raw[:min(len(raw), atecc.BlockSize)]):
		return ErrNoSettings
	case raw[0] == 0:
		return fmt.Errorf("%w: version byte is 0, not %d, but the area is not blank (an interrupted put?)", ErrSettingsCorrupt, etfVersion)
	case raw[0] != etfVersion:
		return fmt.Errorf("%w: version byte is %d, not %d", ErrSettingsCorrupt, raw[0], etfVersion)
	case termErr != nil:
		return fmt.Errorf("%w: %w", ErrSettingsCorrupt, termErr)
	}
	return nil
}

// A settingsUnit is one Write of a put: n bytes of the padded settings
// area at off, stored at word of block in slot, written with a size-byte
// Write. A unit is a whole block (size 32; a short last block is padded,
// the chip drops the bytes past the slot) or, in the short last block of a
// slot writable by words, one 4-byte word (size 4).
type settingsUnit struct {
	slot, block, word int
	off, n, size      int
}

// addr returns the unit's word address.
func (u settingsUnit) addr() uint16 { return atecc.DataAddr(u.slot, u.block, u.word) }

// settingsUnits splits chunks into Write units; words tells which slots take
// 4-byte writes. The first unit is the header block, slot 8 block 0.
func settingsUnits(chunks []layout.SettingsChunk, words map[int]bool) []settingsUnit {
	var us []settingsUnit
	off := 0
	for _, ch := range chunks {
		if ch.N < atecc.BlockSize && words[ch.Slot] && ch.N%atecc.WordSize == 0 {
			for w := 0; w < ch.N/atecc.WordSize; w++ {
				us = append(us, settingsUnit{ch.Slot, ch.Block, w, off + w*atecc.WordSize, atecc.WordSize, atecc.WordSize})
			}
		} else {
			us = append(us, settingsUnit{ch.Slot, ch.Block, 0, off, ch.N, atecc.BlockSize})
		}
		off += ch.N
	}
	return us
}

// writeSettings checks everything, then writes raw as PutRawSettings
// documents: it reads the area and writes only the units that differ, the
// header last behind a zeroed version byte if any other unit changes.
func (c *Chip) writeSettings(ctx context.Context, raw []byte) error {
	chunks := layout.SettingsChunks(c.typ == TrustAndGo)
	limit := layout.SettingsSize(c.typ == TrustAndGo)
	if len(raw) > limit {
		return fmt.Errorf("%w: %d bytes, max %d", ErrSettingsTooLarge, len(raw), limit)
	}
	cfg, err := c.config(ctx)
	if err != nil {
		return err
	}
	if !cfg.DataLocked() {
		return ErrNotProvisioned
	}
	// 4-byte writes need WriteConfig Always and IsSecret 0; 32-byte clear
	// writes need WriteConfig Always (DS508 §9.21; docs/atecc.md §4.3). IsSecret
	// 0 also allows clear reads; without them (a secret slot) nothing can
	// be compared and every unit is written.
	words := make(map[int]bool)
	readable := true
	for _, ch := range chunks {
		sc := cfg.SlotConfig(ch.Slot)
		if sc.WriteConfig() != 0 || cfg.SlotLocked(ch.Slot) {
			return &ConfigError{Op: "put settings", Reason: fmt.Sprintf("slot %d has WriteConfig %04b, locked %v: settings slots must be writable in clear", ch.Slot, sc.WriteConfig(), cfg.SlotLocked(ch.Slot))}
		}
		words[ch.Slot] = !sc.IsSecret()
		readable = readable && words[ch.Slot]
	}
	padded := make([]byte, limit)
	copy(padded, raw)
	units := settingsUnits(chunks, words)
	hdr := units[0]
	write := func(s *atecc.Session, u settingsUnit, data []byte) error {
		if len(data) < u.size {
			data = append(data[:len(data):len(data)], make([]byte, u.size-len(data))...)
		}
		return s.Write(ctx, atecc.ZoneData, u.addr(), data)
	}
	// What the Chip knows of the area may be stale: another process (or
	// Chip) may have written since. A unit known to differ is rewritten
	// without being read; every other unit is read, so that a unit is
	// skipped only if the chip itself shows it holds the new bytes.
	known, _ := c.settingsKnown()
	c.mu.Lock()
	c.cache.settings.gen++
	c.cache.settings.known = nil // until this put succeeds
	c.mu.Unlock()
	knownDiffers := func(u settingsUnit) bool {
		return u.off+u.n <= len(known) && !bytes.Equal(known[u.off:u.off+u.n], padded[u.off:u.off+u.n])
	}
	// f runs again from the start after a transient error, so it reads
	// what the interrupted run left, not what it saw before.
	err = c.dev.Do(ctx, func(s *atecc.Session) error {
		cur := make([]byte, limit)
		hdrKnown := false // cur[:hdr.n] holds the stored header
		var changed []settingsUnit
		for _, u := range units {
			switch {
			case !readable || knownDiffers(u) && (u != hdr || known[0] != 0):
				// A header known to hold version byte 0 is read all the
				// same: if it still does, it needs no invalidating.
				cur[u.off] = ^padded[u.off] // not read: to be written
			default:
				b, err := s.Read(ctx, atecc.ZoneData, u.addr(), u.size)
				if err != nil {
					return err
				}
				copy(cur[u.off:u.off+u.n], b)
				hdrKnown = hdrKnown || u == hdr
			}
			if u != hdr && !bytes.Equal(cur[u.off:u.off+u.n], padded[u.off:u.off+u.n]) {
				changed = append(changed, u)
			}
		}
		// If any unit but the header changes, invalidate the header
		// first, so that until the last write a reader sees a version
		// byte of 0, not old and new bytes mixed. A version byte read
		// as 0 reads as an error whatever follows it. New settings whose
		// version byte is 0 (blank or not a term) read as an error
		// anyway: their header is written first instead. The
		// invalidated header is not all zero, so a reader reports the
		// interrupted put as corrupt, not as an unwritten area.
		if len(changed) > 0 && (!hdrKnown || cur[0] != 0) {
			inval, data := hdr, padded[:hdr.n]
			if padded[0] != 0 {
				if words[hdr.slot] {
					inval.n, inval.size = atecc.WordSize, atecc.WordSize
				}
				data = make([]byte, inval.n)
				data[1] = invalidHeaderMark
			}
			if err := write(s, inval, data); err != nil {
				return err
			}
			copy(cur, data)
			hdrKnown = inval == hdr
		}
		for _, u := range changed {
			if err := write(s, u, padded[u.off:u.off+u.n]); err != nil {
				return err
			}
		}
		if hdrKnown && bytes.Equal(cur[:hdr.n], padded[:hdr.n]) {
			return nil
		}
		return write(s, hdr, padded[:hdr.n])
	})
	c.mu.Lock()
	if err == nil {
		c.cache.settings.known = padded
	}
	c.mu.Unlock()
	return err
}

// invalidHeaderMark is the second byte of the word a put writes over the
// header before other units: with the version byte 0 it makes the area
// read as corrupt, not unwritten, whatever the first block held.
const invalidHeaderMark = 0xff
