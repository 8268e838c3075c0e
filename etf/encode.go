package etf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"unicode/utf8"
)

// Options configures Encode. A nil *Options, or a zero field, selects the
// default.
type Options struct {
	// Atoms selects the atom encoding; default AtomsUTF8, what OTP 26 and
	// later write. Use the Atoms of a [Term] to rewrite it byte for byte.
	Atoms AtomEncoding
}

// Encode returns the external term format of v, version byte 131 first,
// as :erlang.term_to_binary/1 writes it (see the package documentation
// for the Go types it takes). Errors are [*EncodeError]s.
func Encode(v any, opts *Options) ([]byte, error) {
	e := encoder{}
	if opts != nil {
		e.atoms = opts.Atoms
	}
	return e.value([]byte{versionMagic}, v, 1)
}

type encoder struct {
	atoms AtomEncoding
}

func (e *encoder) fail(v any, format string, args ...any) error {
	var t reflect.Type
	if v != nil {
		t = reflect.TypeOf(v)
	}
	return &EncodeError{Type: t, Msg: fmt.Sprintf(format, args...)}
}

func (e *encoder) value(b []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return e.atom(b, "nil", v)
	case bool:
		if x {
			return e.atom(b, "true", v)
		}
		return e.atom(b, "false", v)
	case Atom:
		return e.atom(b, string(x), v)
	case string:
		return appendBinary(b, []byte(x)), nil
	case []byte:
		return appendBinary(b, x), nil
	case int64:
		return appendInt(b, x), nil
	case int:
		return appendInt(b, int64(x)), nil
	case *big.Int:
		if x == nil {
			return nil, e.fail(nil, "nil *big.Int")
		}
		return appendBig(b, x), nil
	case float64:
		return e.float(b, x, v)
	case Tuple:
		return e.tuple(b, x, depth)
	case []any:
		return e.list(b, x, depth)
	case Map:
		return e.encodeMap(b, x, len(x) <= maxSmallMap, depth)
	case map[string]any:
		m := make(Map, 0, len(x))
		for k, val := range x {
			m = append(m, KV{k, val})
		}
		return e.encodeMap(b, m, true, depth)
	case map[Atom]any:
		m := make(Map, 0, len(x))
		for k, val := range x {
			m = append(m, KV{k, val})
		}
		return e.encodeMap(b, m, true, depth)
	case map[any]any:
		m := make(Map, 0, len(x))
		for k, val := range x {
			m = append(m, KV{k, val})
		}
		return e.encodeMap(b, m, true, depth)
	}
	return e.reflectValue(b, v, depth)
}

// reflectValue encodes the remaining Go kinds: other integer, float, string,
// slice, array and map types.
func (e *encoder) reflectValue(b []byte, v any, depth int) ([]byte, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return e.value(b, rv.Bool(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return appendInt(b, rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u <= math.MaxInt64 {
			return appendInt(b, int64(u)), nil
		}
		return appendBig(b, new(big.Int).SetUint64(u)), nil
	case reflect.Float32, reflect.Float64:
		return e.float(b, rv.Float(), v)
	case reflect.String:
		return appendBinary(b, []byte(rv.String())), nil
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			data := make([]byte, rv.Len())
			for i := range data {
				data[i] = byte(rv.Index(i).Uint())
			}
			return appendBinary(b, data), nil
		}
		l := make([]any, rv.Len())
		for i := range l {
			l[i] = rv.Index(i).Interface()
		}
		return e.list(b, l, depth)
	case reflect.Map:
		m := make(Map, 0, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			m = append(m, KV{it.Key().Interface(), it.Value().Interface()})
		}
		return e.encodeMap(b, m, true, depth)
	}
	return nil, e.fail(v, "no Erlang term for this type")
}

func (e *encoder) atom(b []byte, name string, v any) ([]byte, error) {
	if !utf8.ValidString(name) {
		return nil, e.fail(v, "atom %q is not UTF-8", name)
	}
	if n := utf8.RuneCountInString(name); n > 255 {
		return nil, e.fail(v, "atom of %d characters, max 255", n)
	}
	if e.atoms == AtomsLatin1 && isLatin1(name) {
		b = append(b, byte(tagAtom))
		b = binary.BigEndian.AppendUint16(b, uint16(utf8.RuneCountInString(name)))
		for _, r := range name {
			b = append(b, byte(r))
		}
		return b, nil
	}
	if len(name) <= 255 {
		b = append(b, byte(tagSmallAtomUTF8), byte(len(name)))
	} else {
		b = append(b, byte(tagAtomUTF8))
		b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
	}
	return append(b, name...), nil
}

func appendBinary(b, data []byte) []byte {
	b = append(b, byte(tagBinary))
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// appendInt writes the shortest encoding, as term_to_binary does.
func appendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0 && v <= 255:
		return append(b, byte(tagSmallInteger), byte(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		b = append(b, byte(tagInteger))
		return binary.BigEndian.AppendUint32(b, uint32(int32(v)))
	}
	return appendBig(b, big.NewInt(v))
}

func appendBig(b []byte, x *big.Int) []byte {
	if x.IsInt64() {
		if v := x.Int64(); v >= math.MinInt32 && v <= math.MaxInt32 {
			return appendInt(b, v)
		}
	}
	mag := x.Bytes() // big-endian, no leading zeros
	sign := byte(0)
	if x.Sign() < 0 {
		sign = 1
	}
	if len(mag) <= 255 {
		b = append(b, byte(tagSmallBig), byte(len(mag)), sign)
	} else {
		b = append(b, byte(tagLargeBig))
		b = binary.BigEndian.AppendUint32(b, uint32(len(mag)))
		b = append(b, sign)
	}
	for i := len(mag) - 1; i >= 0; i-- {
		b = append(b, mag[i])
	}
	return b
}

func (e *encoder) float(b []byte, f float64, v any) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, e.fail(v, "%v has no Erlang float", f)
	}
	b = append(b, byte(tagNewFloat))
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f)), nil
}

