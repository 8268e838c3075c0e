//go:build !cgo

package keysource

import "context"

// openPKCS11 is the cgo-free stand-in: PKCS#11 modules are C libraries.
func openPKCS11(_ context.Context, u *URI, _ *Options) (*Key, error) {
	return nil, ErrNoPKCS11
}
