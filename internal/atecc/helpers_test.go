package atecc

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"math/big"
	"os"
	"sync"
	"testing"

	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// recBus is a simulated chip that also records every command packet
// (the bytes after word address 0x03).
type recBus struct {
	*nerveskeytest.Chip
	mu   sync.Mutex
	pkts [][]byte
}

func (r *recBus) Tx(addr uint16, w, rd []byte) error {
	if addr != 0 && len(w) > 0 && w[0] == 0x03 {
		r.mu.Lock()
		r.pkts = append(r.pkts, append([]byte(nil), w[1:]...))
		r.mu.Unlock()
	}
	return r.Chip.Tx(addr, w, rd)
}

func (r *recBus) packets() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.pkts...)
}

func (r *recBus) reset() {
	r.mu.Lock()
	r.pkts = nil
	r.mu.Unlock()
}

// elixirVector is one entry of testdata/elixir-chips.json.
type elixirVector struct {
	Name            string          `json:"name"`
	ChipRevision    string          `json:"chip_revision"`
	Slot0PrivateKey string          `json:"slot0_private_key"`
	Raw             json.RawMessage `json:"-"`
}

func elixirVectors(tb testing.TB) []elixirVector {
	tb.Helper()
	data, err := os.ReadFile("../../testdata/elixir-chips.json")
	if err != nil {
		tb.Fatal(err)
	}
	var f struct {
		Vectors []json.RawMessage `json:"vectors"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		tb.Fatal(err)
	}
	var out []elixirVector
	for _, raw := range f.Vectors {
		var v elixirVector
		if err := json.Unmarshal(raw, &v); err != nil {
			tb.Fatal(err)
		}
		v.Raw = raw
		out = append(out, v)
	}
	return out
}

// elixirChip returns a simulated chip loaded with the first Elixir vector
// of revision rev ("00005000", "00006002", "00006003").
func elixirChip(tb testing.TB, rev string, opts *nerveskeytest.Options) (*nerveskeytest.Chip, elixirVector) {
	tb.Helper()
	v := elixirVectorOf(tb, rev)
	return vectorChip(tb, vectorImage(tb, v), opts), v
}

// elixirVectorOf returns the first Elixir vector of revision rev.
func elixirVectorOf(tb testing.TB, rev string) elixirVector {
	tb.Helper()
	for _, v := range elixirVectors(tb) {
		if v.ChipRevision == rev {
			return v
		}
	}
	tb.Fatalf("no Elixir vector for revision %s", rev)
	return elixirVector{}
}

// vectorImage parses the chip image of an Elixir vector.
func vectorImage(tb testing.TB, v elixirVector) *nerveskeytest.Image {
	tb.Helper()
	img, err := nerveskeytest.ParseImage(v.Raw)
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

// vectorChip returns a simulated chip loaded with img, closed at cleanup.
func vectorChip(tb testing.TB, img *nerveskeytest.Image, opts *nerveskeytest.Options) *nerveskeytest.Chip {
	tb.Helper()
	c, err := nerveskeytest.NewChipFromImage(img, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// publicKey turns X‖Y into an ECDSA public key, checking it is on P-256.
func publicKey(tb testing.TB, xy [64]byte) *ecdsa.PublicKey {
	tb.Helper()
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, xy[:]...))
	if err != nil {
		tb.Fatalf("public key % x: %v", xy, err)
	}
	return pub
}

// verify checks an R‖S signature over digest with crypto/ecdsa.
func verify(tb testing.TB, pub *ecdsa.PublicKey, digest [32]byte, sig [64]byte) {
	tb.Helper()
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		tb.Fatalf("signature % x does not verify", sig)
	}
}

// publicFromScalar returns X‖Y of the private scalar, computed on the host.
func publicFromScalar(tb testing.TB, scalar []byte) []byte {
	tb.Helper()
	k, err := ecdh.P256().NewPrivateKey(scalar)
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.TrimPrefix(k.PublicKey().Bytes(), []byte{4})
}
