//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
)

// listenPrivate listens on a unix socket at path that only the owner may
// connect to. The umask is 0177 while the socket is bound, so the socket
// file is 0600 from the moment it exists (a chmod after Listen would leave
// a window in which others could connect). The umask is process-wide: the
// CLI creates no other file meanwhile. A socket left at path by an agent
// that died is replaced; any other file there is an error.
func listenPrivate(path string) (*net.UnixListener, error) {
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	old := syscall.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		ln.Close()
		return nil, fmt.Errorf("socket %s: mode is not 0600 after listening (%v)", path, err)
	}
	return ln, nil
}

// removeStaleSocket removes path if it is a socket nobody listens on.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; not replacing it", path)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("%s: another agent is listening there", path)
	}
	return os.Remove(path)
}
