package nerveskey

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/x509"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	ni2c "github.com/nerveskey/nerveskey/internal/i2c"
)

// Provisioning turns a blank ATECC508A/608A/608B into a NervesKey. The
// result is byte for byte what nerves_key's NervesKey.provision/4 leaves for
// the same inputs (configuration, OTP, slots 1–15, locks), so firmware
// using the Elixir libraries reads it unchanged (spec/nerves_key.md §3–§5).
//
// # Safety model
//
// Two steps are irreversible: the configuration lock and the data lock.
// Provision guarantees:
//
//   - Nothing is written before every input has been checked against the
//     chip: revision and lock state, a locked configuration that must be
//     the NervesKey one, the manufacturer serial number (1–32 bytes of
//     UTF-8, no '/', no control characters), the board name (at most 10
//     bytes; longer names are refused, not truncated as nerves_key does),
//     the signer certificate (compressible, unexpired, matching the signer
//     key) and the clock (2025 or later, and before 2032, the last year a
//     compressed certificate can hold). A trial device certificate is
//     signed, compressed, rebuilt and compared, so a signer that would
//     produce unreadable certificates is refused here.
//     ProvisionOptions.Confirm is then called once with the
//     ProvisionPlan, and may abort; ProvisionOptions.DryRun stops there.
//   - The configuration zone is read twice and the answers must agree, so
//     one forged or glitched read cannot decide what is written. The
//     configuration written is exactly nerves_key's, and the lock
//     carries the CRC of the image expected, so the chip refuses the lock
//     if what it holds differs.
//   - The device key is proven before the signer signs for it: GenKey in
//     public-key mode must answer the key GenKey create (or the probe of
//     a reused key) answered, and slot 0 must sign a fresh random
//     challenge that verifies under it. A chip that refuses external Sign
//     before the data lock is proven by the GenKey cross-check alone, as
//     ProvisionResult.KeyProof and the progress events say. The key is
//     read once more immediately before the data lock. A mismatch is
//     ErrInconsistent, with the data zone unlocked: a re-run on a sound
//     bus completes the chip. This stops one-shot forged or glitched
//     answers and faulty parts, not a party controlling the whole bus or
//     a counterfeit chip answering consistently (SECURITY.md).
//   - Before the data lock, the certificates are rebuilt from the exact
//     slot and OTP bytes written, through the same code that reads a
//     chip, and checked: the chain verifies under the signer and the
//     device certificate holds the public key the chip reports. The chip
//     cannot be read before its data lock, so the lock itself is the
//     read-back: it carries the CRC of those bytes and the chip refuses it
//     unless its slots and OTP hold exactly them.
//   - After the data lock the OTP and certificate slots are read back and
//     checked again before slot 0 (and, for volatile keys, slots 1 and 2)
//     is locked. Slot 0 is never read or written by the host.
//
// Every step is resumable. After an interruption at any point (a power cut,
// a cancelled context, a bus error), running Provision again with the same
// inputs completes the chip:
//
//   - configuration unlocked: written again (idempotent) and locked;
//     locked: checked and skipped;
//   - data zone unlocked: OTP and slots are rewritten. If slot 0 already
//     holds a valid key from the interrupted run (GenKey in public-key mode
//     succeeds only for a key generated on the chip), that key is reused
//     and a new certificate is signed for it; ProvisionOptions.NewKey
//     generates a fresh key instead, as nerves_key always does. Reuse avoids
//     churning keys and keeps a certificate already issued for that key
//     valid; the trade-off is that a key generated before the interruption
//     is trusted, which is safe as long as the chip stayed in the factory's
//     hands;
//   - data zone locked, slot 0 not locked: the chip is read back and
//     verified against the inputs, then the slot lock is finished;
//   - data zone and slot locks done: the chip is read back and compared
//     with the inputs; the chip they make is a success with Status
//     AlreadyProvisioned, any other chip ErrAlreadyProvisioned with what
//     differs. Nothing is written.
//
// A Lock the chip refuses with an execution error (as it does when a
// retried Lock finds the zone or slot already locked, because the answer
// to the first was lost) is followed by a read of the lock bytes: locked as
// intended counts as done. Nothing is written after the data lock.
//
// A chip is never left locked but unusable by Provision: the data lock is
// only attempted once everything it freezes has been verified.

// Input limits of provisioning (spec/nerves_key.md §5.1).
const (
	// MaxManufacturerSNLen is the longest manufacturer serial number, in
	// bytes, that provisioning writes to the OTP zone (nerves_key's limit;
	// longer ones raise there).
	MaxManufacturerSNLen = atecc.MaxOTPManufacturerSNLen
	// MaxBoardNameLen is the longest board name, in bytes, the OTP holds.
	MaxBoardNameLen = atecc.MaxOTPBoardNameLen
)

// minClockYear is the earliest year Provision believes its clock: an
// earlier one means the clock was never set (nerves_key compares with its
// compile-time year).
const minClockYear = 2025

// defaultBoardName is nerves_key's default board name.
const defaultBoardName = "NervesKey"

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
	// ErrVolatileUnsupported reports a request for volatile-key
	// provisioning on a chip without the persistent latch (an ATECC508A).
	ErrVolatileUnsupported = errors.New("chip does not support volatile keys (ATECC608A/B only)")
	// ErrInvalidInput is wrapped by every *InputError.
	ErrInvalidInput = errors.New("invalid provisioning input")
	// ErrAborted reports a run that ProvisionOptions.Confirm stopped by
	// returning an error, which is wrapped too. Nothing was written.
	ErrAborted = errors.New("aborted before the first write")
	// ErrVerify reports provisioned data that did not verify: the chip
	// does not hold what was written, or its key does not match its
	// certificate.
	ErrVerify = errors.New("provisioned data did not verify")
)

// An InputError reports an input Provision or ProvisionAux refused before
// writing anything. It unwraps to ErrInvalidInput and to Err, if set (for
// example a *MismatchError for a signer that is not compressible).
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

// ProvisioningInfo is the identity Provision writes to the OTP zone; the
// manufacturer serial number is also the device certificate's subject CN.
type ProvisioningInfo struct {
	// ManufacturerSN is 1 to MaxManufacturerSNLen bytes of UTF-8, without
	// '/' or control characters.
	ManufacturerSN string
	// BoardName is at most MaxBoardNameLen bytes (may be empty).
	BoardName string
	// UserData is written to OTP bytes 32–63, nerves_key's OTP user
	// field (Info.UserData reads it). Non-zero user data needs a
	// ManufacturerSN of at most 16 bytes: a longer one takes those bytes.
	// Default all zeros, as nerves_key's provisioning writes.
	UserData [32]byte
}

// DefaultInfo returns nerves_key's default provisioning info for the chip
// (default_info/1): the Base32 form of the 9-byte chip serial number
// (RFC 4648, no padding, 15 characters) and the board name "NervesKey".
func (c *Chip) DefaultInfo(ctx context.Context) (ProvisioningInfo, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return ProvisioningInfo{}, fmt.Errorf("nerveskey: default info: %w", err)
	}
	sn := cfg.SerialNumber()
	return ProvisioningInfo{
		ManufacturerSN: base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sn[:]),
		BoardName:      defaultBoardName,
	}, nil
}

