package etf_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/nerveskey/nerveskey/etf"
)

// Settings as Elixir 1.14 / OTP 25 wrote them for
// NervesKey.put_settings(t, %{mode: :production, "count" => 70000}),
// with the start of the zero padding that fills the 524-byte area.
const elixirBlob = "8374000000026400046d6f6465640" +
	"00a70726f64756374696f6e6d00000005636f756e74620001117000000000"

func ExampleDecode() {
	raw, _ := hex.DecodeString(elixirBlob)
	v, err := etf.Decode(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := v.(etf.Map)
	mode, _ := m.Get(etf.Atom("mode")) // the atom key :mode
	count, _ := m.Get("count")         // the string key "count"
	fmt.Printf("mode=%v (%T) count=%v (%T)\n", mode, mode, count, count)
	// Output:
	// mode=production (etf.Atom) count=70000 (int64)
}

func ExampleEncode() {
	b, err := etf.Encode(map[string]any{
		"wifi_ssid": "factory-net",
		"gain":      1.25,
		"channels":  []int{1, 6, 11}, // a list of bytes: a charlist, as in Erlang
		"nested":    map[string]any{"enabled": true, "x": nil},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d bytes: %x...\n", len(b), b[:12])
	v, _ := etf.Decode(b)
	for _, e := range v.(etf.Map) { // keys come back in Erlang term order
		fmt.Printf("%q: %v\n", e.Key, e.Value)
	}
	// Output:
	// 118 bytes: 8374000000046d0000000863...
	// "channels": [1 6 11]
	// "gain": 1.25
	// "nested": [{enabled true} {x <nil>}]
	// "wifi_ssid": factory-net
}

// DecodeTerm and Term.Encode rewrite Elixir's settings byte for byte,
// keeping the OTP 25 atom encoding.
func ExampleDecodeTerm() {
	raw, _ := hex.DecodeString(elixirBlob)
	t, err := etf.DecodeTerm(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := t.Value.(etf.Map)
	m[1].Value = int64(70001) // "count" => 70001
	b, _ := t.Encode()
	fmt.Printf("atoms %v, canonical %v, %d of %d bytes used\n", t.Atoms, t.Canonical, t.Len, len(raw))
	fmt.Printf("%x\n", b)
	// Output:
	// atoms latin1, canonical true, 41 of 45 bytes used
	// 8374000000026400046d6f646564000a70726f64756374696f6e6d00000005636f756e746200011171
}

func ExampleAtomEncoding() {
	for _, atoms := range []etf.AtomEncoding{etf.AtomsUTF8, etf.AtomsLatin1} {
		b, _ := etf.Encode(etf.Atom("ok"), &etf.Options{Atoms: atoms})
		fmt.Printf("%v: %x\n", atoms, b)
	}
	// Output:
	// utf8: 8377026f6b
	// latin1: 836400026f6b
}

func ExampleToJSON() {
	raw, _ := hex.DecodeString(elixirBlob)
	v, _ := etf.Decode(raw)
	j, _ := etf.ToJSON(v)
	json.NewEncoder(os.Stdout).Encode(j)
	typed, _ := etf.TypedJSON(v)
	fmt.Println(string(typed))
	// Output:
	// {"count":70000,"mode":"production"}
	// {"t":"map","v":[[{"t":"atom","v":"mode"},{"t":"atom","v":"production"}],[{"t":"bin","v":"count"},{"t":"int","v":70000}]]}
}
