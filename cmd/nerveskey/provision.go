package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nerveskey/nerveskey"
)

const provisionUsage = `Usage: nerveskey provision --signer-cert FILE --signer-key FILE [--sn S] [--board B]
                           [--user-data HEX] [--dry-run] [--yes] [--json] [--new-key]
                           [--volatile --activation-key HEX --encryption-key HEX]

Provisions a blank chip as a NervesKey, byte for byte as nerves_key's
NervesKey.provision does: the NervesKey configuration, the manufacturer
serial number and board name in the OTP zone, a device key generated in
slot 0 that never leaves the chip, a device certificate signed by the
signer, then the locks.

Examples:

	$ nerveskey provision --signer-cert signer.cert --signer-key signer.key --dry-run
	$ nerveskey provision --signer-cert signer.cert --signer-key signer.key --sn NK-000123 --board rpi4
	$ nerveskey --sim chip.json provision --signer-cert signer.cert --signer-key signer.key --yes --json
	$ nerveskey provision --signer-cert signer.cert --signer-key 'pkcs11:token=factory;object=signer' --manifest devices.jsonl --yes

--user-data writes up to 32 bytes (zero-padded) to OTP bytes 32-63,
nerves_key's OTP user field, which 'nerveskey info' shows; it needs a
serial number of at most 16 bytes.

--signer-key takes a PEM file or a PKCS#11 URI (an HSM or KMS key);
--manifest appends one JSON line per chip. See docs/factory.md.

Every input (signer certificate and key, serial number, board name, the
chip's revision and lock state, the clock) is checked and the plan printed
before the first write; --dry-run stops there. Locking the configuration
and data zones is irreversible, so provision asks for confirmation on a
terminal; scripts pass --yes (without a terminal and without --yes it
refuses). Progress goes to stderr, "nerveskey: step 4/9: ...", or with
--json to stdout as one JSON object per line:

	{"action": "start", "steps": 9, "plan": {...}}     inputs checked, about to write
	{"action": "step", "step": 4, "steps": 9, "name": "...", "state": "begin"|"end"|"skipped", "detail": "..."}
	{"action": "done", "status": "...", "key_proof": "...", "signer_signatures": 2}
	                                                   provisioned, resumed or already provisioned (or dry run passed)
	{"action": "fail", "error": "..."}                 failed; the error is also on stderr

Provisioning is resumable: if it is interrupted (power cut, Ctrl-C, bus
error), run the same command again to finish the chip; the key left in
slot 0 is reused unless --new-key. With --sim the image file is written
only when provisioning succeeds; a real chip keeps whatever an interrupted
run wrote, which is why the next run resumes. On a chip already
provisioned, the same inputs succeed without writing ("already
provisioned"), and other inputs fail saying what differs.

Before the signer signs, the device key is proven: slot 0's public key is
read twice and must match, and slot 0 signs a random challenge that must
verify (SECURITY.md); it is read once more before the data lock.

--activation-key and --encryption-key take 32 hex digits, or @FILE to read
them from a file, or - to read them from standard input, which keeps the
keys out of the process list (one of them may use standard input; with it,
pass --yes):

	$ nerveskey provision ... --volatile --activation-key @act.hex --encryption-key - --yes < enc.hex
`

