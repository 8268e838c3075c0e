package atecc

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey/internal/i2c"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

var simRevisions = []struct {
	name string
	sim  nerveskeytest.Revision
	hex  string
	want Revision
}{
	{"508A", nerveskeytest.ATECC508A, "00005000", ATECC508A},
	{"608A", nerveskeytest.ATECC608A, "00006002", ATECC608A},
	{"608B", nerveskeytest.ATECC608B, "00006003", ATECC608B},
}

func TestPackets(t *testing.T) {
	// Packets from docs/atecc.md §1.6 and the Elixir request_test.exs,
	// driven through the Dev API against a provisioned chip.
	c, _ := elixirChip(t, "00006002", nil)
	bus := &recBus{Chip: c}
	d := New(bus, nil)
	ctx := t.Context()
	tests := []struct {
		name string
		run  func(s *Session) error
		want string // packet after word address 0x03, without CRC when crc is false
	}{
		{"read config block 0", func(s *Session) error { _, err := s.Read(ctx, ZoneConfig, 0, 32); return err }, "07 02 80 00 00 09 AD"},
		{"read config word 0", func(s *Session) error { _, err := s.Read(ctx, ZoneConfig, 0, 4); return err }, "07 02 00 00 00 1E 2D"},
		{"read slot 10 block 0", func(s *Session) error { _, err := s.Read(ctx, ZoneData, DataAddr(10, 0, 0), 32); return err }, "07 02 82 50 00 0A 14"},
		{"read otp block 1", func(s *Session) error { _, err := s.Read(ctx, ZoneOTP, 8, 32); return err }, "07 02 81 08 00"},
		{"info revision", func(s *Session) error { _, err := s.InfoRevision(ctx); return err }, "07 30 00 00 00 03 5D"},
		{"random", func(s *Session) error { _, err := s.Random(ctx); return err }, "07 1B 00 00 00 24 CD"},
		{"genkey public slot 0", func(s *Session) error { _, err := s.GenKey(ctx, 0, false); return err }, "07 40 00 00 00 00 05"},
		{"sign slot 0 tempkey", func(s *Session) error {
			if err := s.NonceLoad(ctx, [32]byte{}); err != nil {
				return err
			}
			bus.reset()
			_, err := s.Sign(ctx, 0, SignTempKey)
			return err
		}, "07 41 80 00 00 28 05"},
		{"sign slot 0 digest buffer", func(s *Session) error {
			if err := s.NonceLoadDigestBuffer(ctx, [32]byte{}); err != nil {
				return err
			}
			bus.reset()
			_, err := s.Sign(ctx, 0, SignDigestBuffer)
			return err
		}, "07 41 A0 00 00 7B 85"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := d.Do(ctx, func(s *Session) error { bus.reset(); return tt.run(s) }); err != nil {
				t.Fatal(err)
			}
			p := bus.packets()
			want := testutil.Unhex(t, tt.want)
			if len(p) != 1 || !bytes.HasPrefix(p[0], want) {
				t.Fatalf("packets % X, want % X", p, want)
			}
		})
	}
}

// Lock packets: Elixir lock_slot 0/1/15 (request_test.exs) and the
// docs/atecc.md §1.6 "lock slot 0" frame; the chip refuses the slot locks
// it cannot do, the packets are what matter here.
func TestLockPackets(t *testing.T) {
	c, _ := elixirChip(t, "00005000", nil)
	bus := &recBus{Chip: c}
	d := New(bus, &Options{RetryBudget: -1})
	ctx := t.Context()
	if _, err := d.Revision(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		run  func(s *Session) error
		want string
	}{
		{func(s *Session) error { return s.LockSlot(ctx, 0) }, "07 17 02 00 00 2D 88"},
		{func(s *Session) error { return s.LockSlot(ctx, 1) }, "07 17 06 00 00"},
		{func(s *Session) error { return s.LockSlot(ctx, 15) }, "07 17 3E 00 00"},
		{func(s *Session) error { return s.LockConfig(ctx, 0x55AA) }, "07 17 00 AA 55"},
		{func(s *Session) error { return s.LockData(ctx, 0x55AA) }, "07 17 01 AA 55"},
	} {
		bus.reset()
		// Slot 15 is Lockable and locks; the rest are refused (already
		// locked, or not Lockable).
		if err := d.Do(ctx, tt.run); err != nil && !errors.Is(err, ErrExecution) {
			t.Errorf("%s: err = %v, want nil or execution error", tt.want, err)
		}
		if p := bus.packets(); len(p) != 1 || !bytes.HasPrefix(p[0], testutil.Unhex(t, tt.want)) {
			t.Errorf("packets % X, want %s", p, tt.want)
		}
	}
}

