package nerveskey_test

import (
	"bytes"
	"errors"
	"io"
	"math/bits"
	"testing"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// TestRandomDistribution reads 32 KiB from the chip's RNG and checks
// them with a chi-square test over byte values and a monobit count, both
// at a false-failure rate near 1e-5, and that no 32-byte answer repeats.
func TestRandomDistribution(t *testing.T) {
	c, bus := newTestChip(t, nerveskeytest.ATECC608A)
	var randoms int
	if bus != nil {
		bus.SetCommandHook(func(cmd *nerveskeytest.Command) {
			if cmd.Opcode == 0x1B {
				randoms++
			}
		})
	}
	buf := make([]byte, 32<<10)
	if _, err := io.ReadFull(c.Random(t.Context()), buf); err != nil {
		t.Fatal(err)
	}
	if bus != nil && randoms != len(buf)/32 {
		t.Errorf("%d Random commands for %d bytes, want %d", randoms, len(buf), len(buf)/32)
	}

	var counts [256]float64
	ones := 0
	for _, b := range buf {
		counts[b]++
		ones += bits.OnesCount8(b)
	}
	exp := float64(len(buf)) / 256
	chi := 0.0
	for _, n := range counts {
		chi += (n - exp) * (n - exp) / exp
	}
	// 255 degrees of freedom: P(chi² > 350) ≈ 1e-4; P(chi² < 170) ≈ 1e-5.
	if chi > 350 || chi < 170 {
		t.Errorf("chi-square over byte values = %.1f, want 170 to 350", chi)
	}
	// 262144 bits: mean 131072, sigma 256; 4.5 sigma.
	if d := ones - len(buf)*4; d > 1152 || d < -1152 {
		t.Errorf("%d one bits in %d, %d from the mean", ones, len(buf)*8, d)
	}
	seen := map[string]bool{}
	for i := 0; i < len(buf); i += 32 {
		s := string(buf[i : i+32])
		if seen[s] {
			t.Fatalf("32-byte answer at %d repeats", i)
		}
		seen[s] = true
	}
}

// TestRandomShortRead checks a read that is not a multiple of 32 bytes
// fills p, in as many commands as it needs.
func TestRandomShortRead(t *testing.T) {
	c, _ := newTestChip(t, nerveskeytest.ATECC508A)
	p := make([]byte, 50)
	n, err := c.Random(t.Context()).Read(p)
	if err != nil || n != 50 || bytes.Equal(p[32:], make([]byte, 18)) {
		t.Fatalf("Read = %d, %v; %x", n, err, p)
	}
}

// TestRandomUnlocked checks the fixed pattern a chip returns before its
// configuration lock is refused with a *ConfigError and no bytes: on a
// blank chip, and on a locked chip whose answer is forged to the pattern.
func TestRandomUnlocked(t *testing.T) {
	_, blank := newBlankChip(t, nerveskeytest.ATECC608A, nil)
	forged, bus := newTestChip(t, nerveskeytest.ATECC508A)
	needSim(t, "a forged answer")
	bus.SetCommandHook(func(cmd *nerveskeytest.Command) {
		if cmd.Opcode == 0x1B {
			cmd.Answer = func([]byte) []byte { return bytes.Repeat([]byte{0xFF, 0xFF, 0, 0}, 8) }
		}
	})
	for name, c := range map[string]*nerveskey.Chip{"blank": blank, "forged": forged} {
		t.Run(name, func(t *testing.T) {
			p := make([]byte, 64)
			n, err := c.Random(t.Context()).Read(p)
			if _, ok := errors.AsType[*nerveskey.ConfigError](err); !ok || n != 0 {
				t.Fatalf("Read = %d, %v; want 0 and a *ConfigError", n, err)
			}
			if !bytes.Equal(p, make([]byte, 64)) {
				t.Errorf("the pattern was copied into p: %x", p)
			}
		})
	}
}
