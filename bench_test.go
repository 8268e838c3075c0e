package nerveskey_test

import (
	"crypto"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/i2c"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// wireBus is a simulated chip that also sums the modeled wire time of the
// transactions the chip answered (and of wake pulses, which always NAK):
// the bytes a signature cannot do without. NAKed polls are left out; they
// overlap the chip's execution time. It keeps the chip's Now and Sleep, so
// the driver still runs on virtual time.
type wireBus struct {
	*nerveskeytest.Chip

	mu   sync.Mutex // guards wire
	wire time.Duration
}

func (w *wireBus) Tx(addr uint16, wr, r []byte) error {
	t0 := w.Chip.Now()
	err := w.Chip.Tx(addr, wr, r)
	if err == nil || addr == 0 {
		w.mu.Lock()
		w.wire += w.Chip.Now().Sub(t0)
		w.mu.Unlock()
	}
	return err
}

func (w *wireBus) reset() {
	w.Chip.ResetStats()
	w.mu.Lock()
	w.wire = 0
	w.mu.Unlock()
}

// signExec is the simulator's typical execution time of Nonce plus Sign
// (spec/atecc.md §6.1): DS508 Table 9-4 typicals (0.1 + 42 ms) on the
// 508A; on the 608A, at the NervesKey's clock divider M0, half of
// cryptoauthlib's maxima (20 and 115 ms), as no 608 typicals are public.
var signExec = map[nerveskeytest.Revision]time.Duration{
	nerveskeytest.ATECC508A: 42100 * time.Microsecond,
	nerveskeytest.ATECC608A: 67500 * time.Microsecond,
}

// tWHI is the wake high delay before the chip answers (DS508 Table 9-2).
const tWHI = 1500 * time.Microsecond

// reportBus reports the modeled bus time, transactions and the floor per
// operation: typical Nonce + Sign execution, tWHI and the wire time of
// the transactions that were answered.
func reportBus(b *testing.B, bus *wireBus, rev nerveskeytest.Revision, signsPerOp int) {
	st := bus.Stats()
	n := float64(b.N)
	b.ReportMetric(float64(st.BusTime.Microseconds())/1000/n, "bus-ms/op")
	b.ReportMetric(float64(st.Transactions)/n, "i2c-tx/op")
	bus.mu.Lock()
	wire := bus.wire
	bus.mu.Unlock()
	floor := time.Duration(signsPerOp)*(signExec[rev]+tWHI) + wire/time.Duration(b.N)
	b.ReportMetric(float64(floor.Microseconds())/1000, "floor-ms/op")
}

var benchRevisions = []nerveskeytest.Revision{nerveskeytest.ATECC508A, nerveskeytest.ATECC608A}

// BenchmarkSign signs through the public API (Key.Sign, the transport's
// default WaitPoll) and, for comparison, through internal/atecc with the
// Elixir atecc508a wait strategy (WaitElixir, 2 ms wake wait) on the same
// Nonce 0x03 + Sign 0x80 sequence: the root Options has no Wait knob, so
// that sub-benchmark bypasses it. ns/op and allocs/op are host CPU: the
// simulator's time is virtual.
func BenchmarkSign(b *testing.B) {
	digest := sha256.Sum256([]byte("bench"))
	for _, rev := range benchRevisions {
		b.Run(rev.String()+"/poll", func(b *testing.B) {
			bus := &wireBus{Chip: nerveskeytest.NewProvisionedChip(b, &nerveskeytest.Options{Revision: rev, Seed: 1})}
			k, err := nerveskey.Open(b.Context(), bus, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer k.Close()
			bus.reset()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Sign(nil, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
			reportBus(b, bus, rev, 1)
		})
		b.Run(rev.String()+"/elixir", func(b *testing.B) {
			bus := &wireBus{Chip: nerveskeytest.NewProvisionedChip(b, &nerveskeytest.Options{Revision: rev, Seed: 1})}
			d := atecc.New(bus, &atecc.Options{Wait: i2c.WaitElixir, WakeDelay: 2 * time.Millisecond})
			if _, err := d.Revision(b.Context()); err != nil { // reads the timing profile once
				b.Fatal(err)
			}
			bus.reset()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.SignDigest(b.Context(), 0, digest); err != nil {
					b.Fatal(err)
				}
			}
			reportBus(b, bus, rev, 1)
		})
	}
}

// BenchmarkJWT makes GCP-style tokens: one signature each plus JSON and
// base64 work on the host.
func BenchmarkJWT(b *testing.B) {
	for _, rev := range benchRevisions {
		b.Run(rev.String(), func(b *testing.B) {
			bus := &wireBus{Chip: nerveskeytest.NewProvisionedChip(b, &nerveskeytest.Options{Revision: rev, Seed: 1})}
			k, err := nerveskey.Open(b.Context(), bus, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer k.Close()
			bus.reset()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.JWT(b.Context(), &nerveskey.JWTOptions{Audience: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
			reportBus(b, bus, rev, 1)
		})
	}
}
