package nerveskey_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

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

// TestSharedChipWithoutLock is the control: the same two Keys without a
// lock file interleave their commands on the shared chip, so some
// signatures fail or are over another digest. It shows that the lock,
// not luck, keeps TestSharedChipLockFile correct.
func TestSharedChipWithoutLock(t *testing.T) {
	needSim(t, "chips shared between processes")
	chip := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: nerveskeytest.ATECC608A})
	var keys [2]*nerveskey.Key
	for i := range keys {
		k, err := nerveskey.Open(t.Context(), chip, &nerveskey.Options{LockFile: "-", RetryBudget: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { k.Close() })
		keys[i] = k
	}
	pub := keys[0].Public().(*ecdsa.PublicKey)
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex // guards bad
		bad int
	)
	for g := range 32 {
		wg.Go(func() {
			for i := range 4 {
				d := sha256.Sum256(fmt.Appendf(nil, "%d/%d", g, i))
				sig, err := keys[g%2].Sign(nil, d[:], crypto.SHA256)
				if err != nil || !ecdsa.VerifyASN1(pub, d[:], sig) {
					mu.Lock()
					bad++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if bad == 0 {
		t.Skip("no interference observed this run; the control proves nothing")
	}
	t.Logf("without a lock file, %d of 128 signatures failed or were wrong", bad)
}
