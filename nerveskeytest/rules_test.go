package nerveskeytest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"
)

// Tests for the docs/atecc.md §7 checklist rules and its "Easy to get wrong"
// list that the other test files do not pin down.

// configLockedChip returns an awake chip with the NervesKey configuration
// (docs/nerves_key.md §3.2), edited by edit if non-nil, whose config zone the
// test has locked with the summary CRC; the data zone is unlocked.
func configLockedChip(t *testing.T, rev Revision, opts *Options, edit func(cfg []byte)) (*Chip, *host) {
	t.Helper()
	im := NewChip(&Options{Revision: rev}).Image()
	nervesKeyConfig(im.Config[:])
	if edit != nil {
		edit(im.Config[:])
	}
	c, err := NewChipFromImage(im, opts)
	if err != nil {
		t.Fatal(err)
	}
	h := newHost(t, c)
	h.wake()
	h.ok(1, opLock, 0x00, crc16(im.Config[:]), nil)
	return c, h
}

// tempKeyValid reads TempKey.Valid with Info(State), which never clears it.
func (h *host) tempKeyValid() bool {
	h.t.Helper()
	return h.ok(4, opInfo, 2, 0, nil)[1]&0x80 != 0
}

func TestWakeWhileAwakeKeepsState(t *testing.T) {
	for _, rev := range []Revision{ATECC508A, ATECC608A} {
		t.Run(rev.String(), func(t *testing.T) {
			c, h := provisioned(t, rev)
			h.ok(1, opNonce, 0x03, 0, make([]byte, 32))
			h.sleep(time.Second)
			if err := c.Tx(0, []byte{0}, nil); !errors.Is(err, ErrNAK) {
				t.Fatalf("wake pulse: %v", err)
			}
			h.sleep(2 * time.Millisecond)
			if !h.tempKeyValid() {
				t.Fatal("a wake while awake cleared TempKey")
			}
			if n := c.Stats().Wakes; n != 1 {
				t.Errorf("%d wakes counted, want 1", n)
			}
			// The watchdog still runs from the first wake (1.3 s).
			h.sleep(350 * time.Millisecond)
			if c.Awake() {
				t.Fatal("a wake while awake restarted the watchdog")
			}
		})
	}
}

func TestReadPointerRewindsOnWrite(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	h.send(packet(opInfo, 0, 0, nil))
	h.sleep(10 * time.Millisecond)
	want := []byte{0x07, 0x00, 0x00, 0x60, 0x02, 0x80, 0x38}
	head := make([]byte, 3)
	if err := c.Tx(0x60, nil, head); err != nil || !bytes.Equal(head, want[:3]) {
		t.Fatalf("first read % x, %v", head, err)
	}
	// A write holding only the Command word address carries no command,
	// but it is the first write after reads: the pointer goes back to 0.
	if err := c.Tx(0x60, []byte{wordCommand}, nil); err != nil {
		t.Fatal(err)
	}
	all := make([]byte, 7)
	if err := c.Tx(0x60, nil, all); err != nil || !bytes.Equal(all, want) {
		t.Fatalf("after a write: % x, %v; want % x", all, err, want)
	}
	// Reads alone never rewind.
	if err := c.Tx(0x60, nil, head); err != nil || !bytes.Equal(head, []byte{0xFF, 0xFF, 0xFF}) {
		t.Fatalf("read past the end: % x, %v", head, err)
	}
}