func (e *encoder) enter(v any, depth int) error {
	if depth >= MaxDepth {
		return e.fail(v, "nested deeper than %d", MaxDepth)
	}
	return nil
}

func (e *encoder) tuple(b []byte, t Tuple, depth int) ([]byte, error) {
	if err := e.enter(t, depth); err != nil {
		return nil, err
	}
	if len(t) <= 255 {
		b = append(b, byte(tagSmallTuple), byte(len(t)))
	} else {
		b = append(b, byte(tagLargeTuple))
		b = binary.BigEndian.AppendUint32(b, uint32(len(t)))
	}
	var err error
	for _, v := range t {
		if b, err = e.value(b, v, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// list writes [] as NIL_EXT and a list of up to 65535 integers 0..255 as a
// charlist (STRING_EXT), as term_to_binary does.
func (e *encoder) list(b []byte, l []any, depth int) ([]byte, error) {
	if len(l) == 0 {
		return append(b, byte(tagNil)), nil
	}
	if err := e.enter(l, depth); err != nil {
		return nil, err
	}
	if len(l) <= math.MaxUint16 {
		if chars, ok := charBytes(l); ok {
			b = append(b, byte(tagString))
			b = binary.BigEndian.AppendUint16(b, uint16(len(chars)))
			return append(b, chars...), nil
		}
	}
	b = append(b, byte(tagList))
	b = binary.BigEndian.AppendUint32(b, uint32(len(l)))
	var err error
	for _, v := range l {
		if b, err = e.value(b, v, depth+1); err != nil {
			return nil, err
		}
	}
	return append(b, byte(tagNil)), nil
}

// isCharlist reports whether term_to_binary would write l as STRING_EXT.
func isCharlist(l []any) bool {
	_, ok := charBytes(l)
	return ok && len(l) > 0 && len(l) <= math.MaxUint16
}

// charBytes returns l as bytes if every element is an integer 0..255.
func charBytes(l []any) ([]byte, bool) {
	out := make([]byte, len(l))
	for i, v := range l {
		c, ok := byteInt(v)
		if !ok {
			return nil, false
		}
		out[i] = c
	}
	return out, true
}

func byteInt(v any) (byte, bool) {
	var n int64
	switch x := v.(type) {
	case *big.Int:
		if x == nil || !x.IsInt64() {
			return 0, false
		}
		n = x.Int64()
	case bool, float32, float64, string, Atom:
		return 0, false
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			n = rv.Int()
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			if rv.Uint() > 255 {
				return 0, false
			}
			n = int64(rv.Uint())
		default:
			return 0, false
		}
	}
	if n < 0 || n > 255 {
		return 0, false
	}
	return byte(n), true
}

// encodeMap writes m, sorted into term order of its keys when sort is set.
// Keys are encoded first, then decoded again to compare them as terms.
func (e *encoder) encodeMap(b []byte, m Map, sort bool, depth int) ([]byte, error) {
	if err := e.enter(m, depth); err != nil {
		return nil, err
	}
	type entry struct {
		key   any // decoded
		raw   []byte
		value any
	}
	ents := make([]entry, len(m))
	for i, kv := range m {
		raw, err := e.value(nil, kv.Key, depth+1)
		if err != nil {
			return nil, err
		}
		key, err := decodeRaw(raw)
		if err != nil {
			return nil, e.fail(kv.Key, "key does not decode: %v", err)
		}
		ents[i] = entry{key, raw, kv.Value}
	}
	order := slices.Clone(ents)
	slices.SortStableFunc(order, func(a, b entry) int { return compare(a.key, b.key) })
	for i := 1; i < len(order); i++ {
		if compare(order[i-1].key, order[i].key) == 0 {
			return nil, e.fail(m, "two keys are the term %x", order[i].raw)
		}
	}
	if sort {
		ents = order
	}
	b = append(b, byte(tagMap))
	b = binary.BigEndian.AppendUint32(b, uint32(len(ents)))
	var err error
	for _, en := range ents {
		b = append(b, en.raw...)
		if b, err = e.value(b, en.value, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}
