package atecc

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// slowExtras are how much longer than the simulator's normal time the
// slow-chip tests and benchmarks make Sign, GenKey and ECDH run.
var slowExtras = []time.Duration{0, 10 * time.Millisecond, 30 * time.Millisecond, 60 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond}

// slowOps are the long commands a slow chip makes slower.
var slowOps = []struct {
	name string
	op   byte
	run  func(tb testing.TB, d *Dev) error
}{
	{"Sign", byte(OpSign), func(tb testing.TB, d *Dev) error {
		digest := sha256.Sum256([]byte("slow chip"))
		pub, err := d.GenKey(tb.Context(), 0, false)
		if err != nil {
			return err
		}
		sig, err := d.SignDigest(tb.Context(), 0, digest)
		if err != nil {
			return err
		}
		verify(tb, publicKey(tb, pub), digest, sig)
		return nil
	}},
	{"GenKey", byte(OpGenKey), func(tb testing.TB, d *Dev) error {
		_, err := d.GenKey(tb.Context(), 0, false)
		return err
	}},
	{"ECDH", byte(OpECDH), func(tb testing.TB, d *Dev) error {
		peer, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		var xy [64]byte
		copy(xy[:], peer.PublicKey().Bytes()[1:])
		return d.Do(tb.Context(), func(s *Session) error {
			_, err := s.ECDH(tb.Context(), 0, xy)
			return err
		})
	}},
}

// slowChip returns a provisioned chip of revision rev whose op commands
// run extra longer than timing makes them, and a driver on it that has
// read the chip's profile.
func slowChip(tb testing.TB, rev string, timing nerveskeytest.TimingMode, op byte, extra time.Duration) (*nerveskeytest.Chip, *Dev) {
	tb.Helper()
	chip, _ := elixirChip(tb, rev, &nerveskeytest.Options{Timing: timing, Seed: 5})
	chip.SetCommandHook(nerveskeytest.Slower(extra, op))
	d := New(chip, nil)
	if _, err := d.Revision(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	return chip, d
}

// TestSlowChip: with Sign, GenKey and ECDH up to 150 ms slower than the
// simulator's normal time, past the datasheet maximum, every command
// succeeds (each signature verifies), and once the driver has seen the
// chip it reads each answer within 2 ms of readiness at a few NAK polls.
func TestSlowChip(t *testing.T) {
	for _, c := range benchChips {
		for _, o := range slowOps {
			for _, extra := range slowExtras {
				t.Run(fmt.Sprintf("%s/%s/+%v", c.name, o.name, extra), func(t *testing.T) {
					t.Parallel()
					chip, d := slowChip(t, c.rev, nerveskeytest.TimingTypical, o.op, extra)
					if err := o.run(t, d); err != nil { // the driver learns the chip
						t.Fatal(err)
					}
					chip.ResetStats()
					const n = 8
					for range n {
						if err := o.run(t, d); err != nil {
							t.Fatal(err)
						}
					}
					st := chip.Stats()
					if late := st.ReadDelay / time.Duration(st.Commands); late > 2*time.Millisecond {
						t.Errorf("answers read %v after readiness on average, want at most 2 ms", late)
					}
					if naks := float64(st.NAKs) / float64(st.Commands); naks > 10 {
						t.Errorf("%.1f NAK polls per command, want at most 10", naks)
					}
				})
			}
		}
	}
}

// TestSlow608Preset: the slow 608 seen in the field (Sign in 179 ms)
// signs, under every timing mode.
func TestSlow608Preset(t *testing.T) {
	for _, tm := range []nerveskeytest.TimingMode{nerveskeytest.TimingTypical, nerveskeytest.TimingMax, nerveskeytest.TimingRandom} {
		chip, _ := elixirChip(t, "00006002", &nerveskeytest.Options{Timing: tm, Seed: 3})
		chip.SetCommandHook(nerveskeytest.Slow608())
		d := New(chip, nil)
		for range 3 {
			if err := slowOps[0].run(t, d); err != nil {
				t.Fatalf("%v: %v", tm, err)
			}
		}
	}
}

// BenchmarkSlowChip runs Sign, GenKey and ECDH on 508A and 608A chips
// that take 0 to 150 ms longer than the simulator's normal time, at
// typical, maximum and random timing, plus the slow 608 preset. Metrics:
// bus-ms/op (modeled time), exec-ms/op (the chip's busy time, the floor),
// overshoot-ms/op (how late answers were read), i2c-tx/op and naks/op.
func BenchmarkSlowChip(b *testing.B) {
	timings := []nerveskeytest.TimingMode{nerveskeytest.TimingTypical, nerveskeytest.TimingMax, nerveskeytest.TimingRandom}
	for _, c := range benchChips {
		for _, o := range slowOps {
			for _, tm := range timings {
				for _, extra := range slowExtras {
					b.Run(fmt.Sprintf("%s/%s/%v/+%dms", c.name, o.name, tm, extra.Milliseconds()), func(b *testing.B) {
						chip, d := slowChip(b, c.rev, tm, o.op, extra)
						runSlowBench(b, chip, d, o.run)
					})
				}
			}
			if c.name == "608A" && o.name == "Sign" {
				b.Run(fmt.Sprintf("%s/%s/slow", c.name, o.name), func(b *testing.B) {
					chip, d := slowChip(b, c.rev, nerveskeytest.TimingTypical, o.op, 0)
					chip.SetCommandHook(nerveskeytest.Slow608())
					runSlowBench(b, chip, d, o.run)
				})
			}
		}
	}
}

func runSlowBench(b *testing.B, chip *nerveskeytest.Chip, d *Dev, run func(testing.TB, *Dev) error) {
	if err := run(b, d); err != nil { // the driver meets the chip
		b.Fatal(err)
	}
	chip.ResetStats()
	for b.Loop() {
		if err := run(b, d); err != nil {
			b.Fatal(err)
		}
	}
	st := chip.Stats()
	n := float64(b.N)
	b.ReportMetric(float64(st.BusTime.Microseconds())/1000/n, "bus-ms/op")
	b.ReportMetric(float64(st.ExecTime.Microseconds())/1000/n, "exec-ms/op")
	b.ReportMetric(float64(st.ReadDelay.Microseconds())/1000/n, "overshoot-ms/op")
	b.ReportMetric(float64(st.Transactions)/n, "i2c-tx/op")
	b.ReportMetric(float64(st.NAKs)/n, "naks/op")
}