// An event is one line of the --json stream of provision. Action is
// "start" (inputs checked; Plan says what will be written), "step" (a
// step begins, ends or is skipped), "done" (success) or "fail" (Error).
type event struct {
	Action string `json:"action"`
	Step   int    `json:"step,omitempty"`
	Steps  int    `json:"steps,omitempty"`
	Name   string `json:"name,omitempty"`
	State  string `json:"state,omitempty"` // "begin", "end" or "skipped"
	Detail string `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
	Plan   *plan  `json:"plan,omitempty"`
	// With "done" after a real run: "provisioned", "resumed" or
	// "already provisioned"; how the device key was proven before the
	// signer signed; how many signatures the signer made.
	Status           string `json:"status,omitempty"`
	KeyProof         string `json:"key_proof,omitempty"`
	SignerSignatures int    `json:"signer_signatures,omitempty"`
}

// A plan is what provision is about to write.
type plan struct {
	Chip           string `json:"chip"`     // where: the bus or the sim file
	Revision       string `json:"revision"` // e.g. "ATECC608B"
	Serial         string `json:"serial"`   // 9-byte chip serial, hex
	ManufacturerSN string `json:"manufacturer_sn"`
	BoardName      string `json:"board_name"`
	Signer         string `json:"signer"`           // signer certificate subject
	SignerNotAfter string `json:"signer_not_after"` // RFC 3339
	DeviceNotAfter string `json:"device_not_after"` // RFC 3339
	Volatile       bool   `json:"volatile"`
	// Set only when resuming an interrupted run.
	ConfigLocked bool `json:"config_locked,omitempty"` // the configuration lock is done
	DataLocked   bool `json:"data_locked,omitempty"`   // only the key slot lock remains
	ReuseKey     bool `json:"reuse_key,omitempty"`     // slot 0's key is reused

	// OTP user data, hex, when given (--user-data).
	UserData string `json:"user_data,omitempty"`
}

func (c *cli) provision(args []string) error {
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	certFile := fs.String("signer-cert", "", "the signer certificate PEM `FILE`")
	keyFile := addKeyFlags(fs, "signer-key", "the signer's private key")
	var sn, board optString
	fs.Var(&sn, "sn", "the manufacturer serial number `S`, 1 to 32 bytes, the device certificate's CN (default the chip serial in Base32, as nerves_key)")
	fs.Var(&board, "board", "the board name `B`, at most 10 bytes (default NervesKey)")
	userHex := fs.String("user-data", "", "up to 32 bytes of OTP user data, as `HEX` digits, zero-padded (needs a serial of at most 16 bytes)")
	dryRun := fs.Bool("dry-run", false, "check everything, print the plan and write nothing")
	yes := fs.Bool("yes", false, "do not ask for confirmation before the irreversible locks")
	asJSON := fs.Bool("json", false, "stream progress as JSON objects, one per line, on stdout")
	newKey := fs.Bool("new-key", false, "always generate a new device key, never reuse one left by an interrupted run")
	volatile := fs.Bool("volatile", false, "provision a volatile key (ATECC608A/B): it works only after --activation-key sets the chip's latch")
	encKeyHex := fs.String("encryption-key", "", "with --volatile: the 16-byte encryption key for slot 2, as 32 `HEX` digits, or @FILE holding them, or - to read them from standard input")
	manifestFile := fs.String("manifest", "", "append one JSON line per provisioned chip to `FILE` (docs/factory.md)")
	if _, err := c.parse(fs, provisionUsage, args, 0, 0); err != nil {
		return err
	}
	userData, err := parseUserData(*userHex)
	if err != nil {
		return usagef("provision", "--user-data: %v", err)
	}
	opts := &nerveskey.ProvisionOptions{NewKey: *newKey}
	if *volatile {
		if c.g.activationKey == nil || *encKeyHex == "" {
			return usagef("provision", "provision: --volatile needs --activation-key HEX and --encryption-key HEX")
		}
		enc, err := c.g.readKeyArg(*encKeyHex, 16)
		if err != nil {
			return usagef("provision", "--encryption-key: %v", err)
		}
		opts.Volatile = &nerveskey.VolatileKeys{}
		copy(opts.Volatile.Activation[:], c.g.activationKey)
		copy(opts.Volatile.Encryption[:], enc)
	} else if *encKeyHex != "" {
		return usagef("provision", "provision: --encryption-key needs --volatile")
	}
	if !*yes && !*dryRun && !isTerminal(c.stdin) {
		return &usageError{
			msg:  "provision: refusing to lock the chip without confirmation (stdin is not a terminal)",
			hint: "add --yes to confirm in a script, or --dry-run to check without writing",
		}
	}
	signerCert, signer, closeKey, err := c.loadSigner("provision", *certFile, keyFile)
	if err != nil {
		return err
	}
	defer closeKey()
	if err := checkSignerLife(*certFile, signerCert, time.Now()); err != nil {
		return err
	}
	m, err := openManifest(*manifestFile, *dryRun)
	if err != nil {
		return err
	}
	var record *manifestRecord

	s, err := c.open()
	if err != nil {
		m.close(true)
		return err
	}
	var out *json.Encoder
	if *asJSON {
		out = json.NewEncoder(c.stdout)
	}
	var res *nerveskey.ProvisionResult
	err = s.finish(func() error {
		in, err := s.Info(c.ctx)
		if err != nil {
			return err
		}
		info := nerveskey.ProvisioningInfo{ManufacturerSN: in.DefaultManufacturerSN, BoardName: "NervesKey"}
		if sn.set {
			info.ManufacturerSN = sn.v
		}
		if board.set {
			info.BoardName = board.v
		}
		info.UserData = userData
		// One Provision call: it validates everything, then calls
		// Confirm with the plan before the first write. Step events
		// are held until the plan is out, so that the stream reads
		// plan, confirmation, steps.
		var pending []nerveskey.StepEvent
		started := false
		opts.DryRun = *dryRun
		opts.Progress = func(e nerveskey.StepEvent) {
			if !started {
				pending = append(pending, e)
				return
			}
			c.progress(out, e)
		}
		opts.Confirm = func(_ context.Context, pp *nerveskey.ProvisionPlan) error {
			p := &plan{
				Chip:           c.where(),
				Revision:       pp.Revision,
				Serial:         hex.EncodeToString(pp.Serial[:]),
				ManufacturerSN: pp.Info.ManufacturerSN,
				BoardName:      pp.Info.BoardName,
				UserData:       userDataHex(pp.Info.UserData),
				Signer:         pp.SignerSubject,
				SignerNotAfter: pp.SignerNotAfter.UTC().Format(time.RFC3339),
				DeviceNotAfter: deviceNotAfter(pp).Format(time.RFC3339),
				Volatile:       pp.Volatile,
				ConfigLocked:   pp.ConfigLocked,
				DataLocked:     pp.DataLocked,
				ReuseKey:       pp.ReuseKey,
			}
			if out != nil {
				out.Encode(event{Action: "start", Steps: provisionSteps, DryRun: pp.DryRun, Plan: p})
			}
			c.printPlan(p)
			c.warnSignerExpiry(p)
			if pp.DryRun {
				return nil
			}
			if !*yes {
				if err := c.confirm("lock this chip as a NervesKey; this cannot be undone"); err != nil {
					return err
				}
			}
			started = true
			for _, e := range pending {
				c.progress(out, e)
			}
			return nil
		}
		if res, err = s.Provision(c.ctx, info, signerCert, signer, opts); err != nil {
			if errors.Is(err, errNotConfirmed) {
				return errNotConfirmed
			}
			return provisionError(err)
		}
		if *dryRun {
			fmt.Fprintln(c.stderr, "nerveskey: dry run: the inputs and the chip check out; nothing was written")
		} else if m != nil {
			if record, err = newManifestRecord(provisionedFromResult(res), time.Now()); err != nil {
				return err
			}
		}
		return nil
	}())
	if err == nil {
		err = m.append(record)
	}
	m.close(err != nil)
	if out != nil {
		if err != nil {
			out.Encode(event{Action: "fail", Error: oneLine(err.Error())})
		} else {
			e := event{Action: "done", DryRun: *dryRun}
			if res != nil && !*dryRun {
				e.Status, e.KeyProof, e.SignerSignatures = res.Status.String(), res.KeyProof, res.SignerSignatures
			}
			out.Encode(e)
		}
	} else if err == nil && !*dryRun {
		if res != nil && res.Status == nerveskey.AlreadyProvisioned {
			fmt.Fprintln(c.stdout, "already provisioned: the chip is the one these inputs make; nothing was written")
		} else {
			fmt.Fprintln(c.stdout, "provisioned")
		}
	}
	return err
}

// optString is a string flag that records whether it was given.
type optString struct {
	v   string
	set bool
}

func (o *optString) String() string     { return o.v }
func (o *optString) Set(s string) error { o.v, o.set = s, true; return nil }

// where names the chip for the plan.
func (c *cli) where() string {
	if c.g.sim != "" {
		return "sim " + c.g.sim
	}
	bus := c.g.bus
	if bus == "" {
		bus = "the first I2C bus"
	}
	addr := c.g.options().Addr
	if addr == 0 {
		addr = 0x60
	}
	return fmt.Sprintf("%s at 0x%02x", bus, addr)
}

func (c *cli) printPlan(p *plan) {
	fmt.Fprintf(c.stderr, "nerveskey: plan: provision the %s with serial %s (%s)\n", p.Revision, p.Serial, p.Chip)
	fmt.Fprintf(c.stderr, "nerveskey: plan: manufacturer serial number %q, board name %q\n", p.ManufacturerSN, p.BoardName)
	if p.UserData != "" {
		fmt.Fprintf(c.stderr, "nerveskey: plan: OTP user data %s\n", p.UserData)
	}
	fmt.Fprintf(c.stderr, "nerveskey: plan: device certificate valid until %s, signed by %s (signer valid until %s)\n", p.DeviceNotAfter[:10], p.Signer, p.SignerNotAfter[:10])
	if p.Volatile {
		fmt.Fprintln(c.stderr, "nerveskey: plan: volatile key: it will sign only after --activation-key sets the chip's latch")
	}
	switch {
	case p.DataLocked:
		fmt.Fprintln(c.stderr, "nerveskey: plan: resume: the data zone is already locked; read the chip back, verify it and lock the key slot (irreversible)")
	case p.ConfigLocked:
		key := "generate a new device key"
		if p.ReuseKey {
			key = "reuse the device key left in slot 0"
		}
		fmt.Fprintf(c.stderr, "nerveskey: plan: resume: the configuration zone is already locked; %s\n", key)
		fmt.Fprintln(c.stderr, "nerveskey: plan: then lock the data zone and the key slot (irreversible)")
	default:
		fmt.Fprintln(c.stderr, "nerveskey: plan: then lock the configuration and data zones and the key slot (irreversible)")
	}
}

// progress reports one provisioning step.
func (c *cli) progress(out *json.Encoder, e nerveskey.StepEvent) {
	state := "begin"
	switch {
	case e.Skipped:
		state = "skipped"
	case e.Done:
		state = "end"
	}
	if out != nil {
		out.Encode(event{Action: "step", Step: e.Step, Steps: e.Steps, Name: e.Name, State: state, Detail: e.Detail})
		return
	}
	prefix := fmt.Sprintf("nerveskey: step %d/%d: %s", e.Step, e.Steps, e.Name)
	switch {
	case e.Skipped:
		fmt.Fprintf(c.stderr, "%s: skipped (%s)\n", prefix, e.Detail)
	case !e.Done:
		fmt.Fprintln(c.stderr, prefix)
	case e.Detail != "":
		fmt.Fprintf(c.stderr, "%s: %s\n", prefix, e.Detail)
	}
}

// confirm asks on the terminal; anything but "yes" aborts.
func (c *cli) confirm(what string) error {
	fmt.Fprintf(c.stderr, "nerveskey: about to %s. Type yes to continue: ", what)
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if strings.TrimSpace(line) != "yes" {
		return errNotConfirmed
	}
	return nil
}

// errNotConfirmed is the answer to anything but "yes".
var errNotConfirmed = errors.New("not confirmed; nothing was written")

// provisionError adds hints to provisioning errors.
func provisionError(err error) error {
	switch {
	case errors.Is(err, nerveskey.ErrAlreadyProvisioned):
		return withHint(err, "'nerveskey info' shows the chip; 'nerveskey aux provision' adds a second certificate")
	case errors.Is(err, nerveskey.ErrNotCompressible):
		return withHint(err, "make a signer with 'nerveskey signer create NAME'")
	}
	return err
}

const auxProvisionUsage = `Usage: nerveskey aux provision --signer-cert FILE --signer-key FILE [--dry-run]

Signs a second ("aux") device certificate for the chip's key with another
signer and stores it in slots 9, 14 and 15, as nerves_key's
provision_aux_certificates does. It replaces an aux pair already there.
The chip must be provisioned. Nothing is locked.

Examples:

	$ nerveskey aux provision --signer-cert backup-signer.cert --signer-key backup-signer.key
	$ nerveskey cert device --aux
`

func (c *cli) auxProvision(args []string) error {
	fs := flag.NewFlagSet("aux provision", flag.ContinueOnError)
	certFile := fs.String("signer-cert", "", "the signer certificate PEM `FILE`")
	keyFile := addKeyFlags(fs, "signer-key", "the signer's private key")
	dryRun := fs.Bool("dry-run", false, "check everything and write nothing")
	if _, err := c.parse(fs, auxProvisionUsage, args, 0, 0); err != nil {
		return err
	}
	signerCert, signer, closeKey, err := c.loadSigner("aux provision", *certFile, keyFile)
	if err != nil {
		return err
	}
	defer closeKey()
	if err := checkSignerLife(*certFile, signerCert, time.Now()); err != nil {
		return err
	}
	s, err := c.open()
	if err != nil {
		return err
	}
	return s.finish(func() error {
		if err := s.ProvisionAux(c.ctx, signerCert, signer, &nerveskey.ProvisionOptions{DryRun: *dryRun}); err != nil {
			return keyError(err)
		}
		if *dryRun {
			fmt.Fprintln(c.stderr, "nerveskey: dry run: the inputs and the chip check out; nothing was written")
			return nil
		}
		fmt.Fprintf(c.stderr, "nerveskey: wrote the aux certificates (signed by %s) to slots 9, 14 and 15\n", signerCert.Subject)
		return nil
	}())
}

const auxClearUsage = `Usage: nerveskey aux clear

Erases the aux certificate pair (writes zeros to slots 9, 14 and 15), as
nerves_key's clear_aux_certificates does. The primary certificate and the
key are not touched.

Examples:

	$ nerveskey aux clear
	$ nerveskey info --json | jq .has_aux
`

func (c *cli) auxClear(args []string) error {
	fs := flag.NewFlagSet("aux clear", flag.ContinueOnError)
	if _, err := c.parse(fs, auxClearUsage, args, 0, 0); err != nil {
		return err
	}
	s, err := c.open()
	if err != nil {
		return err
	}
	return s.finish(func() error {
		// ClearAux writes without checking the data lock; before it the
		// chip refuses the writes with a bare status error.
		in, err := s.Info(c.ctx)
		if err != nil {
			return err
		}
		if !in.Provisioned {
			return keyError(fmt.Errorf("clear aux: %w", nerveskey.ErrNotProvisioned))
		}
		if err := s.ClearAux(c.ctx); err != nil {
			return keyError(err)
		}
		fmt.Fprintln(c.stderr, "nerveskey: cleared the aux certificates")
		return nil
	}())
}

// readKeyArg reads the value of a secret key flag: n bytes as hex digits
// given on the command line, or in a file named "@FILE", or on standard
// input for "-", so that the key need not appear in the process list.
// Standard input serves one key flag only.
func (g *globals) readKeyArg(s string, n int) ([]byte, error) {
	switch {
	case s == "-":
		if g.stdin == nil || g.stdinUsed {
			return nil, errors.New("standard input already gave another key")
		}
		g.stdinUsed = true
		b, err := io.ReadAll(io.LimitReader(g.stdin, 1024))
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		s = string(b)
	case strings.HasPrefix(s, "@"):
		b, err := os.ReadFile(s[1:])
		if err != nil {
			return nil, err
		}
		s = string(b)
	}
	return parseHex(s, n)
}

// provisionSteps is how many steps Provision reports (StepEvent.Steps).
const provisionSteps = 9
