package etf

import (
	"fmt"
	"math"
	"math/big"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// A Term is a decoded term and what [Term.Encode] needs to write it back
// byte for byte.
type Term struct {
	Value any // see the package documentation for the Go types

	// Len is the number of input bytes the term used, version byte
	// included; the bytes after it (padding) were ignored.
	Len int

	// Atoms is the atom encoding the input used: AtomsLatin1 if it holds an
	// ATOM_EXT, else AtomsUTF8. Both give the same bytes when every atom
	// is outside Latin-1, or when there are no atoms.
	Atoms AtomEncoding

	// Canonical reports that the input is what term_to_binary writes, so
	// Encode gives back exactly the Len bytes read.
	Canonical bool
}

// Encode encodes t.Value with t.Atoms.
func (t Term) Encode() ([]byte, error) {
	return Encode(t.Value, &Options{Atoms: t.Atoms})
}

// Decode decodes the first term of b, which starts with the version byte
// 131, and ignores any bytes after it. It returns an error wrapping
// [ErrCorrupt], [ErrUnsupported] or [ErrLimit], as a [*DecodeError].
func Decode(b []byte) (any, error) {
	t, err := DecodeTerm(b)
	return t.Value, err
}

// DecodeMap is [Decode] for settings: the term must be a map.
func DecodeMap(b []byte) (Map, error) {
	v, err := Decode(b)
	if err != nil {
		return nil, err
	}
	m, ok := v.(Map)
	if !ok {
		return nil, &DecodeError{Offset: 1, Msg: fmt.Sprintf("term is a %s, not a map", kindName(v)), Err: ErrUnsupported}
	}
	return m, nil
}

// DecodeTerm is [Decode] that also reports how the term was encoded.
func DecodeTerm(b []byte) (Term, error) {
	if len(b) == 0 {
		return Term{}, &DecodeError{Offset: 0, Msg: "no bytes", Err: ErrCorrupt}
	}
	if b[0] != versionMagic {
		return Term{}, &DecodeError{Offset: 0, Msg: fmt.Sprintf("version byte is %d, not 131", b[0]), Err: ErrCorrupt}
	}
	d := decoder{in: b, s: cryptobyte.String(b[1:]), canonical: true}
	v, err := d.term(1)
	if err != nil {
		return Term{}, err
	}
	t := Term{Value: v, Len: d.off(), Canonical: d.canonical}
	if d.sawAtomExt {
		t.Atoms = AtomsLatin1
		if d.sawUTF8Latin1 {
			t.Canonical = false // no OTP release mixes the two
		}
	}
	return t, nil
}

// decodeRaw decodes one term without a version byte, all of b.
func decodeRaw(b []byte) (any, error) {
	d := decoder{in: b, s: cryptobyte.String(b)}
	v, err := d.term(1)
	if err == nil && !d.s.Empty() {
		err = d.fail(ErrCorrupt, d.off(), "trailing bytes")
	}
	return v, err
}

type decoder struct {
	in []byte            // the whole input, for offsets
	s  cryptobyte.String // what is left of in

	canonical     bool // nothing seen that term_to_binary would write differently
	sawAtomExt    bool // an ATOM_EXT: OTP 17–25 encoding
	sawUTF8Latin1 bool // a UTF-8 tag on an atom Latin-1 can spell: OTP 26+
}

func (d *decoder) off() int { return len(d.in) - len(d.s) }

func (d *decoder) fail(err error, off int, format string, args ...any) error {
	return &DecodeError{Offset: off, Msg: fmt.Sprintf(format, args...), Err: err}
}

func (d *decoder) short(off int, what string) error {
	return d.fail(ErrCorrupt, off, "%s runs past the end", what)
}

// count reads a length field of size bytes (1, 2 or 4) and checks that at
// least n*unit bytes follow it.
func (d *decoder) count(size, unit int, what string) (int, error) {
	off := d.off()
	var n uint32
	var ok bool
	switch size {
	case 1:
		var v uint8
		ok = d.s.ReadUint8(&v)
		n = uint32(v)
	case 2:
		var v uint16
		ok = d.s.ReadUint16(&v)
		n = uint32(v)
	default:
		ok = d.s.ReadUint32(&n)
	}
	if !ok {
		return 0, d.short(off, what+" length")
	}
	if uint64(n)*uint64(unit) > uint64(len(d.s)) {
		return 0, d.fail(ErrCorrupt, off, "%s length %d exceeds the %d bytes left", what, n, len(d.s))
	}
	return int(n), nil
}

func (d *decoder) term(depth int) (any, error) {
	start := d.off()
	var t8 uint8
	if !d.s.ReadUint8(&t8) {
		return nil, d.short(start, "term")
	}
	switch t := tag(t8); t {
	case tagSmallInteger:
		var v uint8
		if !d.s.ReadUint8(&v) {
			return nil, d.short(start, t.String())
		}
		return int64(v), nil

	case tagInteger:
		var v uint32
		if !d.s.ReadUint32(&v) {
			return nil, d.short(start, t.String())
		}
		if v <= 255 {
			d.canonical = false
		}
		return int64(int32(v)), nil

	case tagSmallBig, tagLargeBig:
		return d.bigInt(t, start)

	case tagNewFloat:
		var v uint64
		if !d.s.ReadUint64(&v) {
			return nil, d.short(start, t.String())
		}
		f := math.Float64frombits(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, d.fail(ErrCorrupt, start, "float is %v", f)
		}
		return f, nil

	case tagAtom, tagSmallAtom, tagAtomUTF8, tagSmallAtomUTF8:
		return d.atom(t, start)

	case tagBinary:
		n, err := d.count(4, 1, "binary")
		if err != nil {
			return nil, err
		}
		var b []byte
		d.s.ReadBytes(&b, n)
		return string(b), nil

	case tagNil:
		return []any{}, nil

	case tagString:
		n, err := d.count(2, 1, "charlist")
		if err != nil {
			return nil, err
		}
		if n == 0 {
			d.canonical = false // term_to_binary writes [] as NIL_EXT
		}
		var b []byte
		d.s.ReadBytes(&b, n)
		l := make([]any, n)
		for i, c := range b {
			l[i] = int64(c)
		}
		return l, nil

	case tagList:
		return d.list(depth, start)

	case tagSmallTuple, tagLargeTuple:
		size := 1
		if t == tagLargeTuple {
			size = 4
		}
		n, err := d.count(size, 1, "tuple")
		if err != nil {
			return nil, err
		}
		if t == tagLargeTuple && n <= 255 {
			d.canonical = false
		}
		if err := d.enter(depth, start); err != nil {
			return nil, err
		}
		tup := make(Tuple, n)
		for i := range tup {
			if tup[i], err = d.term(depth + 1); err != nil {
				return nil, err
			}
		}
		return tup, nil

	case tagMap:
		return d.decodeMap(depth, start)

	case tagFloat, tagBitBinary, tagCompressed, tagAtomCacheRef, tagNewPid,
		tagNewPort, tagNewerRef, tagReference, tagPort, tagPid, tagNewFun,
		tagExport, tagNewReference, tagFun, tagV4Port, tagLocal:
		return nil, d.fail(ErrUnsupported, start, "%v", t)

	default:
		return nil, d.fail(ErrCorrupt, start, "%v", t)
	}
}

// enter checks that a container at depth may hold terms one level deeper.
func (d *decoder) enter(depth, off int) error {
	if depth >= MaxDepth {
		return d.fail(ErrLimit, off, "terms nest deeper than %d", MaxDepth)
	}
	return nil
}

func (d *decoder) bigInt(t tag, start int) (any, error) {
	size := 1
	if t == tagLargeBig {
		size = 4
	}
	// The magnitude follows the sign byte, so it may use all but one byte.
	n, err := d.count(size, 1, "integer")
	if err != nil {
		return nil, err
	}
	var sign uint8
	if !d.s.ReadUint8(&sign) || len(d.s) < n {
		return nil, d.short(start, t.String())
	}
	if n > MaxBigBytes {
		return nil, d.fail(ErrLimit, start, "integer of %d bytes, max %d", n, MaxBigBytes)
	}
	var le []byte
	d.s.ReadBytes(&le, n)
	be := make([]byte, n)
	for i, c := range le {
		be[n-1-i] = c
	}
	x := new(big.Int).SetBytes(be)
	if sign != 0 {
		x.Neg(x)
	}
	// term_to_binary uses the shortest magnitude, sign 0 or 1, SMALL_BIG_EXT
	// up to 255 bytes and a big tag only beyond the 32-bit INTEGER_EXT.
	if sign > 1 || n == 0 || le[n-1] == 0 || (t == tagLargeBig) != (n > 255) ||
		(x.IsInt64() && x.Int64() >= math.MinInt32 && x.Int64() <= math.MaxInt32) {
		d.canonical = false
	}
	if x.IsInt64() {
		return x.Int64(), nil
	}
	return x, nil
}

func (d *decoder) atom(t tag, start int) (any, error) {
	size := 2
	if t == tagSmallAtom || t == tagSmallAtomUTF8 {
		size = 1
	}
	n, err := d.count(size, 1, "atom")
	if err != nil {
		return nil, err
	}
	var b []byte
	d.s.ReadBytes(&b, n)
	var name string
	switch t {
	case tagAtom, tagSmallAtom:
		if n > 255 {
			return nil, d.fail(ErrCorrupt, start, "atom of %d characters, max 255", n)
		}
		r := make([]rune, n)
		for i, c := range b {
			r[i] = rune(c)
		}
		name = string(r)
		if t == tagSmallAtom {
			d.canonical = false // term_to_binary never writes it
		} else {
			d.sawAtomExt = true
		}
	default:
		if !utf8.Valid(b) {
			return nil, d.fail(ErrCorrupt, start, "atom is not UTF-8")
		}
		name = string(b)
		if c := utf8.RuneCountInString(name); c > 255 {
			return nil, d.fail(ErrCorrupt, start, "atom of %d characters, max 255", c)
		}
		if (t == tagAtomUTF8) != (n > 255) {
			d.canonical = false
		}
		if isLatin1(name) {
			d.sawUTF8Latin1 = true
		}
	}
	switch name {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "nil":
		return nil, nil
	}
	return Atom(name), nil
}

func isLatin1(s string) bool {
	for _, r := range s {
		if r > 0xff {
			return false
		}
	}
	return true
}

func (d *decoder) list(depth, start int) (any, error) {
	// Each element and the tail take at least one byte.
	n, err := d.count(4, 1, "list")
	if err != nil {
		return nil, err
	}
	if err := d.enter(depth, start); err != nil {
		return nil, err
	}
	l := make([]any, n)
	for i := range l {
		if l[i], err = d.term(depth + 1); err != nil {
			return nil, err
		}
	}
	tailOff := d.off()
	var tail uint8
	if !d.s.ReadUint8(&tail) {
		return nil, d.short(tailOff, "list tail")
	}
	if tag(tail) != tagNil {
		return nil, d.fail(ErrUnsupported, tailOff, "improper list")
	}
	if n == 0 || isCharlist(l) {
		d.canonical = false // written as NIL_EXT or STRING_EXT
	}
	return l, nil
}

func (d *decoder) decodeMap(depth, start int) (any, error) {
	// A key and a value take at least two bytes.
	n, err := d.count(4, 2, "map")
	if err != nil {
		return nil, err
	}
	if err := d.enter(depth, start); err != nil {
		return nil, err
	}
	m := make(Map, n)
	for i := range m {
		if m[i].Key, err = d.term(depth + 1); err != nil {
			return nil, err
		}
		if m[i].Value, err = d.term(depth + 1); err != nil {
			return nil, err
		}
	}
	keys := make([]any, n)
	for i, e := range m {
		keys[i] = e.Key
	}
	sorted := sortTerms(keys)
	for i := 1; i < n; i++ {
		if compare(keys[i-1], keys[i]) == 0 {
			return nil, d.fail(ErrCorrupt, start, "map has key %v twice", keys[i])
		}
	}
	if n <= maxSmallMap && !sorted {
		d.canonical = false
	}
	return m, nil
}

// kindName names the Erlang type of a decoded value, for messages.
func kindName(v any) string {
	switch v.(type) {
	case Map:
		return "map"
	case string:
		return "binary"
	case Atom, bool, nil:
		return "atom"
	case int64, *big.Int:
		return "integer"
	case float64:
		return "float"
	case []any:
		return "list"
	case Tuple:
		return "tuple"
	}
	return fmt.Sprintf("%T", v)
}
