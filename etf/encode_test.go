package etf

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func bigExp(sign, bits int) *big.Int {
	x := new(big.Int).Lsh(big.NewInt(1), uint(bits))
	if sign < 0 {
		x.Neg(x)
	}
	return x
}

// goldenValues are the Go forms of the terms in testdata/golden.erl.
func goldenValues() map[string]any {
	return map[string]any{
		"a1": map[string]any{"a": 1},
		"ints": []any{0, 255, 256, -1, 2147483647, 2147483648, -2147483648, -2147483649,
			int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64), bigExp(1, 64)},
		"bigpos":    bigExp(1, 2040),
		"bigneg":    bigExp(-1, 2047),
		"big256":    bigExp(1, 2048),
		"floats":    Tuple{0.0, math.Copysign(0, -1), 1.5, -2.25e300, 5.0e-324},
		"charlist":  []int{1, 2, 255},
		"mixedlist": []any{1, 256},
		"nested":    []any{[]any{}},
		"bin":       []byte{255, 0},
		"atoms":     Tuple{Atom("abc"), Atom("é"), Atom("Ā"), true, false, nil},
		"longatom":  Atom(strings.Repeat("Ā", 200)),
		"keys": Map{{"b", 1}, {"a", 2}, {"ab", 3}, {Atom("x"), 4}, {1, 5}, {2.0, 6},
			{Tuple{}, 7}, {Tuple{1, 2}, 8}, {[]any{}, 9}, {[]any{1}, 10}, {Map{}, 11},
			{true, 12}, {nil, 13}, {-1, 14}, {bigExp(1, 70), 15}},
		"tuple256": Tuple(slices.Repeat([]any{0}, 256)),
		"emptymap": map[string]any{},
		"nil":      nil,
	}
}