// VolatileKeys are the two 16-byte AES keys of volatile-key provisioning
// (nerves_key's volatile_provision, spec/nerves_key.md §4.3).
type VolatileKeys struct {
	// Activation goes to slot 1; proving it with CheckMac sets the
	// persistent latch that enables the device key (Options.ActivationKey).
	Activation [16]byte
	// Encryption goes to slot 2.
	Encryption [16]byte
}

// A Step is one step of Provision, in order. The CLI prints them as
// "step 4/9: write OTP".
type Step int

// The steps of Provision. NumSteps is their count.
const (
	StepValidate   Step = iota + 1 // check chip state and inputs; nothing written
	StepConfigure                  // write the NervesKey configuration
	StepLockConfig                 // lock the configuration zone (irreversible)
	StepWriteOTP                   // write manufacturer serial and board name
	StepGenKey                     // generate the device key in slot 0, or reuse one
	StepWriteSlots                 // sign the device certificate, write slots 1–15
	StepVerify                     // rebuild and verify the certificates from the written bytes
	StepLockData                   // lock the data and OTP zones (irreversible)
	StepLockKey                    // read back and verify, then lock the key slot(s)

	NumSteps = 9
)

var stepNames = [...]string{
	StepValidate:   "validate inputs and chip",
	StepConfigure:  "write configuration",
	StepLockConfig: "lock configuration zone",
	StepWriteOTP:   "write OTP (serial number, board name)",
	StepGenKey:     "generate device key (slot 0)",
	StepWriteSlots: "write certificates (slots 1-15)",
	StepVerify:     "verify certificates",
	StepLockData:   "lock data and OTP zones",
	StepLockKey:    "read back, verify and lock key slot",
}

// String returns the step's description, e.g. "write OTP (serial number,
// board name)".
func (s Step) String() string {
	if s >= StepValidate && s <= StepLockKey {
		return stepNames[s]
	}
	return fmt.Sprintf("Step(%d)", int(s))
}

// A StepEvent reports progress: once when a step starts (Done false), once
// when it ends (Done true). A step the chip had already done is reported
// once, with Done and Skipped set.
type StepEvent struct {
	Step    Step   // which step
	Done    bool   // false when the step starts, true when it has ended
	Skipped bool   // the chip had already done this step (with Done)
	Detail  string // e.g. "reused the key left in slot 0 by an interrupted run"
}

// ProvisionOptions configures Provision and ProvisionAux. A nil
// *ProvisionOptions, or a zero field, selects the default.
type ProvisionOptions struct {
	// Now returns the current time, read once per call; default time.Now.
	// Certificates are issued as of this hour.
	Now func() time.Time
	// Rand is passed to the signer and used for nonces; default
	// crypto/rand.
	Rand io.Reader
	// Progress, if set, is called synchronously at each step.
	Progress func(StepEvent)
	// DryRun checks everything and writes nothing. Confirm, if set, is
	// still called, with ProvisionPlan.DryRun set, so that one function
	// shows the plan of a dry run and of a real one; Provision then
	// returns a result saying what a real run would report, or Confirm's
	// error.
	DryRun bool
	// Confirm, if set, is called exactly once per Provision call, after
	// every input has been checked against the chip and before the first
	// write, with what the run is about to do: a factory tool shows the
	// plan and asks the operator here. A non-nil error aborts the run
	// with nothing written; Provision returns it wrapped with ErrAborted
	// (errors.Is sees both). It is not called when validation fails, nor
	// for a chip already provisioned. ProvisionAux does not call it.
	Confirm func(ctx context.Context, plan *ProvisionPlan) error
	// Volatile selects volatile-key provisioning (ATECC608A/B only): the
	// device key works only after the activation key sets the chip's
	// persistent latch.
	Volatile *VolatileKeys
	// NewKey always generates a new device key, as nerves_key does,
	// instead of reusing a valid key left in slot 0 by an interrupted run.
	NewKey bool
}

// A ProvisionPlan is what a Provision call is about to do, given to
// ProvisionOptions.Confirm once every input has been checked. On a run
// that resumes an interrupted one, it says what remains: the steps the
// chip has already done are in Skipped.
type ProvisionPlan struct {
	// Revision is the part: "ATECC508A", "ATECC608A" or "ATECC608B".
	Revision string
	// Serial is the 9-byte chip serial number.
	Serial [9]byte
	// Info is the manufacturer serial number and board name to be
	// written to the OTP zone, as given.
	Info ProvisioningInfo
	// SignerSubject is the signer certificate's subject, e.g.
	// "CN=Signer"; the device certificate's issuer.
	SignerSubject string
	// SignerNotBefore and SignerNotAfter are the signer certificate's
	// validity.
	SignerNotBefore, SignerNotAfter time.Time
	// IssuedAt is the time, from ProvisionOptions.Now, as of whose hour
	// the device certificate is issued.
	IssuedAt time.Time
	// Volatile reports volatile-key provisioning.
	Volatile bool
	// ConfigLocked reports a configuration zone already locked, with the
	// NervesKey configuration asked for (an incompatible one is refused
	// before the plan): it is not written again.
	ConfigLocked bool
	// DataLocked reports a data zone already locked by an interrupted
	// run: only the read-back and the key slot lock remain.
	DataLocked bool
	// ReuseKey reports that slot 0 holds a valid key left by an
	// interrupted run and that it will be reused (ProvisionOptions.NewKey
	// not set); the device certificate is signed for it.
	ReuseKey bool
	// Steps are the steps that will run after StepValidate, in order;
	// Skipped are those the chip has already done. Together they are
	// StepConfigure to StepLockKey.
	Steps, Skipped []Step
	// DryRun is ProvisionOptions.DryRun: Provision stops after Confirm.
	DryRun bool
}

// A ProvisionStatus says what a successful Provision call found and did.
type ProvisionStatus int

const (
	// Provisioned: the run provisioned a chip whose configuration zone
	// was not locked.
	Provisioned ProvisionStatus = iota + 1
	// Resumed: the chip had already done some steps (its configuration,
	// or its configuration and data zones, were locked, as an interrupted
	// run leaves them) and the run finished it.
	Resumed
	// AlreadyProvisioned: the chip was fully provisioned and is the chip
	// these inputs make (serial, board name, signer and certificates
	// rebuilt and verified); nothing was written.
	AlreadyProvisioned
)

// String returns "provisioned", "resumed" or "already provisioned".
func (s ProvisionStatus) String() string {
	switch s {
	case Provisioned:
		return "provisioned"
	case Resumed:
		return "resumed"
	case AlreadyProvisioned:
		return "already provisioned"
	}
	return fmt.Sprintf("ProvisionStatus(%d)", int(s))
}

// A ProvisionResult is what a successful Provision call leaves: the record
// a factory keeps for each chip. After a dry run, Status is what a real run
// would report, and the fields a dry run cannot know (PublicKey,
// DeviceCert, KeyProof) are empty unless the chip was already provisioned.
type ProvisionResult struct {
	// Status says whether the run provisioned, resumed or found the chip
	// already provisioned.
	Status ProvisionStatus
	// Serial is the 9-byte chip serial number.
	Serial [9]byte
	// Revision is the part, e.g. "ATECC608A".
	Revision string
	// ManufacturerSN and BoardName are the OTP identity.
	ManufacturerSN, BoardName string
	// PublicKey is the device public key (slot 0).
	PublicKey *ecdsa.PublicKey
	// DeviceCert is the device certificate rebuilt from the chip and
	// verified; SignerCert is the signer certificate it chains to.
	DeviceCert, SignerCert *x509.Certificate
	// KeyProof says how the device key was proven before the signer
	// signed for it, e.g. "genkey public re-read matched; slot 0 signed
	// a random challenge that verified"; see SECURITY.md.
	KeyProof string
	// SignerSignatures is the number of signatures the signer made
	// (the trial certificate, the device certificate, rare retries).
	SignerSignatures int
}

