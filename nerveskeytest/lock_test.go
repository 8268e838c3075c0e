package nerveskeytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(stripSpaces(s))
	if err != nil {
		panic(err)
	}
	return b
}

// nervesKeyConfig applies docs/nerves_key.md §3.2 to a config zone.
func nervesKeyConfig(cfg []byte) {
	copy(cfg[20:52], mustHex("87200f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f2f0f2f0f2f0f2f0f0f0f0f"))
	copy(cfg[96:128], mustHex("33001c001c001c001c001c001c001c003c003c003c0030003c003c003c003c00"))
	cfg[18] = 0xAA
	cfg[19] = 0x00
	copy(cfg[92:96], []byte{0, 0, 0, 0})
}

// rewake sleeps and wakes the chip, restarting the watchdog.
func (h *host) rewake() {
	h.t.Helper()
	h.sleepChip()
	h.wake()
}

func TestProvisionBlankChip(t *testing.T) {
	for _, rev := range []Revision{ATECC508A, ATECC608A, ATECC608B} {
		t.Run(rev.String(), func(t *testing.T) {
			c := NewChip(&Options{Revision: rev, Seed: 9})
			h := newHost(t, c)
			h.wake()
			var cfg []byte
			for blk := range 4 {
				cfg = append(cfg, h.ok(32, opRead, 0x80, uint16(blk*8), nil)...)
			}
			if !bytes.Equal(cfg[0:2], []byte{0x01, 0x23}) || cfg[12] != 0xEE || cfg[86] != 0x55 || cfg[87] != 0x55 {
				t.Fatalf("blank config % x", cfg[:16])
			}
			// Before any lock: data reads, OTP reads and data writes fail,
			// GenKey fails, the RNG gives FF FF 00 00.
			h.wantStatus(statusExecution, opRead, 0x02, 10<<3, nil)
			h.wantStatus(statusExecution, opRead, 0x01, 0, nil)
			h.wantStatus(statusExecution, opWrite, 0x82, 10<<3, make([]byte, 32))
			h.wantStatus(statusExecution, opGenKey, 0x04, 0, nil)
			h.wantStatus(statusExecution, opLock, 0x01, 0, nil)
			h.wantStatus(statusExecution, opLock, 0x02, 0, nil)
			if r := h.ok(32, opRandom, 0, 0, nil); !bytes.Equal(r[:8], mustHex("ffff0000ffff0000")) {
				t.Fatalf("Random % x", r)
			}
			// Writes to bytes 0–15 or 84–87 fail whole.
			h.wantStatus(statusExecution, opWrite, 0x80, 0, make([]byte, 32))
			h.wantStatus(statusExecution, opWrite, 0x00, 3, make([]byte, 4))
			h.wantStatus(statusExecution, opWrite, 0x00, 21, make([]byte, 4))
			h.wantStatus(statusExecution, opWrite, 0x80, 16, make([]byte, 32))

			want := append([]byte{}, cfg...)
			nervesKeyConfig(want)
			for w := 4; w < 8; w++ {
				h.ok(1, opWrite, 0x00, uint16(w), want[w*4:w*4+4])
			}
			h.ok(1, opWrite, 0x80, 8, want[32:64])
			for w := 16; w <= 20; w++ {
				h.ok(1, opWrite, 0x00, uint16(w), want[w*4:w*4+4])
			}
			h.ok(1, opWrite, 0x00, 23, want[92:96])
			h.ok(1, opWrite, 0x80, 24, want[96:128])
			h.rewake()

			// Wrong CRC: refused, nothing locks.
			good := crc16(want)
			h.wantStatus(statusExecution, opLock, 0x00, good^1, nil)
			if got := h.ok(4, opRead, 0x00, 21, nil); got[3] != 0x55 {
				t.Fatal("config locked by a wrong CRC")
			}
			h.wantStatus(statusParse, opLock, 0x03, 0, nil)
			h.ok(1, opLock, 0x00, good, nil)
			h.wantStatus(statusExecution, opLock, 0x00, good, nil)
			h.wantStatus(statusExecution, opWrite, 0x00, 4, want[16:20])

			// Config locked, data not: still no data or OTP reads, no
			// 4-byte data writes; OTP needs 32-byte writes.
			h.wantStatus(statusExecution, opRead, 0x02, 10<<3, nil)
			h.wantStatus(statusExecution, opRead, 0x82, 10<<3, nil)
			h.wantStatus(statusExecution, opWrite, 0x02, 10<<3, make([]byte, 4))
			h.wantStatus(statusExecution, opWrite, 0x01, 0, make([]byte, 4))
			if r := h.ok(32, opRandom, 0, 0, nil); bytes.Equal(r[:8], mustHex("ffff0000ffff0000")) {
				t.Fatal("RNG still in the unlocked pattern")
			}

			otp := make([]byte, 64)
			copy(otp, "NervesKey test OTP")
			h.ok(1, opWrite, 0x81, 0, otp[:32])
			h.ok(1, opWrite, 0x81, 8, otp[32:])
			pub := publicOf(t, h.ok(64, opGenKey, 0x04, 0, nil))
			h.rewake()

			var slots [16][]byte
			for s := 1; s < 16; s++ {
				slots[s] = make([]byte, slotSize(s))
				copy(slots[s], sha256.New().Sum([]byte{byte(s)}))
				padded := append(append([]byte{}, slots[s]...), make([]byte, 31)...)
				for blk := 0; blk*32 < slotSize(s); blk++ {
					addr := uint16(blk<<8 | s<<3)
					h.ok(1, opWrite, 0x82, addr, padded[blk*32:blk*32+32])
				}
				if s%4 == 0 {
					h.rewake()
				}
			}
			h.rewake()
			var all []byte
			for s := 1; s < 16; s++ {
				all = append(all, slots[s]...)
			}
			all = append(all, otp...)
			dcrc := crc16(all)
			h.wantStatus(statusExecution, opLock, 0x01, dcrc^0x8000, nil)
			h.wantStatus(statusExecution, opRead, 0x82, 10<<3, nil)
			h.ok(1, opLock, 0x01, dcrc, nil)
			h.ok(1, opLock, 0x02, 0, nil)
			h.wantStatus(statusExecution, opLock, 0x02, 0, nil)      // already locked
			h.wantStatus(statusExecution, opLock, 0x02|1<<2, 0, nil) // slot 1 not lockable

			// Locked: the NervesKey rules hold.
			if got := h.ok(32, opRead, 0x82, 10<<3, nil); !bytes.Equal(got, slots[10][:32]) {
				t.Fatal("slot 10 read back wrong")
			}
			if got := h.ok(32, opRead, 0x82, 2<<8|10<<3, nil); !bytes.Equal(got[:8], slots[10][64:]) || !bytes.Equal(got[8:], make([]byte, 24)) {
				t.Fatalf("short last block read % x", got)
			}
			if got := h.ok(32, opRead, 0x81, 0, nil); !bytes.Equal(got, otp[:32]) {
				t.Fatal("OTP read back wrong")
			}
			h.wantStatus(statusExecution, opWrite, 0x82, 10<<3, make([]byte, 32)) // WriteConfig never
			h.ok(1, opWrite, 0x02, 5<<3, []byte{1, 2, 3, 4})                      // 4-byte, Always
			h.wantStatus(statusExecution, opWrite, 0x81, 0, make([]byte, 32))     // OTP read-only
			h.wantStatus(statusExecution, opGenKey, 0x04, 0, nil)                 // slot 0 locked
			h.wantStatus(statusExecution, opRead, 0x82, 0, nil)
			h.wantStatus(statusParse, opRead, 0x02, 2<<8|10<<3|2, nil)
			digest := sha256.Sum256([]byte("provisioned"))
			h.ok(1, opNonce, 0x03, 0, digest[:])
			verifyRS(t, pub, digest[:], h.ok(64, opSign, 0x80, 0, nil))

			im := c.Image()
			if im.Config[86] != 0 || im.Config[87] != 0 || binary.LittleEndian.Uint16(im.Config[88:]) != 0xFFFE {
				t.Fatalf("lock bytes % x", im.Config[86:90])
			}
			if st := c.Stats(); st.Slot0Reads != 1 || st.Slot0Writes != 0 {
				t.Errorf("slot 0 counters %+v", st)
			}
		})
	}
}

