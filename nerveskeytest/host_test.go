package nerveskeytest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// host is the tests' own minimal host side: it frames packets and polls
// the way the datasheet describes, independent of the driver.
type host struct {
	t    testing.TB
	c    *Chip
	addr uint16
}

func newHost(t testing.TB, c *Chip) *host {
	t.Helper()
	return &host{t: t, c: c, addr: 0x60}
}

func (h *host) sleep(d time.Duration) {
	h.t.Helper()
	if err := h.c.Sleep(h.t.Context(), d); err != nil {
		h.t.Fatal(err)
	}
}

// wake sends a wake pulse, waits tWHI and checks the wake response.
func (h *host) wake() {
	h.t.Helper()
	if err := h.c.Tx(0, []byte{0}, nil); !errors.Is(err, ErrNAK) {
		h.t.Fatalf("wake pulse: got %v, want ErrNAK", err)
	}
	h.sleep(1500 * time.Microsecond)
	r := make([]byte, 4)
	if err := h.c.Tx(h.addr, nil, r); err != nil {
		h.t.Fatalf("wake read: %v", err)
	}
	if !bytes.Equal(r, []byte{0x04, 0x11, 0x33, 0x43}) {
		h.t.Fatalf("wake response % x", r)
	}
}

func (h *host) sleepChip() {
	h.t.Helper()
	if err := h.c.Tx(h.addr, []byte{wordSleep}, nil); err != nil {
		h.t.Fatalf("sleep: %v", err)
	}
}

func (h *host) idleChip() {
	h.t.Helper()
	if err := h.c.Tx(h.addr, []byte{wordIdle}, nil); err != nil {
		h.t.Fatalf("idle: %v", err)
	}
}

// packet frames a command: count, opcode, param1, param2 LE, data, CRC.
func packet(op, p1 byte, p2 uint16, data []byte) []byte {
	b := []byte{byte(7 + len(data)), op, p1}
	b = binary.LittleEndian.AppendUint16(b, p2)
	b = append(b, data...)
	return appendCRC(b)
}

// send writes a command packet.
func (h *host) send(pkt []byte) {
	h.t.Helper()
	if err := h.c.Tx(h.addr, append([]byte{wordCommand}, pkt...), nil); err != nil {
		h.t.Fatalf("send % x: %v", pkt, err)
	}
}

// receive polls for the response and returns its payload, checking count
// and CRC.
func (h *host) receive() []byte {
	h.t.Helper()
	var cnt [1]byte
	deadline := h.c.Now().Add(3 * time.Second)
	for {
		err := h.c.Tx(h.addr, nil, cnt[:])
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNAK) || h.c.Now().After(deadline) {
			h.t.Fatalf("poll: %v", err)
		}
		h.sleep(time.Millisecond)
	}
	n := int(cnt[0])
	if n < 4 || n > 155 {
		h.t.Fatalf("response count %d", n)
	}
	rest := make([]byte, n-1)
	if err := h.c.Tx(h.addr, nil, rest); err != nil {
		h.t.Fatalf("read response: %v", err)
	}
	resp := append(cnt[:], rest...)
	if crc16(resp[:n-2]) != binary.LittleEndian.Uint16(resp[n-2:]) {
		h.t.Fatalf("response CRC bad: % x", resp)
	}
	return resp[1 : n-2]
}

// cmd sends a command and returns its response payload.
func (h *host) cmd(op, p1 byte, p2 uint16, data []byte) []byte {
	h.t.Helper()
	h.send(packet(op, p1, p2, data))
	return h.receive()
}

// status runs a command that must answer a 1-byte status and returns it.
func (h *host) status(op, p1 byte, p2 uint16, data []byte) byte {
	h.t.Helper()
	out := h.cmd(op, p1, p2, data)
	if len(out) != 1 {
		h.t.Fatalf("op %#02x: got %d-byte response % x, want a status", op, len(out), out)
	}
	return out[0]
}

// wantStatus runs a command and fails unless it answers want.
func (h *host) wantStatus(want byte, op, p1 byte, p2 uint16, data []byte) {
	h.t.Helper()
	if got := h.status(op, p1, p2, data); got != want {
		h.t.Fatalf("op %#02x p1 %#02x p2 %#04x: status %#02x, want %#02x", op, p1, p2, got, want)
	}
}

// ok runs a command that must succeed with n payload bytes.
func (h *host) ok(n int, op, p1 byte, p2 uint16, data []byte) []byte {
	h.t.Helper()
	out := h.cmd(op, p1, p2, data)
	if len(out) != n {
		h.t.Fatalf("op %#02x p1 %#02x p2 %#04x: response % x, want %d bytes", op, p1, p2, out, n)
	}
	if n == 1 && out[0] != 0 {
		h.t.Fatalf("op %#02x p1 %#02x p2 %#04x: status %#02x", op, p1, p2, out[0])
	}
	return out
}

func contextWithCancel(t testing.TB) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