// TestWriteConfigElixir replays configuration_test.exs "write everything"
// and "lock config" against a blank 508A loaded with its image.
func TestWriteConfigElixir(t *testing.T) {
	cfg, err := ParseConfig(testutil.Unhex(t, configurationTestImage))
	if err != nil {
		t.Fatal(err)
	}
	img := &nerveskeytest.Image{Config: cfg}
	for i := range img.Slots {
		img.Slots[i] = make([]byte, SlotSize(i))
	}
	chip, err := nerveskeytest.NewChipFromImage(img, nil)
	if err != nil {
		t.Fatal(err)
	}
	bus := &recBus{Chip: chip}
	d := New(bus, nil)
	ctx := t.Context()
	if err := d.WriteConfig(ctx, &cfg); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"12 00 04 00 C0 00 55 00",
		"12 00 05 00 8F 20 0F 0F",
		"12 00 06 00 0F 0F 0F 0F",
		"12 00 07 00 8F 8F 8F 8F",
		"12 80 08 00 9F 8F AF 8F 00 00 00 00 00 00 00 00 00 00 00 00 00 00 AF 8F FF FF FF FF 00 00 00 00 FF FF FF FF",
		"12 00 10 00 00 00 00 00",
		"12 00 11 00 FF FF FF FF",
		"12 00 12 00 FF FF FF FF",
		"12 00 13 00 FF FF FF FF",
		"12 00 14 00 FF FF FF FF",
		"12 00 17 00 00 00 00 00",
		"12 80 18 00 33 00 33 00 33 00 1C 00 1C 00 1C 00 1C 00 1C 00 3C 00 3C 00 3C 00 3C 00 3C 00 3C 00 3C 00 1C 00",
	}
	p := bus.packets()[1:] // after the profile read
	if len(p) != len(want) {
		t.Fatalf("%d packets, want %d", len(p), len(want))
	}
	for i, w := range want {
		payload := p[i][1 : len(p[i])-2] // strip count and CRC
		if !bytes.Equal(payload, testutil.Unhex(t, w)) {
			t.Errorf("packet %d = % X\nwant %s", i, payload, w)
		}
		if int(p[i][0]) != len(p[i]) {
			t.Errorf("packet %d count %d, length %d", i, p[i][0], len(p[i]))
		}
	}

	// A wrong CRC leaves the chip unlocked, and is not retried.
	bus.reset()
	err = d.LockConfig(ctx, cfg.CRC()^1)
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Status != 0x0F || se.Op != "lock config" {
		t.Fatalf("wrong-CRC lock: %v", err)
	}
	if n := len(bus.packets()); n != 1 {
		t.Errorf("wrong-CRC lock sent %d times", n)
	}
	got, err := d.ReadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ConfigLocked() || got != cfg {
		t.Fatalf("chip config changed by a refused lock: locked=%v", got.ConfigLocked())
	}
	bus.reset()
	if err := d.LockConfig(ctx, cfg.CRC()); err != nil {
		t.Fatal(err)
	}
	if p := bus.packets(); len(p) != 1 || !bytes.HasPrefix(p[0], testutil.Unhex(t, "07 17 00 34 AA")) {
		t.Errorf("lock packet % X, want 07 17 00 34 AA …", p)
	}
	if got, _ := d.ReadConfig(ctx); !got.ConfigLocked() {
		t.Error("config not locked")
	}
	// After the lock every config write is refused.
	if err := d.WriteConfig(ctx, &cfg); !errors.Is(err, ErrExecution) {
		t.Errorf("write after lock: %v", err)
	}
}

