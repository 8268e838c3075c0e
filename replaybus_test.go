package nerveskey_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// A busExchange is one recorded Tx: what the driver wrote, what the chip
// answered, when it started and the chip's virtual time it took. ready,
// set by compact on an answer read, is how long after the exchange before
// it the recorded read started: the replay refuses earlier reads.
type busExchange struct {
	addr    uint16
	w, r    []byte
	err     error
	start   time.Time
	elapsed time.Duration
	ready   time.Duration
}

// isRead reports whether e reads an answer from the chip.
func (e *busExchange) isRead() bool { return e.addr != 0 && len(e.w) == 0 && len(e.r) > 0 }

// compact drops the refused polls of a recording and dates each answer
// read instead (busExchange.ready), so a replay serves any poll pattern a
// driver chooses, as a chip does: a read before the recorded one is
// refused, a read at or after it gets the answer. It returns the refusal
// the recording had, for the replay to give.
func compact(log []busExchange) (out []busExchange, nak error) {
	var prevEnd time.Time
	for _, e := range log {
		if e.isRead() && e.err != nil {
			nak = e.err
			continue
		}
		if e.isRead() && !prevEnd.IsZero() {
			e.ready = e.start.Sub(prevEnd)
		}
		out = append(out, e)
		prevEnd = e.start.Add(e.elapsed)
	}
	return out, nak
}

// recordBus is a simulated chip that records every Tx while recording is
// on.
type recordBus struct {
	*nerveskeytest.Chip

	mu        sync.Mutex // guards the fields below
	recording bool
	log       []busExchange
}

func (b *recordBus) Tx(addr uint16, w, r []byte) error {
	t0 := b.Chip.Now()
	err := b.Chip.Tx(addr, w, r)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.recording {
		b.log = append(b.log, busExchange{addr: addr, w: bytes.Clone(w), r: bytes.Clone(r), err: err, start: t0, elapsed: b.Chip.Now().Sub(t0)})
	}
	return err
}

// replayBus answers a driver with the exchanges of a compacted recording,
// in a loop, on a virtual clock advanced by the recorded wire times and by
// Sleep: no chip model and no simulator crypto run, so what a benchmark
// measures is the driver. An answer read earlier than the recording read
// it is refused as the chip refused polls, so the driver's own polling
// (which it learns) needs no match; anything else it sends must be what
// the recording has (another command gets an error), as with periph's
// i2ctest.Playback.
type replayBus struct {
	log    []busExchange
	loopAt int   // where the replay goes on after the last exchange
	nak    error // the recording's refused poll

	mu      sync.Mutex // guards the fields below
	next    int
	now     time.Time
	prevEnd time.Time // when the exchange before next ended
}

func (b *replayBus) String() string                  { return "replay" }
func (b *replayBus) SetSpeed(physic.Frequency) error { return nil }
func (b *replayBus) Now() time.Time                  { b.mu.Lock(); defer b.mu.Unlock(); return b.now }
func (b *replayBus) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	b.now = b.now.Add(d)
	b.mu.Unlock()
	return nil
}

func (b *replayBus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := &b.log[b.next]
	if e.isRead() && addr == e.addr && len(w) == 0 && b.now.Sub(b.prevEnd) < e.ready && b.nak != nil {
		b.now = b.now.Add(110 * time.Microsecond) // address, NAK and stop at 100 kHz
		return b.nak
	}
	if addr != e.addr || !bytes.Equal(w, e.w) || len(r) != len(e.r) {
		return fmt.Errorf("replay: exchange %d: driver sent %#x %x (read %d), recording has %#x %x (read %d)",
			b.next, addr, w, len(r), e.addr, e.w, len(e.r))
	}
	copy(r, e.r)
	b.now = b.now.Add(e.elapsed)
	b.prevEnd = b.now
	if b.next++; b.next == len(b.log) {
		b.next = b.loopAt
	}
	return e.err
}