func (o *ProvisionOptions) now() time.Time {
	if o != nil && o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *ProvisionOptions) rand() io.Reader {
	if o != nil && o.Rand != nil {
		return o.Rand
	}
	return crand.Reader
}

// NervesKey configuration (spec/nerves_key.md §3.2, §3.3).
var (
	nkSlotConfig = [32]byte{
		0x87, 0x20, // slot 0: private key, GenKey allowed until slot-locked
		0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, 0x0F, // 1–9
		0x0F, 0x2F, 0x0F, 0x2F, 0x0F, 0x2F, 0x0F, 0x2F, // 10–13: never written after the data lock
		0x0F, 0x0F, 0x0F, 0x0F, // 14–15
	}
	nkKeyConfig = [32]byte{
		0x33, 0x00, // slot 0: P-256 private, PubInfo, lockable
		0x1C, 0x00, 0x1C, 0x00, 0x1C, 0x00, 0x1C, 0x00, 0x1C, 0x00, 0x1C, 0x00, 0x1C, 0x00, // 1–7
		0x3C, 0x00, 0x3C, 0x00, 0x3C, 0x00, // 8–10
		0x30, 0x00, // 11: public key
		0x3C, 0x00, 0x3C, 0x00, 0x3C, 0x00, 0x3C, 0x00, // 12–15
	}
	// Volatile: slot 0 PersistentDisable, slot 1 activation key, slot 2
	// encryption key. nerves_key's volatile_config_compatible? looks for
	// 91 90 in SlotConfig 1, but configure_volatile writes 81 90; this
	// package writes and expects 81 90.
	nkVolSlot12 = [4]byte{0x81, 0x90, 0x81, 0x90}
	nkVolKey012 = [6]byte{0x33, 0x10, 0x78, 0x00, 0x38, 0x10}
)

// Config zone offsets written by provisioning.
const (
	cfgOTPMode    = 18
	cfgChipMode   = 19
	cfgSlotConfig = 20
	cfgVolKeyPerm = 69
	cfgX509Format = 92
	cfgKeyConfig  = 96

	cfgLockConfigByte = 87 // LockConfig: 0x55 until the configuration lock
)

// nervesKeyConfig returns cur with the NervesKey settings applied, as
// nerves_key's configure (or configure_volatile) computes the image it
// writes and whose CRC its lock carries: everything else as read.
func nervesKeyConfig(cur *atecc.Config, volatile bool) atecc.Config {
	c := *cur
	c[cfgOTPMode] = 0xAA
	c[cfgChipMode] = 0x00
	copy(c[cfgSlotConfig:], nkSlotConfig[:])
	copy(c[cfgKeyConfig:], nkKeyConfig[:])
	copy(c[cfgX509Format:cfgX509Format+4], []byte{0, 0, 0, 0})
	if volatile {
		copy(c[cfgSlotConfig+2:], nkVolSlot12[:])
		copy(c[cfgKeyConfig:], nkVolKey012[:])
		c[cfgVolKeyPerm] = 0x80 | activationSlot
	}
	return c
}

// configDiff returns the first config byte where have differs from want,
// or -1.
func configDiff(have, want *atecc.Config) int {
	for i := range have {
		if have[i] != want[i] {
			return i
		}
	}
	return -1
}

// keySlots are the slots locked at the end: the device key, and for
// volatile keys the activation and encryption keys, as nerves_key does.
func keySlots(volatile bool) []int {
	if volatile {
		return []int{keySlot, activationSlot, encryptionSlot}
	}
	return []int{keySlot}
}

// encryptionSlot holds a volatile-key chip's encryption key.
const encryptionSlot = 2

// Certificate slots (spec/nerves_key.md §1).
const (
	slotDeviceCert   = 10
	slotSignerPub    = 11
	slotSignerCert   = 12
	slotAuxDevice    = 9
	slotAuxSignerPub = 14
	slotAuxSigner    = 15
	slotMAC          = 5 // Trust&Go: ASCII EUI-48 in the first 12 bytes
)

// provisioning holds one Provision call's inputs and state.
type provisioning struct {
	c           *Chip
	o           *ProvisionOptions
	info        ProvisioningInfo
	signerCert  *x509.Certificate
	signer      crypto.Signer
	volatile    bool
	now         time.Time
	rand        io.Reader
	cfg         atecc.Config // as read at the start
	sn          [9]byte
	otp         [atecc.OTPSize]byte
	reuse       *[64]byte // slot 0's public key, when it will be reused
	signRefused bool      // the chip refused the challenge signature after GenKey
	signs       *countingSigner
	res         *ProvisionResult // filled in as the run goes
}

// countingSigner counts the signatures of the factory signer.
type countingSigner struct {
	crypto.Signer
	n int
}

// Sign counts and signs.
func (s *countingSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.n++
	return s.Signer.Sign(rand, digest, opts)
}

func (p *provisioning) progress(s Step, done, skipped bool, detail string) {
	if p.o != nil && p.o.Progress != nil {
		p.o.Progress(StepEvent{Step: s, Done: done, Skipped: skipped, Detail: detail})
	}
}

// run runs step s unless ctx is done.
func (p *provisioning) run(ctx context.Context, s Step, f func() (string, error)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("before step %d/%d (%v): %w", s, NumSteps, s, err)
	}
	p.progress(s, false, false, "")
	detail, err := f()
	if err != nil {
		return fmt.Errorf("step %d/%d (%v): %w", s, NumSteps, s, err)
	}
	p.progress(s, true, false, detail)
	return nil
}

func (p *provisioning) skip(s Step, why string) { p.progress(s, true, true, why) }

// confirm builds the plan and calls ProvisionOptions.Confirm with it.
// first is the first step that will run; the earlier ones are skipped.
func (p *provisioning) confirm(ctx context.Context, first Step) error {
	if p.o == nil || p.o.Confirm == nil {
		return nil
	}
	plan := &ProvisionPlan{
		Revision:        p.cfg.Revision().String(),
		Serial:          p.sn,
		Info:            p.info,
		SignerSubject:   p.signerCert.Subject.String(),
		SignerNotBefore: p.signerCert.NotBefore,
		SignerNotAfter:  p.signerCert.NotAfter,
		IssuedAt:        p.now,
		Volatile:        p.volatile,
		ConfigLocked:    p.cfg.ConfigLocked(),
		DataLocked:      p.cfg.DataLocked(),
		ReuseKey:        p.reuse != nil,
		DryRun:          p.o.DryRun,
	}
	for s := StepConfigure; s <= StepLockKey; s++ {
		if s < first {
			plan.Skipped = append(plan.Skipped, s)
		} else {
			plan.Steps = append(plan.Steps, s)
		}
	}
	if err := p.o.Confirm(ctx, plan); err != nil {
		return fmt.Errorf("%w: %w", ErrAborted, err)
	}
	return nil
}

