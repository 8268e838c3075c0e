// Package nerveskey makes a NervesKey — an ATECC508A, ATECC608A or
// ATECC608B secure element provisioned by nerves_key or by this package —
// a [crypto.Signer] for Go. The device's P-256 private key is generated in
// the chip's slot 0 and never leaves it.
//
// [Open] (or [OpenChip] then [Chip.Key]) wakes the chip on a periph I2C bus
// and returns the [Key]; [OpenBus] goes from a bus name to the Key,
// initializing periph's host drivers. [Key.Chip] returns the [Chip].
// [Key.Sign] is the crypto.Signer; [Key.TLSConfig] and [Key.TLSCertificate]
// give mutual TLS, [Key.MQTTClientOptions] paho MQTT, [Key.JWT] and
// [SigningMethodES256] ES256 JWTs. [Chip.Info] and [Chip.Certificates]
// read the chip's identity and rebuild its
// compressed certificates; [Chip.Settings] and [Chip.PutSettings] keep a
// small map in spare slots, as Erlang terms (package
// [github.com/nerveskey/nerveskey/etf]). In the factory, [Chip.Provision] turns a blank
// chip into a NervesKey with a signer from [LoadSigner] or [NewSigner] (or
// any crypto.Signer, such as an HSM).
//
// Package [github.com/nerveskey/nerveskey/nerveskeytest] simulates the chip
// as an I2C bus, for tests and for trying the package without hardware.
//
// # Compatibility
//
// Chips provisioned by the Elixir nerves_key and atecc508a libraries work
// unchanged, and the other way round: the configuration, OTP, slot layout,
// compressed-certificate templates and settings encoding are the same. The
// deliberate departures (minimal-DER certificate signatures, portable
// signing modes, stricter provisioning input checks) are listed in the
// README and on the functions concerned.
//
// # Concurrency
//
// A Chip and a Key are safe for concurrent use by multiple goroutines.
// Commands are serialized on the bus, and each sequence that needs one wake
// cycle (Nonce then Sign) runs as a whole: the chip forgets the digest when
// it sleeps, and an ATECC508A forgets it after any other command.
// [Options.LockFile] extends this to several processes sharing the chip.
//
// # Errors
//
// Errors from the chip are [*StatusError] values that unwrap to sentinels
// such as [ErrExecution]; conditions callers branch on have their own
// sentinels ([ErrNotProvisioned], [ErrClosed], [ErrAlreadyProvisioned], …)
// and typed errors carry details ([*InputError], [*CertificateError]).
// Bad input from the bus, files or callers never panics.
package nerveskey
