package nerveskeytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

// The tests in this file pin behavior that Microchip's cryptoauthlib test
// application expects of real ATECC508A/608A/608B chips; each derives its
// vector from that expectation or the datasheet, not from cryptoauthlib's
// code.

// writeCounter1 writes v into config bytes 60–67 (Counter[1]) as two
// 4-byte words, block 1 word 7 and block 2 word 0.
func (h *host) writeCounter1(v uint32) {
	h.t.Helper()
	e := encodeCounter(v)
	h.ok(1, opWrite, 0x00, 1<<3|7, e[:4])
	h.ok(1, opWrite, 0x00, 2<<3, e[4:]) // block 2, offset 0
}

func TestCounterConfigEncoding(t *testing.T) {
	// The published encoding (four big-endian words linA linB binA binB)
	// for values at both ends and in between.
	for _, tt := range []struct {
		v    uint32
		want string
	}{
		{0, "ffffffff00000000"},
		{1, "7fffffff00000000"},
		{15, "0001ffff00000000"},
		{16, "0000ffff00000000"},
		{31, "0000000100000000"},
		{32, "ffff000000010000"},
		{48, "0000ffff00010001"},
		{47, "0001000000010000"},
		{1048575, "00000001 7fff 7fff"},
		{2097151, "00000001 ffff ffff"},
	} {
		b := encodeCounter(tt.v)
		want, _ := hex.DecodeString(stripSpaces(tt.want))
		if !bytes.Equal(b[:], want) {
			t.Errorf("encode %d = %x, want %x", tt.v, b, want)
		}
		if got := decodeCounter(b[:]); got != tt.v {
			t.Errorf("decode %x = %d, want %d", b, got, tt.v)
		}
	}
	for v := uint32(0); v < 5000; v += 7 {
		b := encodeCounter(v)
		if got := decodeCounter(b[:]); got != v {
			t.Fatalf("round trip %d gave %d", v, got)
		}
	}
}

func TestCounterWrittenInConfig(t *testing.T) {
	// cryptoauthlib's counter_write_test: a value written into config
	// bytes 60–67 before the config lock is Counter[1]'s value.
	for _, rev := range []Revision{ATECC508A, ATECC608A} {
		t.Run(rev.String(), func(t *testing.T) {
			c := NewChip(&Options{Revision: rev})
			h := newHost(t, c)
			h.wake()
			for _, v := range []uint32{0, 1048575, 2097151, 0, 77} {
				h.writeCounter1(v)
				if got := binary.LittleEndian.Uint32(h.ok(4, opCounter, 0, 1, nil)); got != v {
					t.Fatalf("Counter[1] after writing %d: %d", v, got)
				}
			}
			if got := binary.LittleEndian.Uint32(h.ok(4, opCounter, 1, 1, nil)); got != 78 {
				t.Fatalf("increment from 77: %d", got)
			}
			// The count is kept in the config zone, so it survives an image.
			c2, err := NewChipFromImage(c.Image(), nil)
			if err != nil {
				t.Fatal(err)
			}
			h2 := newHost(t, c2)
			h2.wake()
			if got := binary.LittleEndian.Uint32(h2.ok(4, opCounter, 0, 1, nil)); got != 78 {
				t.Fatalf("Counter[1] from the image: %d", got)
			}
			h.writeCounter1(counterLimit)
			h.wantStatus(statusExecution, opCounter, 1, 1, nil)
		})
	}
}

func TestCountMatch608(t *testing.T) {
	// cryptoauthlib's counter_match: slot 0 is LimitedUse, CountMatch is
	// enabled on slot 10; with Counter[0] at 31 and the match value 32, one
	// Sign succeeds and moves the counter to 32, the next fails with 0x0F
	// and leaves it there.
	_, h := configLockedChip(t, ATECC608A, nil, func(cfg []byte) {
		cfg[cfgSlotConfig] |= 0x20 // slot 0 LimitedUse
		cfg[cfgOTPMode] = 0xA1     // CountMatch: enabled, slot 10
		e := encodeCounter(31)
		copy(cfg[cfgCounter:], e[:])
	})
	pub := publicOf(t, h.ok(64, opGenKey, 0x04, 0, nil))
	match := make([]byte, 32)
	binary.LittleEndian.PutUint32(match, 32)
	copy(match[4:], match[:4])
	h.ok(1, opWrite, 0x82, 10<<3, match)
	h.ok(1, opWrite, 0x82, 10<<3|1<<8, make([]byte, 32))
	h.ok(1, opLock, 0x81, 0, nil)
	digest := sha256.Sum256([]byte("limited"))
	h.ok(1, opNonce, 0x03, 0, digest[:])
	verifyRS(t, pub, digest[:], h.ok(64, opSign, 0x80, 0, nil))
	if got := binary.LittleEndian.Uint32(h.ok(4, opCounter, 0, 0, nil)); got != 32 {
		t.Fatalf("Counter[0] after the Sign: %d, want 32", got)
	}
	h.ok(1, opNonce, 0x03, 0, digest[:])
	h.wantStatus(statusExecution, opSign, 0x80, 0, nil)
	if got := binary.LittleEndian.Uint32(h.ok(4, opCounter, 0, 0, nil)); got != 32 {
		t.Fatalf("Counter[0] after the refused Sign: %d, want 32", got)
	}
	// The Counter command itself is not limited by the match.
	h.ok(4, opCounter, 1, 0, nil)
}

