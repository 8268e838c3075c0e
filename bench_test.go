package nerveskey_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
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
// (docs/atecc.md §6.1): DS508 Table 9-4 typicals (0.1 + 42 ms) on the
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
// that sub-benchmark bypasses it. Execution times are the simulator's
// typical ones, or random between typical and maximum; floor-ms/op always
// uses the typical ones. ns/op and allocs/op are host CPU: the simulator's
// time is virtual.
func BenchmarkSign(b *testing.B) {
	needSim(b, "bus statistics")
	digest := sha256.Sum256([]byte("bench"))
	for _, tm := range []nerveskeytest.TimingMode{nerveskeytest.TimingTypical, nerveskeytest.TimingRandom} {
		for _, rev := range benchRevisions {
			opts := &nerveskeytest.Options{Revision: rev, Seed: 1, Timing: tm}
			b.Run(tm.String()+"/"+rev.String()+"/poll", func(b *testing.B) {
				bus := &wireBus{Chip: nerveskeytest.NewProvisionedChip(b, opts)}
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
			b.Run(tm.String()+"/"+rev.String()+"/elixir", func(b *testing.B) {
				bus := &wireBus{Chip: nerveskeytest.NewProvisionedChip(b, opts)}
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
}

// BenchmarkJWT makes GCP-style tokens: one signature each plus JSON and
// base64 work on the host.
func BenchmarkJWT(b *testing.B) {
	needSim(b, "bus statistics")
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

// BenchmarkTLSHandshake32 runs mutual-TLS handshakes from 32 concurrent
// clients sharing one Key against an in-process server. The chip
// serializes signatures, so throughput in modeled time is bounded by one
// signature per handshake: chip-bound-hs/s is 1 / the modeled time of one
// Key.Sign on the same chip, hs/s-modeled the handshakes per second of
// modeled bus time, hs/s-wall per second of host time (the simulator
// costs no wall time, so that is the host's TLS and ECDSA work).
func BenchmarkTLSHandshake32(b *testing.B) {
	needSim(b, "bus statistics")
	for _, rev := range benchRevisions {
		for _, v := range tlsVersions {
			b.Run(rev.String()+"/"+tls.VersionName(v), func(b *testing.B) {
				bus := &wireBus{Chip: nerveskeytest.NewProvisionedChip(b, &nerveskeytest.Options{Revision: rev, Seed: 1})}
				k, err := nerveskey.Open(b.Context(), bus, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer k.Close()
				pool, _, _ := signerPool(b, k)
				srv := newServerCert(b)
				addr := startTLSServer(b, srv, pool, v)
				cfg, err := k.TLSConfig(b.Context(), &nerveskey.TLSOptions{RootCAs: srv.pool, ServerName: "localhost"})
				if err != nil {
					b.Fatal(err)
				}
				// The chip bound: modeled time of one signature.
				bus.reset()
				d := sha256.Sum256(nil)
				for range 16 {
					if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
						b.Fatal(err)
					}
				}
				signTime := bus.Stats().BusTime / 16
				bus.reset()
				b.SetParallelism((32 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						c, err := tls.Dial("tcp", addr, cfg)
						if err != nil {
							b.Error(err)
							return
						}
						io.WriteString(c, "x\n")
						io.ReadAll(c)
						c.Close()
					}
				})
				st := bus.Stats()
				b.ReportMetric(float64(st.BusTime.Microseconds())/1000/float64(b.N), "bus-ms/op")
				b.ReportMetric(float64(b.N)/st.BusTime.Seconds(), "hs/s-modeled")
				b.ReportMetric(1/signTime.Seconds(), "chip-bound-hs/s")
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hs/s-wall")
			})
		}
	}
}

// realtimeBus is a simulated chip on the wall clock: every Tx and Sleep
// also waits, in real time, the virtual time it took on the chip, so a
// benchmark's elapsed time holds the modeled chip and bus time plus
// everything the host does (TLS, the driver, sleep overshoot). Now stays
// the chip's virtual time, so the chip model and the driver agree.
type realtimeBus struct {
	*nerveskeytest.Chip
}

func (r realtimeBus) Tx(addr uint16, w, rd []byte) error {
	t0 := r.Chip.Now()
	err := r.Chip.Tx(addr, w, rd)
	time.Sleep(r.Chip.Now().Sub(t0))
	return err
}

func (r realtimeBus) Sleep(ctx context.Context, d time.Duration) error {
	if err := r.Chip.Sleep(ctx, d); err != nil {
		return err
	}
	time.Sleep(d)
	return ctx.Err()
}

// BenchmarkTLSRealTime runs TLS 1.3 mutual-TLS handshakes in real time
// (realtimeBus: the chip's modeled time is waited for on the wall clock)
// from 1, 8 and 32 concurrent clients sharing one Key, against an
// in-process server. hs/s is handshakes per wall-clock second, host TLS
// work included; chip-bound-hs/s is 1 / the modeled time of one Key.Sign
// measured in the same run, and of-bound their ratio (1 = the chip is the
// only limit). "batch" is the default: signatures queued at once share
// wake cycles; "nobatch" gives each its own, as before; "resume" (batched)
// sets TLSOptions.Resume: reconnections skip the chip, so the bound no
// longer applies.
func BenchmarkTLSRealTime(b *testing.B) {
	needSim(b, "bus statistics")
	for _, rev := range benchRevisions {
		for _, mode := range []string{"nobatch", "batch", "resume"} {
			resume := mode == "resume"
			for _, clients := range []int{1, 8, 32} {
				name := fmt.Sprintf("%v/%s/clients=%d", rev, mode, clients)
				b.Run(name, func(b *testing.B) {
					chip := nerveskeytest.NewProvisionedChip(b, &nerveskeytest.Options{Revision: rev, Seed: 1})
					k, err := nerveskey.Open(b.Context(), realtimeBus{chip}, nil)
					if err != nil {
						b.Fatal(err)
					}
					defer k.Close()
					if mode == "nobatch" {
						nerveskey.NoBatch(k)
					}
					pool, _, _ := signerPool(b, k)
					srv := newServerCert(b)
					addr := startTLSServer(b, srv, pool, tls.VersionTLS13)
					cfg, err := k.TLSConfig(b.Context(), &nerveskey.TLSOptions{RootCAs: srv.pool, ServerName: "localhost", Resume: resume})
					if err != nil {
						b.Fatal(err)
					}
					chip.ResetStats()
					d := sha256.Sum256(nil)
					for range 4 {
						if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
							b.Fatal(err)
						}
					}
					signTime := chip.Stats().BusTime / 4
					// One handshake first, so that with Resume the clients
					// find a session.
					c, err := tls.Dial("tcp", addr, cfg)
					if err != nil {
						b.Fatal(err)
					}
					io.WriteString(c, "x\n")
					io.ReadAll(c)
					c.Close()
					chip.ResetStats()
					var next atomic.Int64
					b.ResetTimer()
					var wg sync.WaitGroup
					for range clients {
						wg.Go(func() {
							for next.Add(1) <= int64(b.N) {
								c, err := tls.Dial("tcp", addr, cfg)
								if err != nil {
									b.Error(err)
									return
								}
								io.WriteString(c, "x\n")
								io.ReadAll(c)
								c.Close()
							}
						})
					}
					wg.Wait()
					b.StopTimer()
					st := chip.Stats()
					hs := float64(b.N) / b.Elapsed().Seconds()
					b.ReportMetric(hs, "hs/s")
					b.ReportMetric(1/signTime.Seconds(), "chip-bound-hs/s")
					b.ReportMetric(hs*signTime.Seconds(), "of-bound")
					b.ReportMetric(float64(st.BusTime.Microseconds())/1000/float64(b.N), "bus-ms/op")
				})
			}
		}
	}
}

// BenchmarkSignBurst signs from 32 goroutines sharing one Key, with
// signatures queued for the chip sharing wake cycles ("batch", the
// default) or each in its own ("nobatch"). bus-ms/op is the modeled time
// per signature under load; floor-ms/op is the single-signature floor
// (typical Nonce + Sign, tWHI and wire time), and of-floor their ratio:
// below 1 when signatures share the wake.
func BenchmarkSignBurst(b *testing.B) {
	needSim(b, "bus statistics")
	for _, rev := range benchRevisions {
		for _, mode := range []string{"nobatch", "batch"} {
			b.Run(rev.String()+"/"+mode, func(b *testing.B) {
				bus := &wireBus{Chip: nerveskeytest.NewProvisionedChip(b, &nerveskeytest.Options{Revision: rev, Seed: 1})}
				k, err := nerveskey.Open(b.Context(), bus, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer k.Close()
				if mode == "nobatch" {
					nerveskey.NoBatch(k)
				}
				// The single-signature floor, on this chip, with the wire
				// time of one lone signature.
				d := sha256.Sum256([]byte("burst"))
				bus.reset()
				if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
				bus.mu.Lock()
				floor := signExec[rev] + tWHI + bus.wire
				bus.mu.Unlock()
				bus.reset()
				b.SetParallelism((32 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
							b.Error(err)
							return
						}
					}
				})
				st := bus.Stats()
				perSign := float64(st.BusTime.Microseconds()) / 1000 / float64(b.N)
				b.ReportMetric(perSign, "bus-ms/op")
				b.ReportMetric(float64(floor.Microseconds())/1000, "floor-ms/op")
				b.ReportMetric(perSign*1000/float64(floor.Microseconds()), "of-floor")
				b.ReportMetric(float64(st.Wakes)/float64(b.N), "wakes/op")
			})
		}
	}
}
