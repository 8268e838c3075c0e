package etf

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// TypedJSON returns v as typed JSON, the lossless form used for Elixir's
// get_settings results in testdata/elixir-chips.json: every term is an
// object {"t": type, "v": value} with type "map" (v is a list of [key,
// value] pairs in order), "bin" (a UTF-8 binary as a string), "bytes"
// (any other binary, as hex), "atom" (true, false and nil included), "int"
// (a JSON number of any size), "float" (a JSON number, always with a
// fraction or exponent), "list" or "tuple". Only the atom encoding is lost. v may be any value [Encode] accepts.
func TypedJSON(v any) ([]byte, error) {
	n, err := normalize(v)
	if err != nil {
		return nil, err
	}
	if err := finite(n); err != nil {
		return nil, err
	}
	return json.Marshal(typed(n))
}

// floatNumber is the one JSON form of a float, in typed and plain JSON
// alike: the shortest decimal that parses back to the same bits, always
// with a fraction or exponent ("1.0", "-0.0", "1e+300"), so that
// [FromJSON] reads it back as a float, never as the integer 1. Erlang
// floats are finite; callers check that first.
func floatNumber(f float64) json.Number {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return json.Number(s)
}

// finite returns an error if v holds a NaN or an infinity, which JSON
// cannot write and Erlang does not have.
func finite(v any) error {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("JSON: float %v has no JSON form", x)
		}
	case Map:
		for _, e := range x {
			if err := finite(e.Key); err != nil {
				return err
			}
			if err := finite(e.Value); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := finite(e); err != nil {
				return err
			}
		}
	case Tuple:
		for _, e := range x {
			if err := finite(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func typed(v any) any {
	obj := func(t string, v any) map[string]any { return map[string]any{"t": t, "v": v} }
	switch x := v.(type) {
	case Map:
		pairs := make([][2]any, len(x))
		for i, e := range x {
			pairs[i] = [2]any{typed(e.Key), typed(e.Value)}
		}
		return obj("map", pairs)
	case string:
		if utf8.ValidString(x) {
			return obj("bin", x)
		}
		return obj("bytes", hex.EncodeToString([]byte(x)))
	case Atom, bool, nil:
		return obj("atom", atomName(x))
	case int64:
		return obj("int", json.Number(strconv.FormatInt(x, 10)))
	case *big.Int:
		return obj("int", json.Number(x.String()))
	case float64:
		return obj("float", floatNumber(x))
	case []any:
		return obj("list", typedSlice(x))
	case Tuple:
		return obj("tuple", typedSlice(x))
	}
	return nil // normalize returns only the types above
}

func typedSlice(l []any) []any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = typed(v)
	}
	return out
}

// ParseTypedJSON is the inverse of [TypedJSON]: it returns the value in
// the types [Decode] returns, maps in the order given.
func ParseTypedJSON(data []byte) (any, error) {
	var raw any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("typed JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("typed JSON: data after the value")
	}
	return untyped(raw, 1)
}

