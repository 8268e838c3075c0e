package etf

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// oracleScript reads hex terms, one a line, and prints for each what
// binary_to_term then term_to_binary give with minor_version 1 (OTP 17–25)
// and 2 (OTP 26+), or "error".
const oracleScript = `#!/usr/bin/env escript
main([In]) ->
    {ok, Data} = file:read_file(In),
    Lines = binary:split(Data, <<"\n">>, [global, trim_all]),
    lists:foreach(fun(L) ->
        try binary_to_term(binary:decode_hex(L)) of
            T -> io:format("~s ~s~n", [binary:encode_hex(term_to_binary(T, [{minor_version, 1}])),
                                       binary:encode_hex(term_to_binary(T, [{minor_version, 2}]))])
        catch _:_ -> io:format("error~n")
        end
    end, Lines).
`

// runOracle returns Erlang's re-encodings of terms (nil for an error).
func runOracle(t *testing.T, terms [][]byte) [][2][]byte {
	t.Helper()
	testutil.NeedTool(t, "escript")
	dir := t.TempDir()
	script := filepath.Join(dir, "oracle.escript")
	in := filepath.Join(dir, "terms.hex")
	var buf bytes.Buffer
	for _, b := range terms {
		buf.WriteString(hex.EncodeToString(b) + "\n")
	}
	if err := os.WriteFile(script, []byte(oracleScript), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), "escript", script, in).Output()
	if err != nil {
		t.Fatalf("escript: %v", err)
	}
	var res [][2][]byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			res = append(res, [2][]byte{})
			continue
		}
		a, _ := hex.DecodeString(f[0])
		b, _ := hex.DecodeString(f[1])
		res = append(res, [2][]byte{a, b})
	}
	if len(res) != len(terms) {
		t.Fatalf("oracle answered %d of %d terms:\n%s", len(res), len(terms), out)
	}
	return res
}

// hasLargeMap reports whether the term holds a map of more than 32 keys,
// which Erlang writes in hash order.
func hasLargeMap(v any) bool {
	switch x := v.(type) {
	case Map:
		if len(x) > maxSmallMap {
			return true
		}
		for _, e := range x {
			if hasLargeMap(e.Key) || hasLargeMap(e.Value) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasLargeMap(e) {
				return true
			}
		}
	case Tuple:
		for _, e := range x {
			if hasLargeMap(e) {
				return true
			}
		}
	}
	return false
}

// TestErlangOracle checks random Go values against the real Erlang: it
// reads what Encode writes, writes the same bytes with either atom
// encoding (hash order aside), and its output decodes and re-encodes here
// byte for byte, large hash-ordered maps included.
func TestErlangOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var values []any
	var terms [][]byte
	for range 1500 {
		v := randValue(r, 1)
		b, err := Encode(v, &Options{Atoms: AtomsLatin1})
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, v)
		terms = append(terms, b)
	}
	large := 0
	for i, got := range runOracle(t, terms) {
		if got[0] == nil {
			t.Fatalf("#%d: Erlang cannot decode %x", i, terms[i])
		}
		nv, _ := normalize(values[i])
		if hasLargeMap(nv) {
			large++
		}
		for j, atoms := range []AtomEncoding{AtomsLatin1, AtomsUTF8} {
			erl := got[j]
			if !hasLargeMap(nv) {
				ours, _ := Encode(values[i], &Options{Atoms: atoms})
				if !bytes.Equal(ours, erl) {
					t.Fatalf("#%d %v:\nEncode %x\nErlang %x", i, atoms, ours, erl)
				}
			}
			term, err := DecodeTerm(erl)
			if err != nil || !term.Canonical || compare(term.Value, nv) != 0 {
				t.Fatalf("#%d %v: DecodeTerm(%x) = %+v, %v", i, atoms, erl, term, err)
			}
			again, err := term.Encode()
			if err != nil || !bytes.Equal(again, erl) {
				t.Fatalf("#%d %v: Erlang's\n%x\nre-encoded as\n%x, %v", i, atoms, erl, again, err)
			}
		}
	}
	if large == 0 {
		t.Error("no large maps were tested")
	}
	t.Logf("%d terms, %d with large maps", len(terms), large)
}

// TestErlangRejects checks that inputs decoded here as ErrCorrupt are
// refused by binary_to_term too, and ErrUnsupported ones accepted.
func TestErlangRejects(t *testing.T) {
	var terms [][]byte
	var tests []hostileTest
	for _, tt := range hostileTests() {
		if tt.wantErr != nil && tt.wantErr != ErrLimit && len(tt.in) > 0 && len(tt.in) < 4096 {
			tests = append(tests, tt)
			terms = append(terms, tt.in)
		}
	}
	for i, got := range runOracle(t, terms) {
		accepted := got[0] != nil
		if want := tests[i].wantErr == ErrUnsupported; accepted != want {
			t.Errorf("%s: Erlang accepted = %v, want %v", tests[i].name, accepted, want)
		}
	}
}