func TestLimitedUse508(t *testing.T) {
	// Slot 15 LimitedUse on a 508: each use clears one LastKeyUse bit;
	// with none left the key is refused. UpdateExtra mode 2 spends a use.
	_, h := configLockedChip(t, ATECC508A, nil, func(cfg []byte) {
		cfg[cfgSlotConfig+30] = 0x87 | 0x20 // slot 15: secret, LimitedUse, ReadKey 7
		cfg[cfgSlotConfig+31] = 0x20
		cfg[cfgKeyConfig+30] = 0x33 // P-256 private key, PubInfo, Lockable
		cfg[cfgKeyConfig+31] = 0x00
		copy(cfg[cfgLastKeyUse:], bytes.Repeat([]byte{0}, 16))
		cfg[cfgLastKeyUse+15] = 0x03 // two uses left
	})
	pub := publicOf(t, h.ok(64, opGenKey, 0x04, 15, nil))
	h.ok(1, opLock, 0x81, 0, nil)
	digest := sha256.Sum256([]byte("limited"))
	h.ok(1, opNonce, 0x03, 0, digest[:])
	verifyRS(t, pub, digest[:], h.ok(64, opSign, 0x80, 15, nil))
	h.ok(1, opUpdateExtra, 0x02, 15, nil)
	h.ok(1, opNonce, 0x03, 0, digest[:])
	h.wantStatus(statusExecution, opSign, 0x80, 15, nil)
	h.wantStatus(statusExecution, opUpdateExtra, 0x02, 15, nil)
	h.ok(1, opUpdateExtra, 0x02, 14, nil) // slot 14 is not limited
}

func TestBlankConfigByte13(t *testing.T) {
	// Public dumps of blank ATECC608A rev 02 parts read AES_Enable = 0x01.
	for _, tt := range []struct {
		rev  Revision
		want byte
	}{{ATECC508A, 0x00}, {ATECC608A, 0x01}, {ATECC608B, 0x01}} {
		c := NewChip(&Options{Revision: tt.rev})
		h := newHost(t, c)
		h.wake()
		if got := h.ok(4, opRead, 0x00, 3, nil)[1]; got != tt.want {
			t.Errorf("%v: config byte 13 = %#02x, want %#02x", tt.rev, got, tt.want)
		}
	}
}

func TestWriteAfterWatchdogNotTaken(t *testing.T) {
	// A command write whose bytes are still arriving when the watchdog
	// expires is not taken: the sleeping chip NAKs, keeps nothing, and
	// after the next wake a new command runs as usual.
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	pkt := append([]byte{wordCommand}, packet(opNonce, 0x03, 0, make([]byte, 32))...)
	// Bytes take 90 µs each at 100 kHz: expire while the 40 bytes go by.
	h.sleep(1300*time.Millisecond - 1500*time.Microsecond - 2*time.Millisecond)
	if err := c.Tx(0x60, pkt, nil); !errors.Is(err, ErrNAK) {
		t.Fatalf("write across the watchdog: %v, want ErrNAK", err)
	}
	if c.Awake() {
		t.Fatal("awake after the watchdog")
	}
	h.wake()
	if got := h.ok(4, opInfo, 0, 0, nil); !bytes.Equal(got, []byte{0, 0, 0x60, 0x02}) {
		t.Fatalf("Info after the wake: % x", got)
	}
	// The expiry also empties a partly received command.
	h.send(pkt[1:10])
	h.sleep(1300 * time.Millisecond)
	h.wake()
	if got := h.ok(4, opInfo, 0, 0, nil); !bytes.Equal(got, []byte{0, 0, 0x60, 0x02}) {
		t.Fatalf("Info after an expired partial command: % x", got)
	}
}

func TestSHAContext608(t *testing.T) {
	// cryptoauthlib's sha_context: after Start and Update(01..05) the
	// context reads 05 00 00 00, H0..H7 of the initial state (LE), then
	// 01..05; written back, End finishes the same hash.
	c := NewChip(nil)
	h := newHost(t, c)
	h.wake()
	in := []byte{1, 2, 3, 4, 5}
	h.ok(1, opSHA, 0, 0, nil)
	h.ok(1, opSHA, 1, 5, in)
	ctx := h.ok(41, opSHA, 6, 0, nil)
	want, _ := hex.DecodeString(stripSpaces("05000000 67e6096a 85ae67bb 72f36e3c 3af54fa5 7f520e51 8c68059b abd9831f 19cde05b 0102030405"))
	if !bytes.Equal(ctx, want) {
		t.Fatalf("context % x\nwant    % x", ctx, want)
	}
	h.ok(1, opSHA, 0, 0, nil) // a new hash replaces the context
	h.ok(1, opSHA, 7, uint16(len(ctx)), ctx)
	h.ok(1, opSHA, 1, 5, in)
	got := h.ok(32, opSHA, 0xC2, 0, nil)
	if d := sha256.Sum256(append(in, in...)); !bytes.Equal(got, d[:]) {
		t.Fatalf("digest after restoring the context % x", got)
	}
	h.wantStatus(statusExecution, opSHA, 7, 37, append(ctx[:36:36], 1))
}