// TestTempKeyClearing runs each command between a pass-through Nonce and
// Info(State): on a 508 everything but Info and GenKey without a digest
// mode clears TempKey, whatever the status (DS508 §2.5.1); on a 608 a
// command that does not use TempKey leaves it.
func TestTempKeyClearing(t *testing.T) {
	cmds := []struct {
		name     string
		op, p1   byte
		p2       uint16
		data     []byte
		keeps508 bool
	}{
		{"Read config", opRead, 0x00, 0, nil, false},
		{"Read data", opRead, 0x82, 10 << 3, nil, false},
		{"Read parse error", opRead, 0x40, 0, nil, false},
		{"Read bad address", opRead, 0x02, 2<<8 | 10<<3 | 2, nil, false},
		{"Write refused", opWrite, 0x82, 10 << 3, make([]byte, 32), false},
		{"Write 4 bytes", opWrite, 0x02, 5 << 3, []byte{1, 2, 3, 4}, false},
		{"Lock refused", opLock, 0x00, 0, nil, false},
		{"Counter", opCounter, 0, 0, nil, false},
		{"SHA start", opSHA, 0, 0, nil, false},
		{"UpdateExtra refused", opUpdateExtra, 0, 1, nil, false},
		{"Random", opRandom, 0, 0, nil, false},
		{"Unknown opcode", 0x7F, 0, 0, nil, false},
		{"GenKey public", opGenKey, 0x00, 0, nil, true},
		{"Info revision", opInfo, 0, 0, nil, true},
		{"Info KeyValid", opInfo, 1, 0, nil, true},
	}
	for _, rev := range []Revision{ATECC508A, ATECC608A} {
		for _, tt := range cmds {
			t.Run(rev.String()+"/"+tt.name, func(t *testing.T) {
				_, h := provisioned(t, rev)
				h.ok(1, opUpdateExtra, 0, 1, nil) // so the later one is refused
				h.ok(1, opNonce, 0x03, 0, make([]byte, 32))
				h.cmd(tt.op, tt.p1, tt.p2, tt.data)
				want := rev != ATECC508A || tt.keeps508
				if got := h.tempKeyValid(); got != want {
					t.Fatalf("TempKey valid = %v, want %v", got, want)
				}
			})
		}
	}
	t.Run("508 bad CRC", func(t *testing.T) {
		_, h := provisioned(t, ATECC508A)
		h.ok(1, opNonce, 0x03, 0, make([]byte, 32))
		pkt := packet(opRead, 0, 0, nil)
		pkt[len(pkt)-1] ^= 1
		h.send(pkt)
		if got := h.receive(); !bytes.Equal(got, []byte{statusCRC}) {
			t.Fatalf("bad CRC: % x", got)
		}
		if !h.tempKeyValid() {
			t.Fatal("a CRC error cleared TempKey")
		}
	})
}

// TestDigestBuffer608 checks which commands wipe the 608 message digest
// buffer (every command but Nonce and SHA, Info included) and that idle
// keeps it while sleep does not.
func TestDigestBuffer608(t *testing.T) {
	digest := sha256.Sum256([]byte("digest buffer"))
	for _, tt := range []struct {
		name    string
		between func(h *host)
		ok      bool
	}{
		{"nothing", func(*host) {}, true},
		{"Nonce", func(h *host) { h.ok(1, opNonce, 0x03, 0, make([]byte, 32)) }, true},
		{"SHA", func(h *host) { h.ok(1, opSHA, 0, 0, nil) }, true},
		{"Info", func(h *host) { h.ok(4, opInfo, 0, 0, nil) }, false},
		{"Counter", func(h *host) { h.ok(4, opCounter, 0, 0, nil) }, false},
		{"parse error", func(h *host) { h.wantStatus(statusParse, 0x7F, 0, 0, nil) }, false},
		{"idle", func(h *host) { h.idleChip(); h.wake() }, true},
		{"sleep", func(h *host) { h.sleepChip(); h.wake() }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, h := provisioned(t, ATECC608A)
			pub := publicOf(t, h.ok(64, opGenKey, 0, 0, nil))
			h.ok(1, opNonce, 0x43, 0, digest[:])
			tt.between(h)
			out := h.cmd(opSign, 0xA0, 0, nil)
			if !tt.ok {
				if !bytes.Equal(out, []byte{statusExecution}) {
					t.Fatalf("Sign 0xA0 answered % x, want 0x0F", out)
				}
				return
			}
			verifyRS(t, pub, digest[:], out)
		})
	}
}

