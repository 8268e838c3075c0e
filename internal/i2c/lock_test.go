package i2c

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func needLocks(t testing.TB) {
	t.Helper()
	if !LockSupported {
		t.Skip("skipping: no cross-process file lock on this system")
	}
}

// otherProcess locks path through its own open file description, as
// another process would: flock conflicts between descriptions, even in
// one process.
func otherProcess(t *testing.T, path string) (release func()) {
	t.Helper()
	f, err := openLockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := lockFile(f); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { unlockFile(f); f.Close() }) }
	t.Cleanup(release)
	return release
}

// TestLockWaitBounded: a lock held by another process ends the wait at the
// context's deadline, and without a deadline at the bound given, with an
// error wrapping context.DeadlineExceeded; the lock file stays open
// between sessions.
func TestLockWaitBounded(t *testing.T) {
	needLocks(t)
	path := filepath.Join(t.TempDir(), "bus.lock")
	l := &busLock{path: path}
	defer l.close()
	release := otherProcess(t, path)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.lock(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with a deadline: %v", err)
	}
	if _, err := l.lock(context.Background(), 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("without a deadline: %v", err)
	}
	f := l.f
	release()
	// The lock call left in flight by the callers that gave up is picked
	// up by the next caller, on the same open file.
	unlock, err := l.lock(t.Context(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if l.f != f {
		t.Error("the lock file was reopened")
	}
	unlock, err = l.lock(t.Context(), time.Second)
	if err != nil {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
}

// TestLockAbandonedReleased: a waiter gives up; when the holder releases
// the lock, the call left in flight takes it and, with nobody waiting,
// gives it back, so another process can take it.
func TestLockAbandonedReleased(t *testing.T) {
	needLocks(t)
	path := filepath.Join(t.TempDir(), "bus.lock")
	l := &busLock{path: path}
	defer l.close()
	release := otherProcess(t, path)
	if _, err := l.lock(context.Background(), 10*time.Millisecond); err == nil {
		t.Fatal("took a held lock")
	}
	release()
	// Another process now waits for the lock (blocking, no poll): it gets
	// it once the abandoned call has taken and released it.
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, err := openLockFile(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if err := lockFile(f); err != nil {
			t.Error(err)
		}
		unlockFile(f)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("the abandoned lock call kept the lock")
	}
}

// TestLockCloseInFlight: closing while a lock call is in flight returns
// at once; the call closes the file when it ends; later locks fail.
func TestLockCloseInFlight(t *testing.T) {
	needLocks(t)
	path := filepath.Join(t.TempDir(), "bus.lock")
	l := &busLock{path: path}
	release := otherProcess(t, path)
	if _, err := l.lock(context.Background(), 10*time.Millisecond); err == nil {
		t.Fatal("took a held lock")
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.lock(t.Context(), time.Second); err == nil {
		t.Fatal("lock after close succeeded")
	}
	release()
}

// TestSessionWaitBounded: an in-process waiter behind a session that does
// not end is bounded by its context too.
func TestSessionWaitBounded(t *testing.T) {
	tr := New(newFake(nil), nil)
	tr.sem <- struct{}{} // a session in progress
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := tr.Do(ctx, func(*Session) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do behind a stuck session: %v", err)
	}
	<-tr.sem
}

// TestDeviceLockPath maps periph Linux bus names to device nodes only when
// the node exists.
func TestDeviceLockPath(t *testing.T) {
	for _, name := range []string{"", "I2C", "I2Cx", "sim", "I2C-1", "I2C999999"} {
		if p := DeviceLockPath(name); p != "" {
			t.Errorf("DeviceLockPath(%q) = %q", name, p)
		}
	}
	if _, err := os.Stat("/dev/i2c-1"); err == nil {
		if p := DeviceLockPath("I2C1"); p != "/dev/i2c-1" {
			t.Errorf("DeviceLockPath(I2C1) = %q", p)
		}
	}
}

// BenchmarkLockHandoff prices the lock held per session: an uncontended
// lock and unlock on the file kept open (the old code opened, locked and
// closed the file each time), and a handoff from another process's
// release to a blocked waiter (the old code polled every 5 ms).
func BenchmarkLockHandoff(b *testing.B) {
	if !LockSupported {
		b.Skip("no file locks")
	}
	path := filepath.Join(b.TempDir(), "bus.lock")
	b.Run("uncontended", func(b *testing.B) {
		l := &busLock{path: path}
		defer l.close()
		b.ReportAllocs()
		for b.Loop() {
			unlock, err := l.lock(context.Background(), time.Second)
			if err != nil {
				b.Fatal(err)
			}
			unlock()
		}
	})
	b.Run("open-lock-close", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f, err := openLockFile(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := lockFile(f); err != nil {
				b.Fatal(err)
			}
			unlockFile(f)
			f.Close()
		}
	})
	b.Run("handoff", func(b *testing.B) {
		l := &busLock{path: path}
		defer l.close()
		other, err := openLockFile(path)
		if err != nil {
			b.Fatal(err)
		}
		defer other.Close()
		var total time.Duration
		for b.Loop() {
			if err := lockFile(other); err != nil {
				b.Fatal(err)
			}
			got := make(chan time.Time)
			go func() {
				unlock, err := l.lock(context.Background(), 5*time.Second)
				if err != nil {
					b.Error(err)
				}
				got <- time.Now()
				unlock()
			}()
			for !l.waiting() {
				time.Sleep(10 * time.Microsecond)
			}
			released := time.Now()
			unlockFile(other)
			total += (<-got).Sub(released)
		}
		b.ReportMetric(float64(total.Microseconds())/float64(b.N), "handoff-µs/op")
	})
}
