package nerveskey_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"sync"
	"testing"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

var revisions = []nerveskeytest.Revision{nerveskeytest.ATECC508A, nerveskeytest.ATECC608A, nerveskeytest.ATECC608B}

// newTestKey returns the key of a provisioned chip: a simulated one of
// revision rev and its simulator, or in hardware mode (-nerveskey.bus; see
// hardware_test.go) the real chip's key and a nil simulator.
func newTestKey(t testing.TB, rev nerveskeytest.Revision) (*nerveskey.Key, *nerveskeytest.Chip) {
	t.Helper()
	if hardwareMode() {
		k, err := nerveskey.Open(t.Context(), openHardwareBus(t), nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { k.Close() })
		return k, nil
	}
	chip := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: rev})
	k, err := nerveskey.Open(t.Context(), chip, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	return k, chip
}

func TestSignVerifies(t *testing.T) {
	for _, rev := range revisions {
		t.Run(rev.String(), func(t *testing.T) {
			k, chip := newTestKey(t, rev)
			pub := k.Public().(*ecdsa.PublicKey)
			d := sha256.Sum256([]byte("hello"))
			sig, err := k.Sign(nil, d[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(pub, d[:], sig) {
				t.Fatal("signature does not verify")
			}
			// A longer hash is truncated to its leftmost 256 bits, as
			// crypto/ecdsa does, so VerifyASN1 with the full digest accepts it.
			d384 := sha512.Sum384([]byte("hello"))
			sig, err = k.Sign(nil, d384[:], crypto.SHA384)
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(pub, d384[:], sig) {
				t.Fatal("SHA-384 signature does not verify")
			}
			if chip == nil { // hardware
				return
			}
			if st := chip.Stats(); st.Slot0Reads != 0 || st.Slot0Writes != 0 {
				t.Fatalf("slot 0 touched: %d reads, %d writes", st.Slot0Reads, st.Slot0Writes)
			}
		})
	}
}

func TestSignRejectsBadDigests(t *testing.T) {
	k, chip := newTestKey(t, nerveskeytest.ATECC608A)
	if chip != nil {
		chip.ResetStats()
	}
	d := sha256.Sum256(nil)
	for _, tt := range []struct {
		name   string
		digest []byte
		opts   crypto.SignerOpts
	}{
		{"no hash", d[:], crypto.Hash(0)},
		{"nil opts", d[:], nil},
		{"short for hash", d[:31], crypto.SHA256},
		{"hash under 32 bytes", d[:20], crypto.SHA1},
		{"long for hash", append(d[:], 0), crypto.SHA256},
	} {
		if _, err := k.Sign(nil, tt.digest, tt.opts); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if chip == nil { // hardware
		return
	}
	if n := chip.Stats().Transactions; n != 0 {
		t.Errorf("rejected digests cost %d bus transactions, want 0", n)
	}
}

func TestOpenBlankChip(t *testing.T) {
	needSim(t, "blank chip")
	chip := nerveskeytest.NewChip(nil)
	_, err := nerveskey.Open(t.Context(), chip, nil)
	if !errors.Is(err, nerveskey.ErrNotProvisioned) {
		t.Fatalf("Open(blank) = %v, want ErrNotProvisioned", err)
	}
}

func TestOpenNoChip(t *testing.T) {
	needSim(t, "chip at a chosen address")
	chip := nerveskeytest.NewProvisionedChip(t, nil)
	_, err := nerveskey.Open(t.Context(), chip, &nerveskey.Options{Addr: 0x61})
	if !errors.Is(err, nerveskey.ErrWake) {
		t.Fatalf("Open at the wrong address = %v, want ErrWake", err)
	}
}

func TestClosed(t *testing.T) {
	k, _ := newTestKey(t, nerveskeytest.ATECC608A)
	k.Close()
	d := sha256.Sum256(nil)
	if _, err := k.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, nerveskey.ErrClosed) {
		t.Fatalf("Sign after Close = %v, want ErrClosed", err)
	}
	if err := k.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

// TestConcurrentSign signs from 64 goroutines sharing one Key; every
// signature must verify over its own digest, so an interleaved Nonce/Sign
// would show as a signature over another goroutine's digest.
func TestConcurrentSign(t *testing.T) {
	for _, rev := range []nerveskeytest.Revision{nerveskeytest.ATECC508A, nerveskeytest.ATECC608A} {
		t.Run(rev.String(), func(t *testing.T) {
			k, _ := newTestKey(t, rev)
			pub := k.Public().(*ecdsa.PublicKey)
			var wg sync.WaitGroup
			for i := range 64 {
				wg.Go(func() {
					d := sha256.Sum256([]byte{byte(i)})
					sig, err := k.Sign(nil, d[:], crypto.SHA256)
					if err != nil {
						t.Errorf("goroutine %d: %v", i, err)
						return
					}
					if !ecdsa.VerifyASN1(pub, d[:], sig) {
						t.Errorf("goroutine %d: signature does not verify", i)
					}
				})
			}
			wg.Wait()
		})
	}
}
