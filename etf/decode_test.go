package etf

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// nest returns the version byte, n one-element lists around [], then the
// tails.
func nest(n int) []byte {
	b := []byte{versionMagic}
	b = append(b, bytes.Repeat(h("6c 00000001"), n)...)
	b = append(b, byte(tagNil))
	return append(b, bytes.Repeat([]byte{byte(tagNil)}, n)...)
}

type hostileTest struct {
	name    string
	in      []byte
	want    any   // when wantErr is nil
	wantErr error // ErrCorrupt, ErrUnsupported, ErrLimit
}

func hostileTests() []hostileTest {
	bigLimit := append(h("83 6f 00000401 00"), bytes.Repeat([]byte{1}, MaxBigBytes+1)...)
	bigMax := append(h("83 6f 00000400 00"), bytes.Repeat([]byte{1}, MaxBigBytes)...)
	atom256 := append(h("83 64 0100"), bytes.Repeat([]byte("a"), 256)...)
	pid := h("83 58 77 0d") // NEW_PID_EXT on nonode@nohost
	pid = append(pid, "nonode@nohost"...)
	pid = append(pid, h("00000001 00000000 00000000")...)
	return []hostileTest{
		{"empty", nil, nil, ErrCorrupt},
		{"unwritten storage", make([]byte, 524), nil, ErrCorrupt},
		{"all ones", bytes.Repeat([]byte{0xff}, 524), nil, ErrCorrupt},
		{"wrong version", h("82 61 01"), nil, ErrCorrupt},
		{"version only", h("83"), nil, ErrCorrupt},
		{"trailing garbage ok", h("83 61 01 ff ff 00"), int64(1), nil},
		{"binary past end", h("83 6d ffffffff 61"), nil, ErrCorrupt},
		{"binary one short", h("83 6d 00000002 61"), nil, ErrCorrupt},
		{"binary length cut", h("83 6d 0000"), nil, ErrCorrupt},
		{"list arity 2^32-1", h("83 6c ffffffff 6a"), nil, ErrCorrupt},
		{"list without tail", h("83 6c 00000001 61 01"), nil, ErrCorrupt},
		{"large tuple arity 2^32-1", h("83 69 ffffffff 6a"), nil, ErrCorrupt},
		{"small tuple arity 255", h("83 68 ff 6a"), nil, ErrCorrupt},
		{"map arity 2^32-1", h("83 74 ffffffff 6a 6a"), nil, ErrCorrupt},
		{"map odd terms", h("83 74 00000001 61 01"), nil, ErrCorrupt},
		{"charlist past end", h("83 6b ffff 01"), nil, ErrCorrupt},
		{"big int 2^32-1 bytes", h("83 6f ffffffff 00 01"), nil, ErrCorrupt},
		{"small big past end", h("83 6e ff 00 01"), nil, ErrCorrupt},
		{"small big no sign", h("83 6e 01"), nil, ErrCorrupt},
		{"big int over limit", bigLimit, nil, ErrLimit},
		{"big int at limit", bigMax, new(big.Int).SetBytes(bytes.Repeat([]byte{1}, MaxBigBytes)), nil},
		{"integer cut", h("83 62 0000"), nil, ErrCorrupt},
		{"float cut", h("83 46 3ff0"), nil, ErrCorrupt},
		{"float NaN", h("83 46 7ff8000000000000"), nil, ErrCorrupt},
		{"float Inf", h("83 46 fff0000000000000"), nil, ErrCorrupt},
		{"atom of 256", atom256, nil, ErrCorrupt},
		{"atom not UTF-8", h("83 77 01 ff"), nil, ErrCorrupt},
		{"atom past end", h("83 64 0005 61"), nil, ErrCorrupt},
		{"duplicate keys", h("83 74 00000002 61 01 61 01 61 01 61 02"), nil, ErrCorrupt},
		{"duplicate zero keys", h("83 74 00000002 46 0000000000000000 61 01 46 8000000000000000 61 02"), nil, ErrCorrupt},
		{"unknown tag", h("83 00"), nil, ErrCorrupt},
		{"depth 10000", nest(10000), nil, ErrLimit},
		{"depth over limit", nest(MaxDepth), nil, ErrLimit},
		{"depth at limit", nest(MaxDepth - 1), nil, nil},
		{"improper list", h("83 6c 00000001 61 01 61 02"), nil, ErrUnsupported},
		{"pid", pid, nil, ErrUnsupported},
		{"compressed", h("83 50 0000002B 789CCB66D060241200001BC000BC"), nil, ErrUnsupported},
		{"old float", append(h("83 63"), []byte("1.00000000000000000000e+00\x00\x00\x00\x00\x00")...), nil, ErrUnsupported},
		{"bitstring", h("83 4d 00000001 03 e0"), nil, ErrUnsupported},
	}
}