// Provision provisions the chip as a NervesKey, as nerves_key's
// NervesKey.provision/4 (or volatile_provision/6 with
// ProvisionOptions.Volatile) does, with the same resulting bytes: the
// NervesKey configuration, the OTP identity from info, a device key
// generated in slot 0, the device certificate signed by signer (slots 10–12
// hold the compressed device certificate, the signer public key and the
// compressed signer certificate), then the data and slot locks.
//
// signer is any [crypto.Signer] for signerCert's P-256 key: a key from
// [LoadSigner], an HSM, a cloud KMS. It signs a trial certificate during
// validation and the device certificate (rarely a few times: signatures
// nerves_key would rebuild wrongly are replaced): two signatures for a
// run from a blank chip, none when only the key slot lock remains.
//
// The safety model is spelled out in the comment at the top of
// provision.go (the README quotes it): inputs are validated before any write (errors: *InputError, ErrConfigIncompatible,
// ErrVolatileUnsupported), the device key is proven before the signer signs
// (ErrInconsistent), the run can be repeated after an interruption at
// any point, certificates are verified before the data lock, and a chip
// already provisioned is compared with the inputs (success with Status
// AlreadyProvisioned, or ErrAlreadyProvisioned). The result says what was
// done; it is nil with an error. ctx is checked between
// steps. A Trust&Go chip is refused: Microchip provisions it.
func (c *Chip) Provision(ctx context.Context, info ProvisioningInfo, signerCert *x509.Certificate, signer crypto.Signer, opts *ProvisionOptions) (*ProvisionResult, error) {
	res, err := c.provision(ctx, info, signerCert, signer, opts)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: provision: %w", err)
	}
	return res, nil
}

func (c *Chip) provision(ctx context.Context, info ProvisioningInfo, signerCert *x509.Certificate, signer crypto.Signer, opts *ProvisionOptions) (*ProvisionResult, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	c.forget()
	defer c.forget()
	p := &provisioning{
		c: c, o: opts, info: info, signerCert: signerCert,
		volatile: opts != nil && opts.Volatile != nil,
		now:      opts.now(), rand: opts.rand(),
	}
	if signer != nil {
		p.signs = &countingSigner{Signer: signer}
		p.signer = p.signs
	}
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	// Everything Provision writes to the configuration is computed from
	// this read, so read it a second time: one forged or glitched answer
	// must not decide what is written and locked.
	again, err := c.dev.ReadConfig(ctx)
	if err != nil {
		return nil, err
	}
	if i := configDiff(cfg, &again); i >= 0 {
		return nil, fmt.Errorf("%w: two reads of the configuration zone differ at byte %d (%02x, then %02x); nothing was written", ErrInconsistent, i, cfg[i], again[i])
	}
	p.cfg = *cfg
	p.sn = cfg.SerialNumber()
	p.res = &ProvisionResult{
		Status:         Provisioned,
		Serial:         p.sn,
		Revision:       p.cfg.Revision().String(),
		ManufacturerSN: info.ManufacturerSN,
		BoardName:      info.BoardName,
		SignerCert:     signerCert,
	}
	if p.cfg.ConfigLocked() {
		p.res.Status = Resumed
	}
	res, err := p.provisionChip(ctx)
	if res != nil && p.signs != nil {
		res.SignerSignatures = p.signs.n
	}
	return res, err
}

func (p *provisioning) provisionChip(ctx context.Context) (*ProvisionResult, error) {
	p.progress(StepValidate, false, false, "")
	want, err := p.checkChip()
	if err != nil {
		return nil, err
	}
	if err := p.checkInputs(); err != nil {
		return nil, err
	}
	if p.cfg.DataLocked() {
		var todo []int
		for _, s := range keySlots(p.volatile) {
			if !p.cfg.SlotLocked(s) {
				todo = append(todo, s)
			}
		}
		if len(todo) == 0 {
			return p.compareProvisioned(ctx)
		}
		p.progress(StepValidate, true, false, fmt.Sprintf("data zone locked, key slot(s) %v not: finishing an interrupted run", todo))
		if err := p.confirm(ctx, StepLockKey); err != nil {
			return nil, err
		}
		if p.o != nil && p.o.DryRun {
			return p.res, nil
		}
		for s := StepConfigure; s <= StepLockData; s++ {
			p.skip(s, "data zone already locked")
		}
		if err := p.run(ctx, StepLockKey, func() (string, error) { return p.finish(ctx, todo) }); err != nil {
			return nil, err
		}
		return p.res, nil
	}
	if p.cfg.ConfigLocked() && !p.o.newKey() {
		if err := p.probeKey(ctx); err != nil {
			return nil, err
		}
	}
	if err := p.trialCertificate(); err != nil {
		return nil, err
	}
	p.progress(StepValidate, true, false, "")
	first := StepConfigure
	if p.cfg.ConfigLocked() {
		first = StepWriteOTP
	}
	if err := p.confirm(ctx, first); err != nil {
		return nil, err
	}
	if p.o != nil && p.o.DryRun {
		return p.res, nil
	}
	if err := p.provisionUnlocked(ctx, &want); err != nil {
		return nil, err
	}
	return p.res, nil
}

// compareProvisioned checks a fully provisioned chip against the inputs:
// the chip those inputs make is a success (AlreadyProvisioned), any other
// is ErrAlreadyProvisioned with what differs. Nothing is written.
func (p *provisioning) compareProvisioned(ctx context.Context) (*ProvisionResult, error) {
	pub, dev, err := p.readBack(ctx)
	if err != nil {
		if errors.Is(err, ErrVerify) {
			return nil, fmt.Errorf("%w (data zone and key slot locked), and not as these inputs make it: %w", ErrAlreadyProvisioned, err)
		}
		return nil, err
	}
	p.res.Status = AlreadyProvisioned
	p.res.PublicKey, p.res.DeviceCert = pub, dev
	p.res.KeyProof = "read back with genkey public; the device certificate holds that key and verifies under the signer"
	p.progress(StepValidate, true, false, "the chip is already provisioned as these inputs make it; nothing written")
	for s := StepConfigure; s <= StepLockKey; s++ {
		p.skip(s, "already provisioned")
	}
	return p.res, nil
}

// probeKey looks for a valid key in slot 0 left by an interrupted run,
// on a chip whose configuration is locked (GenKey needs that lock) and
// whose data zone is not, and sets p.reuse to its public key. GenKey in
// public-key mode writes nothing and succeeds only for a key generated
// on the chip. On a chip whose configuration was not locked at the start
// no run can have generated a key, so a new one is always made.
func (p *provisioning) probeKey(ctx context.Context) error {
	xy, err := p.c.dev.GenKey(ctx, keySlot, false)
	switch {
	case err == nil:
		p.reuse = &xy
	case !errors.Is(err, ErrExecution):
		return err
	}
	return nil
}