func TestBlankChip(t *testing.T) {
	for _, rv := range simRevisions {
		t.Run(rv.name, func(t *testing.T) {
			chip := nerveskeytest.NewChip(&nerveskeytest.Options{Revision: rv.sim})
			t.Cleanup(func() { chip.Close() })
			d := New(chip, nil)
			ctx := t.Context()
			cfg, err := d.ReadConfig(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Revision() != rv.want || cfg.ConfigLocked() || cfg.DataLocked() {
				t.Errorf("revision %v locked %v/%v", cfg.Revision(), cfg.ConfigLocked(), cfg.DataLocked())
			}
			if r, _ := d.Revision(ctx); r != rv.want {
				t.Errorf("Dev.Revision = %v", r)
			}
			sn, _ := d.SerialNumber(ctx)
			if sn != cfg.SerialNumber() || sn[0] != 0x01 || sn[1] != 0x23 {
				t.Errorf("serial % x", sn)
			}
			// Data reads before the data lock: 0x0F, not retried.
			chip.ResetStats()
			_, err = d.ReadSlot(ctx, 10)
			se, ok := errors.AsType[*StatusError](err)
			if !ok || se.Status != 0x0F || se.Op != "read slot 10 block 0" || !errors.Is(err, ErrExecution) {
				t.Fatalf("read before data lock: %v", err)
			}
			if st := chip.Stats(); st.Commands != 1 {
				t.Errorf("%d commands, want 1 (no retry)", st.Commands)
			}
			// OTP unreadable before the lock; GenKey refused before the config lock.
			if _, err := d.ReadOTP(ctx); !errors.Is(err, ErrExecution) {
				t.Errorf("otp read: %v", err)
			}
			if _, err := d.GenKey(ctx, 0, true); !errors.Is(err, ErrExecution) {
				t.Errorf("genkey: %v", err)
			}
			// RNG pattern before the config lock.
			r, err := d.Random(ctx)
			if err != nil || !bytes.Equal(r[:4], []byte{0xFF, 0xFF, 0, 0}) {
				t.Errorf("random % x, %v", r, err)
			}
			if chip.Awake() {
				t.Error("chip left awake")
			}
		})
	}
}

func TestElixirImages(t *testing.T) {
	for _, v := range elixirVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			img := vectorImage(t, v)
			chip := vectorChip(t, img, nil)
			d := New(chip, nil)
			ctx := t.Context()
			cfg, err := d.ReadConfig(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cfg != Config(img.Config) || !cfg.ConfigLocked() || !cfg.DataLocked() || !cfg.SlotLocked(0) {
				t.Fatalf("config mismatch or not locked")
			}
			if got := fmt.Sprintf("%x", cfg.RevNum()); got != v.ChipRevision {
				t.Errorf("RevNum %s, want %s", got, v.ChipRevision)
			}
			pub, err := d.GenKey(ctx, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			if want := publicFromScalar(t, testutil.Unhex(t, v.Slot0PrivateKey)); !bytes.Equal(pub[:], want) {
				t.Fatalf("GenKey public % x, want % x", pub, want)
			}
			digest := sha256.Sum256([]byte("nerveskey " + v.Name))
			sig, err := d.SignDigest(ctx, 0, digest)
			if err != nil {
				t.Fatal(err)
			}
			verify(t, publicKey(t, pub), digest, sig)
			for _, slot := range []int{8, 10, 11, 12, 5} {
				got, err := d.ReadSlot(ctx, slot)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, img.Slots[slot]) {
					t.Errorf("slot %d differs", slot)
				}
			}
			otp, err := d.ReadOTP(ctx)
			if err != nil || otp != img.OTP {
				t.Errorf("otp % x, %v", otp, err)
			}
			// Slot 0 is private: never readable, and this driver never tries.
			if st := chip.Stats(); st.Slot0Reads != 0 || st.Slot0Writes != 0 {
				t.Errorf("slot 0 reads %d writes %d", st.Slot0Reads, st.Slot0Writes)
			}
		})
	}
}