func TestSlotLockBeforeDataLock(t *testing.T) {
	c, h := configLockedChip(t, ATECC608A, nil, nil)
	// Slot 10 (KeyConfig 0x003C) is Lockable, slot 1 (0x001C) is not.
	h.wantStatus(statusExecution, opLock, 0x02|1<<2, 0, nil)
	h.ok(1, opWrite, 0x82, 10<<3, bytes.Repeat([]byte{1}, 32))
	h.ok(1, opLock, 0x02|10<<2, 0, nil)
	h.wantStatus(statusExecution, opLock, 0x02|10<<2, 0, nil) // already locked
	// SlotLocked blocks writes before the data lock too.
	h.wantStatus(statusExecution, opWrite, 0x82, 10<<3, bytes.Repeat([]byte{2}, 32))
	h.ok(1, opWrite, 0x82, 9<<3, bytes.Repeat([]byte{2}, 32))
	// Slot 0 locked before the data lock: GenKey(create) refused.
	h.ok(64, opGenKey, 0x04, 0, nil)
	h.ok(1, opLock, 0x02, 0, nil)
	h.wantStatus(statusExecution, opGenKey, 0x04, 0, nil)
	im := c.Image()
	if !bytes.Equal(im.Slots[10][:32], bytes.Repeat([]byte{1}, 32)) {
		t.Error("refused write changed slot 10")
	}
	if got := uint16(im.Config[cfgSlotLocked]) | uint16(im.Config[cfgSlotLocked+1])<<8; got != 0xFFFF&^(1<<10|1) {
		t.Errorf("SlotLocked %#04x", got)
	}
}

func TestInternalSignBeforeDataLock(t *testing.T) {
	for _, rev := range []Revision{ATECC508A, ATECC608A} {
		_, h := configLockedChip(t, rev, nil, nil)
		h.ok(1, opNonce, 0x03, 0, make([]byte, 32))
		h.ok(64, opGenKey, 0x0C, 0, nil) // TempKey from GenKey: GenKeyData
		h.wantStatus(statusExecution, opSign, 0x00, 0, nil)
	}
}

func TestConfigWriteFailsWhole(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	before := c.Image().Config
	ones := bytes.Repeat([]byte{0xA5}, 32)
	h.wantStatus(statusExecution, opWrite, 0x80, 0, ones)  // bytes 0–15
	h.wantStatus(statusExecution, opWrite, 0x80, 16, ones) // bytes 84–87
	h.wantStatus(statusExecution, opWrite, 0x00, 3, ones[:4])
	h.wantStatus(statusExecution, opWrite, 0x00, 21, ones[:4])
	if after := c.Image().Config; after != before {
		t.Fatalf("refused config writes changed the zone:\n% x\n% x", before, after)
	}
	// Word 22 (SlotLocked, RFU) is writable before the lock.
	h.ok(1, opWrite, 0x00, 22, []byte{0xFF, 0xFF, 0, 0})
	h.ok(1, opLock, 0x00, crc16(c.Image().Config[:]), nil)
	h.wantStatus(statusExecution, opWrite, 0x00, 4, ones[:4])
}

