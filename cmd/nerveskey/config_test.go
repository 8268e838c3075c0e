package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// foreignSim writes a chip configured by others to dir/foreign.json: the
// 608A NervesKey image with slot 0 as in Microchip's default TLS layout
// (SlotConfig 8f 20: ECDH writes its secret to slot 1) and ChipOptions
// requiring encrypted ECDH output.
func foreignSim(t *testing.T, dir string) string {
	t.Helper()
	img, err := nerveskeytest.ParseImage(readFile(t, filepath.Join("testdata", "608a.json")))
	if err != nil {
		t.Fatal(err)
	}
	img.Config[20], img.Config[21] = 0x8F, 0x20 // slot 0: sign, ECDH to slot 1
	img.Config[90], img.Config[91] = 0x00, 0x01 // ChipOptions: ECDH output encrypted
	data, err := marshalImage(img)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "foreign.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfig prints the configuration zone of a blank chip, a NervesKey,
// a Trust&Go part and a foreign layout, as text and JSON, against goldens,
// and checks the JSON's layout and a few decoded fields.
func TestConfig(t *testing.T) {
	dir := t.TempDir()
	tng, _ := tngSim(t, dir)
	for _, tt := range []struct {
		name   string
		args   []string
		layout string
		slot0  string // SlotConfig of slot 0
	}{
		{"blank-608a", []string{"--sim", copyFile(t, dir, "blank-608a.json")}, "blank", ""},
		{"608a", []string{"--sim", copyFile(t, dir, "608a.json")}, "nerves_key", "0x2087"},
		{"508a-aux", []string{"--sim", copyFile(t, dir, "508a-aux.json")}, "nerves_key", "0x2087"},
		{"trust-and-go", []string{"--sim", tng, "--type", "trust_and_go"}, "trust_and_go", "0x0085"},
		{"foreign", []string{"--sim", foreignSim(t, dir)}, "foreign", "0x208f"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := ok(t, dir, "", append(tt.args, "config")...)
			golden(t, "config-"+tt.name, text.stdout)
			r := ok(t, dir, "", append(tt.args, "config", "--json")...)
			golden(t, "config-"+tt.name+".json", r.stdout)
			var j configJSON
			if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
				t.Fatal(err)
			}
			if j.Layout != tt.layout || len(j.Slots) != 16 || len(j.Raw) != 256 {
				t.Errorf("layout %q, %d slots, raw %d digits", j.Layout, len(j.Slots), len(j.Raw))
			}
			if tt.slot0 != "" && j.Slots[0].SlotConfig != tt.slot0 {
				t.Errorf("slot 0 SlotConfig %s, want %s", j.Slots[0].SlotConfig, tt.slot0)
			}
		})
	}
}

// FuzzDecodeConfig decodes any 128 bytes: no panic, raw holds the bytes,
// and every slot's words re-encode to the bytes they came from.
func FuzzDecodeConfig(f *testing.F) {
	for _, name := range []string{"608a.json", "508a-aux.json", "blank-608b.json"} {
		img, err := nerveskeytest.ParseImage(mustRead(f, filepath.Join("testdata", name)))
		if err == nil {
			f.Add(img.Config[:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 128 {
			return
		}
		j := decodeConfig(atecc.Config(b))
		if j.Raw != hex.EncodeToString(b) || len(j.Slots) != 16 {
			t.Fatalf("raw %s, %d slots", j.Raw, len(j.Slots))
		}
		for n, s := range j.Slots {
			want := fmt.Sprintf("0x%02x%02x", b[21+2*n], b[20+2*n])
			if s.SlotConfig != want {
				t.Fatalf("slot %d SlotConfig %s, want %s", n, s.SlotConfig, want)
			}
		}
		if _, err := json.Marshal(j); err != nil {
			t.Fatal(err)
		}
	})
}

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
