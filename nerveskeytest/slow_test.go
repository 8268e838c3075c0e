package nerveskeytest

import (
	"testing"
	"time"
)

// TestSlowerAndReadDelay: Slower adds to the chosen time, Slow608 makes
// Sign take 179 ms, the hook sees the table's bounds, and Stats accounts
// the execution time and how late the host read each answer.
func TestSlowerAndReadDelay(t *testing.T) {
	c := NewChip(&Options{Revision: ATECC508A, Seed: 1})
	var bounds [2]time.Duration
	slower := Slower(30*time.Millisecond, opRandom)
	c.SetCommandHook(func(cmd *Command) {
		bounds = [2]time.Duration{cmd.Typical, cmd.Max}
		slower(cmd)
	})
	h := newHost(t, c)
	h.wake()
	c.ResetStats()
	h.send(packet(opRandom, 0, 0, nil))
	h.sleep(31*time.Millisecond + 500*time.Microsecond) // 1 ms typical + 30 ms, then 0.5 ms late
	r, err := h.readAll(35)
	if err != nil {
		t.Fatalf("read after 31.5 ms: %v", err)
	}
	if r[0] != 35 {
		t.Fatalf("answer % x", r)
	}
	st := c.Stats()
	if st.ExecTime != 31*time.Millisecond {
		t.Errorf("ExecTime %v, want 31ms", st.ExecTime)
	}
	if st.ReadDelay < 400*time.Microsecond || st.ReadDelay > 600*time.Microsecond {
		t.Errorf("ReadDelay %v, want about 0.5ms", st.ReadDelay)
	}
	if bounds != [2]time.Duration{time.Millisecond, 23 * time.Millisecond} {
		t.Errorf("hook saw bounds %v, want DS508 Random 1 ms / 23 ms", bounds)
	}

	c2 := NewProvisionedChip(t, &Options{Revision: ATECC608A, Seed: 1, Timing: TimingMax})
	var got time.Duration
	slow := Slow608()
	c2.SetCommandHook(func(cmd *Command) {
		slow(cmd)
		if cmd.Opcode == opSign {
			got = cmd.ExecTime
		}
	})
	h2 := newHost(t, c2)
	h2.wake()
	h2.ok(1, opNonce, 0x03, 0, make([]byte, 32))
	h2.cmd(opSign, 0x80, 0, nil)
	if got != SlowSign608 {
		t.Errorf("Sign ExecTime %v under Slow608, want %v", got, SlowSign608)
	}
}
