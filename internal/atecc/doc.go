// Package atecc drives an ATECC508A/608A: typed commands, zones, the
// configuration zone, CRC and status codes.
//
// [New] returns a [Dev] for a chip on a periph I2C bus. Methods of Dev each
// run in one wake cycle (ReadConfig, WriteConfig, ReadSlot, WriteSlot,
// ReadOTP, WriteOTP, GenKey, SignDigest, Lock*). To compose commands that
// share TempKey, call [Dev.Do] and use the [Session] methods (NonceLoad then
// Sign, AuthVolatileKey then Sign): a session never sleeps the chip
// between its commands, and a transient failure restarts the whole
// session, never one step of it.
//
// The first session reads config block 0 to learn the revision (RevNum),
// the 608 clock divider (ChipMode) and the serial number; command timings
// come from that (DS508 Table 9-4 for the 508; cryptoauthlib's M0/M1/M2
// maxima for the 608, with half the maximum taken as typical, since
// Microchip publishes no 608 typical times). These seed the transport,
// which then times each command from what the chip itself did.
//
// Chip status codes are [*StatusError] values naming the command and its
// target, unwrapping to sentinels such as [ErrExecution] (0x0F).
//
// # Differences from the Elixir atecc508a library
//
//   - SignDigest uses Nonce 0x03 + Sign 0x80, which both the 508A and the
//     608 accept; Elixir's Nonce 0x43 + Sign 0xA0 is a parse error on a
//     508A (still available as [Session.NonceLoadDigestBuffer] and
//     [SignDigestBuffer]).
//   - ReadSlot uses 32-byte reads only (the last one over a short block),
//     one or more commands fewer than Elixir's 32-then-4-byte reads.
//   - Completion is polled from the typical execution time, not from half
//     of a fixed timeout; see internal/i2c.
//   - There is no response cache; callers cache what they need.
//
// # Concurrency
//
// A Dev is safe for concurrent use; its sessions are serialized. A Session
// is not, and is valid only inside the function given to Do.
//
// # Datasheets
//
// ATECC508A DS20005927A; ATECC608A-TFLXTLS DS40002138A; docs/atecc.md and
// docs/nerves_key.md in this project.
package atecc