func TestEncodeGolden(t *testing.T) {
	values := goldenValues()
	f, err := os.Open("testdata/encode.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	seen := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		name := fields[0]
		v, ok := values[name]
		if !ok {
			t.Fatalf("no Go value for %q", name)
		}
		seen++
		for i, atoms := range []AtomEncoding{AtomsLatin1, AtomsUTF8} {
			want, _ := hex.DecodeString(fields[1+i])
			got, err := Encode(v, &Options{Atoms: atoms})
			if err != nil {
				t.Errorf("%s/%v: %v", name, atoms, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s/%v:\n got %x\nwant %x", name, atoms, got, want)
			}
			term, err := DecodeTerm(want)
			if err != nil || !term.Canonical || term.Len != len(want) {
				t.Errorf("%s/%v: DecodeTerm = %+v, %v", name, atoms, term, err)
				continue
			}
			if again, err := term.Encode(); !bytes.Equal(again, want) {
				t.Errorf("%s/%v: decode→encode gives %x, %v", name, atoms, again, err)
			}
		}
	}
	if seen != len(values) {
		t.Errorf("golden file has %d of %d values", seen, len(values))
	}
}

func TestSpecExample(t *testing.T) {
	// docs/nerves_key.md §6.4: %{"a" => 1}.
	want := []byte{0x83, 0x74, 0, 0, 0, 1, 0x6d, 0, 0, 0, 1, 0x61, 0x61, 0x01}
	for _, v := range []any{map[string]any{"a": 1}, Map{{"a", int64(1)}}, map[any]any{"a": uint8(1)}} {
		got, err := Encode(v, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Encode(%#v) = %x, %v; want %x", v, got, err, want)
		}
	}
	got, err := Decode(want)
	if err != nil || !reflect.DeepEqual(got, Map{{"a", int64(1)}}) {
		t.Errorf("Decode = %#v, %v", got, err)
	}
}

func TestEncodeGoTypes(t *testing.T) {
	type name string
	tests := []struct {
		name string
		a, b any // encode to the same bytes
	}{
		{"string and []byte", "h\xffi", []byte("h\xffi")},
		{"named string", name("x"), "x"},
		{"[]string", []string{"a", "b"}, []any{"a", "b"}},
		{"[]uint8 array", [2]uint8{1, 2}, "\x01\x02"},
		{"int kinds", []any{int8(-1), int16(300), int32(-70000), uint16(7), uint32(1 << 31), uint(5)},
			[]any{-1, 300, -70000, 7, int64(1) << 31, 5}},
		{"small big.Int", big.NewInt(7), 7},
		{"float32", float32(0.5), 0.5},
		{"map kinds", map[Atom]string{"b": "x", "a": "y"}, Map{{Atom("a"), "y"}, {Atom("b"), "x"}}},
		{"atom true", Atom("true"), true},
		{"atom nil", Atom("nil"), nil},
		{"nil slice", []any(nil), []any{}},
		{"bool kind", reflect.ValueOf(true).Interface(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Encode(tt.a, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Encode(tt.b, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%x != %x", a, b)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	cycle := []any{nil}
	cycle[0] = cycle
	deep := any("leaf")
	for range MaxDepth {
		deep = []any{deep}
	}
	ok := any("leaf")
	for range MaxDepth - 1 {
		ok = []any{ok}
	}
	if _, err := Encode(ok, nil); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	tests := []struct {
		name string
		v    any
	}{
		{"NaN", math.NaN()},
		{"Inf", math.Inf(-1)},
		{"struct", struct{}{}},
		{"chan", make(chan int)},
		{"func in list", []any{func() {}}},
		{"pointer", new(int)},
		{"nil big.Int", (*big.Int)(nil)},
		{"atom too long", Atom(strings.Repeat("a", 256))},
		{"atom not UTF-8", Atom("\xff")},
		{"cycle", cycle},
		{"too deep", deep},
		{"duplicate Go keys", map[any]any{1: "a", int64(1): "b"}},
		{"duplicate Map keys", Map{{Atom("a"), 1}, {Atom("a"), 2}}},
		{"duplicate zero keys", Map{{0.0, 1}, {math.Copysign(0, -1), 2}}},
		{"bad key", map[any]any{1: "a", "k": make(chan int)}},
		{"bad value in map", map[string]any{"k": math.NaN()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode(tt.v, nil)
			if _, ok := errors.AsType[*EncodeError](err); !ok {
				t.Fatalf("Encode = %x, %v; want an *EncodeError", b, err)
			}
			t.Log(err)
		})
	}
}

func TestMapGet(t *testing.T) {
	m := Map{{"mode", 1}, {Atom("mode"), 2}, {int64(3), "three"}, {Tuple{1, "x"}, "tuple"}, {nil, "nil"}}
	tests := []struct {
		key  any
		want any
	}{
		{"mode", 1},
		{Atom("mode"), 2},
		{3, "three"},
		{uint8(3), "three"},
		{big.NewInt(3), "three"},
		{Tuple{int64(1), []byte("x")}, "tuple"},
		{Atom("nil"), "nil"},
		{nil, "nil"},
	}
	for _, tt := range tests {
		got, ok := m.Get(tt.key)
		if !ok || got != tt.want {
			t.Errorf("Get(%#v) = %v, %v; want %v", tt.key, got, ok, tt.want)
		}
	}
	for _, k := range []any{"nope", 3.0, Atom("three"), make(chan int)} {
		if v, ok := m.Get(k); ok {
			t.Errorf("Get(%#v) = %v, want none", k, v)
		}
	}
	if _, ok := m.StringMap(); ok {
		t.Error("StringMap accepted a map with \"mode\" and :mode")
	}
	sm, ok := Map{{"a", 1}, {Atom("b"), 2}, {true, 3}}.StringMap()
	if !ok || !reflect.DeepEqual(sm, map[string]any{"a": 1, "b": 2, "true": 3}) {
		t.Errorf("StringMap = %v, %v", sm, ok)
	}
}