func TestSignModes(t *testing.T) {
	ctx := t.Context()
	// 608: Elixir's Nonce 0x43 + Sign 0xA0 works too.
	c608, _ := elixirChip(t, "00006002", nil)
	d := New(c608, nil)
	pub, err := d.GenKey(ctx, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("digest buffer"))
	var sig [64]byte
	err = d.Do(ctx, func(s *Session) error {
		if err := s.NonceLoadDigestBuffer(ctx, digest); err != nil {
			return err
		}
		sig, err = s.Sign(ctx, 0, SignDigestBuffer)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, publicKey(t, pub), digest, sig)

	// 508: the same modes are a parse error, reported at once.
	c508, _ := elixirChip(t, "00005000", nil)
	d = New(c508, nil)
	c508.ResetStats()
	err = d.Do(ctx, func(s *Session) error { return s.NonceLoadDigestBuffer(ctx, digest) })
	if !errors.Is(err, ErrParse) {
		t.Errorf("508 nonce 0x43: %v", err)
	}
	if n := c508.Stats().Wakes; n != 1 {
		t.Errorf("508 nonce 0x43: %d wakes, want 1 (a parse error is not retried)", n)
	}
}

func TestTempKeyLostAfterSleep(t *testing.T) {
	for _, rev := range []string{"00005000", "00006002"} {
		t.Run(rev, func(t *testing.T) {
			chip, _ := elixirChip(t, rev, nil)
			d := New(chip, nil)
			ctx := t.Context()
			if _, err := d.Revision(ctx); err != nil {
				t.Fatal(err)
			}
			chip.ResetStats()
			if err := d.Do(ctx, func(s *Session) error { return s.NonceLoad(ctx, [32]byte{1}) }); err != nil {
				t.Fatal(err)
			}
			err := d.Do(ctx, func(s *Session) error { _, err := s.Sign(ctx, 0, SignTempKey); return err })
			if se, ok := errors.AsType[*StatusError](err); !ok || se.Status != 0x0F || se.Op != "sign slot 0" {
				t.Fatalf("sign after sleep: %v", err)
			}
			if st := chip.Stats(); st.Commands != 2 {
				t.Errorf("%d commands, want 2 (sign not retried)", st.Commands)
			}
		})
	}
}

// TestWatchdog makes the watchdog fire in the middle of a Nonce→Sign
// transaction: the transport restarts the whole transaction, and the
// signature verifies.
func TestWatchdog(t *testing.T) {
	chip, _ := elixirChip(t, "00006002", nil)
	var retries atomic.Int32
	d := New(chip, &Options{Trace: &i2c.Trace{Retry: func(int, error, time.Duration) { retries.Add(1) }}})
	ctx := t.Context()
	pub, err := d.GenKey(ctx, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("watchdog"))
	var sig [64]byte
	attempts := 0
	err = d.Do(ctx, func(s *Session) error {
		attempts++
		if err := s.NonceLoad(ctx, digest); err != nil {
			return err
		}
		if attempts == 1 {
			chip.ExpireWatchdog() // asleep: TempKey gone, the Sign write NAKs
		}
		var err error
		sig, err = s.Sign(ctx, 0, SignTempKey)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 || retries.Load() != 1 {
		t.Errorf("attempts %d retries %d", attempts, retries.Load())
	}
	verify(t, publicKey(t, pub), digest, sig)

	// A watchdog due before Sign can finish: the chip answers 0xEE (the
	// fault only acts on an awake chip, so set it inside the session), and
	// Do restarts the transaction.
	retries.Store(0)
	attempts = 0
	err = d.Do(ctx, func(s *Session) error {
		attempts++
		if err := s.NonceLoad(ctx, digest); err != nil {
			return err
		}
		if attempts == 1 {
			chip.SetFaults(nerveskeytest.Faults{WatchdogAfter: 30 * time.Millisecond})
		}
		var err error
		sig, err = s.Sign(ctx, 0, SignTempKey)
		return err
	})
	if err != nil {
		t.Fatalf("sign across watchdog: %v", err)
	}
	verify(t, publicKey(t, pub), digest, sig)
	if attempts != 2 || retries.Load() != 1 {
		t.Errorf("0xEE: attempts %d retries %d", attempts, retries.Load())
	}
}

// TestLongSession writes more than a watchdog period's worth of commands in
// one session; the session refreshes the watchdog itself.
func TestLongSession(t *testing.T) {
	chip := nerveskeytest.NewChip(&nerveskeytest.Options{Revision: nerveskeytest.ATECC608A, Timing: nerveskeytest.TimingMax})
	t.Cleanup(func() { chip.Close() })
	d := New(chip, nil)
	ctx := t.Context()
	cfg, err := d.ReadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chip.ResetStats()
	start := chip.Now()
	attempts := 0
	err = d.Do(ctx, func(s *Session) error {
		attempts++
		for range 4 { // 48 writes × 45 ms ≈ 2.2 s
			if err := s.WriteConfig(ctx, &cfg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if el := chip.Now().Sub(start); el < 1300*time.Millisecond {
		t.Fatalf("session took only %v; not a watchdog test", el)
	}
	if st := chip.Stats(); attempts != 1 || st.Wakes < 3 {
		t.Errorf("attempts %d wakes %d", attempts, st.Wakes)
	}
}

func TestFaultRetries(t *testing.T) {
	chip, _ := elixirChip(t, "00005000", nil)
	d := New(chip, nil)
	ctx := t.Context()
	want, err := d.ReadSlot(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []nerveskeytest.Faults{
		{NAK: 40},
		{CorruptResponse: 3},
		{DropWake: 2},
		{ECCFault: 1},
	} {
		chip.SetFaults(f)
		got, err := d.ReadSlot(ctx, 10)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%+v: %v", f, err)
		}
		digest := sha256.Sum256([]byte("faults"))
		pub, err := d.GenKey(ctx, 0, false)
		if err != nil {
			t.Fatalf("%+v: genkey: %v", f, err)
		}
		sig, err := d.SignDigest(ctx, 0, digest)
		if err != nil {
			t.Fatalf("%+v: sign: %v", f, err)
		}
		verify(t, publicKey(t, pub), digest, sig)
		if left := chip.Faults(); left != (nerveskeytest.Faults{}) {
			t.Errorf("%+v: faults never triggered: %+v", f, left)
		}
	}
}

// TestConcurrentSign hammers one chip from 64 goroutines; run with -race.
func TestConcurrentSign(t *testing.T) {
	for _, rev := range []string{"00005000", "00006002"} {
		t.Run(rev, func(t *testing.T) {
			chip, _ := elixirChip(t, rev, nil)
			d := New(chip, nil)
			ctx := t.Context()
			xy, err := d.GenKey(ctx, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			pub := publicKey(t, xy)
			var wg sync.WaitGroup
			for i := range 64 {
				wg.Go(func() {
					var digest [32]byte
					binary.BigEndian.PutUint64(digest[:], uint64(i))
					digest = sha256.Sum256(digest[:])
					sig, err := d.SignDigest(ctx, 0, digest)
					if err != nil {
						t.Error(err)
						return
					}
					verify(t, pub, digest, sig)
					if i%8 == 0 {
						if _, err := d.ReadSlot(ctx, 10); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			if st := chip.Stats(); st.Slot0Reads != 0 {
				t.Errorf("slot 0 read %d times", st.Slot0Reads)
			}
		})
	}
}

func TestCommands(t *testing.T) {
	for _, rev := range []string{"00005000", "00006003"} {
		t.Run(rev, func(t *testing.T) {
			chip, _ := elixirChip(t, rev, nil)
			d := New(chip, nil)
			ctx := t.Context()
			data := bytes.Repeat([]byte("nerveskey sha "), 11) // 154 bytes: 2 blocks + 26
			err := d.Do(ctx, func(s *Session) error {
				h, err := s.SHA256(ctx, data)
				if err != nil {
					return err
				}
				if h != sha256.Sum256(data) {
					return fmt.Errorf("SHA256 = %x", h)
				}
				if ok, err := s.KeyValid(ctx, 0); err != nil || !ok {
					return fmt.Errorf("KeyValid(0) = %v, %v", ok, err)
				}
				rv, err := s.InfoRevision(ctx)
				if err != nil || rv[2] != map[string]byte{"00005000": 0x50, "00006003": 0x60}[rev] {
					return fmt.Errorf("info revision % x, %v", rv, err)
				}
				r1, err := s.Random(ctx)
				if err != nil {
					return err
				}
				r2, err := s.Random(ctx)
				if err != nil || r1 == r2 {
					return fmt.Errorf("random repeats: %v", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSelfTest608(t *testing.T) {
	chip, _ := elixirChip(t, "00006002", nil)
	d := New(chip, nil)
	err := d.Do(t.Context(), func(s *Session) error {
		r, err := s.SelfTest(t.Context(), selfTestAll)
		if err == nil && r != 0 {
			err = fmt.Errorf("self-test result %#x", r)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestArgumentErrors(t *testing.T) {
	chip, _ := elixirChip(t, "00006002", nil)
	d := New(chip, nil)
	ctx := t.Context()
	if _, err := d.Revision(ctx); err != nil {
		t.Fatal(err)
	}
	chip.ResetStats()
	if _, err := d.ReadSlot(ctx, 16); err == nil {
		t.Error("slot 16 read")
	}
	if err := d.WriteSlot(ctx, 9, make([]byte, 73)); err == nil {
		t.Error("73 bytes written to a 72-byte slot")
	}
	err := d.Do(ctx, func(s *Session) error { _, err := s.Read(ctx, ZoneConfig, 0, 8); return err })
	if err == nil {
		t.Error("8-byte read accepted")
	}
	if st := chip.Stats(); st.Commands != 0 {
		t.Errorf("%d commands sent for bad arguments", st.Commands)
	}
}
