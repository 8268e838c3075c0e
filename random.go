package nerveskey

import (
	"bytes"
	"context"
	"fmt"
	"io"
)

// Random returns a reader of the chip's random number generator: each
// Read runs the Random command (32 bytes per command, DS508 §9.15) until p
// is full, dropping what is left of the last 32 bytes. Reads stop at
// their next command once ctx is done. The reader is safe for concurrent
// use.
//
// The chip's RNG is a hardware source to mix into the system's entropy
// (hash it together with [crypto/rand] output, or write it to the kernel
// pool), not a replacement for crypto/rand: its output crosses an
// unauthenticated bus, and a reader cannot tell a good generator from a
// bad one.
//
// Before its configuration zone is locked a chip answers Random with the
// fixed pattern FF FF 00 00 repeated (DS508 §3.3.2). Read refuses that
// answer with a [*ConfigError] and returns no bytes from it.
func (c *Chip) Random(ctx context.Context) io.Reader {
	return randomReader{c, ctx}
}

type randomReader struct {
	c   *Chip
	ctx context.Context
}

// unlockedRandom is what Random returns before the config lock.
var unlockedRandom = bytes.Repeat([]byte{0xFF, 0xFF, 0x00, 0x00}, 8)

func (r randomReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if err := r.c.check(); err != nil {
			return n, fmt.Errorf("nerveskey: random: %w", err)
		}
		b, err := r.c.dev.Random(r.ctx)
		if err != nil {
			return n, fmt.Errorf("nerveskey: random: %w", err)
		}
		if bytes.Equal(b[:], unlockedRandom) {
			return n, fmt.Errorf("nerveskey: %w", &ConfigError{Op: "random",
				Reason: "the chip answered FF FF 00 00 repeated, its fixed pattern while the configuration zone is unlocked"})
		}
		n += copy(p[n:], b[:])
	}
	return n, nil
}
