//go:build !cgo

package keysource

import (
	"errors"
	"testing"
)

func TestNoPKCS11WithoutCgo(t *testing.T) {
	_, err := Open(t.Context(), "pkcs11:token=t;object=s?module-path=/usr/lib/softhsm/libsofthsm2.so", nil)
	if !errors.Is(err, ErrNoPKCS11) {
		t.Fatalf("got %v, want ErrNoPKCS11", err)
	}
}
