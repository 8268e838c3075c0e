package i2c

import (
	"bytes"
	"testing"
	"time"
)

// TestLearnSlowChip: a command 40 ms slower than its table maximum is
// waited for; after a few commands the first poll lands within a poll
// interval of readiness with at most two NAKs; an error answer, which
// comes back early, teaches nothing.
func TestLearnSlowChip(t *testing.T) {
	busy := 41 * time.Millisecond
	fail := false
	c := newFake(func([]byte) ([]byte, time.Duration) {
		if fail {
			return []byte{0x0F}, 100 * time.Microsecond
		}
		return bytes.Repeat([]byte{0xAB}, 32), busy
	})
	tr := New(c, &Options{RetryBudget: -1})
	run := func() (reads int, err error) {
		before := c.reads
		err = tr.Do(t.Context(), func(s *Session) error { _, err := s.Execute(t.Context(), readCmd); return err })
		return c.reads - before - 1, err // minus the wake response read
	}
	if _, err := run(); err != nil {
		t.Fatalf("command 40 ms past its maximum: %v", err)
	}
	for range 6 {
		if _, err := run(); err != nil {
			t.Fatal(err)
		}
	}
	reads, err := run()
	if err != nil || reads > 3 {
		t.Errorf("after learning: %d reads (err %v), want at most 3", reads, err)
	}
	lt := tr.learned[keyOf(&readCmd)]
	lo, hi := lt.bounds()
	if lo < busy-2*time.Millisecond || hi > busy+2*time.Millisecond {
		t.Errorf("learned %v..%v, chip takes %v", lo, hi, busy)
	}
	fail = true
	if _, err := run(); err == nil {
		t.Fatal("0x0F answer: no error")
	}
	if lo2, _ := lt.bounds(); lo2 != lo {
		t.Errorf("an error answer moved the learned first poll from %v to %v", lo, lo2)
	}
	// The budget check uses the learned time: a session of age 500 ms
	// sends Idle and wakes again before a command seen to take 41 ms more
	// than its 1 ms table maximum would pass WatchdogBudget.
	fail = false
	words := len(c.words)
	err = tr.Do(t.Context(), func(s *Session) error {
		_ = c.Sleep(t.Context(), 560*time.Millisecond)
		_, err := s.Execute(t.Context(), readCmd)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.words[words:]; !bytes.Equal(got, []byte{wordIdle, wordSleep}) {
		t.Errorf("words % x, want idle (refresh) then sleep", got)
	}
}
