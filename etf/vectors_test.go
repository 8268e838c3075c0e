package etf

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
)

// vector is one entry of testdata/elixir-chips.json, the settings part.
type vector struct {
	Name   string
	Raw    []byte          // elixir.raw_settings
	Typed  json.RawMessage // elixir.settings
	Result string          // "ok" or "corrupt"
}

func readVectors(tb testing.TB) []vector {
	tb.Helper()
	data, err := os.ReadFile("../testdata/elixir-chips.json")
	if err != nil {
		tb.Fatal(err)
	}
	var file struct {
		Vectors []struct {
			Name   string `json:"name"`
			Elixir struct {
				RawSettings string          `json:"raw_settings"`
				Settings    json.RawMessage `json:"settings"`
			} `json:"elixir"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		tb.Fatal(err)
	}
	var vs []vector
	for _, v := range file.Vectors {
		raw, err := hex.DecodeString(v.Elixir.RawSettings)
		if err != nil {
			tb.Fatalf("%s: %v", v.Name, err)
		}
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(v.Elixir.Settings, &e)
		result := "ok"
		if e.Error != "" {
			result = e.Error
		}
		vs = append(vs, vector{v.Name, raw, v.Elixir.Settings, result})
	}
	if len(vs) == 0 {
		tb.Fatal("no vectors")
	}
	return vs
}

func TestElixirVectors(t *testing.T) {
	var ok, corrupt int
	for _, v := range readVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			if len(v.Raw) != 524 {
				t.Fatalf("raw settings are %d bytes, want 524", len(v.Raw))
			}
			term, err := DecodeTerm(v.Raw)
			if v.Result == "corrupt" {
				corrupt++
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("DecodeTerm = %v, %v; want ErrCorrupt", term.Value, err)
				}
				if _, err := DecodeMap(v.Raw); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("DecodeMap error %v, want ErrCorrupt", err)
				}
				return
			}
			ok++
			if err != nil {
				t.Fatalf("DecodeTerm: %v", err)
			}
			want, err := ParseTypedJSON(v.Typed)
			if err != nil {
				t.Fatalf("ParseTypedJSON: %v", err)
			}
			if !reflect.DeepEqual(term.Value, want) {
				t.Fatalf("decoded %#v\nwant    %#v", term.Value, want)
			}
			if !bytes.Equal(v.Raw[term.Len:], make([]byte, 524-term.Len)) {
				t.Errorf("bytes after the term (from %d) are not zero padding", term.Len)
			}
			if !term.Canonical {
				t.Error("Elixir blob decoded as not canonical")
			}
			got, err := term.Encode()
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal(got, v.Raw[:term.Len]) {
				t.Fatalf("re-encoded\n%x\nwant\n%x", got, v.Raw[:term.Len])
			}
			// The typed JSON form gives back the same value.
			tj, err := TypedJSON(term.Value)
			if err != nil {
				t.Fatalf("TypedJSON: %v", err)
			}
			back, err := ParseTypedJSON(tj)
			if err != nil || !reflect.DeepEqual(back, want) {
				t.Fatalf("TypedJSON round trip: %s, %v", tj, err)
			}
			m, err := DecodeMap(v.Raw)
			if err != nil || !reflect.DeepEqual(m, term.Value) {
				t.Fatalf("DecodeMap = %v, %v", m, err)
			}
		})
	}
	if ok == 0 || corrupt == 0 {
		t.Errorf("%d decodable and %d corrupt vectors; want some of each", ok, corrupt)
	}
}
