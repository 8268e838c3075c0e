package nerveskeytest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// readAll reads an n-byte answer in one transaction, NAKs as errors.
func (h *host) readAll(n int) ([]byte, error) {
	r := make([]byte, n)
	err := h.c.Tx(h.addr, nil, r)
	return r, err
}

// TestCommandHookTiming: a hook's ExecTime keeps the chip busy exactly
// that long, past the datasheet maximum, and a time beyond the watchdog
// answers 0xEE without executing.
func TestCommandHookTiming(t *testing.T) {
	c := NewChip(&Options{Revision: ATECC508A, Seed: 1})
	defer c.Close()
	var seen []byte
	c.SetCommandHook(func(cmd *Command) {
		seen = append(seen, cmd.Opcode)
		if cmd.Opcode == opRandom {
			cmd.ExecTime = 150 * time.Millisecond
		}
	})
	h := newHost(t, c)
	h.wake()
	h.send(packet(opRandom, 0, 0, nil))
	start := c.Now()
	var polls int
	for {
		if _, err := h.readAll(35); err == nil {
			break
		}
		polls++
		h.sleep(time.Millisecond)
	}
	if d := c.Now().Sub(start); d < 150*time.Millisecond || d > 156*time.Millisecond {
		t.Errorf("Random answered after %v (%d polls), want 150 ms plus one poll and the 3.2 ms read", d, polls)
	}
	c.SetCommandHook(func(cmd *Command) { cmd.ExecTime = 2 * time.Second })
	if s := h.status(opRandom, 0, 0, nil); s != statusWatchdog {
		t.Errorf("a command longer than the watchdog answered %#x, want 0xEE", s)
	}
	if !bytes.Equal(seen, []byte{opRandom}) {
		t.Errorf("hook saw % x", seen)
	}
}

// TestCommandHookAnswers: a forged answer is well framed; a lost answer
// NAKs until the next write while the command's effect is kept; garbage
// keeps its count and fails its CRC.
func TestCommandHookAnswers(t *testing.T) {
	c := NewChip(&Options{Revision: ATECC608A, Seed: 2})
	defer c.Close()
	h := newHost(t, c)
	forged := bytes.Repeat([]byte{0xAB}, 32)
	c.SetCommandHook(func(cmd *Command) {
		cmd.Answer = func(p []byte) []byte {
			if len(p) != 32 {
				t.Errorf("Random payload %d bytes", len(p))
			}
			return forged
		}
	})
	h.wake()
	if got := h.cmd(opRandom, 0, 0, nil); !bytes.Equal(got, forged) {
		t.Errorf("forged answer % x", got)
	}

	// A lost answer of a config write: the bytes are written, reads NAK.
	c.SetCommandHook(func(cmd *Command) { cmd.Lose = LostNAK })
	h.send(packet(opWrite, 0, 4, []byte{1, 2, 3, 4})) // config word 4 (bytes 16..19)
	h.sleep(50 * time.Millisecond)
	for range 3 {
		if _, err := h.readAll(4); !errors.Is(err, ErrNAK) {
			t.Fatalf("lost answer read: %v, want NAK", err)
		}
	}
	c.SetCommandHook(nil)
	if got := h.cmd(opRead, 0, 4, nil); !bytes.Equal(got, []byte{1, 2, 3, 4}) {
		t.Errorf("config word 4 after a lost Write answer: % x", got)
	}

	c.SetCommandHook(func(cmd *Command) { cmd.Lose = LostGarbage })
	h.send(packet(opRandom, 0, 0, nil))
	h.sleep(50 * time.Millisecond)
	r, err := h.readAll(35)
	if err != nil || r[0] != 35 || crc16(r[:33]) == binary.LittleEndian.Uint16(r[33:]) {
		t.Errorf("garbage answer % x, %v: want count 35 and a bad CRC", r, err)
	}
}
