package nerveskeytest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
)

func TestWake(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	// Asleep: nothing answers.
	if err := c.Tx(0x60, nil, make([]byte, 4)); !errors.Is(err, ErrNAK) {
		t.Fatalf("asleep read: %v, want ErrNAK", err)
	}
	h.wake()
	if !c.Awake() {
		t.Fatal("not awake")
	}
	if st := c.Stats(); st.Wakes != 1 || st.Transactions != 3 || st.NAKs != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestWakingNAKs(t *testing.T) {
	c := NewChip(nil)
	c.Tx(0, []byte{0}, nil)
	if err := c.Tx(0x60, nil, make([]byte, 4)); !errors.Is(err, ErrNAK) {
		t.Fatalf("read during tWHI: %v, want ErrNAK", err)
	}
}

func TestWrongAddress(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	if err := c.Tx(0x61, nil, make([]byte, 4)); !errors.Is(err, ErrNAK) {
		t.Fatalf("wrong address: %v", err)
	}
	c2 := NewChip(&Options{Addr: 0x35})
	h2 := newHost(t, c2)
	h2.addr = 0x35
	h2.wake()
	if got := h2.ok(4, opRead, 0, 4, nil); got[0] != 0x6A {
		t.Errorf("config byte 16 = %#02x, want 0x6a", got[0])
	}
	if err := c2.Tx(0x60, nil, make([]byte, 4)); !errors.Is(err, ErrNAK) {
		t.Fatalf("0x60 on a 0x35 chip: %v", err)
	}
}

func TestWakeTooFast(t *testing.T) {
	c := NewChip(nil)
	if err := c.SetSpeed(400 * physic.KiloHertz); err != nil {
		t.Fatal(err)
	}
	c.Tx(0, []byte{0}, nil)
	c.Sleep(t.Context(), 2*time.Millisecond)
	if err := c.Tx(0x60, nil, make([]byte, 4)); !errors.Is(err, ErrNAK) {
		t.Fatalf("woke at 400 kHz: %v", err)
	}
	if c.Stats().Wakes != 0 {
		t.Fatal("wake counted")
	}
	// 133 kHz still gives 8 bit times >= 60 µs.
	c.SetSpeed(133 * physic.KiloHertz)
	h := newHost(t, c)
	h.wake()
}

func TestWakeWhileAwakeIgnored(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	out := h.ok(4, opInfo, 0, 0, nil)
	c.Tx(0, []byte{0}, nil)
	h.sleep(2 * time.Millisecond)
	// The buffer is unchanged: the head of the last response, not 04 11.
	r := make([]byte, 4)
	if err := c.Tx(0x60, []byte{wordReset}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Tx(0x60, nil, r); err != nil {
		t.Fatal(err)
	}
	if r[0] != 7 || !bytes.Equal(r[1:4], out[:3]) {
		t.Errorf("after second wake read % x", r)
	}
}

func TestReadPointer(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	h.send(packet(opInfo, 0, 0, nil))
	h.sleep(10 * time.Millisecond)
	a, b := make([]byte, 3), make([]byte, 6)
	if err := c.Tx(0x60, nil, a); err != nil {
		t.Fatal(err)
	}
	if err := c.Tx(0x60, nil, b); err != nil {
		t.Fatal(err)
	}
	want := []byte{0x07, 0x00, 0x00, 0x60, 0x02, 0x80, 0x38, 0xFF, 0xFF}
	if got := append(a, b...); !bytes.Equal(got, want) {
		t.Errorf("reads % x, want % x", got, want)
	}
	c.Tx(0x60, []byte{wordReset}, nil)
	c.Tx(0x60, nil, a)
	if !bytes.Equal(a, want[:3]) {
		t.Errorf("after reset % x", a)
	}
}

func TestBadCRC(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	h.ok(1, opNonce, 0x03, 0, bytes.Repeat([]byte{7}, 32))
	pkt := packet(opNonce, 0x03, 0, bytes.Repeat([]byte{9}, 32))
	pkt[len(pkt)-1] ^= 0xFF
	h.send(pkt)
	if got := h.receive(); !bytes.Equal(got, []byte{statusCRC}) {
		t.Fatalf("bad CRC answered % x", got)
	}
	// TempKey unchanged: Info state reports it valid with SourceFlag Input.
	st := h.ok(4, opInfo, 2, 0, nil)
	if st[1]&0x80 == 0 || st[0]&0x10 == 0 {
		t.Fatalf("TempKey state % x after a bad CRC", st)
	}
	if c.Stats().CRCErrors != 1 {
		t.Error("CRC error not counted")
	}
}

func TestCountOutOfRange(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	h.send([]byte{3, 1, 2})
	if got := h.receive(); !bytes.Equal(got, []byte{statusCRC}) {
		t.Fatalf("count 3 answered % x", got)
	}
	h.send([]byte{156})
	if got := h.receive(); !bytes.Equal(got, []byte{statusCRC}) {
		t.Fatalf("count 156 answered % x", got)
	}
}

func TestUnknownOpcode(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	h.wantStatus(statusParse, 0x7F, 0, 0, nil)
	h.wantStatus(statusParse, opPause, 0, 0, nil) // 508 only
}

func TestBusyNAK(t *testing.T) {
	c := NewChip(&Options{Timing: TimingMax})
	h := newHost(t, c)
	h.wake()
	c.ResetStats()
	h.send(packet(opRandom, 0, 0, nil))
	r := make([]byte, 1)
	if err := c.Tx(0x60, nil, r); !errors.Is(err, ErrNAK) {
		t.Fatalf("read while busy: %v", err)
	}
	if err := c.Tx(0x60, []byte{wordReset}, nil); !errors.Is(err, ErrNAK) {
		t.Fatalf("write while busy: %v", err)
	}
	h.sleep(22 * time.Millisecond)
	if err := c.Tx(0x60, nil, r); !errors.Is(err, ErrNAK) {
		t.Fatalf("read at 22 ms of 23: %v", err)
	}
	h.sleep(time.Millisecond)
	out := h.receive()
	if len(out) != 32 || !bytes.Equal(out[:4], []byte{0xFF, 0xFF, 0, 0}) {
		t.Fatalf("Random before config lock: % x", out)
	}
	st := c.Stats()
	if st.Commands != 1 || st.BusTime < 23*time.Millisecond || st.BusTime > 30*time.Millisecond {
		t.Errorf("stats %+v", st)
	}
}

func TestPartialCommand(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	pkt := packet(opInfo, 0, 0, nil)
	if err := c.Tx(0x60, append([]byte{3}, pkt[:3]...), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Tx(0x60, nil, make([]byte, 1)); !errors.Is(err, ErrNAK) {
		t.Fatalf("read during partial command: %v", err)
	}
	h.send(pkt[3:])
	if got := h.receive(); !bytes.Equal(got, []byte{0, 0, 0x60, 0x02}) {
		t.Fatalf("Info in two writes: % x", got)
	}
}

func TestWatchdog(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	h.ok(1, opNonce, 0x03, 0, bytes.Repeat([]byte{7}, 32))
	h.sleep(1300 * time.Millisecond)
	if c.Awake() {
		t.Fatal("awake after the watchdog period")
	}
	if err := c.Tx(0x60, nil, make([]byte, 4)); !errors.Is(err, ErrNAK) {
		t.Fatalf("read after watchdog: %v", err)
	}
	h.wake()
	if st := h.ok(4, opInfo, 2, 0, nil); st[1]&0x80 != 0 {
		t.Fatalf("TempKey survived the watchdog: % x", st)
	}
}

func TestWatchdogAboutToExpire(t *testing.T) {
	c := NewChip(&Options{Timing: TimingMax, Revision: ATECC608A})
	h := newHost(t, c)
	h.wake()
	h.sleep(1300*time.Millisecond - 1500*time.Microsecond - 100*time.Millisecond)
	// GenKey needs 115 ms: too little time left.
	if got := h.status(opGenKey, 0x04, 0, nil); got != statusWatchdog {
		t.Fatalf("status %#02x, want 0xEE", got)
	}
}

func TestIdleAndSleepTempKey(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	h.ok(1, opNonce, 0x03, 0, bytes.Repeat([]byte{7}, 32))
	h.idleChip()
	if err := c.Tx(0x60, nil, make([]byte, 1)); !errors.Is(err, ErrNAK) {
		t.Fatalf("idle chip answered: %v", err)
	}
	h.sleep(5 * time.Second) // no watchdog while idle
	h.wake()
	if st := h.ok(4, opInfo, 2, 0, nil); st[1]&0x80 == 0 {
		t.Fatalf("TempKey lost over idle: % x", st)
	}
	h.sleepChip()
	h.wake()
	if st := h.ok(4, opInfo, 2, 0, nil); st[1]&0x80 != 0 {
		t.Fatalf("TempKey kept over sleep: % x", st)
	}
}

func TestIdleNeedsFirstByte(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	if err := c.Tx(0x60, []byte{0x00, 0x02}, nil); err != nil {
		t.Fatal(err)
	}
	if !c.Awake() {
		t.Fatal("00 02 idled the chip")
	}
}
