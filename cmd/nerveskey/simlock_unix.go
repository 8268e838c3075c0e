//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// simLockWait bounds the wait for another command on the same image.
const simLockWait = 30 * time.Second

// lockImage takes a flock(2) on the image file at path for the whole
// command: exclusive for a command that may change the chip, so that two
// commands on one image run one after the other instead of both
// succeeding with one's changes lost; shared for one that only reads and
// signs (an agent, a sign beside it), which never saves the image. The image is
// replaced by rename when saved, so the lock is taken on the file the
// path names once locked: a waiter that wakes on a replaced file tries the
// new one. While it waits it says so on stderr once. The wait ends with
// ctx or after simLockWait.
func lockImage(ctx context.Context, path string, shared bool, stderr io.Writer) (unlock func(), err error) {
	deadline := time.Now().Add(simLockWait)
	said := false
	for {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		ok, err := flockWait(ctx, f, shared, deadline, func() {
			if !said {
				fmt.Fprintf(stderr, "nerveskey: waiting for %s, in use by another nerveskey command\n", path)
				said = true
			}
		})
		if err != nil || !ok {
			f.Close()
			if err == nil {
				err = fmt.Errorf("%s: still in use by another command after %v", path, simLockWait)
			}
			return nil, err
		}
		held, herr := f.Stat()
		now, nerr := os.Stat(path)
		if herr == nil && nerr == nil && os.SameFile(held, now) {
			return func() { f.Close() }, nil // closing releases the lock
		}
		f.Close() // replaced while we waited: lock the new file
	}
}

// flockWait locks f, calling waiting once if it must wait, until ctx is
// done or deadline passes (then it reports false). A blocked flock runs
// in its own goroutine; when the wait is abandoned, closing f ends it.
func flockWait(ctx context.Context, f *os.File, shared bool, deadline time.Time, waiting func()) (bool, error) {
	how := syscall.LOCK_EX
	if shared {
		how = syscall.LOCK_SH
	}
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return false, err
	}
	waiting()
	done := make(chan error, 1)
	fd := int(f.Fd())
	go func() {
		for {
			err := syscall.Flock(fd, how)
			if !errors.Is(err, syscall.EINTR) {
				done <- err
				return
			}
		}
	}()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case err := <-done:
		return err == nil, err
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C:
		return false, nil
	}
}
