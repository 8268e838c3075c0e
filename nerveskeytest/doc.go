// Package nerveskeytest provides a simulated ATECC508A, ATECC608A or
// ATECC608B secure element that is a periph I2C bus
// ([periph.io/x/conn/v3/i2c.Bus]), so the real nerveskey transport and
// driver run against it unchanged, as an httptest.Server gives a real URL.
//
// [NewChip] makes a blank factory chip, [NewChipFromImage] loads a chip
// image ([ParseImage] reads the chips.json format), and
// [NewProvisionedChip] returns a chip provisioned as a NervesKey by the
// real Elixir code. [NewTrustAndGoChip] returns an ATECC608B set up like a
// Microchip Trust&Go part, whose signer certificate chains to a test root
// ([TrustAndGoTestRoot]) instead of Microchip's.
//
// The simulator follows the datasheets as docs/atecc.md summarizes them,
// not the driver: it has its own command decoder and state and imports
// nothing from nerveskey, so a bug shared with the driver cannot hide.
//
// # What it models
//
// The I2C level: the chip acknowledges only its address (config byte 16,
// 0x60 on a blank chip, or [Options.Addr]) and only while awake and not
// busy; every NAK is an error wrapping [ErrNAK]. A transaction to address
// 0 is the wake pulse: it wakes a sleeping or idle chip only if eight bit
// times last at least 60 µs (bus speed at most about 133 kHz, see
// [Chip.SetSpeed]); the chip then NAKs for tWHI (1.5 ms; 20 ms on a 608
// with power-on self-test) and answers 04 11 33 43. A wake while awake is
// ignored. The first byte of a write is the word address: 00 reset (rewind
// the output, drop a partial command), 01 sleep, 02 idle, 03 command;
// others are NAKed. A command may arrive in several writes. Its CRC is
// checked first (bad CRC: status 0xFF, nothing else changes); a count
// outside 4..155 is answered 0xFF at once. After the last byte the chip is
// busy for the command's execution time and NAKs everything. The output
// read pointer persists across reads, bytes past the end read 0xFF, and
// the first write after reads rewinds it.
//
// The commands Read and Write (clear and encrypted), Lock (config,
// data+OTP, slot; with and without summary CRC), GenKey (create, public,
// digest modes, 608 key into TempKey), Nonce (random, TempKey-based,
// pass-through to TempKey, 608 digest and alternate-key buffers), Sign
// (external from TempKey or the 608 digest buffer, internal with the
// message of DS508 §9.18), Random, Info (revision, KeyValid, state, 608
// persistent latch), SHA (start/update/end, 608 targets, HMAC with a slot
// or TempKey key, 608 context read and write), ECDH (output, slot N+1, 608
// key from TempKey, TempKey target, output encrypted under the IO
// protection key), MAC and CheckMac (every mode), HMAC (508), GenDig
// (config, OTP, data, shared nonce, 608 counter and key config zones),
// DeriveKey (roll and create, with and without MAC), PrivWrite (clear
// before the data lock, encrypted), Verify (external, stored, validate,
// invalidate, 608 MAC output), Counter (the monotonic counters live in
// config bytes 52–67 in the published encoding), UpdateExtra (including
// the 508 limited-use decrement), the 608 AES (encrypt, decrypt, GCM
// field multiply), KDF (PRF, AES, HKDF; every target, output encrypted
// under the IO protection key), SecureBoot (Full, FullStore, FullCopy,
// encrypted digest with MAC) and SelfTest. LimitedUse is enforced: 508 slot 15
// through LastKeyUse, 608 keys through Counter[0] and CountMatch. Keys
// are real P-256 keys: signatures verify with crypto/ecdsa, ECDH agrees
// with crypto/ecdh. Run against Microchip's cryptoauthlib test
// application through an I2C bridge, every test it runs on a 508A, 608A
// or 608B passes.
//
// Not modeled, each answered 0x03 (parse error, the answer for an unknown
// command or mode): the 508 Pause command (0x01), SHA mode 0x03 (public
// key), Verify mode 0x01 (validate external), GenKey mode 0x20 (608 MAC
// output), ECDH to a slot (608 mode bits 3..2 = 01) and encrypted ECDH
// into TempKey, KDF PRF AEAD processing and HKDF messages from a slot or
// TempKey, the SecureBoot prohibit flag. Unconfirmed by any public vector:
// the HKDF result (one HMAC-SHA256 of the message), and that a CountMatch
// slot without a well-formed match value sets no limit.
//
// The policy engine implements the lock-state matrix of docs/atecc.md §4:
// config, OTP and data zone rules, 32-byte-only writes before the data
// lock, short last blocks, SlotConfig and KeyConfig (IsSecret, ReadKey,
// WriteConfig, Lockable, PubInfo, ReqAuth, 608 PersistentDisable),
// SlotLocked, OTPmode, the lock summary CRCs, and status codes as the
// datasheet gives them. The device profile gates opcodes and mode bits:
// a 508 answers 0x03 to 608-only modes such as Nonce 0x43 or Sign 0xA0.
// TempKey follows the 508 rule (every command but Info clears it) or the
// 608 rule (cleared only by commands that use it); the 608 digest buffer
// is wiped by every command other than Nonce and SHA. Before the config
// lock the RNG returns FF FF 00 00 repeated. [Stats] counts every host
// Read or Write of slot 0 data, refused or not, so tests can assert that
// a NervesKey's private key never left the chip.
//
// # Idle and sleep
//
// Idle keeps TempKey, the authorization from CheckMac and the 608 message
// digest and alternate key buffers; it drops the I/O buffer and stops the
// watchdog. Sleep, watchdog expiry and power loss lose all of that. The
// 608 persistent latch survives sleep and watchdog, not power loss. Idle
// keeps the SHA context too, as cryptoauthlib's tests expect of both
// families ([Profile.IdleLosesSHAContext] takes the strict reading).
// EEPROM is never lost; a command is
// applied all at once when its execution time ends, so a command cut by
// the watchdog or a power loss changes nothing.
//
// # Time
//
// The simulator is a virtual-time world; tests never sleep for modeled
// chip time and runs are deterministic. [Chip.Now] returns the virtual
// clock and [Chip.Sleep] advances it at once. The driver looks for these
// two methods on its bus (a structural interface; it does not import this
// package) and uses them instead of the real clock, so its waits and
// polling cost no wall time. Every Tx advances the clock by its wire
// time at the bus speed: start, address and data bytes of 9 bit times
// each (with the acknowledge bit), repeated start, stop. Events due in the
// meantime (end of tWHI, end of a command, watchdog expiry at 1.3 s after
// the wake) happen at their exact virtual times.
//
// Execution times come from docs/atecc.md §6.1. The 508 uses the DS508
// typical and maximum. For the 608 the maximum is cryptoauthlib's value for
// the ChipMode clock divider (M0, M1, M2) and, as no 608 typical times are
// public, the typical is half of it. [Options.Timing] selects typical (the
// default), maximum, or a random time in between from the seeded
// generator. A [CommandHook] may set any command's time, past the
// datasheet maximum too: [Slower] makes chosen commands slower than the
// table, [Slow608] is the slow 608 seen in the field (Sign in
// [SlowSign608], 179 ms). A command that cannot finish before the
// watchdog answers 0xEE and is not executed.
//
// # Linux i2c-dev
//
// With [Options.I2CDev] (or NERVESKEYTEST_I2CDEV=1 in the environment) the
// chip looks as it does through periph's sysfs bus on Linux: NAKs and the
// wake pulse are plain errno errors, not [ErrNAK], and [Chip.SetSpeed]
// fails.
//
// [Stats] reports I2C transactions, NAKs, wakes, commands, the chip's
// busy time (ExecTime), how late answers were read (ReadDelay) and BusTime,
// the virtual time since the chip was made or [Chip.ResetStats]: wire time
// plus every Sleep, hence every wait and poll of the driver. Benchmarks
// report it per operation.
//
// # Unconfirmed rules
//
// Where docs/atecc.md marks a rule unconfirmed, the simulator takes the
// strict reading and [Profile] offers the other: Random clears TempKey on a
// 508; a lock summary mismatch answers 0x0F; a nonexistent address answers
// 0x03; a read during a partial command is NAKed; SHA Param2 must equal
// the data length; UpdateExtra is accepted in every lock state (as
// cryptoauthlib's tests expect); external Sign checks ReadKey bit 0 from
// the config lock on. The one rule whose default is the lenient reading,
// because Microchip's test suite shows it on real chips: idle keeps the SHA
// context. Other
// choices: the data lock and slot locks need the config lock (0x0F),
// unknown opcodes answer 0x03, 608 SelfTest accepts the reserved bit 1.
//
// # Fault injection
//
// [Chip.SetFaults] schedules [Faults]: a NAK storm on the next
// transactions, a corrupted byte in the next response (its CRC fails),
// dropped wake pulses, an ECC fault (0x05) on the next Sign or GenKey, a
// failing 608 SelfTest (failure state, 0x07), an earlier watchdog expiry,
// and a power cut after N more transactions.
// [Chip.ExpireWatchdog] and [Chip.PowerCycle] act at once. After a power
// cut the chip comes back at once as a freshly powered chip: asleep,
// volatile state and the 608 latch gone, EEPROM as completed commands left
// it.
//
// # Images
//
// An [Image] is the EEPROM: 128 config bytes, 64 OTP bytes and 16 slots at
// full size; slot 0 of a NervesKey holds 4 zero bytes and the 32-byte
// private scalar. Its JSON form is the image object of chips.json,
// {"config": hex, "otp": hex, "slots": {"0": hex, …, "15": hex}}.
// [Chip.Image] takes a snapshot. The device type of a loaded image comes
// from its RevNum (config bytes 4–7).
//
// # Concurrency
//
// A [Chip] is safe for concurrent use: one mutex guards all of its state,
// so each Tx is atomic, as on a real bus. Chips share nothing; tests using
// different chips run in parallel.
package nerveskeytest