// TestOTPAfterDataLock: a 508 in OTPmode 0x55 (consumption) accepts 4-byte
// writes that only clear bits; OTPmode 0xAA and every 608 refuse writes.
func TestOTPAfterDataLock(t *testing.T) {
	for _, tt := range []struct {
		rev      Revision
		mode     byte
		writable bool
	}{{ATECC508A, 0x55, true}, {ATECC508A, 0xAA, false}, {ATECC608A, 0x55, false}} {
		c, h := configLockedChip(t, tt.rev, nil, func(cfg []byte) { cfg[cfgOTPMode] = tt.mode })
		h.ok(1, opWrite, 0x81, 0, bytes.Repeat([]byte{0xF0}, 32))
		h.ok(1, opLock, 0x81, 0, nil)
		st := h.status(opWrite, 0x01, 1, []byte{0x3C, 0x3C, 0x3C, 0x3C})
		got := h.ok(4, opRead, 0x01, 1, nil)
		switch {
		case tt.writable && (st != statusOK || !bytes.Equal(got, []byte{0x30, 0x30, 0x30, 0x30})):
			t.Errorf("%v OTPmode %#02x: write %#02x, word 1 = % x, want 30 30 30 30", tt.rev, tt.mode, st, got)
		case !tt.writable && (st != statusExecution || !bytes.Equal(got, []byte{0xF0, 0xF0, 0xF0, 0xF0})):
			t.Errorf("%v OTPmode %#02x: write %#02x, word 1 = % x, want refused", tt.rev, tt.mode, st, got)
		}
		h.wantStatus(statusExecution, opWrite, 0xC1, 0, make([]byte, 64)) // never encrypted
		if got := c.Image().OTP[4:8]; tt.writable != bytes.Equal(got, []byte{0x30, 0x30, 0x30, 0x30}) {
			t.Errorf("OTP word 1 % x", got)
		}
	}
}

// TestWatchdogThreshold: a command that cannot finish before the watchdog
// answers 0xEE and is not executed; one that can, runs.
func TestWatchdogThreshold(t *testing.T) {
	pkt := packet(opRandom, 0, 0, nil)
	// Wire time of the command write at 100 kHz: start+address, 8 bytes
	// of 9 bits, stop.
	wire := time.Duration(10+9*(1+len(pkt))+1) * 10 * time.Microsecond
	for _, tt := range []struct {
		left time.Duration // watchdog time left when the command starts
		want int           // response length
	}{
		{23*time.Millisecond + 10*time.Millisecond, 32},
		{23*time.Millisecond - time.Microsecond, 1},
	} {
		c := NewChip(&Options{Revision: ATECC508A, Timing: TimingMax})
		h := newHost(t, c)
		h.wake()
		c.mu.Lock()
		wait := c.watchdogAt.Sub(c.now) - wire - tt.left
		c.mu.Unlock()
		h.sleep(wait)
		c.ResetStats()
		h.send(pkt)
		out := h.receive()
		if len(out) != tt.want || (tt.want == 1 && out[0] != statusWatchdog) {
			t.Fatalf("%v left: % x", tt.left, out)
		}
		if n := c.Stats().Commands; n != tt.want/32 {
			t.Errorf("%v left: %d commands executed", tt.left, n)
		}
	}
}

