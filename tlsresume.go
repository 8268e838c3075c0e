package nerveskey

import (
	"crypto"
	"crypto/tls"
	"encoding/binary"
	"io"
	"sync"
	"time"
	"weak"
)

// defaultResumeMaxAge is TLSOptions.ResumeMaxAge's default.
const defaultResumeMaxAge = time.Hour

// A sessionCache is the TLS client session cache of one Config made by
// [Key.TLSConfig] with Resume: in memory only, TLS 1.3 sessions only, and
// each session offered for at most maxAge after the chip signed the full
// handshake it descends from. A resumed connection's new tickets inherit
// that time, so resuming does not extend it.
//
// A sessionCache is safe for concurrent use: crypto/tls calls it from
// every connection of the Config.
type sessionCache struct {
	k      *Key
	maxAge time.Duration
	now    func() time.Time // time.Now; tests run it in a synctest bubble

	mu       sync.Mutex // guards the fields below
	closed   bool       // the Key was closed: store nothing, return nothing
	signedAt time.Time  // when the chip last signed a handshake of this Config
	signs    uint64     // signatures made for this Config
	entries  map[string]sessionEntry
}

// A sessionEntry is the newest session for one server (crypto/tls's cache
// key: the server name, or the address dialed).
type sessionEntry struct {
	cs     *tls.ClientSessionState // nil: expired, kept to date late tickets
	authAt time.Time               // the chip signature the session descends from
	signs  uint64                  // sessionCache.signs when cs expired, if nil
}

var _ tls.ClientSessionCache = (*sessionCache)(nil)

func newSessionCache(k *Key, maxAge time.Duration) *sessionCache {
	c := &sessionCache{k: k, maxAge: maxAge, now: time.Now, entries: make(map[string]sessionEntry)}
	k.sessions.add(c)
	return c
}

// Get returns the session for key if it is younger than maxAge and the Key
// is open.
func (c *sessionCache) Get(key string) (*tls.ClientSessionState, bool) {
	closed := c.k.chip.check() != nil // the Chip may be closed under a borrowed Key
	c.mu.Lock()
	defer c.mu.Unlock()
	if closed {
		c.clearLocked()
	}
	e, ok := c.entries[key]
	if c.closed || !ok || e.cs == nil {
		return nil, false
	}
	if now := c.now(); now.Sub(e.authAt) >= c.maxAge {
		c.entries[key] = sessionEntry{authAt: e.authAt, signs: c.signs}
		return nil, false
	}
	return e.cs, true
}

// Put stores a TLS 1.3 session for key, dated by the chip signature it
// descends from; nil removes key's session, as crypto/tls asks after a
// failed resumption.
func (c *sessionCache) Put(key string, cs *tls.ClientSessionState) {
	tls13 := cs != nil && isTLS13(cs)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if cs == nil {
		delete(c.entries, key)
		return
	}
	if !tls13 || c.signedAt.IsZero() {
		return
	}
	// A ticket from a resumed connection dates from the session it
	// resumed; crypto/tls does not say which connection a ticket came
	// from, so take the older of that session and the last signature.
	// A ticket arriving after its session expired stays expired until
	// the chip signs again.
	authAt := c.signedAt
	if e, ok := c.entries[key]; ok && (e.cs != nil || c.signs == e.signs) {
		authAt = e.authAt
	}
	if c.now().Sub(authAt) >= c.maxAge {
		return
	}
	c.entries[key] = sessionEntry{cs: cs, authAt: authAt}
}

// signed records that the chip signed a full handshake of this Config,
// begun at at.
func (c *sessionCache) signed(at time.Time) {
	c.mu.Lock()
	c.signs++
	if at.After(c.signedAt) {
		c.signedAt = at
	}
	c.mu.Unlock()
}

// close empties c for good.
func (c *sessionCache) close() {
	c.mu.Lock()
	c.clearLocked()
	c.mu.Unlock()
}

func (c *sessionCache) clearLocked() {
	c.closed = true
	clear(c.entries)
}

// isTLS13 reports whether cs is a TLS 1.3 session. The encoding of
// [tls.SessionState.Bytes] begins with the protocol version (crypto/tls
// ticket.go); TestTLSResumeOnlyTLS13 fails if that changes.
func isTLS13(cs *tls.ClientSessionState) bool {
	_, st, err := cs.ResumptionState()
	if err != nil || st == nil {
		return false
	}
	b, err := st.Bytes()
	return err == nil && len(b) >= 2 && binary.BigEndian.Uint16(b) == tls.VersionTLS13
}

// sessionCaches are the session caches of a Key's TLS configs, emptied by
// Key.Close. It holds them weakly, so a Config dropped by its user is
// collected with its cache.
type sessionCaches struct {
	mu     sync.Mutex // guards the fields below
	closed bool
	caches []weak.Pointer[sessionCache]
}

func (s *sessionCaches) add(c *sessionCache) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.close()
		return
	}
	live := s.caches[:0]
	for _, p := range s.caches {
		if p.Value() != nil {
			live = append(live, p)
		}
	}
	s.caches = append(live, weak.Make(c))
}

// close empties every cache, now and later.
func (s *sessionCaches) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, p := range s.caches {
		if c := p.Value(); c != nil {
			c.close()
		}
	}
	s.caches = nil
}

// resumeSigner is the contextSigner of a Config with Resume: it dates the
// Config's sessions from its signatures.
type resumeSigner struct {
	contextSigner
	cache *sessionCache
}

// Sign signs digest with the chip under s.ctx; rand is ignored.
func (s resumeSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	at := s.cache.now()
	sig, err := s.k.SignContext(s.ctx, digest, opts)
	if err == nil {
		s.cache.signed(at)
	}
	return sig, err
}
