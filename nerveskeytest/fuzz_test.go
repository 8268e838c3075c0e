package nerveskeytest

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzTx drives a chip with random transactions. Ops: wake, raw write,
// framed command (CRC appended), read, time passing. Invariants: no
// panic, every Tx error wraps ErrNAK, the serial number and RevNum never
// change, locks never undo, a NervesKey's slot 0 never changes.
func FuzzTx(f *testing.F) {
	f.Add(false, []byte{0, 3, 7, 0x30, 0, 0, 0, 4, 10})
	f.Add(true, []byte{0, 3, 7, 0x16, 3, 0, 0, 4, 40, 3, 7, 0x41, 0x80, 0, 0, 4, 60, 3, 4})
	f.Add(true, []byte{0, 3, 7, 0x12, 0x82, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(false, []byte{0, 1, 3, 0x17, 0x80, 0, 0, 0, 3, 7, 0x40, 4, 0, 0})
	f.Fuzz(func(t *testing.T, prov bool, ops []byte) {
		var c *Chip
		if prov {
			c = NewProvisionedChip(t, &Options{Seed: 1})
		} else {
			c = NewChip(&Options{Seed: 1})
		}
		before := c.Image()
		for len(ops) > 0 {
			op := ops[0]
			ops = ops[1:]
			take := func(n int) []byte {
				n = min(n, len(ops))
				b := ops[:n]
				ops = ops[n:]
				return b
			}
			var err error
			switch op % 6 {
			case 0:
				if err := c.Tx(0, []byte{0}, nil); !errors.Is(err, ErrNAK) {
					t.Fatalf("wake pulse answered %v, want ErrNAK", err)
				}
				c.Sleep(t.Context(), 2*time.Millisecond)
			case 1:
				n := 0
				if len(ops) > 0 {
					n = int(take(1)[0]) % 80
				}
				err = c.Tx(0x60, take(n), nil)
			case 2:
				// Framed command: count, then body bytes, CRC appended.
				n := 0
				if len(ops) > 0 {
					n = int(take(1)[0]) % 80
				}
				body := take(n)
				pkt := append([]byte{byte(len(body) + 3)}, body...)
				err = c.Tx(0x60, append([]byte{wordCommand}, appendCRC(pkt)...), nil)
			case 3:
				n := 1
				if len(ops) > 0 {
					n = int(take(1)[0])%100 + 1
				}
				err = c.Tx(0x60, nil, make([]byte, n))
			case 4:
				d := time.Millisecond
				if len(ops) > 0 {
					d = time.Duration(take(1)[0]) * time.Millisecond * 4
				}
				c.Sleep(t.Context(), d)
			case 5:
				if len(ops) > 0 {
					err = c.Tx(uint16(take(1)[0]&0x7F), []byte{1}, nil)
				}
			}
			if err != nil && !errors.Is(err, ErrNAK) {
				t.Fatalf("Tx error %v does not wrap ErrNAK", err)
			}
		}
		after := c.Image()
		if !bytes.Equal(before.Config[:16], after.Config[:16]) {
			t.Fatal("serial or RevNum changed")
		}
		for _, i := range []int{cfgLockValue, cfgLockConfig} {
			if before.Config[i] == 0 && after.Config[i] != 0 {
				t.Fatal("a lock was undone")
			}
		}
		if prov && !bytes.Equal(before.Slots[0], after.Slots[0]) {
			t.Fatal("NervesKey slot 0 changed")
		}
		st := c.Stats()
		if st.NAKs > st.Transactions || st.Commands > st.Transactions {
			t.Fatalf("stats %+v", st)
		}
	})
}
