package nerveskeytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

type vector struct {
	Name  string `json:"name"`
	Slot0 string `json:"slot0_private_key"`
	raw   []byte
}

// readVectors reads every vector of testdata/elixir-chips.json.
func readVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("../testdata/elixir-chips.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []json.RawMessage `json:"vectors"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var vs []vector
	for _, raw := range f.Vectors {
		var v vector
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		v.raw = raw
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	return vs
}

func TestImageRoundTrip(t *testing.T) {
	for _, v := range readVectors(t) {
		im, err := ParseImage(v.raw)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		c, err := NewChipFromImage(im, nil)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		got := c.Image()
		if !imagesEqual(got, im) {
			t.Fatalf("%s: chip image differs from the loaded one", v.Name)
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		im2, err := ParseImage(b)
		if err != nil {
			t.Fatalf("%s: reparse: %v", v.Name, err)
		}
		if !imagesEqual(im, im2) {
			t.Fatalf("%s: JSON round trip changed the image", v.Name)
		}
		var inner struct{ Image json.RawMessage }
		json.Unmarshal(v.raw, &inner)
		im3, err := ParseImage(inner.Image)
		if err != nil || !imagesEqual(im, im3) {
			t.Fatalf("%s: bare image object: %v", v.Name, err)
		}
	}
}

func imagesEqual(a, b *Image) bool {
	if a.Config != b.Config || a.OTP != b.OTP {
		return false
	}
	for i := range a.Slots {
		if !bytes.Equal(a.Slots[i], b.Slots[i]) {
			return false
		}
	}
	return true
}

func TestParseImageErrors(t *testing.T) {
	good, err := NewChip(nil).Image().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(good, &m)
	mutate := func(f func(m map[string]any)) []byte {
		var c map[string]any
		json.Unmarshal(good, &c)
		f(c)
		b, _ := json.Marshal(c)
		return b
	}
	tests := []struct {
		name  string
		in    []byte
		field string
	}{
		{"not json", []byte("{"), ""},
		{"array", []byte("[]"), ""},
		{"no config", mutate(func(m map[string]any) { delete(m, "config") }), "config"},
		{"short config", mutate(func(m map[string]any) { m["config"] = "00" }), "config"},
		{"bad hex otp", mutate(func(m map[string]any) { m["otp"] = "zz" }), "otp"},
		{"no slots", mutate(func(m map[string]any) { delete(m, "slots") }), "slots"},
		{"missing slot", mutate(func(m map[string]any) { delete(m["slots"].(map[string]any), "7") }), "slots.7"},
		{"slot 16", mutate(func(m map[string]any) { m["slots"].(map[string]any)["16"] = "00" }), "slots"},
		{"slot 01", mutate(func(m map[string]any) { m["slots"].(map[string]any)["01"] = "00" }), "slots"},
		{"long slot 8", mutate(func(m map[string]any) { m["slots"].(map[string]any)["8"] = "0000" }), "slots.8"},
		{"config number", mutate(func(m map[string]any) { m["config"] = 5 }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseImage(tt.in)
			ie, ok := errors.AsType[*ImageError](err)
			if !ok {
				t.Fatalf("error %v, want *ImageError", err)
			}
			if ie.Field != tt.field {
				t.Errorf("field %q, want %q (%v)", ie.Field, tt.field, err)
			}
		})
	}
	// Unknown fields are ignored.
	b := mutate(func(m map[string]any) { m["extra"] = []int{1} })
	if _, err := ParseImage(b); err != nil {
		t.Errorf("unknown field: %v", err)
	}
	// A revision nobody simulates.
	im, _ := ParseImage(good)
	im.Config[6] = 0x70
	if _, err := NewChipFromImage(im, nil); !errors.Is(err, ErrRevision) {
		t.Errorf("RevNum 0x70: %v", err)
	}
	im.Config[6] = 0x50
	if _, err := NewChipFromImage(im, &Options{Revision: ATECC608B}); !errors.Is(err, ErrRevision) {
		t.Errorf("revision conflict: %v", err)
	}
}

func FuzzParseImage(f *testing.F) {
	for _, v := range readVectors(f)[:3] {
		f.Add(v.raw)
	}
	good, _ := NewChip(nil).Image().MarshalJSON()
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		im, err := ParseImage(b)
		if err != nil {
			if _, ok := errors.AsType[*ImageError](err); !ok {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := im.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		im2, err := ParseImage(out)
		if err != nil || !imagesEqual(im, im2) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