func untyped(raw any, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("typed JSON: nested deeper than %d", MaxDepth)
	}
	o, ok := raw.(map[string]any)
	if !ok || len(o) != 2 {
		return nil, fmt.Errorf("typed JSON: %v is not a {\"t\", \"v\"} object", raw)
	}
	t, _ := o["t"].(string)
	v, ok := o["v"]
	if !ok {
		return nil, fmt.Errorf("typed JSON: %v has no \"v\"", raw)
	}
	bad := func() error { return fmt.Errorf("typed JSON: bad %q value %v", t, v) }
	list := func() ([]any, error) {
		l, ok := v.([]any)
		if !ok {
			return nil, bad()
		}
		out := make([]any, len(l))
		for i, e := range l {
			var err error
			if out[i], err = untyped(e, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	switch t {
	case "map":
		l, ok := v.([]any)
		if !ok {
			return nil, bad()
		}
		m := make(Map, len(l))
		for i, e := range l {
			pair, ok := e.([]any)
			if !ok || len(pair) != 2 {
				return nil, bad()
			}
			var err error
			if m[i].Key, err = untyped(pair[0], depth+1); err != nil {
				return nil, err
			}
			if m[i].Value, err = untyped(pair[1], depth+1); err != nil {
				return nil, err
			}
		}
		return m, nil
	case "bin":
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		return s, nil
	case "bytes":
		s, ok := v.(string)
		b, err := hex.DecodeString(s)
		if !ok || err != nil {
			return nil, bad()
		}
		return string(b), nil
	case "atom":
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		switch s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "nil":
			return nil, nil
		}
		return Atom(s), nil
	case "int":
		n, ok := v.(json.Number)
		x, okInt := new(big.Int).SetString(string(n), 10)
		if !ok || !okInt {
			return nil, bad()
		}
		if x.IsInt64() {
			return x.Int64(), nil
		}
		return x, nil
	case "float":
		n, ok := v.(json.Number)
		f, err := strconv.ParseFloat(string(n), 64)
		if !ok || err != nil {
			return nil, bad()
		}
		return f, nil
	case "list":
		return list()
	case "tuple":
		l, err := list()
		return Tuple(l), err
	}
	return nil, fmt.Errorf("typed JSON: unknown type %q", t)
}

// ToJSON converts v to plain JSON values for [encoding/json]: maps become
// map[string]any (binary and atom keys by name), atoms strings, tuples
// arrays, and integers and floats [json.Number]s (a float always with a
// fraction or exponent, so [FromJSON] reads it back as a float). It fails where that would lose
// information that matters: a map key that is not a binary or an atom, a
// binary and an atom key with the same name, or a binary that is not
// UTF-8. Use [TypedJSON] for a lossless form.
func ToJSON(v any) (any, error) {
	n, err := normalize(v)
	if err != nil {
		return nil, err
	}
	return plain(n)
}

func plain(v any) (any, error) {
	switch x := v.(type) {
	case Map:
		sm, ok := x.StringMap()
		if !ok {
			return nil, errors.New("JSON: map keys must be distinct binaries or atoms")
		}
		for k, e := range sm {
			var err error
			if sm[k], err = plain(e); err != nil {
				return nil, err
			}
		}
		return sm, nil
	case string:
		if !utf8.ValidString(x) {
			return nil, fmt.Errorf("JSON: binary %x is not UTF-8", x)
		}
		return x, nil
	case Atom:
		return string(x), nil
	case bool, nil:
		return x, nil
	case float64:
		if err := finite(x); err != nil {
			return nil, err
		}
		return floatNumber(x), nil
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), nil
	case *big.Int:
		return json.Number(x.String()), nil
	case []any:
		return plainSlice(x)
	case Tuple:
		return plainSlice(x)
	}
	return nil, fmt.Errorf("JSON: no form for %T", v)
}

func plainSlice(l []any) (any, error) {
	out := make([]any, len(l))
	for i, v := range l {
		var err error
		if out[i], err = plain(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FromJSON converts a value decoded by [encoding/json] (best with
// [json.Decoder.UseNumber]) into one Encode writes as Elixir would expect:
// objects become maps with binary keys, strings binaries, arrays lists,
// numbers without a fraction or exponent integers and other numbers floats.
func FromJSON(v any) (any, error) {
	return fromJSON(v, 1)
}

func fromJSON(v any, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("JSON: nested deeper than %d", MaxDepth)
	}
	switch x := v.(type) {
	case nil, bool, string, float64:
		return x, nil
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if n, ok := new(big.Int).SetString(s, 10); ok {
				if n.IsInt64() {
					return n.Int64(), nil
				}
				return n, nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("JSON: number %s: %w", s, err)
		}
		return f, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			var err error
			if out[k], err = fromJSON(e, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = fromJSON(e, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("JSON: unexpected %T", v)
}
