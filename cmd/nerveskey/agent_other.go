//go:build !unix

package main

import (
	"errors"
	"net"
)

// listenPrivate is not implemented off Unix, where OpenSSH agents use
// named pipes rather than unix sockets.
func listenPrivate(string) (*net.UnixListener, error) {
	return nil, errors.New("the agent needs a unix socket; not supported on this system")
}
