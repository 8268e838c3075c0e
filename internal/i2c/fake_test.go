package i2c

import (
	"context"
	"errors"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"
)

// fakeChip is a tiny scripted chip for transport tests: it wakes on an
// address-0 write, NAKs while asleep or busy, answers commands with a
// scripted handler and runs on a virtual clock. It is deliberately dumb;
// the real simulator is nerveskeytest.
type fakeChip struct {
	mu       sync.Mutex
	now      time.Time
	awake    bool
	busyTill time.Time
	out      []byte
	pos      int
	wokeAt   time.Time
	watchdog time.Duration // 0 = none

	// handle answers a command packet (count..crc) with a response
	// payload (or nil for no answer) and a busy time.
	handle func(pkt []byte) (payload []byte, busy time.Duration)

	packets []([]byte) // command packets received, count..crc
	words   []byte     // non-command word addresses received
	tx      int        // bus transactions
	reads   int        // read transactions (including NAKed ones)
	wakes   int
	speeds  []physic.Frequency
}

var errNAK = errors.New("fake: NAK")

func newFake(handle func(pkt []byte) ([]byte, time.Duration)) *fakeChip {
	return &fakeChip{now: time.Unix(1e9, 0), handle: handle}
}

func (c *fakeChip) String() string { return "fake" }

func (c *fakeChip) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeChip) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

func (c *fakeChip) SetSpeed(f physic.Frequency) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.speeds = append(c.speeds, f)
	return nil
}

func (c *fakeChip) checkWatchdog() {
	if c.awake && c.watchdog > 0 && c.now.Sub(c.wokeAt) >= c.watchdog {
		c.awake = false
	}
}

func (c *fakeChip) Tx(addr uint16, w, r []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tx++
	c.now = c.now.Add(90 * time.Microsecond) // address byte; data bytes below
	c.checkWatchdog()
	if addr == 0 {
		if !c.awake {
			c.awake = true
			c.wakes++
			c.wokeAt = c.now
			c.out, c.pos = []byte(wakeResponse), 0
		}
		return errNAK
	}
	if len(r) > 0 {
		c.reads++
	}
	if addr != DefaultAddr || !c.awake || c.now.Before(c.busyTill) {
		return errNAK
	}
	c.now = c.now.Add(time.Duration(len(w)+len(r)) * 90 * time.Microsecond)
	if len(w) > 0 {
		switch w[0] {
		case wordSleep:
			c.words = append(c.words, w[0])
			c.awake = false
			return nil
		case wordIdle:
			c.words = append(c.words, w[0])
			c.awake = false
			return nil
		case wordCommand:
			pkt := append([]byte(nil), w[1:]...)
			c.packets = append(c.packets, pkt)
			payload, busy := c.handle(pkt)
			c.busyTill = c.now.Add(busy)
			c.out, c.pos = nil, 0
			if payload != nil {
				c.out = appendResponse(nil, payload)
			}
		}
	}
	for i := range r {
		if c.pos < len(c.out) {
			r[i] = c.out[c.pos]
			c.pos++
		} else {
			r[i] = 0xff
		}
	}
	return nil
}
