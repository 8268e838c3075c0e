package etf

import (
	"cmp"
	"math/big"
	"slices"
	"strings"
)

// Term order classes, as erts sorts map keys (exact comparison, where
// every integer sorts before every float): number < atom < reference <
// fun < port < pid < tuple < map < nil < list < bitstring.
const (
	classInt = iota
	classFloat
	classAtom
	classTuple
	classMap
	classList
	classBinary
	classOther
)

func class(v any) int {
	switch v.(type) {
	case int64, *big.Int:
		return classInt
	case float64:
		return classFloat
	case Atom, bool, nil:
		return classAtom
	case Tuple:
		return classTuple
	case Map:
		return classMap
	case []any:
		return classList
	case string:
		return classBinary
	}
	return classOther
}

func atomName(v any) string {
	switch a := v.(type) {
	case Atom:
		return string(a)
	case bool:
		if a {
			return "true"
		}
		return "false"
	}
	return "nil"
}

func bigOf(v any) *big.Int {
	if x, ok := v.(*big.Int); ok {
		return x
	}
	return big.NewInt(v.(int64))
}

// compare orders two decoded values (the types Decode returns) as Erlang
// orders map keys; it returns 0 exactly when they are the same map key.
// As in OTP 26 and earlier, 0.0 and -0.0 are the same key.
func compare(a, b any) int {
	ca, cb := class(a), class(b)
	if ca != cb {
		return cmp.Compare(ca, cb)
	}
	switch ca {
	case classInt:
		x, xok := a.(int64)
		y, yok := b.(int64)
		if xok && yok {
			return cmp.Compare(x, y)
		}
		return bigOf(a).Cmp(bigOf(b))
	case classFloat:
		x, y := a.(float64), b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case classAtom:
		return strings.Compare(atomName(a), atomName(b))
	case classTuple:
		x, y := a.(Tuple), b.(Tuple)
		if c := cmp.Compare(len(x), len(y)); c != 0 {
			return c
		}
		return compareSeq(x, y)
	case classMap:
		return compareMaps(a.(Map), b.(Map))
	case classList:
		return compareSeq(a.([]any), b.([]any))
	case classBinary:
		return strings.Compare(a.(string), b.(string))
	}
	return 0
}

// compareSeq compares element by element; a prefix sorts first.
func compareSeq(x, y []any) int {
	for i := range min(len(x), len(y)) {
		if c := compare(x[i], y[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(x), len(y))
}

// compareMaps orders maps by size, then by their sorted keys, then by the
// values in key order.
func compareMaps(x, y Map) int {
	if c := cmp.Compare(len(x), len(y)); c != 0 {
		return c
	}
	sx, sy := sortedEntries(x), sortedEntries(y)
	for i := range sx {
		if c := compare(sx[i].Key, sy[i].Key); c != 0 {
			return c
		}
	}
	for i := range sx {
		if c := compare(sx[i].Value, sy[i].Value); c != 0 {
			return c
		}
	}
	return 0
}

func sortedEntries(m Map) Map {
	s := slices.Clone(m)
	slices.SortStableFunc(s, func(a, b KV) int { return compare(a.Key, b.Key) })
	return s
}

// sortTerms sorts ts into term order and reports whether it already was.
func sortTerms(ts []any) bool {
	if slices.IsSortedFunc(ts, compare) {
		return true
	}
	slices.SortStableFunc(ts, compare)
	return false
}

// normalize turns a Go value that Encode accepts into the types Decode
// returns, so that it can be compared.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, int64:
		return v, nil
	case int:
		return int64(x), nil
	}
	e := encoder{}
	b, err := e.value(nil, v, 1)
	if err != nil {
		return nil, err
	}
	return decodeRaw(b)
}
