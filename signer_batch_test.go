package nerveskey_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// cycleTrace records the commands of each wake cycle, as the transport
// reports them (a Refresh wakes the chip too, and so starts a new cycle);
// a command that failed is named "failed <op>".
type cycleTrace struct {
	mu     sync.Mutex // guards cycles
	cycles [][]string
}

func (c *cycleTrace) trace() *nerveskey.Trace {
	return &nerveskey.Trace{
		Wake: func(int, error) {
			c.mu.Lock()
			c.cycles = append(c.cycles, nil)
			c.mu.Unlock()
		},
		Command: func(op string, _ time.Duration, err error) {
			if err != nil {
				op = "failed " + op
			}
			c.mu.Lock()
			if n := len(c.cycles); n > 0 {
				c.cycles[n-1] = append(c.cycles[n-1], op)
			}
			c.mu.Unlock()
		},
	}
}

// signCycle reports whether a wake cycle holds only Nonce+Sign pairs, and
// how many.
func signCycle(ops []string) (pairs int, ok bool) {
	if len(ops) == 0 || len(ops)%2 != 0 {
		return 0, false
	}
	for i := 0; i < len(ops); i += 2 {
		if !strings.HasPrefix(ops[i], "nonce load tempkey") || !strings.HasPrefix(ops[i+1], "sign slot 0") {
			return 0, false
		}
	}
	return len(ops) / 2, true
}

// TestSignBurstSharesWake: 32 goroutines sign at once, each its own
// digest. Every signature verifies for its own digest; wake cycles hold
// whole Nonce+Sign pairs only (never a Refresh between them), several per
// cycle, each cycle within the watchdog budget; and other commands run
// meanwhile keep wake cycles of their own.
func TestSignBurstSharesWake(t *testing.T) {
	needSim(t, "trace of wake cycles")
	for _, rev := range benchRevisions {
		t.Run(rev.String(), func(t *testing.T) {
			chip := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: rev, Seed: 1})
			var ct cycleTrace
			k, err := nerveskey.Open(t.Context(), chip, &nerveskey.Options{Trace: ct.trace()})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			ct.mu.Lock()
			ct.cycles = nil
			ct.mu.Unlock()
			chip.ResetStats()
			pub := k.Public().(*ecdsa.PublicKey)
			// Hold the first Nonce inside the chip until every signer has
			// called Sign, so that signatures are queued behind a busy chip
			// however the goroutines are scheduled on a loaded machine.
			var started sync.WaitGroup
			started.Add(32)
			release := make(chan struct{})
			var once sync.Once
			chip.SetCommandHook(func(c *nerveskeytest.Command) {
				if c.Opcode == 0x16 { // Nonce
					once.Do(func() { <-release })
				}
			})
			go func() {
				started.Wait()
				time.Sleep(50 * time.Millisecond) // from calling Sign to waiting in its queue
				close(release)
			}()
			var wg sync.WaitGroup
			for i := range 32 {
				wg.Go(func() {
					started.Done()
					d := sha256.Sum256(fmt.Appendf(nil, "digest %d", i))
					sig, err := k.Sign(nil, d[:], crypto.SHA256)
					if err != nil {
						t.Error(err)
						return
					}
					if !ecdsa.VerifyASN1(pub, d[:], sig) {
						t.Errorf("signature %d does not verify for its digest", i)
					}
				})
			}
			for i := range 4 { // other work meanwhile: its own wake cycles
				wg.Go(func() {
					if err := k.Chip().PutSettings(t.Context(), map[string]any{"n": i}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			st := chip.Stats()
			ct.mu.Lock()
			defer ct.mu.Unlock()
			signs, shared := 0, 0
			for _, ops := range ct.cycles {
				if n, ok := signCycle(ops); ok {
					signs += n
					if n > 1 {
						shared++
					}
					continue
				}
				for _, op := range ops {
					if strings.HasPrefix(op, "nonce") || strings.HasPrefix(op, "sign") {
						t.Errorf("a wake cycle mixes signatures with other commands: %v", ops)
					}
				}
			}
			if signs != 32 || shared == 0 || len(ct.cycles) >= 32 {
				t.Errorf("32 signatures in %d wake cycles, %d shared; want all 32 in pairs, fewer cycles", len(ct.cycles), shared)
			}
			t.Logf("%v: 32 signatures in %d wake cycles (%d shared), %.1f modeled ms per signature",
				rev, len(ct.cycles), shared, float64(st.BusTime.Microseconds())/1000/32)
		})
	}
}

// TestSignBurstRetry loses the answer of one Sign in a burst: only that
// caller's Nonce+Sign runs again (one extra Sign in all), and every
// caller gets a signature of its own digest.
func TestSignBurstRetry(t *testing.T) {
	needSim(t, "command hook")
	chip := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: nerveskeytest.ATECC508A, Seed: 1})
	var ct cycleTrace
	k, err := nerveskey.Open(t.Context(), chip, &nerveskey.Options{Trace: ct.trace()})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	var signs atomic.Int64
	chip.SetCommandHook(func(c *nerveskeytest.Command) {
		if c.Opcode == 0x41 && signs.Add(1) == 3 {
			c.Lose = nerveskeytest.LostNAK
		}
	})
	ct.mu.Lock()
	ct.cycles = nil
	ct.mu.Unlock()
	pub := k.Public().(*ecdsa.PublicKey)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			d := sha256.Sum256(fmt.Appendf(nil, "digest %d", i))
			sig, err := k.Sign(nil, d[:], crypto.SHA256)
			if err != nil || !ecdsa.VerifyASN1(pub, d[:], sig) {
				t.Errorf("signature %d: %v, or it does not verify for its digest", i, err)
			}
		})
	}
	wg.Wait()
	if n := signs.Load(); n != 9 {
		t.Errorf("%d Sign commands for 8 signatures and one lost answer, want 9", n)
	}
	// The cycle after the failed one runs the retried pair alone.
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for i, ops := range ct.cycles {
		if _, ok := signCycle(ops); !ok && i+1 < len(ct.cycles) {
			if n, ok := signCycle(ct.cycles[i+1]); !ok || n != 1 {
				t.Errorf("cycle after the fault %v: %v, want the one retried pair", ops, ct.cycles[i+1])
			}
			return
		}
	}
	t.Errorf("no failed cycle in %v", ct.cycles)
}