// replayKey records Open and signatures of digest on a simulated chip
// until two signatures in a row make the same exchanges (the driver learns
// the chip's timing from the first ones, so their polls differ), then
// opens a Key on a replay of everything up to the last of those two, which
// the replay then loops on. It returns the Key, its bus and the exchanges
// of one signature.
func replayKey(tb testing.TB, rev nerveskeytest.Revision, digest []byte) (*nerveskey.Key, *replayBus, []busExchange) {
	tb.Helper()
	bus := &recordBus{Chip: nerveskeytest.NewProvisionedChip(tb, &nerveskeytest.Options{Revision: rev, Seed: 1}), recording: true}
	k, err := nerveskey.Open(tb.Context(), bus, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer k.Close()
	ends := []int{bus.logLen()}
	same := func(a, b []busExchange) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i].addr != b[i].addr || !bytes.Equal(a[i].w, b[i].w) || len(a[i].r) != len(b[i].r) {
				return false
			}
		}
		return true
	}
	for n := 1; ; n++ {
		if n > 32 {
			tb.Fatalf("32 signatures and the driver's exchanges still change from one to the next")
		}
		if _, err := k.Sign(nil, digest, crypto.SHA256); err != nil {
			tb.Fatal(err)
		}
		ends = append(ends, bus.logLen())
		if n >= 2 {
			bus.mu.Lock()
			prev, last := bus.log[ends[n-2]:ends[n-1]], bus.log[ends[n-1]:ends[n]]
			bus.mu.Unlock()
			if same(prev, last) {
				break
			}
		}
	}
	bus.mu.Lock()
	head, nak1 := compact(bus.log[:ends[len(ends)-2]])
	signs, nak2 := compact(bus.log[ends[len(ends)-2]:ends[len(ends)-1]])
	bus.mu.Unlock()
	r := &replayBus{log: append(head[:len(head):len(head)], signs...), loopAt: len(head), nak: cmp.Or(nak2, nak1)}
	rk, err := nerveskey.Open(tb.Context(), r, nil)
	if err != nil {
		tb.Fatalf("Open on the replay: %v", err)
	}
	tb.Cleanup(func() { rk.Close() })
	// Replay the learning signatures, so the replayed driver has learned
	// what the recorded one had when the loop starts.
	for range len(ends) - 2 {
		if _, err := rk.Sign(nil, digest, crypto.SHA256); err != nil {
			tb.Fatalf("replaying the learning signatures: %v", err)
		}
	}
	return rk, r, signs
}

func (b *recordBus) logLen() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.log)
}

// TestReplayBus checks the replay is faithful: a Key on it returns the
// recorded signature, which verifies, and a driver that strays from the
// recording gets an error.
func TestReplayBus(t *testing.T) {
	needSim(t, "recordings")
	d := sha256.Sum256([]byte("replay"))
	k, _, _ := replayKey(t, nerveskeytest.ATECC508A, d[:])
	for range 3 {
		sig, err := k.Sign(nil, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
			t.Fatal("replayed signature does not verify")
		}
	}
	other := sha256.Sum256([]byte("another digest"))
	if _, err := k.Sign(nil, other[:], crypto.SHA256); err == nil {
		t.Fatal("signing another digest on the replay succeeded")
	}
}

// BenchmarkSignDriver prices the driver alone: Key.Sign on a replay of
// recorded chip answers (no simulator, no simulator crypto, no lock
// file), with and without the queue that lets signatures share wake
// cycles, next to Key.Sign on the
// simulator and the host's own ECDSA verification of one signature (what
// checking each signature on the host would add). cpu/floor is host CPU
// per signature over the modeled floor of one signature (typical Nonce +
// Sign, tWHI and wire time): the share of a signature's time the host
// spends.
func BenchmarkSignDriver(b *testing.B) {
	needSim(b, "recordings")
	digest := sha256.Sum256([]byte("bench"))
	for _, rev := range benchRevisions {
		k, _, signs := replayKey(b, rev, digest[:])
		var wire time.Duration
		for _, e := range signs {
			if e.err == nil || e.addr == 0 {
				wire += e.elapsed
			}
		}
		floor := signExec[rev] + tWHI + wire
		report := func(b *testing.B) {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(floor.Nanoseconds()), "cpu/floor")
		}
		b.Run(rev.String()+"/replay/key", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Sign(nil, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
		b.Run(rev.String()+"/replay/key-nobatch", func(b *testing.B) {
			k, _, _ := replayKey(b, rev, digest[:])
			nerveskey.NoBatch(k)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Sign(nil, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
		b.Run(rev.String()+"/simulator/key", func(b *testing.B) {
			sk, _ := newBenchKey(b, rev)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sk.Sign(nil, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
		b.Run(rev.String()+"/host-verify", func(b *testing.B) {
			sig, err := k.Sign(nil, digest[:], crypto.SHA256)
			if err != nil {
				b.Fatal(err)
			}
			pub := k.Public().(*ecdsa.PublicKey)
			b.ReportAllocs()
			for b.Loop() {
				if !ecdsa.VerifyASN1(pub, digest[:], sig) {
					b.Fatal("signature does not verify")
				}
			}
			report(b)
		})
	}
}

func newBenchKey(b *testing.B, rev nerveskeytest.Revision) (*nerveskey.Key, *nerveskeytest.Chip) {
	b.Helper()
	chip := nerveskeytest.NewProvisionedChip(b, &nerveskeytest.Options{Revision: rev, Seed: 1})
	k, err := nerveskey.Open(b.Context(), chip, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { k.Close() })
	return k, chip
}
