package nerveskey

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"testing"

	"golang.org/x/crypto/cryptobyte"

	"github.com/nerveskey/nerveskey/nerveskeytest"
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

// BenchmarkSignHostVerify prices the host verification every Key.Sign
// does: Sign on the simulator with and without it (the difference is the
// verification; most of the rest is the simulator's own signing), and the
// verification alone. Run it also with -tags purego for the generic
// P-256 code that 32-bit ARM boards run.
func BenchmarkSignHostVerify(b *testing.B) {
	digest := sha256.Sum256([]byte("bench"))
	for _, verify := range []bool{true, false} {
		name := "verify"
		if !verify {
			name = "no-verify"
		}
		b.Run("Sign/"+name, func(b *testing.B) {
			chip := nerveskeytest.NewProvisionedChip(b, &nerveskeytest.Options{Revision: nerveskeytest.ATECC508A, Seed: 1})
			k, err := Open(b.Context(), chip, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer k.Close()
			k.noVerify = !verify
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Sign(nil, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("verify-only", func(b *testing.B) {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		der, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if !ecdsa.VerifyASN1(&priv.PublicKey, digest[:], der) {
				b.Fatal("does not verify")
			}
		}
	})
}
