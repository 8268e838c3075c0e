package nerveskey

import (
	"errors"
	"fmt"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"github.com/nerveskey/nerveskey/internal/i2c"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// Every sentinel and error type of the package is in this file. Errors
// returned by exported functions carry the "nerveskey:" prefix once;
// branch on them with errors.Is and errors.As (or errors.AsType).

// A StatusError is a non-zero status byte the chip returned, with the
// command that got it. Its fields are
//
//	Op     string // command and target, e.g. "write slot 10"
//	Status byte   // the chip's status byte (DS508 §9.1.2 Table 9-3)
//
// Status values: 0x01 miscompare (CheckMac or Verify did not match), 0x03
// parse error (illegal opcode, mode or length), 0x05 ECC fault (retried),
// 0x07 self-test failure (608), 0x08 RNG health-test failure (608), 0x0F
// execution error (the command is not allowed in the chip's lock state or
// configuration), 0x11 no command after wake, 0xEE watchdog about to
// expire (retried), 0xFF CRC or other communication error (retried). A
// StatusError with Status 0x0F unwraps to [ErrExecution]; compare the
// other values with errors.AsType[*nerveskey.StatusError] and Status.
type StatusError = i2c.StatusError

// A BusError is an error from the I2C bus while talking to an awake chip.
// Its fields are
//
//	Op  string // what the driver was doing, e.g. "send read config block 0"
//	Err error  // the error of periph's i2c.Bus.Tx, also returned by Unwrap
type BusError = i2c.BusError

// Conditions of the chip and the bus that callers branch on.
var (
	// ErrExecution is chip status 0x0F: the command is legal but not
	// allowed in the chip's current lock state or configuration (for
	// example a write to a locked slot).
	ErrExecution = atecc.ErrExecution
	// ErrTimeout reports a chip that stayed busy past a command's maximum
	// execution time.
	ErrTimeout = atecc.ErrTimeout
	// ErrWake reports that no chip answered the wake sequence at the
	// address: check the address, the wiring and the bus speed.
	ErrWake = atecc.ErrWake
	// ErrClosed is returned by every method of a closed Chip or Key.
	ErrClosed = errors.New("chip closed")
	// ErrNotProvisioned reports a chip whose data zone is not locked yet:
	// it has no device key to sign with. Provision it first.
	ErrNotProvisioned = errors.New("chip not provisioned")
	// ErrNotNervesKey reports a provisioned chip whose configuration is not
	// a NervesKey's (Info.Mode "unrecognized").
	ErrNotNervesKey = errors.New("chip is not configured as a NervesKey")
	// ErrNotNervesKeyOTP reports an OTP zone without the NervesKey layout
	// (its first bytes are not "Nrvs"): the chip was provisioned by
	// something else.
	ErrNotNervesKeyOTP = layout.ErrNotNervesKeyOTP
	// ErrActivationKey reports a volatile-key chip (608) whose key is not
	// usable: its persistent latch is not set and Options.ActivationKey
	// is missing or wrong.
	ErrActivationKey = errors.New("volatile-key chip needs its activation key")
	// ErrInconsistent reports chip answers that a second route contradicts:
	// a signature that does not verify under the chip's public key (twice
	// in a row), two reads of the public key or of the configuration that
	// differ, or a challenge signature that does not verify during
	// provisioning. It means a faulty part or a glitched or tampered bus;
	// see SECURITY.md. During provisioning it stops the run before the
	// data lock, so a re-run on a sound bus completes the chip.
	ErrInconsistent = errors.New("chip answers are inconsistent")
)

// Provisioning errors. Provision wraps them with the reason.
var (
	// ErrAlreadyProvisioned reports a chip whose data zone and key slot
	// are locked and which is not the chip the inputs make (the error
	// says what differs): it cannot be provisioned again. ProvisionAux
	// still works. The chip the inputs make is a success instead, with
	// ProvisionResult.Status AlreadyProvisioned.
	ErrAlreadyProvisioned = errors.New("chip already provisioned")
	// ErrConfigIncompatible reports a chip whose configuration zone is
	// locked with a configuration other than the one asked for (not a
	// NervesKey's, or regular where volatile keys were asked for, or the
	// reverse). Nothing was written.
	ErrConfigIncompatible = errors.New("configuration zone locked with an incompatible configuration")
	// ErrAborted reports a run that ProvisionOptions.Confirm stopped by
	// returning an error, which is wrapped too. Nothing was written.
	ErrAborted = errors.New("aborted before the first write")
	// ErrVerify reports provisioned data that did not verify: the chip
	// does not hold what was written, or its key does not match its
	// certificate.
	ErrVerify = errors.New("provisioned data did not verify")
	// ErrInvalidInput is wrapped by every *InputError: Provision or
	// ProvisionAux refused an input and wrote nothing.
	ErrInvalidInput = errors.New("invalid provisioning input")
)

// Certificate errors: of signer and device certificates given to
// provisioning (wrapped in an *InputError), and of certificates read
// from a chip (wrapped in a *CertificateError).
var (
	// ErrNotCompressible reports a certificate that does not rebuild byte
	// for byte from the 72-byte compressed form a chip stores, so it
	// cannot be provisioned (it would read back as a different, invalidly
	// signed certificate). The error names the first field that differs,
	// e.g. "issuer" for a signer not named CN=Signer.
	ErrNotCompressible = cert.ErrNotCompressible
	// ErrDateRange reports a date the compressed format cannot hold: an
	// issue year outside 2000–2031 (nerves_key's year-2032 limit) or a
	// validity outside 1–31 years.
	ErrDateRange = cert.ErrDateRange
	// ErrSignerKey reports a signer key that cannot be used: its PEM has no
	// key block or an unreadable or encrypted one, or the key is not a
	// P-256 ECDSA key or does not match its certificate.
	ErrSignerKey = cert.ErrKey
	// ErrNoAux reports that the chip has no aux certificates (slot 9, or
	// the aux certificate slot asked for, is all zeros).
	ErrNoAux = errors.New("chip has no aux certificates")
	// ErrMalformedCertificate reports slot data that is not a compressed
	// certificate (bad dates, reserved bits set, an empty slot, a template
	// ID other than its slot's), or a rebuild that crypto/x509 cannot
	// parse.
	ErrMalformedCertificate = cert.ErrMalformed
	// ErrSignature reports a certificate rebuilt from the chip whose
	// signature does not verify under its signer's public key: the device
	// certificate under the signer key in slot 11 (14 for aux), a
	// NervesKey signer certificate under its own key. The slots disagree,
	// or hold corrupted data, or the device key in slot 0 is not the one
	// the certificate was issued for.
	ErrSignature = errors.New("certificate signature does not verify")
)

// Settings errors.
var (
	// ErrNoSettings reports a settings area that holds no settings: its
	// first 32 bytes are zero, as on a chip never written or after
	// PutRawSettings(nil). A term starts with the version byte 131, so one
	// read tells; a put never leaves this state when interrupted. Elixir's
	// get_settings returns {:error, :corrupt} for it too.
	ErrNoSettings = errors.New("no settings stored")
	// ErrSettingsCorrupt reports a settings area that does not hold a
	// term binary_to_term accepts (Elixir: {:error, :corrupt}), or one
	// outside what nerveskey models (pids, funs, bitstrings...; use
	// [Chip.RawSettings]). A put that was interrupted (power cut, bus
	// failure) leaves this state until the next successful put.
	ErrSettingsCorrupt = errors.New("settings are corrupt")
	// ErrSettingsNotMap reports settings [Chip.Settings] and
	// [Chip.PutSettings] cannot handle as a Go map keyed by name: a term
	// that is not a map, or a map whose top-level keys are not all strings
	// or atoms, or a string and an atom of the same name. Elixir reads and
	// writes any term there; [Chip.SettingsTerm] reads it losslessly and
	// PutSettings writes an [etf.Term] as is.
	ErrSettingsNotMap = errors.New("settings are not a map keyed by distinct names")
	// ErrSettingsTooLarge reports settings larger than the space the
	// device type has: 524 bytes on a NervesKey, 416 on a Trust&Go part
	// (the error says how large they are). Nothing is written.
	ErrSettingsTooLarge = errors.New("settings too large")
)

// Errors of the uses of a key.
var (
	// ErrClockNotSet reports a clock before 2025, as a device whose real-time
	// clock was never set shows (1970, or the firmware's build date): a token
	// or certificate made with it would be refused, or valid for the wrong
	// time. Set the clock (NTP, nerves_time) first. Key.JWT returns it, and
	// Provision's clock *InputError wraps it.
	ErrClockNotSet = errors.New("clock not set (before 2025)")
	// ErrPlaintextBroker reports a broker URL whose scheme is not one of ssl,
	// tls, mqtts or wss, given without MQTTOptions.AllowPlaintext or
	// MQTTJWTOptions.AllowPlaintext.
	ErrPlaintextBroker = errors.New("broker URL does not use TLS (scheme ssl, tls, mqtts or wss)")
)

// A ConfigError reports an operation the chip's configuration does not
// permit, or does not permit safely, found before the command is sent:
// ECDH on a slot that forbids it or would write the secret to another
// slot, a foreign chip's slot 0 without external signatures, random bytes
// from a chip whose configuration zone is not locked, settings slots that
// cannot be written in clear. Nothing is written.
type ConfigError struct {
	Op     string // "ecdh", "random", "key", "put settings"
	Reason string // what in the configuration refuses it, e.g. "slot 0 SlotConfig 0x2083: ECDH not allowed (ReadKey bit 2)"
}

// Error names the operation and the reason.
func (e *ConfigError) Error() string {
	return e.Op + ": not permitted by the chip's configuration: " + e.Reason
}

// An InputError reports an input Provision or ProvisionAux refused before
// writing anything: a manufacturer serial number or board name (at most 32
// and 10 bytes), a signer, the clock, volatile keys on a chip without
// them. It unwraps to ErrInvalidInput and to Err, if set (for example
// ErrNotCompressible for a signer that is not compressible).
type InputError struct {
	Field  string // e.g. "manufacturer serial number", "board name", "signer certificate", "clock"
	Reason string // what is wrong, e.g. "is 49 bytes, max 32"
	Err    error  // the underlying error, or nil
}

// Error describes the field and the reason.
func (e *InputError) Error() string {
	s := "invalid " + e.Field + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrInvalidInput and Err.
func (e *InputError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidInput}
	}
	return []error{ErrInvalidInput, e.Err}
}

// A CertificateError reports certificate data on the chip that cannot be
// rebuilt or does not verify: a slot that is empty or not a compressed
// certificate (wrapping ErrMalformedCertificate), a signature that does
// not verify under the signer public key (wrapping ErrSignature; Slot is
// then that key's slot), or a signer public key that is not a P-256 point.
type CertificateError struct {
	Pair Pair   // Primary or Aux
	Cert string // "device" or "signer"
	Slot int    // the slot whose contents are wrong
	Err  error  // what is wrong with it
}

// Error names the certificate, the slot and the problem.
func (e *CertificateError) Error() string {
	return fmt.Sprintf("%v %s certificate: slot %d: %v", e.Pair, e.Cert, e.Slot, e.Err)
}

// Unwrap returns Err.
func (e *CertificateError) Unwrap() error { return e.Err }
