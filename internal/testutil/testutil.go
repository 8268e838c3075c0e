// Package testutil holds the helpers the tests of every nerveskey package
// share: finding external tools, hex vectors, raw key bytes, and the one
// flag that rewrites recorded outputs. It is imported only by _test.go
// files.
package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Update is the -update flag, the one switch that rewrites golden files
// and other recorded outputs in every package whose tests import this one
// (go test ./cmd/nerveskey -update). Read the diff before committing.
var Update = flag.Bool("update", false, "rewrite golden files and recorded test outputs")

// NeedTool returns the path of an external program a test runs. When it is
// missing the test is skipped with the reason, or fails when the CI
// environment variable is set: .ci/run installs every tool the tests use.
func NeedTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s not installed, but CI is set: .ci/run installs it", name)
		}
		tb.Skipf("skipping: %s not installed; .ci/run installs it", name)
	}
	return p
}

// Unhex decodes a hex test vector; spaces are ignored, so vectors can be
// written in groups. Bad hex fails the test.
func Unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// PrivateKeyBytes returns the 32-byte scalar of a P-256 key, as a chip
// image stores it in slot 0.
func PrivateKeyBytes(tb testing.TB, k *ecdsa.PrivateKey) []byte {
	tb.Helper()
	b, err := k.Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// NewP256 returns a new random P-256 key.
func NewP256(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// PublicXY returns the raw point X‖Y (64 bytes) of a P-256 public key, the
// form chips and compressed certificates use.
func PublicXY(tb testing.TB, pub *ecdsa.PublicKey) []byte {
	tb.Helper()
	b, err := pub.Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	return b[1:]
}
