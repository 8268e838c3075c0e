//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package i2c

import (
	"errors"
	"os"
	"syscall"
)

// lockSupported reports that this system has a cross-process file lock.
const lockSupported = true

// openLockFile opens path for flock(2), creating a missing file readable
// by all (0644, as the lock is shared by every user who may use the bus).
// Read-only is enough for flock, so a file created by another user still
// works, and a bus device node needs no more than its users' read access.
func openLockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
}

// tryLockFile takes an exclusive flock(2) on f without waiting.
func tryLockFile(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case !errors.Is(err, syscall.EINTR):
			return false, err
		}
	}
}

// lockFile takes an exclusive flock(2) on f, blocking until the holder
// releases it.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// unlockFile releases the flock(2) on f.
func unlockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
