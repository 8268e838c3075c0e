package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzSettingsJSON checks that JSON accepted by settings put prints back
// from settings get with the same Erlang types: what
// settingsToJSON(settingsFromJSON(x)) prints parses to the same values.
func FuzzSettingsJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a": 1}`, `{"f": 1.0, "g": -0.5, "h": 1e300, "i": 1e-7}`,
		`{"big": 123456789012345678901234567890, "neg": -9223372036854775809}`,
		`{"n": {"on": true, "off": false, "nil": null}, "l": [1, "two", [3.5]]}`,
		`{"u": "h\u00e9llo \ud83d\ude00"}`, `[1]`, `{"a":1} {}`, `{"a": 1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := settingsFromJSON(data)
		if err != nil {
			return
		}
		j, err := settingsToJSON(v)
		if err != nil {
			t.Fatalf("settingsToJSON(%v): %v", v, err)
		}
		out, err := json.Marshal(j)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		w, err := settingsFromJSON(out)
		if err != nil {
			t.Fatalf("printed settings %s do not parse: %v", out, err)
		}
		if !reflect.DeepEqual(v, w) {
			t.Fatalf("round trip changed %#v into %#v (via %s)", v, w, out)
		}
	})
}