// checkChip checks the chip's type, revision and configuration against
// the request and returns the configuration to write.
func (p *provisioning) checkChip() (atecc.Config, error) {
	if p.c.typ == TrustAndGo {
		return atecc.Config{}, &InputError{Field: "device type", Reason: "Trust&Go chips are provisioned by Microchip; use ProvisionAux to add certificates"}
	}
	rev := p.cfg.Revision()
	if rev == atecc.RevisionUnknown {
		return atecc.Config{}, &InputError{Field: "chip", Reason: fmt.Sprintf("RevNum %x is not an ATECC508A, 608A or 608B", p.cfg.RevNum())}
	}
	if p.volatile && !rev.Is608() {
		return atecc.Config{}, fmt.Errorf("%w: this chip is an %v", ErrVolatileUnsupported, rev)
	}
	want := nervesKeyConfig(&p.cfg, p.volatile)
	if p.cfg.ConfigLocked() {
		if i := configDiff(&p.cfg, &want); i >= 0 {
			kind := "regular"
			if p.volatile {
				kind = "volatile-key"
			}
			hint := ""
			if p.cfg[cfgSlotConfig] == 0x87 && p.cfg[cfgSlotConfig+1] == 0x20 {
				if p.cfg[cfgKeyConfig+1] == 0x10 && !p.volatile {
					hint = " (it is a volatile-key NervesKey configuration: set ProvisionOptions.Volatile)"
				} else if p.cfg[cfgKeyConfig+1] == 0x00 && p.volatile {
					hint = " (it is a regular NervesKey configuration)"
				}
			}
			return atecc.Config{}, fmt.Errorf("%w: config byte %d is %02x, the %s NervesKey configuration has %02x%s",
				ErrConfigIncompatible, i, p.cfg[i], kind, want[i], hint)
		}
	}
	return want, nil
}

// checkInputs validates info, the signer and the clock.
func (p *provisioning) checkInputs() error {
	if err := checkManufacturerSN(p.info.ManufacturerSN); err != nil {
		return err
	}
	if err := checkBoardName(p.info.BoardName); err != nil {
		return err
	}
	otp, err := atecc.NewNervesKeyOTP(p.info.BoardName, p.info.ManufacturerSN)
	if err == nil {
		if err := setUserData(&otp, &p.info); err != nil {
			return err
		}
		p.otp, err = otp.Marshal()
	}
	if err != nil {
		return &InputError{Field: "provisioning info", Reason: "does not fit the OTP zone", Err: err}
	}
	if p.volatile {
		if p.o.Volatile.Activation == ([16]byte{}) {
			return &InputError{Field: "volatile keys", Reason: "the activation key is all zeros"}
		}
	}
	return checkSigner(p.signerCert, p.signer, p.now)
}

