package main

import (
	"testing"

	"github.com/nerveskey/nerveskey/etf"
)

// FuzzSettingsJSON checks that JSON accepted by settings put prints back
// from settings get with the same Erlang terms, in plain and in typed
// JSON: what settingsJSON prints for settingsFromJSON(x) encodes to the
// same bytes after settingsFromJSON again.
func FuzzSettingsJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a": 1}`, `{"f": 1.0, "g": -0.5, "h": 1e300, "i": 1e-7, "z": -0.0}`,
		`{"big": 123456789012345678901234567890, "neg": -9223372036854775809}`,
		`{"n": {"on": true, "off": false, "nil": null}, "l": [1, "two", [3.5]]}`,
		`{"u": "h\u00e9llo \ud83d\ude00"}`, `[1]`, `{"a":1} {}`, `{"a": 1e400}`,
		`{"t":"map","v":[[{"t":"int","v":0},{"t":"bin","v":"zero-key"}],[{"t":"atom","v":"true"},{"t":"atom","v":"false"}]]}`,
		`{"t":"map","v":[[{"t":"tuple","v":[{"t":"float","v":1.0}]},{"t":"bytes","v":"ff00"}]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typedIn := range []bool{false, true} {
			v, err := settingsFromJSON(data, typedIn)
			if err != nil {
				continue
			}
			want, err := etf.Encode(v, nil)
			if err != nil {
				continue // too deep or too large to write: put refuses it
			}
			for _, typedOut := range []bool{false, true} {
				out, plain, err := settingsJSON(v, typedOut)
				if err != nil {
					t.Fatalf("settingsJSON(%#v, %v): %v", v, typedOut, err)
				}
				w, err := settingsFromJSON(out, !plain)
				if err != nil {
					t.Fatalf("printed settings %s do not parse: %v", out, err)
				}
				got, err := etf.Encode(w, nil)
				if err != nil || string(got) != string(want) {
					t.Fatalf("round trip of %s through %s changed %x into %x (%v)", data, out, want, got, err)
				}
			}
		}
	})
}