// TestProfiles checks every Profile switch both ways.
func TestProfiles(t *testing.T) {
	t.Run("LockMismatchStatus", func(t *testing.T) {
		for _, want := range []byte{0, statusMiscomp} {
			c := NewChip(&Options{Profile: Profile{LockMismatchStatus: want}})
			if want == 0 {
				want = statusExecution
			}
			h := newHost(t, c)
			h.wake()
			good := crc16(c.Image().Config[:])
			h.wantStatus(want, opLock, 0x00, good^1, nil)
			if c.configLocked() {
				t.Fatal("locked by a wrong CRC")
			}
			h.ok(1, opLock, 0x00, good, nil)
			h.wantStatus(want, opLock, 0x01, 0x1234, nil)
			if c.dataLocked() {
				t.Fatal("data locked by a wrong CRC")
			}
		}
	})
	t.Run("BadAddressStatus", func(t *testing.T) {
		for _, tt := range []struct{ set, want byte }{{0, statusParse}, {statusExecution, statusExecution}} {
			c := NewProvisionedChip(t, &Options{Profile: Profile{BadAddressStatus: tt.set}})
			h := newHost(t, c)
			h.wake()
			h.wantStatus(tt.want, opRead, 0x02, 2<<8|10<<3|2, nil) // slot 10 block 2 word 2
			h.wantStatus(tt.want, opRead, 0x80, 4<<3, nil)         // config block 4
			h.wantStatus(tt.want, opWrite, 0x82, 3<<8|10<<3, make([]byte, 32))
		}
	})
	t.Run("PartialReadACK", func(t *testing.T) {
		for _, ack := range []bool{false, true} {
			c := NewChip(&Options{Profile: Profile{PartialReadACK: ack}})
			h := newHost(t, c)
			h.wake()
			pkt := packet(opInfo, 0, 0, nil)
			if err := c.Tx(0x60, append([]byte{wordCommand}, pkt[:2]...), nil); err != nil {
				t.Fatal(err)
			}
			r := []byte{0}
			err := c.Tx(0x60, nil, r)
			if ack && (err != nil || r[0] != 0xFF) || !ack && !errors.Is(err, ErrNAK) {
				t.Fatalf("ack=%v: read during a partial command: % x, %v", ack, r, err)
			}
			h.send(pkt[2:])
			if got := h.receive(); !bytes.Equal(got, []byte{0, 0, 0x60, 2}) {
				t.Fatalf("ack=%v: completed command answered % x", ack, got)
			}
		}
	})
	t.Run("UpdateExtraNeedsConfigLock", func(t *testing.T) {
		for _, tt := range []struct {
			needs bool
			want  byte
		}{{false, statusOK}, {true, statusExecution}} {
			c := NewChip(&Options{Profile: Profile{UpdateExtraNeedsConfigLock: tt.needs}})
			h := newHost(t, c)
			h.wake()
			h.wantStatus(tt.want, opUpdateExtra, 0, 0, nil)
			h.wantStatus(tt.want, opUpdateExtra, 1, 0, nil)
		}
	})
	t.Run("SignReadKeyAfterDataLockOnly", func(t *testing.T) {
		for _, after := range []bool{false, true} {
			// Slot 0 without ReadKey bit 0 (external Sign not allowed).
			_, h := configLockedChip(t, ATECC608A, &Options{Profile: Profile{SignReadKeyAfterDataLockOnly: after}},
				func(cfg []byte) { cfg[cfgSlotConfig] = 0x86 })
			pub := publicOf(t, h.ok(64, opGenKey, 0x04, 0, nil))
			digest := sha256.Sum256([]byte("readkey"))
			h.ok(1, opNonce, 0x03, 0, digest[:])
			out := h.cmd(opSign, 0x80, 0, nil)
			if !after {
				if !bytes.Equal(out, []byte{statusExecution}) {
					t.Fatalf("strict: Sign answered % x", out)
				}
				continue
			}
			verifyRS(t, pub, digest[:], out)
			h.ok(1, opLock, 0x81, 0, nil)
			h.ok(1, opNonce, 0x03, 0, digest[:])
			h.wantStatus(statusExecution, opSign, 0x80, 0, nil)
		}
	})
	t.Run("IdleLosesSHAContext", func(t *testing.T) {
		// cryptoauthlib's atcab_sha idles after each command: Start, idle,
		// wake, End must hash on both families by default.
		empty := sha256.Sum256(nil)
		for _, tt := range []struct {
			rev  Revision
			lose bool
		}{{ATECC608A, false}, {ATECC608A, true}, {ATECC508A, false}, {ATECC508A, true}, {ATECC608B, false}} {
			c := NewChip(&Options{Revision: tt.rev, Profile: Profile{IdleLosesSHAContext: tt.lose}})
			h := newHost(t, c)
			h.wake()
			h.ok(1, opSHA, 0, 0, nil)
			h.idleChip()
			h.wake()
			out := h.cmd(opSHA, 2, 0, nil)
			want := empty[:]
			if tt.lose {
				want = []byte{statusExecution}
			}
			if !bytes.Equal(out, want) {
				t.Errorf("%v lose=%v: SHA end after idle % x, want % x", tt.rev, tt.lose, out, want)
			}
		}
	})
}
