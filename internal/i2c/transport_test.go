package i2c

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
)

var readCmd = Command{Name: "read config block 0", Op: 0x02, P1: 0x80, RespLen: 32,
	Typical: 100 * time.Microsecond, Max: time.Millisecond, ElixirT: 5 * time.Millisecond}

// okRead answers every command with 32 bytes after busy.
func okRead(busy time.Duration) func([]byte) ([]byte, time.Duration) {
	return func([]byte) ([]byte, time.Duration) { return bytes.Repeat([]byte{0xAB}, 32), busy }
}

func TestDoReadAndSleep(t *testing.T) {
	c := newFake(okRead(500 * time.Microsecond))
	tr := New(c, nil)
	var got []byte
	err := tr.Do(t.Context(), func(s *Session) error {
		var err error
		got, err = s.Execute(t.Context(), readCmd)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.Repeat([]byte{0xAB}, 32)) {
		t.Errorf("payload % X", got)
	}
	if want := unhex(t, "07 02 80 00 00 09 AD"); len(c.packets) != 1 || !bytes.Equal(c.packets[0], want) {
		t.Errorf("packets % X, want % X", c.packets, want)
	}
	if c.awake || !bytes.Equal(c.words, []byte{wordSleep}) {
		t.Errorf("chip not put to sleep: words % X", c.words)
	}
}

func TestStaleWakeResponse(t *testing.T) {
	c := newFake(okRead(0))
	c.awake = true // left awake with stale output
	c.out = []byte{0x23, 0x00, 0x01, 0x02}
	tr := New(c, nil)
	if err := tr.Do(t.Context(), func(s *Session) error { _, err := s.Execute(t.Context(), readCmd); return err }); err != nil {
		t.Fatal(err)
	}
	if c.wakes != 1 {
		t.Errorf("wakes = %d, want 1 (sleep then wake)", c.wakes)
	}
}

func TestWakeFailure(t *testing.T) {
	c := newFake(okRead(0))
	tr := New(c, &Options{Addr: 0x35, RetryBudget: -1})
	err := tr.Do(t.Context(), func(s *Session) error { return nil })
	if !errors.Is(err, ErrWake) {
		t.Fatalf("err = %v, want ErrWake", err)
	}
}

func TestWakeSpeed(t *testing.T) {
	c := newFake(okRead(0))
	tr := New(c, &Options{BusSpeed: 400 * physic.KiloHertz})
	if err := tr.Do(t.Context(), func(s *Session) error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := []physic.Frequency{100 * physic.KiloHertz, 400 * physic.KiloHertz}
	if len(c.speeds) != 2 || c.speeds[0] != want[0] || c.speeds[1] != want[1] {
		t.Errorf("speeds %v, want %v", c.speeds, want)
	}
	c2 := newFake(okRead(0))
	if err := New(c2, &Options{BusSpeed: 100 * physic.KiloHertz}).Do(t.Context(), func(s *Session) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(c2.speeds) != 0 || c2.wakes != 1 {
		t.Errorf("speed changed on a slow bus: %v", c2.speeds)
	}
}

func TestStatusNotRetried(t *testing.T) {
	c := newFake(func([]byte) ([]byte, time.Duration) { return []byte{StatusExecution}, 0 })
	tr := New(c, nil)
	calls := 0
	err := tr.Do(t.Context(), func(s *Session) error {
		calls++
		_, err := s.Execute(t.Context(), readCmd)
		return err
	})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != StatusExecution || se.Op != "read config block 0" {
		t.Fatalf("err = %v, want execution StatusError", err)
	}
	if calls != 1 {
		t.Errorf("f ran %d times, want 1", calls)
	}
}

func TestStatusOKForStatusCommand(t *testing.T) {
	c := newFake(func([]byte) ([]byte, time.Duration) { return []byte{StatusOK}, time.Millisecond })
	tr := New(c, nil)
	err := tr.Do(t.Context(), func(s *Session) error {
		if _, err := s.Execute(t.Context(), Command{Name: "write", Op: 0x12, RespLen: 1, Max: 26 * time.Millisecond}); err != nil {
			return err
		}
		// A status where data was expected is a frame error.
		_, err := s.Execute(t.Context(), readCmd)
		return err
	})
	if !errors.Is(err, ErrFrame) {
		t.Fatalf("err = %v, want ErrFrame", err)
	}
}

func TestRetryWholeSession(t *testing.T) {
	n := 0
	c := newFake(func(pkt []byte) ([]byte, time.Duration) {
		n++
		if n == 2 { // second command of the first session
			return []byte{StatusWatchdog}, 0
		}
		return []byte{StatusOK}, 0
	})
	var retries []error
	tr := New(c, &Options{Trace: &Trace{Retry: func(a int, err error, d time.Duration) { retries = append(retries, err) }}})
	calls := 0
	cmd := Command{Name: "nonce", Op: 0x16, P1: 0x03, RespLen: 1, Max: 7 * time.Millisecond}
	err := tr.Do(t.Context(), func(s *Session) error {
		calls++
		for range 2 {
			if _, err := s.Execute(t.Context(), cmd); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || len(retries) != 1 || !errors.Is(retries[0], ErrWatchdog) {
		t.Errorf("calls %d, retries %v", calls, retries)
	}
	if len(c.packets) != 4 {
		t.Errorf("%d packets, want 4 (whole session re-run)", len(c.packets))
	}
	if c.wakes != 2 {
		t.Errorf("wakes %d, want 2", c.wakes)
	}
}

func TestRetryBudget(t *testing.T) {
	c := newFake(func([]byte) ([]byte, time.Duration) { return []byte{StatusCRC}, 0 })
	tr := New(c, nil)
	start := c.Now()
	err := tr.Do(t.Context(), func(s *Session) error { _, err := s.Execute(t.Context(), readCmd); return err })
	if !errors.Is(err, ErrCRC) {
		t.Fatalf("err = %v, want ErrCRC", err)
	}
	if d := c.Now().Sub(start); d < 900*time.Millisecond || d > 1100*time.Millisecond {
		t.Errorf("gave up after %v of virtual time, want about 1 s", d)
	}
}

func TestTimeout(t *testing.T) {
	// A command that completes long after the table maximum but before
	// the chip's watchdog is waited for; one that would complete after
	// the watchdog is given up when the watchdog has put the chip to
	// sleep.
	c := newFake(okRead(time.Second))
	tr := New(c, &Options{RetryBudget: -1})
	if err := tr.Do(t.Context(), func(s *Session) error { _, err := s.Execute(t.Context(), readCmd); return err }); err != nil {
		t.Fatalf("1 s Read: %v", err)
	}
	c = newFake(okRead(3 * time.Second))
	tr = New(c, &Options{RetryBudget: -1})
	start := c.Now()
	err := tr.Do(t.Context(), func(s *Session) error { _, err := s.Execute(t.Context(), readCmd); return err })
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := c.Now().Sub(start); d < watchdogMax || d > watchdogMax+50*time.Millisecond {
		t.Errorf("gave up after %v, want the longest watchdog period, %v", d, watchdogMax)
	}
}

// TestWaitElixir checks the Elixir schedule of docs/nerves_key.md §8.1: a read
// (T = 5 ms) gets a single read attempt at 3 ms.
func TestWaitElixir(t *testing.T) {
	c := newFake(okRead(10 * time.Millisecond))
	tr := New(c, &Options{Wait: WaitElixir, RetryBudget: -1})
	err := tr.Do(t.Context(), func(s *Session) error { _, err := s.Execute(t.Context(), readCmd); return err })
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if c.reads != 2 { // wake response + one poll
		t.Errorf("reads = %d, want 2", c.reads)
	}

	// Sign, T = 179 ms: first read at 90 ms, then every 2 ms.
	c = newFake(okRead(95 * time.Millisecond))
	tr = New(c, &Options{Wait: WaitElixir})
	sign := Command{Name: "sign", Op: 0x41, RespLen: 32, Max: 115 * time.Millisecond, ElixirT: 179 * time.Millisecond}
	if err := tr.Do(t.Context(), func(s *Session) error { _, err := s.Execute(t.Context(), sign); return err }); err != nil {
		t.Fatal(err)
	}
	if c.reads != 1+4 { // 90 (+bus), 92, 94, 96
		t.Errorf("reads = %d, want 5", c.reads)
	}
}

func TestWaitPollCount(t *testing.T) {
	c := newFake(okRead(50 * time.Millisecond))
	tr := New(c, nil)
	sign := Command{Name: "sign", Op: 0x41, RespLen: 32, Typical: 42 * time.Millisecond, Max: 50 * time.Millisecond}
	if err := tr.Do(t.Context(), func(s *Session) error { _, err := s.Execute(t.Context(), sign); return err }); err != nil {
		t.Fatal(err)
	}
	if c.reads > 1+17 {
		t.Errorf("reads = %d, want at most 18", c.reads)
	}
}

func TestWatchdogRefresh(t *testing.T) {
	c := newFake(func([]byte) ([]byte, time.Duration) { return []byte{StatusOK}, 26 * time.Millisecond })
	c.watchdog = 700 * time.Millisecond
	tr := New(c, nil)
	write := Command{Name: "write", Op: 0x12, RespLen: 1, Typical: 26 * time.Millisecond, Max: 26 * time.Millisecond}
	calls := 0
	err := tr.Do(t.Context(), func(s *Session) error {
		calls++
		for range 60 { // 60 × 26 ms = 1.56 s, past the watchdog
			if _, err := s.Execute(t.Context(), write); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || c.wakes < 3 || !bytes.Contains(c.words, []byte{wordIdle}) {
		t.Errorf("calls %d, wakes %d, words % X", calls, c.wakes, c.words)
	}
}

func TestContextBetweenCommands(t *testing.T) {
	c := newFake(okRead(0))
	tr := New(c, nil)
	ctx, cancel := context.WithCancel(t.Context())
	err := tr.Do(ctx, func(s *Session) error {
		if _, err := s.Execute(ctx, readCmd); err != nil {
			return err
		}
		cancel()
		_, err := s.Execute(ctx, readCmd)
		return err
	})
	if !errors.Is(err, context.Canceled) || len(c.packets) != 1 {
		t.Fatalf("err = %v, %d packets", err, len(c.packets))
	}
	if c.awake {
		t.Error("chip left awake")
	}
}

func TestTraceAndConcurrency(t *testing.T) {
	c := newFake(okRead(200 * time.Microsecond))
	var mu sync.Mutex
	cmds := 0
	tr := New(c, &Options{Trace: &Trace{Command: func(op string, d time.Duration, err error) {
		mu.Lock()
		cmds++
		mu.Unlock()
	}}})
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			err := tr.Do(t.Context(), func(s *Session) error {
				for range 2 {
					if _, err := s.Execute(t.Context(), readCmd); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if cmds != 128 || c.wakes != 64 {
		t.Errorf("cmds %d wakes %d", cmds, c.wakes)
	}
}

func TestLockPath(t *testing.T) {
	c := newFake(okRead(0))
	path := t.TempDir() + "/atecc.lock"
	a := New(c, &Options{LockPath: path})
	b := New(c, &Options{LockPath: path, Clock: realClock{}}) // waits on the lock in real time
	err := a.Do(t.Context(), func(s *Session) error {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		// b cannot take the lock while a holds it; its wait ends with ctx.
		return b.Do(ctx, func(*Session) error { return errors.New("ran") })
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if err := b.Do(t.Context(), func(*Session) error { return nil }); err != nil {
		t.Fatal(err)
	}
}
