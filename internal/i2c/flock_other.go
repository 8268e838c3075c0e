//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package i2c

import "os"

// lockSupported reports that this system has no cross-process file lock
// this package uses (Solaris, illumos, AIX, Plan 9, WebAssembly): the
// default is then no lock file, and an explicit LockPath fails.
const lockSupported = false

func openLockFile(path string) (*os.File, error) { return nil, errNoLock }

func tryLockFile(*os.File) (bool, error) { return false, errNoLock }

func lockFile(*os.File) error { return errNoLock }

func unlockFile(*os.File) error { return nil }
