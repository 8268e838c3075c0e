package nerveskey

import (
	"bytes"
	"math/big"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// referenceSignature is the big.Int and cryptobyte encoding encodeSignature
// replaced; it is the oracle for the hand-written one.
func referenceSignature(r, s []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(r))
		b.AddASN1BigInt(new(big.Int).SetBytes(s))
	})
	return b.BytesOrPanic()
}

func TestEncodeSignature(t *testing.T) {
	word := func(lead ...byte) []byte {
		w := bytes.Repeat([]byte{0x5a}, 32)
		copy(w, lead)
		return w
	}
	tests := []struct {
		name string
		r, s []byte
	}{
		{"plain", word(0x12), word(0x34)},
		{"high bit gets a zero byte", word(0x80), word(0xff)},
		{"leading zeros stripped", word(0, 0, 0x7f), word(0, 0x01)},
		{"zero byte then high bit", word(0, 0x80), word(0, 0, 0xc0)},
		{"zero", make([]byte, 32), make([]byte, 32)},
		{"one", append(make([]byte, 31), 1), append(make([]byte, 31), 0x80)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := encodeSignature(tt.r, tt.s), referenceSignature(tt.r, tt.s)
			if !bytes.Equal(got, want) {
				t.Fatalf("encodeSignature = %x, want %x", got, want)
			}
		})
	}
}

func FuzzEncodeSignature(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0x80}, 64))
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, rs []byte) {
		if len(rs) != 64 {
			return
		}
		got, want := encodeSignature(rs[:32], rs[32:]), referenceSignature(rs[:32], rs[32:])
		if !bytes.Equal(got, want) {
			t.Fatalf("encodeSignature(%x) = %x, want %x", rs, got, want)
		}
	})
}

func BenchmarkEncodeSignature(b *testing.B) {
	rs := bytes.Repeat([]byte{0x9a}, 64)
	b.ReportAllocs()
	for b.Loop() {
		encodeSignature(rs[:32], rs[32:])
	}
}
