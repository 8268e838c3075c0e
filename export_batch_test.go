package nerveskey

// NoBatch makes k give each signature a wake cycle of its own, as before
// signatures were queued, so benchmarks can compare.
func NoBatch(k *Key) { k.noBatch = true }
