//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package nerveskey_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// TestSharedChipLockFile opens one simulated chip twice, as two processes
// sharing a NervesKey would, with the same Options.LockFile. Each Key
// serializes its own commands only; the flock keeps the other's Nonce out
// of its Nonce+Sign pair, so every signature verifies over its own digest.
func TestSharedChipLockFile(t *testing.T) {
	needSim(t, "chips shared between processes")
	for _, rev := range benchRevisions {
		t.Run(rev.String(), func(t *testing.T) {
			chip := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: rev})
			lock := filepath.Join(t.TempDir(), "nerveskey.lock")
			var keys [2]*nerveskey.Key
			for i := range keys {
				k, err := nerveskey.Open(t.Context(), chip, &nerveskey.Options{LockFile: lock})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { k.Close() })
				keys[i] = k
			}
			pub := keys[0].Public().(*ecdsa.PublicKey)
			var wg sync.WaitGroup
			for g := range 32 {
				wg.Go(func() {
					k := keys[g%2]
					for i := range 4 {
						d := sha256.Sum256(fmt.Appendf(nil, "%d/%d", g, i))
						sig, err := k.Sign(nil, d[:], crypto.SHA256)
						if err != nil {
							t.Errorf("goroutine %d sign %d: %v", g, i, err)
							return
						}
						if !ecdsa.VerifyASN1(pub, d[:], sig) {
							t.Errorf("goroutine %d sign %d: signature over another digest (interleaved Nonce/Sign)", g, i)
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestSharedChipWithoutLock is the control: two Keys on one chip without
// a lock file, where the second Key's whole signature runs between the
// first's Nonce and Sign (forced from the first Key's Command hook, so the
// interleaving happens every run, not by scheduling luck). The first
// signature then fails or covers the wrong digest. It shows that the lock,
// not luck, keeps TestSharedChipLockFile correct.
func TestSharedChipWithoutLock(t *testing.T) {
	needSim(t, "chips shared between processes")
	for _, rev := range benchRevisions {
		t.Run(rev.String(), func(t *testing.T) {
			chip := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: rev})
			other, err := nerveskey.Open(t.Context(), chip, &nerveskey.Options{LockFile: "-", RetryBudget: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { other.Close() })
			pub := other.Public().(*ecdsa.PublicKey)
			otherDigest := sha256.Sum256([]byte("other process"))
			var (
				armed    bool // set once the first Key is open
				intruded bool
			)
			trace := &nerveskey.Trace{Command: func(op string, _ time.Duration, err error) {
				if !armed || intruded || err != nil || !strings.HasPrefix(op, "nonce") {
					return
				}
				intruded = true
				sig, err := other.Sign(nil, otherDigest[:], crypto.SHA256)
				if err != nil || !ecdsa.VerifyASN1(pub, otherDigest[:], sig) {
					t.Errorf("the intruding signature failed: %v", err)
				}
			}}
			k, err := nerveskey.Open(t.Context(), chip, &nerveskey.Options{LockFile: "-", RetryBudget: -1, Trace: trace})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { k.Close() })
			armed = true
			d := sha256.Sum256([]byte("this process"))
			sig, err := k.Sign(nil, d[:], crypto.SHA256)
			if !intruded {
				t.Fatal("the hook never ran the other Key's signature")
			}
			if err == nil && ecdsa.VerifyASN1(pub, d[:], sig) {
				t.Fatal("a signature interleaved with another Key's Nonce+Sign still verified")
			}
			t.Logf("interleaved signature: err %v", err)
		})
	}
}

// TestLockFileHeldElsewhere: while another process holds the lock, a
// signature waits no longer than its context allows and fails with an
// error wrapping context.DeadlineExceeded; once released, the same Key
// signs again on the lock file it kept open.
func TestLockFileHeldElsewhere(t *testing.T) {
	needSim(t, "chips shared between processes")
	chip := nerveskeytest.NewProvisionedChip(t, nil)
	lock := filepath.Join(t.TempDir(), "nerveskey.lock")
	k, err := nerveskey.Open(t.Context(), chip, &nerveskey.Options{LockFile: lock})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	f, err := os.Open(lock)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("held"))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := k.SignContext(ctx, d[:], crypto.SHA256); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("sign while another process holds the lock: %v", err)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	sig, err := k.Sign(nil, d[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatalf("sign after release: %v", err)
	}
}
