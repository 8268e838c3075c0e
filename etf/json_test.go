package etf

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestTypedJSONProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 1000 {
		v := randValue(r, 1)
		j, err := TypedJSON(v)
		if err != nil {
			t.Fatalf("#%d TypedJSON(%#v): %v", i, v, err)
		}
		back, err := ParseTypedJSON(j)
		if err != nil {
			t.Fatalf("#%d ParseTypedJSON(%s): %v", i, j, err)
		}
		nv, _ := normalize(v)
		if compare(back, nv) != 0 {
			t.Fatalf("#%d %s gave %#v, want %#v", i, j, back, nv)
		}
		// Floats keep their bits, -0.0 included.
		b1, _ := Encode(nv, nil)
		b2, _ := Encode(back, nil)
		if !bytes.Equal(b1, b2) {
			t.Fatalf("#%d %s: %x != %x", i, j, b1, b2)
		}
	}
}

func TestParseTypedJSONErrors(t *testing.T) {
	for _, in := range []string{
		``, `{}`, `[]`, `{"t":"int","v":"1"}`, `{"t":"int","v":1.5}`, `{"t":"float","v":"x"}`,
		`{"t":"bytes","v":"zz"}`, `{"t":"map","v":[[{"t":"atom","v":"a"}]]}`, `{"t":"nope","v":1}`,
		`{"t":"atom","v":1}`, `{"t":"bin","v":1}`, `{"t":"list","v":{}}`, `{"t":"int"}`,
		`{"t":"int","v":1} x`, `{"t":"int","v":1,"x":2}`,
	} {
		if v, err := ParseTypedJSON([]byte(in)); err == nil {
			t.Errorf("ParseTypedJSON(%s) = %#v, want an error", in, v)
		}
	}
}

func TestPlainJSON(t *testing.T) {
	in := `{"ssid":"net","n":70000,"big":123456789012345678901234567890,"gain":1.5,"on":true,"x":null,"l":[1,"a"],"m":{"k":-1}}`
	dec := json.NewDecoder(bytes.NewReader([]byte(in)))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		t.Fatal(err)
	}
	v, err := FromJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Encode(v, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeMap(b)
	if err != nil {
		t.Fatal(err)
	}
	bigV, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	want := Map{{"l", []any{int64(1), "a"}}, {"m", Map{{"k", int64(-1)}}}, {"n", int64(70000)},
		{"on", true}, {"x", nil}, {"big", bigV}, {"gain", 1.5}, {"ssid", "net"}}
	if compare(m, want) != 0 {
		t.Fatalf("decoded %#v", m)
	}
	j, err := ToJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(j)
	var a, b2 any
	json.Unmarshal([]byte(in), &a)
	json.Unmarshal(out, &b2)
	if !reflect.DeepEqual(a, b2) {
		t.Errorf("ToJSON gave %s, want %s", out, in)
	}

	for _, bad := range []any{
		Map{{"a", 1}, {Atom("a"), 2}}, Map{{int64(1), 2}}, "\xff", struct{}{}, math.NaN(),
	} {
		if j, err := ToJSON(bad); err == nil {
			t.Errorf("ToJSON(%#v) = %v, want an error", bad, j)
		}
	}
	if v, err := FromJSON(json.Number("1e999")); err == nil {
		t.Errorf("FromJSON(1e999) = %v, want an error", v)
	}
}
