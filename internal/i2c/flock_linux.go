//go:build linux

package i2c

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// flockPoll is how often lockFile retries a lock held by another process.
const flockPoll = 5 * time.Millisecond

// lockFile takes an exclusive advisory flock(2) on path, creating the file
// if needed, and returns the function that releases it. The lock is held
// only for one session, so processes that share a chip take turns between
// sessions. An empty path locks nothing. Waiting honours ctx.
func lockFile(ctx context.Context, path string, _ Clock) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("i2c: lock file: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("i2c: lock %s: %w", path, err)
		}
		// Wait in wall time, not on clk: the holder is another process,
		// or another Transport on the same simulated bus, whose session
		// our waiting must not age (a virtual clock advanced by waiters
		// expires the holder's watchdog and retry budget).
		t := time.NewTimer(flockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
