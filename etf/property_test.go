package etf

import (
	"bytes"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// randValue returns a random Go value that Encode accepts, in a mix of the
// types Decode returns and other Go types.
func randValue(r *rand.Rand, depth int) any {
	n := 14
	if depth >= 6 {
		n = 9 // scalars only
	}
	switch r.IntN(n) {
	case 0:
		return randInt(r)
	case 1:
		return randFloat(r)
	case 2:
		return randAtom(r)
	case 3:
		return randString(r)
	case 4:
		return []byte(randString(r))
	case 5:
		return []any{true, false, nil}[r.IntN(3)]
	case 6:
		return []any{int8(-3), uint16(300), int32(-70000), uint64(math.MaxUint64), uint8(7), 42}[r.IntN(6)]
	case 7:
		return float32(r.NormFloat64())
	case 8:
		return randBig(r)
	case 9, 10:
		l := make([]any, r.IntN(6))
		bytesOnly := r.IntN(3) == 0
		for i := range l {
			if bytesOnly {
				l[i] = r.IntN(256) // a charlist
			} else {
				l[i] = randValue(r, depth+1)
			}
		}
		return l
	case 11:
		t := make(Tuple, r.IntN(5))
		for i := range t {
			t[i] = randValue(r, depth+1)
		}
		return t
	case 12:
		m := make(map[string]any)
		for range r.IntN(5) {
			m[randString(r)] = randValue(r, depth+1)
		}
		return m
	default:
		size := r.IntN(6)
		if r.IntN(8) == 0 {
			size = 33 + r.IntN(10) // a large (hash-ordered) map
		}
		var m Map
		var keys []any
		for len(m) < size {
			k := randValue(r, depth+1)
			nk, err := normalize(k)
			if err != nil {
				panic(err)
			}
			dup := false
			for _, o := range keys {
				dup = dup || compare(o, nk) == 0
			}
			if !dup {
				keys = append(keys, nk)
				m = append(m, KV{k, randValue(r, depth+1)})
			}
		}
		return m
	}
}

func randInt(r *rand.Rand) int64 {
	switch r.IntN(4) {
	case 0:
		return int64(r.IntN(256))
	case 1:
		return int64(int32(r.Uint32()))
	case 2:
		return []int64{0, 255, 256, -1, math.MinInt32, math.MaxInt32, math.MinInt32 - 1, math.MaxInt32 + 1, math.MinInt64, math.MaxInt64}[r.IntN(10)]
	}
	return int64(r.Uint64())
}

func randBig(r *rand.Rand) *big.Int {
	b := make([]byte, 1+r.IntN(300))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	x := new(big.Int).SetBytes(b)
	if r.IntN(2) == 0 {
		x.Neg(x)
	}
	return x
}

func randFloat(r *rand.Rand) float64 {
	switch r.IntN(4) {
	case 0:
		return []float64{0, math.Copysign(0, -1), math.MaxFloat64, -math.SmallestNonzeroFloat64, 1.0, 0.1}[r.IntN(6)]
	case 1:
		return math.Float64frombits(r.Uint64() &^ (0x7ff << 52)) // subnormal or zero exponent
	}
	f := math.Float64frombits(r.Uint64())
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return r.NormFloat64()
	}
	return f
}

func randString(r *rand.Rand) string {
	alphabets := []string{"abc", "aé\xff\x00", "日本"}
	a := []rune(alphabets[r.IntN(len(alphabets))])
	if r.IntN(5) == 0 {
		b := make([]byte, r.IntN(8))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return string(b)
	}
	s := make([]rune, r.IntN(6))
	for i := range s {
		s[i] = a[r.IntN(len(a))]
	}
	return string(s)
}

func randAtom(r *rand.Rand) Atom {
	names := []string{"a", "mode", "é", "Ā", "日本", "ok", "nil_", ""}
	if r.IntN(10) == 0 {
		return Atom(string(bytes.Repeat([]byte("Ā"), 128+r.IntN(128)))) // ATOM_UTF8_EXT
	}
	return Atom(names[r.IntN(len(names))])
}

// TestRoundTripProperty: for random Go values, encode → decode → encode is
// the identity on the bytes, with either atom encoding, and the decoded
// value is the same term as the one encoded.
func TestRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		v := randValue(r, 1)
		for _, atoms := range []AtomEncoding{AtomsUTF8, AtomsLatin1} {
			b, err := Encode(v, &Options{Atoms: atoms})
			if err != nil {
				t.Fatalf("#%d Encode(%#v): %v", i, v, err)
			}
			term, err := DecodeTerm(append(b, 0, 0, 0))
			if err != nil {
				t.Fatalf("#%d DecodeTerm(%x): %v", i, b, err)
			}
			if !term.Canonical || term.Len != len(b) {
				t.Fatalf("#%d %x: Canonical %v, Len %d", i, b, term.Canonical, term.Len)
			}
			again, err := term.Encode()
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("#%d %v: encode→decode→encode\n%x\ngave\n%x, %v", i, atoms, b, again, err)
			}
			nv, err := normalize(v)
			if err != nil || compare(nv, term.Value) != 0 {
				t.Fatalf("#%d decoded %#v, encoded %#v (%v)", i, term.Value, v, err)
			}
		}
	}
}