// checkSigner checks the signer and the clock before any write.
func checkSigner(signerCert *x509.Certificate, signer crypto.Signer, now time.Time) error {
	if y := now.UTC().Year(); y < minClockYear {
		return &InputError{Field: "clock", Reason: fmt.Sprintf("it says %s; set the clock (nerves_time, NTP) first", now.UTC().Format(time.RFC3339)), Err: ErrClockNotSet}
	} else if y > 2031 {
		return &InputError{Field: "clock", Reason: fmt.Sprintf("it says %d: compressed certificates hold issue years 2000-2031 only, so certificates made now would not rebuild", y),
			Err: &DateError{Field: "issue year", Value: y}}
	}
	if signerCert == nil {
		return &InputError{Field: "signer certificate", Reason: "missing"}
	}
	if signer == nil {
		return &InputError{Field: "signer key", Reason: "missing"}
	}
	if err := cert.CheckSigner(signerCert); err != nil {
		return &InputError{Field: "signer certificate", Reason: "a chip cannot store it (it does not rebuild from its compressed form)", Err: err}
	}
	if err := cert.CheckSignerKey(signerCert, signer); err != nil {
		return &InputError{Field: "signer key", Reason: "does not match the signer certificate", Err: err}
	}
	switch {
	case now.Before(signerCert.NotBefore):
		return &InputError{Field: "signer certificate", Reason: fmt.Sprintf("not valid before %s (clock: %s)", signerCert.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
	case now.After(signerCert.NotAfter):
		return &InputError{Field: "signer certificate", Reason: fmt.Sprintf("expired on %s", signerCert.NotAfter.UTC().Format(time.RFC3339))}
	}
	return nil
}

// checkManufacturerSN applies provisioning's rules to a manufacturer
// serial number: the OTP limit and what a certificate CN can hold.
func checkManufacturerSN(sn string) error {
	bad := func(why string) error {
		return &InputError{Field: "manufacturer serial number", Reason: fmt.Sprintf("%q %s", sn, why)}
	}
	switch {
	case sn == "":
		return bad("is empty (Chip.DefaultInfo gives nerves_key's default)")
	case len(sn) > MaxManufacturerSNLen:
		return bad(fmt.Sprintf("is %d bytes, max %d", len(sn), MaxManufacturerSNLen))
	case !utf8.ValidString(sn):
		return bad("is not valid UTF-8")
	case bytes.ContainsRune([]byte(sn), '/'):
		return bad("contains '/', which nerves_key cannot put in a certificate name")
	case bytes.ContainsFunc([]byte(sn), unicode.IsControl):
		return bad("contains a control character")
	}
	return nil
}

// checkBoardName refuses what nerves_key would silently truncate or read
// back differently.
func checkBoardName(name string) error {
	bad := func(why string) error {
		return &InputError{Field: "board name", Reason: fmt.Sprintf("%q %s", name, why)}
	}
	switch {
	case len(name) > MaxBoardNameLen:
		return bad(fmt.Sprintf("is %d bytes, max %d (nerves_key would truncate it)", len(name), MaxBoardNameLen))
	case !utf8.ValidString(name):
		return bad("is not valid UTF-8")
	case bytes.ContainsFunc([]byte(name), unicode.IsControl):
		return bad("contains a control character")
	}
	return nil
}

// trialCertificate signs, compresses, rebuilds and compares a device
// certificate for a throwaway key, with this chip's serial and the real
// inputs, so that nothing is written for a signer that cannot work.
func (p *provisioning) trialCertificate() error {
	k, err := ecdsa.GenerateKey(elliptic.P256(), p.rand)
	if err != nil {
		return err
	}
	if _, _, err := cert.NewDevice(p.rand, &k.PublicKey, p.sn, p.info.ManufacturerSN, p.signerCert, p.signer, p.now); err != nil {
		return &InputError{Field: "signer", Reason: "a trial device certificate failed", Err: err}
	}
	return nil
}

// slotImages returns slots 1–15 at full size, as nerves_key's slot_data
// (or volatile_slot_data) lays them out.
func (p *provisioning) slotImages(devComp *cert.Compressed) ([atecc.NumSlots][]byte, error) {
	var s [atecc.NumSlots][]byte
	for i := 1; i < atecc.NumSlots; i++ {
		s[i] = make([]byte, atecc.SlotSize(i))
	}
	d, err := devComp.Marshal()
	if err != nil {
		return s, err
	}
	copy(s[slotDeviceCert], d)
	xy, sc, err := compressSigner(p.signerCert)
	if err != nil {
		return s, err
	}
	copy(s[slotSignerPub], xy)
	copy(s[slotSignerCert], sc)
	if p.volatile {
		copy(s[activationSlot], p.o.Volatile.Activation[:])
		copy(s[encryptionSlot], p.o.Volatile.Encryption[:])
	}
	return s, nil
}

// compressSigner returns the signer's raw public key X‖Y and its 72-byte
// compressed certificate.
func compressSigner(c *x509.Certificate) (xy, comp []byte, err error) {
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("signer public key is %T: %w", c.PublicKey, ErrSignerKey)
	}
	b, err := pub.Bytes()
	if err != nil {
		return nil, nil, err
	}
	sc, err := cert.Compress(c.Raw, cert.NervesKeySignerTemplate)
	if err != nil {
		return nil, nil, err
	}
	comp, err = sc.Marshal()
	return b[1:], comp, err
}

// dataCRC returns the summary CRC the data lock carries: slots 1–15 at
// full size, then the OTP zone (slot 0, the private key, is excluded).
func dataCRC(slots *[atecc.NumSlots][]byte, otp *[atecc.OTPSize]byte) uint16 {
	var b []byte
	for i := 1; i < atecc.NumSlots; i++ {
		b = append(b, slots[i]...)
	}
	return ni2c.CRC16(append(b, otp[:]...))
}

func (p *provisioning) provisionUnlocked(ctx context.Context, want *atecc.Config) error {
	d := p.c.dev
	if p.cfg.ConfigLocked() {
		p.skip(StepConfigure, "configuration already locked and compatible")
		p.skip(StepLockConfig, "configuration already locked")
	} else {
		if err := p.run(ctx, StepConfigure, func() (string, error) { return "", d.WriteConfig(ctx, want) }); err != nil {
			return err
		}
		err := p.run(ctx, StepLockConfig, func() (string, error) {
			err := d.LockConfig(ctx, want.CRC())
			if err == nil || !errors.Is(err, ErrExecution) {
				return "", err
			}
			// A retried lock whose first answer was lost is refused
			// as already locked: read the lock byte to tell.
			have, rerr := d.ReadConfig(ctx)
			if rerr != nil {
				return "", fmt.Errorf("the chip refused the lock (%w), and reading its state failed: %w", err, rerr)
			}
			if !have.ConfigLocked() {
				return "", fmt.Errorf("the chip refused the lock: its config zone differs from the image written: %w", err)
			}
			locked := *want
			locked[cfgLockConfigByte] = have[cfgLockConfigByte]
			if i := configDiff(&have, &locked); i >= 0 {
				return "", fmt.Errorf("%w: the configuration zone is locked, but byte %d is %02x, not %02x", ErrConfigIncompatible, i, have[i], want[i])
			}
			return "already locked as intended (the answer to an earlier lock was lost)", nil
		})
		if err != nil {
			return err
		}
	}
	if err := p.run(ctx, StepWriteOTP, func() (string, error) { return "", d.WriteOTP(ctx, p.otp) }); err != nil {
		return err
	}
	var pub *ecdsa.PublicKey
	err := p.run(ctx, StepGenKey, func() (string, error) {
		// The plan said whether slot 0's key is reused (probeKey).
		var xy [64]byte
		if p.reuse != nil {
			xy = *p.reuse
		} else {
			var err error
			if xy, err = d.GenKey(ctx, keySlot, true); err != nil {
				return "", err
			}
		}
		var err error
		if pub, err = publicKeyFromXY(xy[:]); err != nil {
			return "", err
		}
		proof, err := p.proveKey(ctx, xy, pub)
		if err != nil {
			return "", err
		}
		p.res.KeyProof = proof
		if p.reuse != nil {
			return "reused the valid key left in slot 0 by an interrupted run; " + proof, nil
		}
		return "generated a new key; " + proof, nil
	})
	if err != nil {
		return err
	}
	var slots [atecc.NumSlots][]byte
	var devDER []byte
	err = p.run(ctx, StepWriteSlots, func() (string, error) {
		der, comp, err := cert.NewDevice(p.rand, pub, p.sn, p.info.ManufacturerSN, p.signerCert, p.signer, p.now)
		if err != nil {
			return "", fmt.Errorf("device certificate: %w", err)
		}
		devDER = der
		if slots, err = p.slotImages(comp); err != nil {
			return "", err
		}
		return "", p.writeSlots(ctx, &slots, false)
	})
	if err != nil {
		return err
	}
	err = p.run(ctx, StepVerify, func() (string, error) {
		dev, err := p.verify(pub, p.otp, slots[slotDeviceCert], slots[slotSignerPub], slots[slotSignerCert])
		if err != nil {
			return "", err
		}
		if !bytes.Equal(dev.Raw, devDER) {
			return "", fmt.Errorf("%w: the device certificate rebuilt from slot 10 differs from the one signed", ErrVerify)
		}
		return "", nil
	})
	if err != nil {
		return err
	}
	err = p.run(ctx, StepLockData, func() (string, error) {
		// The last read of the key before the irreversible step: the
		// key the certificate holds must still be slot 0's.
		if err := p.sameKey(ctx, pub, "immediately before the data lock"); err != nil {
			return "", err
		}
		if p.signRefused && p.volatile {
			// A volatile key may sign only with the persistent latch
			// set, which needs the activation key now in slot 1.
			switch err := p.challenge(ctx, pub, true); {
			case err == nil:
				p.res.KeyProof += "; with the persistent latch set, slot 0 signed a random challenge that verified before the data lock"
			case !errors.Is(err, ErrExecution):
				return "", err
			}
		}
		crc := dataCRC(&slots, &p.otp)
		err := d.LockData(ctx, crc)
		if err == nil {
			return "", nil
		}
		if !errors.Is(err, ErrExecution) {
			return "", err
		}
		if locked, err := p.dataLocked(ctx, err); err != nil || locked {
			return "already locked (the answer to an earlier lock was lost)", err
		}
		// The all-zero slots were not written; the chip's differ (factory
		// contents, an interrupted run). Write them and lock again.
		if err := p.writeSlots(ctx, &slots, true); err != nil {
			return "", err
		}
		if err := d.LockData(ctx, crc); err != nil {
			if !errors.Is(err, ErrExecution) {
				return "", err
			}
			if locked, lerr := p.dataLocked(ctx, err); lerr != nil || locked {
				return "wrote the unused slots as zeros first; already locked (the answer to an earlier lock was lost)", lerr
			}
			return "", fmt.Errorf("%w: the chip refused the data lock, so its slots or OTP differ from what was written (nothing was locked; run Provision again): %w", ErrVerify, err)
		}
		return "wrote the unused slots as zeros first", nil
	})
	if err != nil {
		return err
	}
	return p.run(ctx, StepLockKey, func() (string, error) { return p.finish(ctx, keySlots(p.volatile)) })
}

// writeSlots writes the slot images that hold data (zeros false) or the
// all-zero ones (zeros true), each as nerves_key's write_padded does:
// 32-byte writes of the slot zero-padded to a multiple of 32 bytes.
//
// The all-zero slots (1–9 and 13–15 unless volatile) are at first not
// written: the data lock carries the CRC of the full images, so if the
// chip already holds zeros there (a blank chip) the lock succeeds and 39
// writes are saved; if not, the chip refuses the lock, nothing is locked,
// and they are written before locking again. The check is a 16-bit CRC: a
// chip whose unused slots hold other bytes has a 1 in 65536 chance of
// passing it anyway, leaving those bytes in slots Elixir would have zeroed
// (never in slots 10–12 or the OTP, which are always written and read back).
func (p *provisioning) writeSlots(ctx context.Context, slots *[atecc.NumSlots][]byte, zeros bool) error {
	return p.c.dev.Do(ctx, func(s *atecc.Session) error {
		for i := 1; i < atecc.NumSlots; i++ {
			if provAllZero(slots[i]) != zeros {
				continue
			}
			if err := s.WriteSlot(ctx, i, slots[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func provAllZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func (o *ProvisionOptions) newKey() bool { return o != nil && o.NewKey }

// verify rebuilds the certificates from OTP and slot bytes with the read
// path and checks them against the inputs and the chip's public key.
func (p *provisioning) verify(pub *ecdsa.PublicKey, otpb [atecc.OTPSize]byte, devB, pubB, signerB []byte) (*x509.Certificate, error) {
	otp, err := atecc.ParseNervesKeyOTP(otpb)
	if err != nil {
		return nil, fmt.Errorf("%w: OTP: %w", ErrVerify, err)
	}
	if otp.ManufacturerSN != p.info.ManufacturerSN || otp.BoardName != p.info.BoardName {
		return nil, fmt.Errorf("%w: the OTP holds serial %q and board %q, not %q and %q", ErrVerify,
			otp.ManufacturerSN, otp.BoardName, p.info.ManufacturerSN, p.info.BoardName)
	}
	if want, _ := atecc.ParseNervesKeyOTP(p.otp); otp.User != want.User {
		return nil, fmt.Errorf("%w: the OTP holds user data %x, not %x", ErrVerify, otp.User, want.User)
	}
	dev, err := rebuildPair(pub, p.sn, otp.ManufacturerSN, devB, pubB, signerB, p.signerCert, p.now)
	if err != nil {
		return nil, err
	}
	return dev, nil
}

// rebuildPair rebuilds a NervesKey certificate pair from its three slots,
// checks that the signer is signerCert, and verifies the device
// certificate's chain and key.
func rebuildPair(pub *ecdsa.PublicKey, sn [9]byte, mfgSN string, devB, pubB, signerB []byte, signerCert *x509.Certificate, now time.Time) (*x509.Certificate, error) {
	fail := func(format string, args ...any) (*x509.Certificate, error) {
		return nil, fmt.Errorf("%w: %s", ErrVerify, fmt.Sprintf(format, args...))
	}
	pb, err := pub.Bytes()
	if err != nil {
		return nil, err
	}
	signerXY := pubB[:64]
	sc, err := cert.ParseCompressed(signerB[:cert.CompressedSize])
	if err != nil {
		return fail("signer certificate slot: %v", err)
	}
	signerDER, err := cert.NervesKeySigner(sc, signerXY)
	if err != nil {
		return fail("signer certificate slot: %v", err)
	}
	if !bytes.Equal(signerDER, signerCert.Raw) {
		return fail("the signer certificate rebuilt from the chip is not the signer given")
	}
	dc, err := cert.ParseCompressed(devB[:cert.CompressedSize])
	if err != nil {
		return fail("device certificate slot: %v", err)
	}
	devDER, err := cert.NervesKeyDevice(dc, pb[1:], signerXY, sn, mfgSN)
	if err != nil {
		return fail("device certificate slot: %v", err)
	}
	dev, err := x509.ParseCertificate(devDER)
	if err != nil {
		return fail("rebuilt device certificate: %v", err)
	}
	if !pub.Equal(dev.PublicKey) {
		return fail("the device certificate does not hold the chip's public key")
	}
	if err := dev.CheckSignatureFrom(signerCert); err != nil {
		return fail("the device certificate's signature does not verify under the signer (was slot 0's key replaced?): %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(signerCert)
	if _, err := dev.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fail("the device certificate chain does not verify: %v", err)
	}
	return dev, nil
}

// proveKey proves that slot 0 holds the private key of xy (the answer of
// GenKey create, or of the probe that found a key to reuse) before the
// signer certifies it: GenKey in public-key mode recomputes the public key
// from the private key and must answer the same, then slot 0 signs a fresh
// random challenge (Nonce pass-through, external Sign) that must verify
// under it. A chip that refuses external Sign before the data lock is
// proven by the GenKey cross-check alone, and the result says so. It
// returns how the key was proven.
func (p *provisioning) proveKey(ctx context.Context, xy [64]byte, pub *ecdsa.PublicKey) (string, error) {
	if err := p.sameKey(ctx, pub, "after key generation"); err != nil {
		return "", err
	}
	err := p.challenge(ctx, pub, false)
	if errors.Is(err, ErrExecution) {
		p.signRefused = true
		return "genkey public re-read matched; the chip refused external Sign before the data lock (" + err.Error() + "), so no challenge signature", nil
	}
	if err != nil {
		return "", err
	}
	return "genkey public re-read matched; slot 0 signed a random challenge that verified", nil
}

// challenge has slot 0 sign a fresh random challenge (Nonce pass-through,
// external Sign) and verifies it under pub. With latch, a volatile-key
// chip's persistent latch is set first, in the same wake, with the
// activation key (already written to slot 1). A refusal is an error
// wrapping ErrExecution.
func (p *provisioning) challenge(ctx context.Context, pub *ecdsa.PublicKey, latch bool) error {
	var challenge [32]byte
	var numIn [20]byte
	if _, err := io.ReadFull(p.rand, challenge[:]); err != nil {
		return err
	}
	if _, err := io.ReadFull(p.rand, numIn[:]); err != nil {
		return err
	}
	var rs [64]byte
	err := p.c.dev.Do(ctx, func(s *atecc.Session) error {
		if latch {
			var key [32]byte
			copy(key[:], p.o.Volatile.Activation[:])
			if err := s.AuthVolatileKey(ctx, activationSlot, key, numIn); err != nil {
				return err
			}
		}
		if err := s.NonceLoad(ctx, challenge); err != nil {
			return err
		}
		var err error
		rs, err = s.Sign(ctx, keySlot, atecc.SignTempKey)
		return err
	})
	if err != nil {
		return err
	}
	if !verifyRS(pub, challenge[:], &rs) {
		return fmt.Errorf("%w: slot 0's signature of a random challenge does not verify under the public key it reported; nothing was locked (run Provision again on a sound bus)", ErrInconsistent)
	}
	return nil
}

// sameKey reads slot 0's public key with GenKey in public-key mode and
// requires pub.
func (p *provisioning) sameKey(ctx context.Context, pub *ecdsa.PublicKey, when string) error {
	xy, err := p.c.dev.GenKey(ctx, keySlot, false)
	if err != nil {
		return err
	}
	b, err := pub.Bytes()
	if err != nil {
		return err
	}
	if !bytes.Equal(b[1:], xy[:]) {
		return fmt.Errorf("%w: %s, slot 0's public key reads %x, not the %x reported before; nothing was locked (run Provision again on a sound bus)", ErrInconsistent, when, xy[:8], b[1:9])
	}
	return nil
}

// dataLocked reads the lock byte after the chip refused a data lock with
// lockErr: a retried lock whose first answer was lost is refused because
// the zone is already locked. The CRC the lock carries means only the
// bytes written could have been locked; finish reads them back.
func (p *provisioning) dataLocked(ctx context.Context, lockErr error) (bool, error) {
	have, err := p.c.dev.ReadConfig(ctx)
	if err != nil {
		return false, fmt.Errorf("the chip refused the data lock (%w), and reading its state failed: %w", lockErr, err)
	}
	return have.DataLocked(), nil
}

// readBack reads the data-locked chip back (OTP, certificate slots, slot 0's
// public key, after setting the latch of a volatile-key chip) and verifies
// it against the inputs.
func (p *provisioning) readBack(ctx context.Context) (*ecdsa.PublicKey, *x509.Certificate, error) {
	var numIn [20]byte
	if _, err := io.ReadFull(p.rand, numIn[:]); err != nil {
		return nil, nil, err
	}
	var otp [atecc.OTPSize]byte
	var s10, s11, s12 []byte
	var xy [64]byte
	err := p.c.dev.Do(ctx, func(s *atecc.Session) error {
		var err error
		if otp, err = s.ReadOTP(ctx); err != nil {
			return err
		}
		if s10, err = s.ReadSlot(ctx, slotDeviceCert); err != nil {
			return err
		}
		if s11, err = s.ReadSlot(ctx, slotSignerPub); err != nil {
			return err
		}
		if s12, err = s.ReadSlot(ctx, slotSignerCert); err != nil {
			return err
		}
		if p.volatile {
			// After the data lock the key needs the persistent latch.
			var key [32]byte
			copy(key[:], p.o.Volatile.Activation[:])
			if err := s.AuthVolatileKey(ctx, activationSlot, key, numIn); err != nil {
				if errors.Is(err, ErrMiscompare) {
					return fmt.Errorf("%w: %w", ErrActivationKey, err)
				}
				return err
			}
		}
		xy, err = s.GenKey(ctx, keySlot, false)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	pub, err := publicKeyFromXY(xy[:])
	if err != nil {
		return nil, nil, err
	}
	dev, err := p.verify(pub, otp, s10, s11, s12)
	if err != nil {
		return nil, nil, err
	}
	return pub, dev, nil
}

// finish reads the data-locked chip back, verifies it against the inputs
// and locks the key slots in todo. A slot lock the chip refuses because the
// slot is already locked (the answer to an earlier lock was lost) counts
// as done.
func (p *provisioning) finish(ctx context.Context, todo []int) (string, error) {
	pub, dev, err := p.readBack(ctx)
	if err != nil {
		return "", err
	}
	p.res.PublicKey, p.res.DeviceCert = pub, dev
	if p.res.KeyProof == "" {
		p.res.KeyProof = "read back with genkey public after the data lock; the device certificate holds that key and verifies under the signer"
	}
	lost := ""
	for _, slot := range todo {
		err := p.c.dev.LockSlot(ctx, slot)
		if err == nil || !errors.Is(err, ErrExecution) {
			if err != nil {
				return "", err
			}
			continue
		}
		have, rerr := p.c.dev.ReadConfig(ctx)
		if rerr != nil {
			return "", fmt.Errorf("the chip refused to lock slot %d (%w), and reading its state failed: %w", slot, err, rerr)
		}
		if !have.SlotLocked(slot) {
			return "", err
		}
		lost = fmt.Sprintf(" (slot %d was already locked: the answer to an earlier lock was lost)", slot)
	}
	return fmt.Sprintf("verified; locked slot(s) %v%s", todo, lost), nil
}

// ProvisionAux signs an auxiliary device certificate for the chip's key
// with signer and writes the aux pair (slots 9, 14, 15), as nerves_key's
// provision_aux_certificates does, byte for byte: slot 14 gets the signer
// public key as two 32-byte writes, leaving bytes 64–71 as they were. It
// can be repeated, to replace the pair. The chip must be provisioned: on a
// chip whose data zone is not locked it returns ErrNotProvisioned, before
// checking its inputs, and writes nothing.
//
// The subject CN is the OTP manufacturer serial number on a NervesKey; on a
// Trust&Go chip it is the MAC address in slot 5, as upstream. Departure
// from nerves_key: on both device types the aux pair is written and read
// back with the NervesKey templates (nerves_key writes NervesKey-format
// data on a Trust&Go chip but reads it with Trust&Go templates, so its aux
// certificates never rebuild there; spec/nerves_key.md §4.4). A chip whose
// slot 9, 14 or 15 is locked, secret or encrypted for reads (slot 9 of a
// Trust&Go part as Microchip configures it holds a secret key) is refused
// with a *ConfigError before anything is written. The pair is
// read back and verified after writing. Only Now, Rand and DryRun of opts
// are used. On a volatile-key chip, open the Chip with
// Options.ActivationKey: the device public key needs the persistent latch.
func (c *Chip) ProvisionAux(ctx context.Context, signerCert *x509.Certificate, signer crypto.Signer, opts *ProvisionOptions) error {
	if err := c.provisionAux(ctx, signerCert, signer, opts); err != nil {
		return fmt.Errorf("nerveskey: provision aux: %w", err)
	}
	return nil
}

func (c *Chip) provisionAux(ctx context.Context, signerCert *x509.Certificate, signer crypto.Signer, opts *ProvisionOptions) error {
	if err := c.requireDataLock(ctx); err != nil {
		return err
	}
	c.forget()
	defer c.forget()
	now, rnd := opts.now(), opts.rand()
	if err := checkSigner(signerCert, signer, now); err != nil {
		return err
	}
	sn, name, err := c.auxSubject(ctx)
	if err != nil {
		return err
	}
	k, err := c.key(ctx)
	if err != nil {
		return err
	}
	der, comp, err := cert.NewDevice(rnd, k.pub, sn, name, signerCert, signer, now)
	if err != nil {
		return &InputError{Field: "signer", Reason: "cannot make an aux device certificate", Err: err}
	}
	if opts != nil && opts.DryRun {
		return nil
	}
	dc, err := comp.Marshal()
	if err != nil {
		return err
	}
	xy, sc, err := compressSigner(signerCert)
	if err != nil {
		return err
	}
	return c.writeAuxSlots(ctx, k.pub, sn, name, auxImages{device: dc, signerXY: xy, signer: sc}, signerCert, der, now)
}

// requireDataLock returns ErrNotProvisioned unless the data zone is locked.
// It runs before anything is written to the aux slots: a chip whose
// configuration is locked but data zone is not (a provisioning interrupted
// after the configuration lock) accepts clear writes to them, which would
// leave it half-written. A cached configuration that says unlocked is read
// again, since the chip may have been provisioned through another handle;
// one that says locked is trusted, as a lock cannot be undone.
func (c *Chip) requireDataLock(ctx context.Context) error {
	cfg, err := c.config(ctx)
	if err != nil {
		return err
	}
	if cfg.DataLocked() {
		return nil
	}
	c.forget()
	if cfg, err = c.config(ctx); err != nil {
		return err
	}
	if !cfg.DataLocked() {
		return ErrNotProvisioned
	}
	return nil
}

// ClearAux removes the aux certificate pair, writing 72 zero bytes to
// slots 9, 14 and 15 as nerves_key's clear_aux_certificates does. The data
// zone must be locked: before that, slots 9, 14 and 15 are no aux pair,
// and ClearAux returns ErrNotProvisioned without writing anything.
func (c *Chip) ClearAux(ctx context.Context) error {
	if err := c.requireDataLock(ctx); err != nil {
		return fmt.Errorf("nerveskey: clear aux: %w", err)
	}
	defer c.forget()
	zero := make([]byte, atecc.SlotSize(slotAuxDevice))
	err := c.dev.Do(ctx, func(s *atecc.Session) error {
		for _, slot := range []int{slotAuxDevice, slotAuxSignerPub, slotAuxSigner} {
			if err := s.WriteSlot(ctx, slot, zero); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("nerveskey: clear aux: %w", err)
	}
	return nil
}