// TestSignBurstSlowChip: on a chip whose Sign takes longer than the
// table maximum, queued signatures share wake cycles only as far as the
// times the driver has learned allow, so no Refresh ever falls between a
// Nonce and its Sign (the batch asked the table, Execute the learned
// times, before they asked the same question).
func TestSignBurstSlowChip(t *testing.T) {
	needSim(t, "trace of wake cycles")
	chip := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: nerveskeytest.ATECC608A, Seed: 1})
	var ct cycleTrace
	k, err := nerveskey.Open(t.Context(), chip, &nerveskey.Options{Trace: ct.trace()})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	var started sync.WaitGroup
	started.Add(8)
	release := make(chan struct{})
	var held atomic.Bool
	chip.SetCommandHook(func(c *nerveskeytest.Command) {
		if c.Opcode == 0x41 { // Sign: 300 ms, past the 220 ms table maximum
			c.ExecTime = 300 * time.Millisecond
		}
		if c.Opcode == 0x16 && held.Load() && held.CompareAndSwap(true, false) {
			<-release
		}
	})
	// Teach the driver the slow Sign first.
	d := sha256.Sum256([]byte("warm up"))
	for range 2 {
		if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	}
	ct.mu.Lock()
	ct.cycles = nil
	ct.mu.Unlock()
	held.Store(true)
	go func() {
		started.Wait()
		time.Sleep(50 * time.Millisecond)
		close(release)
	}()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			started.Done()
			d := sha256.Sum256(fmt.Appendf(nil, "slow %d", i))
			if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	ct.mu.Lock()
	defer ct.mu.Unlock()
	signs := 0
	for _, ops := range ct.cycles {
		n, ok := signCycle(ops)
		if !ok {
			t.Errorf("a wake cycle is not whole Nonce+Sign pairs (a Refresh split one): %v", ops)
		}
		signs += n
	}
	// At 300 ms a second pair (about 340 ms expected) no longer fits the
	// 600 ms budget, so each signature has its cycle: the table maximum
	// (220 ms) would have let two share one and split the second pair.
	if signs != 8 {
		t.Errorf("%d of 8 slow signatures in whole pairs", signs)
	}
}
