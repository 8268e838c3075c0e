package atecc

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey/internal/i2c"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// benchChips are the chips the benchmarks run on: Elixir-provisioned 508A
// and 608A images.
var benchChips = []struct{ name, rev string }{
	{"508A", "00005000"},
	{"608A", "00006002"},
}

var benchWaits = []i2c.WaitStrategy{i2c.WaitPoll, i2c.WaitElixir}

// runBench runs op on a fresh simulated chip per sub-benchmark and reports
// the simulator's modeled bus time and transactions per operation. The
// simulator's BusTime is virtual time: wire time plus every wait.
//
// With random execution times the Elixir strategy cannot read a 608: it
// reads once, 3 ms after a Read (T = 5 ms), and a 608 Read may take up to
// 5 ms, so retries run out. Those sub-benchmarks skip with the error.
func runBench(b *testing.B, timing nerveskeytest.TimingMode, op func(b *testing.B, d *Dev) error) {
	for _, c := range benchChips {
		for _, w := range benchWaits {
			b.Run(fmt.Sprintf("%s/%v", c.name, w), func(b *testing.B) {
				chip, _ := elixirChip(b, c.rev, &nerveskeytest.Options{Timing: timing, Seed: 1})
				opts := &Options{Wait: w}
				if w == i2c.WaitElixir {
					opts.WakeDelay = 2 * time.Millisecond // the Elixir wake wait
				}
				d := New(chip, opts)
				if _, err := d.Revision(b.Context()); err != nil { // setup: profile read
					b.Fatal(err)
				}
				chip.ResetStats()
				for b.Loop() {
					if err := op(b, d); err != nil {
						if w == i2c.WaitElixir {
							b.Skipf("elixir wait strategy fails: %v", err)
						}
						b.Fatal(err)
					}
				}
				st := chip.Stats()
				b.ReportMetric(float64(st.BusTime.Microseconds())/1000/float64(b.N), "bus-ms/op")
				b.ReportMetric(float64(st.Transactions)/float64(b.N), "i2c-tx/op")
			})
		}
	}
}

func benchTimings(b *testing.B, op func(b *testing.B, d *Dev) error) {
	for _, tm := range []nerveskeytest.TimingMode{nerveskeytest.TimingTypical, nerveskeytest.TimingRandom} {
		b.Run(tm.String(), func(b *testing.B) { runBench(b, tm, op) })
	}
}

func BenchmarkWakeReadConfig(b *testing.B) {
	benchTimings(b, func(b *testing.B, d *Dev) error {
		_, err := d.ReadConfig(b.Context())
		return err
	})
}

func BenchmarkReadSlot72(b *testing.B) {
	benchTimings(b, func(b *testing.B, d *Dev) error {
		_, err := d.ReadSlot(b.Context(), 10)
		return err
	})
}

func BenchmarkSign(b *testing.B) {
	digest := sha256.Sum256([]byte("bench"))
	benchTimings(b, func(b *testing.B, d *Dev) error {
		_, err := d.SignDigest(b.Context(), 0, digest)
		return err
	})
}