func TestDecodeHostile(t *testing.T) {
	for _, tt := range hostileTests() {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got, err := Decode(tt.in)
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<10+16*uint64(len(tt.in)) {
				t.Errorf("decoding %d bytes allocated %d bytes", len(tt.in), alloc)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("Decode = %#v, want %#v", got, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decode = %#v, %v; want %v", got, err, tt.wantErr)
			}
			if _, ok := errors.AsType[*DecodeError](err); !ok {
				t.Fatalf("%T is not a *DecodeError", err)
			}
			t.Log(err)
		})
	}
}

func TestDecodeCanonical(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		canonical bool
		atoms     AtomEncoding
	}{
		{"small int", "83 61 05", true, AtomsUTF8},
		{"INTEGER_EXT for 5", "83 62 00000005", false, AtomsUTF8},
		{"SMALL_BIG for 5", "83 6e 01 00 05", false, AtomsUTF8},
		{"big with high zero", "83 6e 05 00 0000008000", false, AtomsUTF8},
		{"big sign 2", "83 6e 04 02 00000080", false, AtomsUTF8},
		{"big canonical", "83 6e 04 01 01000080", true, AtomsUTF8},
		{"LARGE_BIG for 4 bytes", "83 6f 00000004 00 00000080", false, AtomsUTF8},
		{"list of bytes", "83 6c 00000001 61 01 6a", false, AtomsUTF8},
		{"empty LIST_EXT", "83 6c 00000000 6a", false, AtomsUTF8},
		{"empty STRING_EXT", "83 6b 0000", false, AtomsUTF8},
		{"LARGE_TUPLE of 1", "83 69 00000001 6a", false, AtomsUTF8},
		{"unsorted small map", "83 74 00000002 61 02 6a 61 01 6a", false, AtomsUTF8},
		{"SMALL_ATOM_EXT", "83 73 01 61", false, AtomsUTF8},
		{"ATOM_UTF8_EXT short", "83 76 0001 61", false, AtomsUTF8},
		{"ATOM_EXT", "83 64 0001 61", true, AtomsLatin1},
		{"UTF-8 atom", "83 77 01 61", true, AtomsUTF8},
		{"mixed atom encodings", "83 68 02 64 0001 61 77 01 62", false, AtomsLatin1},
		{"ATOM_EXT and non-Latin-1 UTF-8", "83 68 02 64 0001 61 77 02 c480", true, AtomsLatin1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := h(tt.in)
			term, err := DecodeTerm(in)
			if err != nil {
				t.Fatal(err)
			}
			if term.Canonical != tt.canonical || term.Atoms != tt.atoms {
				t.Fatalf("Canonical %v, Atoms %v; want %v, %v", term.Canonical, term.Atoms, tt.canonical, tt.atoms)
			}
			out, err := term.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(out, in) != tt.canonical {
				t.Fatalf("re-encoded as %x", out)
			}
		})
	}
}

func TestDecodeMapNotMap(t *testing.T) {
	if _, err := DecodeMap(h("83 61 01")); !errors.Is(err, ErrUnsupported) {
		t.Errorf("DecodeMap(1): %v, want ErrUnsupported", err)
	}
}

// FuzzDecode checks that decoding never panics, fails only with a
// *DecodeError, and that a decoded term re-encodes to the bytes it was
// read from when Canonical, or else to a canonical encoding of the same
// term.
func FuzzDecode(f *testing.F) {
	for _, v := range readVectors(f) {
		f.Add(v.Raw)
	}
	for _, tt := range hostileTests() {
		if len(tt.in) < 2048 {
			f.Add(tt.in)
		}
	}
	f.Add(h("83 74 00000002 61 02 6a 61 01 6a"))
	f.Add(h("83 68 02 64 0001 61 77 01 62"))
	f.Fuzz(func(t *testing.T, b []byte) {
		term, err := DecodeTerm(b)
		if err != nil {
			if _, ok := errors.AsType[*DecodeError](err); !ok {
				t.Fatalf("error %v is a %T", err, err)
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrLimit) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		out, err := term.Encode()
		if err != nil {
			t.Fatalf("decoded %#v but cannot encode it: %v", term.Value, err)
		}
		if term.Canonical {
			if !bytes.Equal(out, b[:term.Len]) {
				t.Fatalf("canonical %x re-encoded as %x", b[:term.Len], out)
			}
			return
		}
		again, err := DecodeTerm(out)
		if err != nil || !again.Canonical || compare(again.Value, term.Value) != 0 {
			t.Fatalf("%x re-encoded as %x, which decodes as %+v, %v", b[:term.Len], out, again, err)
		}
		if out2, _ := again.Encode(); !bytes.Equal(out2, out) {
			t.Fatalf("canonical form not stable: %x then %x", out, out2)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	raw := benchBlob(b)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	term, err := DecodeTerm(benchBlob(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(term.Len))
	for b.Loop() {
		if _, err := term.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchBlob is the richest vector: elixir-4's 524 bytes.
func benchBlob(b *testing.B) []byte {
	for _, v := range readVectors(b) {
		if v.Name == "elixir-4" {
			return v.Raw
		}
	}
	b.Fatal("no elixir-4 vector")
	return nil
}
