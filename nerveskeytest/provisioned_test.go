package nerveskeytest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// A program, not a test, gets a provisioned chip by passing a nil
// testing.TB, and closes it itself.
func ExampleNewProvisionedChip_program() {
	chip := nerveskeytest.NewProvisionedChip(nil, nil)
	defer chip.Close()

	ctx := context.Background()
	key, err := nerveskey.Open(ctx, chip, nil) // on hardware: an i2creg bus
	if err != nil {
		fmt.Println(err)
		return
	}
	defer key.Close()
	digest := sha256.Sum256([]byte("hello"))
	sig, err := key.SignContext(ctx, digest[:], crypto.SHA256)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verifies:", ecdsa.VerifyASN1(key.Public().(*ecdsa.PublicKey), digest[:], sig))
	// Output: verifies: true
}

// TestNewProvisionedChipNil checks the nil-TB path for every provisioned
// revision, and that it panics (it cannot call Fatal) for one it lacks.
func TestNewProvisionedChipNil(t *testing.T) {
	for _, rev := range []nerveskeytest.Revision{nerveskeytest.ATECC508A, nerveskeytest.ATECC608A, nerveskeytest.ATECC608B} {
		c := nerveskeytest.NewProvisionedChip(nil, &nerveskeytest.Options{Revision: rev})
		if c.Revision() != rev {
			t.Errorf("revision %v, want %v", c.Revision(), rev)
		}
		k, err := nerveskey.Open(t.Context(), c, nil)
		if err != nil {
			t.Fatalf("%v: Open: %v", rev, err)
		}
		k.Close()
		c.Close()
	}
	defer func() {
		if recover() == nil {
			t.Error("an unknown revision did not panic")
		}
	}()
	nerveskeytest.NewProvisionedChip(nil, &nerveskeytest.Options{Revision: 99})
}