func TestPowerCut(t *testing.T) {
	c := NewProvisionedChip(t, &Options{Seed: 5})
	h := newHost(t, c)
	h.wake()
	data := bytes.Repeat([]byte{0xAB}, 32)
	h.ok(1, opWrite, 0x82, 5<<3, data) // completes: persists
	h.ok(1, opNonce, 0x03, 0, make([]byte, 32))
	// The cut comes right after the write packet: the command never
	// finishes, so slot 6 keeps its old contents.
	before := c.Image().Slots[6]
	c.SetFaults(Faults{PowerCutAfter: 1})
	h.send(packet(opWrite, 0x82, 6<<3, data))
	if c.Awake() {
		t.Fatal("awake after power cut")
	}
	h.sleep(1_000_000_000)
	h.wake()
	im := c.Image()
	if !bytes.Equal(im.Slots[5][:32], data) {
		t.Error("completed write lost")
	}
	if !bytes.Equal(im.Slots[6], before) {
		t.Error("interrupted write applied")
	}
	if st := h.ok(4, opInfo, 2, 0, nil); st[1]&0x80 != 0 {
		t.Error("TempKey survived power loss")
	}
}

func TestPubInfoNibble(t *testing.T) {
	im, err := provisionedImage(ATECC608A)
	if err != nil {
		t.Fatal(err)
	}
	// Slot 9 as a validatable P-256 public key, writable.
	im.Config[cfgKeyConfig+18] = 0x12 // PubInfo, KeyType 4
	im.Config[cfgSlotConfig+19] = 0x00
	c, err := NewChipFromImage(im, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHost(t, c)
	h.wake()
	h.ok(1, opWrite, 0x82, 1<<8|9<<3, make([]byte, 32))
	if b := c.Image().Slots[9][0]; b>>4 != 0xA {
		t.Fatalf("slot 9 byte 0 = %#02x, want high nibble A", b)
	}
}
