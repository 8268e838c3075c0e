package nerveskey

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	crand "crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// ProvisioningInfo is the identity Provision writes to the OTP zone; the
// manufacturer serial number is also the device certificate's subject CN.
// nerves_key's default identity is Info.DefaultManufacturerSN (the chip
// serial number in base32) with the board name "NervesKey".
type ProvisioningInfo struct {
	// ManufacturerSN is 1 to 32 bytes of UTF-8 (nerves_key's limit), without
	// '/' or control characters.
	ManufacturerSN string
	// BoardName is at most 10 bytes (may be empty); nerves_key would
	// truncate a longer one, Provision refuses it.
	BoardName string
	// UserData is written to OTP bytes 32–63, nerves_key's OTP user
	// field (Info.UserData reads it). Non-zero user data needs a
	// ManufacturerSN of at most 16 bytes: a longer one takes those bytes.
	// Default all zeros, as nerves_key's provisioning writes.
	UserData [32]byte
}

// VolatileKeys are the two 16-byte AES keys of volatile-key provisioning
// (nerves_key's volatile_provision, docs/nerves_key.md §4.3).
type VolatileKeys struct {
	// Activation goes to slot 1; proving it with CheckMac sets the
	// persistent latch that enables the device key (Options.ActivationKey).
	Activation [16]byte
	// Encryption goes to slot 2.
	Encryption [16]byte
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
	// Steps are the names of the steps that will run after the first
	// (validation), in order; Skipped are those the chip has already done
	// (see StepEvent for the names). Together they are steps 2 to 9.
	Steps, Skipped []string
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
// # Safety
//
// Two steps are irreversible: the configuration lock and the data lock.
// Every input is checked against the chip before the first write
// (*InputError, ErrConfigIncompatible), and ProvisionOptions.Confirm sees
// the plan first. The device key is proven before the signer signs for it
// (ErrInconsistent otherwise, with the data zone still unlocked). The
// certificates are rebuilt from the bytes written and verified before the
// data lock, whose CRC makes the chip refuse it unless it holds exactly
// those bytes. The run can be repeated after an interruption at any
// point and completes the chip. A chip already provisioned is compared
// with the inputs: success with Status AlreadyProvisioned, or
// ErrAlreadyProvisioned. Slot 0 is never read or written. The full model
// is docs/provisioning.md; SECURITY.md says what it does not stop.
//
// The result says what was done; it is nil with an error. ctx is checked
// between steps. A Trust&Go chip is refused: Microchip provisions it.
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
	if i := layout.ConfigDiff(cfg, &again); i >= 0 {
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
	p.progress(stepValidate, false, false, "")
	want, err := p.checkChip()
	if err != nil {
		return nil, err
	}
	if err := p.checkInputs(); err != nil {
		return nil, err
	}
	if p.cfg.DataLocked() {
		var todo []int
		for _, s := range layout.KeySlots(p.volatile) {
			if !p.cfg.SlotLocked(s) {
				todo = append(todo, s)
			}
		}
		if len(todo) == 0 {
			return p.compareProvisioned(ctx)
		}
		p.progress(stepValidate, true, false, fmt.Sprintf("data zone locked, key slot(s) %v not: finishing an interrupted run", todo))
		if err := p.confirm(ctx, stepLockKey); err != nil {
			return nil, err
		}
		if p.o != nil && p.o.DryRun {
			return p.res, nil
		}
		for s := stepConfigure; s <= stepLockData; s++ {
			p.skip(s, "data zone already locked")
		}
		if err := p.run(ctx, stepLockKey, func() (string, error) { return p.finish(ctx, todo) }); err != nil {
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
	p.progress(stepValidate, true, false, "")
	first := stepConfigure
	if p.cfg.ConfigLocked() {
		first = stepWriteOTP
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

func (o *ProvisionOptions) newKey() bool { return o != nil && o.NewKey }
