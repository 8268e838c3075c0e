package i2c

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultLockWait bounds how long Do waits for the bus — behind another
// goroutine's session on the same Transport, or behind another process's
// lock on Options.LockPath — when ctx has no deadline (crypto.Signer.Sign
// has no context). One signature with its retries takes under a second;
// five seconds of waiting means the holder is stuck. A ctx with a
// deadline bounds the wait by itself.
const DefaultLockWait = 5 * time.Second

// A busLock is the cross-process lock of one Transport: an advisory
// exclusive lock (flock(2) on Unix, LockFileEx on Windows) on a file that
// is opened once and kept open until Close, and locked for each session.
//
// Waiting never polls: a blocked lock call runs in its own goroutine and
// returns as soon as the holder releases the lock, while the caller waits
// on that goroutine, its context and its deadline. A caller that gives up
// leaves the call running; if it later gets the lock with nobody waiting,
// it releases it at once, and the next caller waiting picks it up instead.
type busLock struct {
	path string

	mu      sync.Mutex // guards the fields below
	f       *os.File   // opened on first use, closed by close
	pending chan error // result of the blocking lock call in flight, or nil
	want    bool       // a caller waits for pending
	closed  bool
}

// lock takes the lock, waiting at most until ctx is done or wait has
// passed, and returns the function that releases it.
func (l *busLock) lock(ctx context.Context, wait time.Duration) (func(), error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, fmt.Errorf("i2c: lock %s: transport closed", l.path)
	}
	if l.f == nil {
		f, err := openLockFile(l.path)
		if err != nil {
			l.mu.Unlock()
			return nil, fmt.Errorf("i2c: lock file: %w", err)
		}
		l.f = f
	}
	f := l.f
	if l.pending == nil {
		// The fast path: one non-blocking call.
		ok, err := tryLockFile(f)
		if err != nil {
			l.mu.Unlock()
			return nil, fmt.Errorf("i2c: lock %s: %w", l.path, err)
		}
		if ok {
			l.mu.Unlock()
			return l.unlock, nil
		}
		ch := make(chan error, 1)
		l.pending = ch
		go l.acquire(f, ch)
	}
	ch := l.pending
	l.want = true
	l.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case err := <-ch:
		return l.took(err)
	case <-ctx.Done():
		return nil, l.giveUp(ch, ctx.Err())
	case <-t.C:
		return nil, l.giveUp(ch, fmt.Errorf("i2c: waited %v for the lock on %s, held by another process: %w", wait, l.path, context.DeadlineExceeded))
	}
}

// acquire blocks in the lock call and hands the result to a waiting
// caller, or releases the lock when nobody waits any more.
func (l *busLock) acquire(f *os.File, ch chan error) {
	err := lockFile(f)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.want && !l.closed {
		ch <- err // buffered; the waiter or the next caller reads it
		return
	}
	l.pending = nil
	if err == nil {
		_ = unlockFile(f)
	}
	if l.closed {
		f.Close()
	}
}

// took finishes a wait that received the lock call's result.
func (l *busLock) took(err error) (func(), error) {
	l.mu.Lock()
	l.pending, l.want = nil, false
	l.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("i2c: lock %s: %w", l.path, err)
	}
	return l.unlock, nil
}

// giveUp ends a wait that timed out or was cancelled: the lock call stays
// in flight and releases the lock if it gets it with nobody waiting.
func (l *busLock) giveUp(ch chan error, why error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case err := <-ch: // got it just now: release it
		l.pending = nil
		if err == nil {
			_ = unlockFile(l.f)
		}
	default:
		l.want = false
	}
	return why
}

func (l *busLock) unlock() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_ = unlockFile(l.f)
	}
}

// close closes the lock file. The caller holds the Transport's session
// token, so no session holds the lock and no caller waits for it; a lock
// call still in flight (left by a caller that gave up) closes the file
// when it returns.
func (l *busLock) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.f == nil || l.pending != nil {
		return nil
	}
	return l.f.Close()
}

// Close releases what the Transport keeps open: the lock file of
// Options.LockPath. It waits, at most DefaultLockWait, for a session in
// progress to end. It does not close the bus. Later sessions fail when a
// LockPath is set.
func (t *Transport) Close() error {
	if t.lk == nil {
		return nil
	}
	timer := time.NewTimer(DefaultLockWait)
	defer timer.Stop()
	select {
	case t.sem <- struct{}{}:
		defer func() { <-t.sem }()
	case <-timer.C:
	}
	return t.lk.close()
}

// DeviceLockPath returns the device node of a periph Linux I2C bus named
// like "I2C1" (/dev/i2c-1) when it exists, or "". Locking the bus's device
// node means exactly those who may open the bus may hold its lock; it also
// serializes nerveskey processes with each other on one bus.
func DeviceLockPath(busName string) string {
	if runtime.GOOS != "linux" {
		return ""
	}
	n, ok := strings.CutPrefix(busName, "I2C")
	if !ok {
		return ""
	}
	if _, err := strconv.Atoi(n); err != nil {
		return ""
	}
	p := "/dev/i2c-" + n
	if fi, err := os.Stat(p); err != nil || fi.Mode()&os.ModeDevice == 0 {
		return ""
	}
	return p
}

// LockSupported reports whether Options.LockPath works on this system:
// flock(2) on Linux, macOS and the BSDs, LockFileEx on Windows.
const LockSupported = lockSupported

// acquire takes the Transport's session token, waiting at most until ctx
// is done or, without a deadline, DefaultLockWait.
func (t *Transport) acquire(ctx context.Context) error {
	select {
	case t.sem <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(lockWait(ctx))
	defer timer.Stop()
	select {
	case t.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("i2c: waited %v for the bus, busy with another session of this process: %w", DefaultLockWait, context.DeadlineExceeded)
	}
}

// lockWait is how long a wait for the bus may last: DefaultLockWait, or
// until ctx's deadline when it has one.
func lockWait(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl)+time.Second, time.Millisecond) // ctx ends the wait first
	}
	return DefaultLockWait
}

// lockBus takes the Transport's cross-process lock, if any, for one
// session.
func (t *Transport) lockBus(ctx context.Context) (func(), error) {
	if t.lk == nil {
		return func() {}, nil
	}
	return t.lk.lock(ctx, lockWait(ctx))
}

// waiting reports whether a caller waits for a blocked lock call (tests).
func (l *busLock) waiting() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.want
}
