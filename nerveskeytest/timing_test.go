package nerveskeytest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestExecBounds(t *testing.T) {
	tests := []struct {
		rev      Revision
		chipMode byte
		op       byte
		typ, max time.Duration
	}{
		{ATECC508A, 0, opSign, 42 * time.Millisecond, 50 * time.Millisecond},
		{ATECC508A, 0, opRead, 100 * time.Microsecond, time.Millisecond},
		{ATECC608A, 0, opSign, 57500 * time.Microsecond, 115 * time.Millisecond},
		{ATECC608A, 0x28, opSign, 110 * time.Millisecond, 220 * time.Millisecond},
		{ATECC608B, 0x68, opGenKey, 326500 * time.Microsecond, 653 * time.Millisecond},
		{ATECC608B, 0x68, opWrite, 22500 * time.Microsecond, 45 * time.Millisecond},
	}
	for _, tt := range tests {
		c := NewChip(&Options{Revision: tt.rev})
		c.config[cfgChipMode] = tt.chipMode
		typ, max := c.execBounds(tt.op)
		if typ != tt.typ || max != tt.max {
			t.Errorf("%v mode %#02x op %#02x: %v/%v, want %v/%v", tt.rev, tt.chipMode, tt.op, typ, max, tt.typ, tt.max)
		}
	}
	c := NewChip(&Options{Timing: TimingRandom, Seed: 7})
	seen := map[time.Duration]bool{}
	for range 50 {
		d := c.execTime(opSign)
		if d < 57500*time.Microsecond || d > 115*time.Millisecond {
			t.Fatalf("random time %v out of range", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Errorf("random timing gave only %d distinct values", len(seen))
	}
}

func TestDeterministicSeed(t *testing.T) {
	run := func() []byte {
		im, _ := provisionedImage(ATECC608A)
		im.Config[cfgSlotLocked] = 0xFF // let GenKey replace slot 0
		c, err := NewChipFromImage(im, &Options{Seed: 42})
		if err != nil {
			t.Fatal(err)
		}
		h := newHost(t, c)
		h.wake()
		return append(h.ok(32, opRandom, 0, 0, nil), h.ok(64, opGenKey, 0x04, 0, nil)...)
	}
	a, b := run(), run()
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different randomness")
	}
}

func TestBytesBeyondCount(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	pkt := packet(opInfo, 0, 0, nil)
	err := c.Tx(0x60, append(append([]byte{wordCommand}, pkt...), 0xAA), nil)
	if !errors.Is(err, ErrNAK) {
		t.Fatalf("extra byte: %v, want ErrNAK", err)
	}
	if got := h.receive(); !bytes.Equal(got, []byte{0, 0, 0x60, 2}) {
		t.Fatalf("command before the extra byte: % x", got)
	}
	if err := c.Tx(0x60, []byte{0x04}, nil); !errors.Is(err, ErrNAK) {
		t.Fatalf("reserved word address: %v", err)
	}
}

func TestConcurrentHosts(t *testing.T) {
	var wg sync.WaitGroup
	c := NewProvisionedChip(t, nil)
	for i := range 16 {
		wg.Go(func() {
			for j := range 20 {
				if j%5 == 0 {
					c.Tx(0, []byte{0}, nil)
				}
				c.Tx(0x60, append([]byte{3}, packet(opInfo, 0, uint16(i), nil)...), nil)
				c.Sleep(t.Context(), time.Millisecond)
				c.Tx(0x60, nil, make([]byte, 7))
				_ = c.Stats()
			}
		})
	}
	wg.Wait()
	if st := c.Stats(); st.Transactions != 16*(20*2+4) {
		t.Errorf("transactions %d", st.Transactions)
	}
}

func TestSleepContext(t *testing.T) {
	c := NewChip(nil)
	ctx, cancel := contextWithCancel(t)
	cancel()
	before := c.Now()
	if err := c.Sleep(ctx, time.Second); err == nil {
		t.Fatal("Sleep with a done context succeeded")
	}
	if !c.Now().Equal(before) {
		t.Fatal("time advanced")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Tx(0x60, nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Tx after Close: %v", err)
	}
}
