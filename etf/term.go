package etf

import "fmt"

// MaxDepth is how deeply lists, tuples and maps may nest, in decoding and
// encoding. The top-level term is depth 1.
const MaxDepth = 64

// MaxBigBytes is the longest integer magnitude accepted, in bytes (8192
// bits). A whole settings area is 524 bytes.
const MaxBigBytes = 1024

// maxSmallMap is the most keys a map may have and still be a flatmap,
// which Erlang writes in key order (MAP_SMALL_MAP_LIMIT in erts).
const maxSmallMap = 32

// An Atom is an Erlang atom, by name, as UTF-8. The atoms true, false and
// nil are decoded as Go true, false and nil, and Atom("true") encodes the
// same as true.
type Atom string

// A Tuple is an Erlang tuple.
type Tuple []any

// A KV is one entry of a [Map].
type KV struct {
	Key   any
	Value any
}

// A Map is an Erlang map as its entries in order. Decoding keeps the order
// of the input; Encode sorts maps of up to 32 entries into Erlang term order
// of their keys, as term_to_binary does, and writes larger ones in the
// order given. Keys must be distinct terms.
type Map []KV

// Get returns the value of the entry whose key is the same term as key:
// Get("a") finds the binary "a", Get(Atom("a")) the atom :a. Integer keys
// match any Go integer type of the same value.
func (m Map) Get(key any) (any, bool) {
	k, err := normalize(key)
	if err != nil {
		return nil, false
	}
	for _, e := range m {
		ek, err := normalize(e.Key)
		if err == nil && compare(ek, k) == 0 {
			return e.Value, true
		}
	}
	return nil, false
}

// StringMap returns m as a Go map keyed by name: binary keys as they are,
// atom keys (including true, false and nil) by their names. It returns
// false if a key is anything else, or if a binary and an atom share a name.
// Values are not converted.
func (m Map) StringMap() (map[string]any, bool) {
	out := make(map[string]any, len(m))
	for _, e := range m {
		var name string
		switch k := e.Key.(type) {
		case string:
			name = k
		case Atom:
			name = string(k)
		case bool:
			name = fmt.Sprint(k)
		case nil:
			name = "nil"
		default:
			return nil, false
		}
		if _, dup := out[name]; dup {
			return nil, false
		}
		out[name] = e.Value
	}
	return out, true
}

// AtomEncoding selects how atoms are written.
type AtomEncoding uint8

const (
	// AtomsUTF8 writes every atom as SMALL_ATOM_UTF8_EXT (119), or
	// ATOM_UTF8_EXT (118) above 255 bytes, as term_to_binary does from
	// OTP 26 on. It is the default.
	AtomsUTF8 AtomEncoding = iota

	// AtomsLatin1 writes atoms that Latin-1 can spell as ATOM_EXT (100) and
	// others as AtomsUTF8 does, as term_to_binary does in OTP 17 to 25.
	AtomsLatin1
)

// String returns "utf8" or "latin1".
func (a AtomEncoding) String() string {
	switch a {
	case AtomsUTF8:
		return "utf8"
	case AtomsLatin1:
		return "latin1"
	}
	return fmt.Sprintf("AtomEncoding(%d)", uint8(a))
}
