// Package i2c is the ATECC508A/608A transport over a periph I2C bus: wake,
// idle, sleep, packet framing and CRC, completion polling and retries.
//
// [New] wraps an [i2c.Bus] in a [Transport]. [Transport.Do] runs a function
// inside one wake cycle (a [Session]); [Session.Execute] sends one [Command]
// and returns its response payload. The chip-level commands live in
// internal/atecc, which builds [Command] values; this package knows nothing
// about zones or opcodes beyond framing and status codes.
//
// # Sessions and retries
//
// Do takes the transport's lock (and the optional cross-process lock file),
// wakes the chip, runs the function, then puts the chip to sleep. Sleep, not
// idle, ends every session, as the Elixir atecc508a library does: it clears
// TempKey and the other volatile state, so no half-finished transaction
// survives a session, and it draws the least current. When the function fails
// with a transient error (bus NAK, timeout, frame CRC, or a retryable chip
// status as listed in docs/nerves_key.md §8.1, except parse errors), the whole function runs again after
// a new wake, until Options.RetryBudget is spent. A single step is never
// retried alone, because the chip may have lost TempKey in between.
//
// # Watchdog
//
// The chip puts itself to sleep 0.7 s (minimum) after a wake. Before each
// command, a session whose age plus the command's expected execution time
// (the table maximum, or longer on a chip seen to be slower, learn.go)
// would pass [WatchdogBudget] sends Idle and wakes the chip again. Idle keeps
// TempKey, AuthValid and the 608 digest buffers, so this is safe inside a
// Nonce→Sign transaction. Whether idle keeps a SHA context is read two
// ways (docs/atecc.md §1.3: real chips keep it, the strict reading drops
// it); the driver works under both.
//
// # Polling
//
// A command's answer is polled for from when the chip was seen to
// complete the same kind of command before, at an interval that follows
// how much those times spread, and past the datasheet maximum until the
// chip's watchdog would have put it to sleep (learn.go): a slow chip is
// waited for, not failed.
//
// # Time
//
// All waiting goes through a [Clock]. When Options.Clock is nil and the bus
// implements Clock (the nerveskeytest simulator does), the bus's clock is
// used, so tests never sleep for modeled chip time.
//
// # Concurrency
//
// A Transport is safe for concurrent use; sessions are serialized.
//
// # Datasheets
//
// ATECC508A data sheet DS20005927A §6 (I/O), §9.1 (frames, status, timing);
// ATECC608A-TFLXTLS data sheet DS40002138A §4 and §7. See docs/atecc.md §1.
package i2c
