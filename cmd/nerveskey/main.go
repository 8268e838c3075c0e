package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/nerveskey/nerveskey/nerveskeytest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK     = 0 // success
	exitFailed = 1 // the operation failed
	exitUsage  = 2 // bad command line
)

// A cli is one invocation: its streams, its global flags and its context.
type cli struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	g      globals

	simTiming nerveskeytest.TimingMode // execution times of a simulated chip
}

// A command is one subcommand (or subcommand group member, "signer create").
type command struct {
	name    string // as typed: "info", "signer create"
	summary string // one line for the command list
	run     func(c *cli, args []string) error
}

// commands lists every subcommand, in the order "nerveskey --help" shows them.
var commands = []command{
	{"info", "show chip facts: mode, revision, serial, manufacturer SN", (*cli).info},
	{"config", "print the configuration zone decoded, slot by slot", (*cli).config},
	{"cert", "print the device or signer certificate (PEM or DER)", (*cli).cert},
	{"pubkey", "print the device public key (PEM)", (*cli).pubkey},
	{"sign", "sign SHA-256 of stdin (or a digest) with the chip", (*cli).sign},
	{"verify", "verify the chip's certificate chain, optionally up to a root", (*cli).verify},
	{"selftest", "factory QA check of a provisioned chip", (*cli).selftest},
	{"bench", "measure signing latency and bus transactions", (*cli).bench},
	{"csr", "print a certificate signing request for the chip's key", (*cli).csr},
	{"agent", "serve the chip's key to ssh, git and ssh-keygen (SSH agent)", (*cli).agent},
	{"provision", "provision a blank chip as a NervesKey (irreversible)", (*cli).provision},
	{"aux provision", "write the auxiliary certificate pair", (*cli).auxProvision},
	{"aux write", "write an auxiliary certificate pair issued elsewhere", (*cli).auxWrite},
	{"aux clear", "erase the auxiliary certificate pair", (*cli).auxClear},
	{"settings get", "print the settings stored on the chip", (*cli).settingsGet},
	{"settings put", "replace the settings stored on the chip", (*cli).settingsPut},
	{"signer create", "create a signer certificate and key (no chip)", (*cli).signerCreate},
	{"signer cross-cert", "certify the signer's key with a company CA (no chip)", (*cli).signerCrossCert},
	{"signer verification-cert", "make the AWS IoT CA verification certificate (no chip)", (*cli).signerVerificationCert},
	{"device create", "create a debug device certificate and key (no chip)", (*cli).deviceCreate},
	{"sim new", "create a blank simulated chip image", (*cli).simNew},
	{"version", "print the program version", (*cli).version},
}

// groups are the first words of multi-word commands.
func isGroup(name string) bool {
	for _, cmd := range commands {
		if g, _, ok := strings.Cut(cmd.name, " "); ok && g == name {
			return true
		}
	}
	return false
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	c.g.stdin = stdin
	err := c.dispatch(args)
	return c.report(err)
}

// report prints err as the style asks and returns the exit code.
func (c *cli) report(err error) int {
	if err == nil || errors.Is(err, errHelpShown) {
		return exitOK
	}
	code := exitFailed
	var ue *usageError
	if errors.As(err, &ue) {
		code = exitUsage
	}
	fmt.Fprintf(c.stderr, "nerveskey: error: %s\n", oneLine(err.Error()))
	var h interface{ Hint() string }
	if errors.As(err, &h) && h.Hint() != "" {
		fmt.Fprintf(c.stderr, "nerveskey: hint: %s\n", oneLine(h.Hint()))
	}
	return code
}

// oneLine makes a message fit on one line and drops the "nerveskey: "
// prefix library errors carry, since the CLI adds its own.
func oneLine(s string) string {
	for {
		t := strings.TrimPrefix(s, "nerveskey: ")
		if t == s {
			break
		}
		s = t
	}
	s = strings.ReplaceAll(s, ": nerveskey: ", ": ")
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\n", "; ")
	return strings.TrimSpace(s)
}

// errHelpShown means --help printed the usage: exit 0.
var errHelpShown = errors.New("help shown")

// A usageError is a bad command line: exit 2, with a hint to the help.
type usageError struct {
	msg  string
	hint string
}

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Hint() string  { return e.hint }

// usagef returns a usageError pointing to the help of cmd.
func usagef(cmd string, format string, args ...any) error {
	hint := "run 'nerveskey --help' for usage"
	if cmd != "" {
		hint = fmt.Sprintf("run 'nerveskey %s --help' for usage", cmd)
	}
	return &usageError{msg: fmt.Sprintf(format, args...), hint: hint}
}

// A hintError is an operation error with a suggestion.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }
func (e *hintError) Hint() string  { return e.hint }

func withHint(err error, format string, args ...any) error {
	return &hintError{err: err, hint: fmt.Sprintf(format, args...)}
}

func (c *cli) dispatch(args []string) error {
	fs := flag.NewFlagSet("nerveskey", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	showVersion := fs.Bool("version", false, "")
	c.g.register(fs)
	if err := checkFlagValues(fs, args); err != nil {
		return usagef("", "%s", err)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.mainUsage(c.stdout)
			return errHelpShown
		}
		return usagef("", "%s", flagMessage(err))
	}
	if *showVersion {
		fmt.Fprintln(c.stdout, "nerveskey", buildVersion())
		return nil
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return &usageError{msg: "no command given", hint: "run 'nerveskey --help' for usage"}
	}
	name := rest[0]
	rest = rest[1:]
	if name == "help" {
		if len(rest) == 0 {
			c.mainUsage(c.stdout)
			return errHelpShown
		}
		name = rest[0]
		if isGroup(name) && len(rest) > 1 {
			name += " " + rest[1]
		}
		cmd := findCommand(name)
		if cmd == nil {
			if isGroup(name) {
				c.groupUsage(c.stdout, name)
				return errHelpShown
			}
			return usagef("", "unknown command %q", name)
		}
		return cmd.run(c, []string{"--help"})
	}
	if isGroup(name) {
		if len(rest) == 0 || rest[0] == "-h" || rest[0] == "-help" || rest[0] == "--help" {
			if len(rest) == 0 {
				return usagef(name, "%q needs a subcommand", name)
			}
			c.groupUsage(c.stdout, name)
			return errHelpShown
		}
		full := name + " " + rest[0]
		if findCommand(full) == nil {
			return usagef("", "unknown command %q", full)
		}
		name, rest = full, rest[1:]
	}
	cmd := findCommand(name)
	if cmd == nil {
		return usagef("", "unknown command %q", name)
	}
	return cmd.run(c, rest)
}

// flagMessage turns a flag package error into our wording, with flags
// spelled as users type them (--sn, where the flag package says -sn).
func flagMessage(err error) string {
	s := err.Error()
	if name, ok := strings.CutPrefix(s, "flag provided but not defined: "); ok {
		return "unknown flag --" + strings.TrimLeft(name, "-")
	}
	if name, ok := strings.CutPrefix(s, "flag needs an argument: "); ok {
		return "flag --" + strings.TrimLeft(name, "-") + " needs a value"
	}
	if head, tail, ok := strings.Cut(s, " for flag -"); ok {
		return head + " for flag --" + strings.TrimLeft(tail, "-")
	}
	return s
}

// checkFlagValues refuses an empty value for a flag that takes one, and a
// value that is itself one of the command's flags: both usually mean an
// unset shell variable, which turns "--sn $SN --yes" into "--sn --yes" and
// would make "--yes" the serial number. The flag package accepts both.
func checkFlagValues(fs *flag.FlagSet, args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return nil
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		f := fs.Lookup(name)
		if f == nil || isBoolFlag(f) {
			continue
		}
		if !hasVal {
			if i+1 == len(args) {
				return nil // the flag package reports the missing value
			}
			i++
			val = args[i]
			if v, ok := strings.CutPrefix(val, "-"); ok && len(v) > 0 {
				v, _, _ = strings.Cut(strings.TrimPrefix(v, "-"), "=")
				if fs.Lookup(v) != nil {
					return fmt.Errorf("flag --%s needs a value, got the flag %s (is a variable empty?)", name, val)
				}
			}
		}
		if val == "" {
			return fmt.Errorf("flag --%s needs a value, got an empty one (is a variable empty?)", name)
		}
	}
	return nil
}

// isBoolFlag reports whether f takes no value, as the flag package decides.
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

const mainUsageText = `Usage: nerveskey [global flags] COMMAND [flags] [args]

nerveskey provisions and inspects NervesKey secure elements (ATECC508A,
ATECC608A, ATECC608B) on an I2C bus, or simulated chips stored in a file.

Examples:

	$ nerveskey sim new chip.json --serial 0123aabbccddeeff01
	$ nerveskey signer create signer
	$ nerveskey --sim chip.json provision --signer-cert signer.cert --signer-key signer.key --yes
	$ nerveskey --sim chip.json info --json
	$ nerveskey --sim chip.json cert device > device.pem
	$ echo hello | nerveskey --sim chip.json sign
	$ nerveskey --bus /dev/i2c-1 selftest

`

func (c *cli) mainUsage(w io.Writer) {
	fmt.Fprint(w, mainUsageText)
	fmt.Fprintln(w, "Commands:")
	fmt.Fprintln(w)
	for _, cmd := range commands {
		fmt.Fprintf(w, "\t%-15s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Global flags (before or after the command):")
	fmt.Fprintln(w)
	printFlags(w, c.g.flagSet(), nil)
	fmt.Fprint(w, `
Run 'nerveskey COMMAND --help' (or 'nerveskey help COMMAND') for a command's
flags, 'nerveskey --version' for the version. Results go to stdout, diagnostics to stderr. Exit status: 0 success,
1 the operation failed, 2 bad command line.
`)
}

func (c *cli) groupUsage(w io.Writer, group string) {
	fmt.Fprintf(w, "Usage: nerveskey %s COMMAND [flags] [args]\n\nCommands:\n\n", group)
	width := 10
	for _, cmd := range commands {
		if g, sub, ok := strings.Cut(cmd.name, " "); ok && g == group {
			width = max(width, len(sub))
		}
	}
	for _, cmd := range commands {
		if g, sub, ok := strings.Cut(cmd.name, " "); ok && g == group {
			fmt.Fprintf(w, "\t%-*s %s\n", width, sub, cmd.summary)
		}
	}
	fmt.Fprintf(w, "\nRun 'nerveskey %s COMMAND --help' for a command's flags.\n", group)
}

// printFlags prints the flags of fs, except those named in skip, one per
// entry, sorted, in the "--name VALUE" form.
func printFlags(w io.Writer, fs *flag.FlagSet, skip map[string]bool) {
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if !skip[f.Name] {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	for _, n := range names {
		f := fs.Lookup(n)
		typ, usage := flag.UnquoteUsage(f)
		head := "--" + f.Name
		if typ != "" {
			head += " " + typ
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "\t%s\n", head)
		for _, line := range wrap(usage, 60) {
			fmt.Fprintf(w, "\t\t%s\n", line)
		}
	}
}

// wrap splits s into lines of at most width bytes, at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

// parse parses a subcommand's flags, which may be mixed with its
// positional arguments, and the global flags, which may also follow the
// command. It prints the usage for --help (returning errHelpShown) and
// checks the number of positional arguments.
func (c *cli) parse(fs *flag.FlagSet, usage string, args []string, minArgs, maxArgs int) ([]string, error) {
	fs.SetOutput(io.Discard)
	own := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { own[f.Name] = true })
	c.g.register(fs)
	global := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		if !own[f.Name] {
			global[f.Name] = true
		}
	})
	if err := checkFlagValues(fs, args); err != nil {
		return nil, usagef(fs.Name(), "%s", err)
	}
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, usage)
			if len(own) > 0 {
				fmt.Fprintf(c.stdout, "\nFlags:\n\n")
				printFlags(c.stdout, fs, global)
			}
			fmt.Fprintf(c.stdout, "\nGlobal flags (--bus, --addr, --type, --sim, --activation-key) may come\nbefore or after the command: see 'nerveskey --help'.\n")
			return nil, errHelpShown
		}
		if err != nil {
			return nil, usagef(fs.Name(), "%s", flagMessage(err))
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// "--" ends the flags: everything after it is positional.
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < minArgs:
		return nil, usagef(fs.Name(), "%s: missing argument", fs.Name())
	case maxArgs >= 0 && len(pos) > maxArgs:
		return nil, usagef(fs.Name(), "%s: unexpected argument %q", fs.Name(), pos[maxArgs])
	}
	return pos, nil
}

func (c *cli) version(args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if _, err := c.parse(fs, versionUsage, args, 0, 0); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "nerveskey", buildVersion())
	return nil
}

// version is the release this source tree prepares. A release build may
// set it with go build -ldflags "-X main.version=0.1.0"; a go install of
// a tagged module version reports that tag instead.
var version = "0.1.0-dev"

// buildVersion returns the version, then the commit, its time and
// "modified" for uncommitted changes when the build recorded them (a
// build from a git checkout does), and the Go version.
func buildVersion() string {
	v := version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if mv := bi.Main.Version; version == defaultVersion && isReleaseTag(mv) {
		v = strings.TrimPrefix(mv, "v")
	}
	var vcs []string
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if r := settings["vcs.revision"]; r != "" {
		vcs = append(vcs, r[:min(len(r), 12)])
	}
	if t := settings["vcs.time"]; t != "" {
		vcs = append(vcs, t)
	}
	if settings["vcs.modified"] == "true" {
		vcs = append(vcs, "modified")
	}
	if len(vcs) > 0 {
		v += " (" + strings.Join(vcs, ", ") + ")"
	}
	return v + " " + bi.GoVersion
}

const defaultVersion = "0.1.0-dev"

// isReleaseTag reports whether a module version is a tag such as v0.1.0
// or v1.2.0-rc.1, not "(devel)" or a pseudo-version the go command derives
// from a commit (v0.0.0-20261201215805-f6a2355abcde, maybe "+dirty").
func isReleaseTag(v string) bool {
	return strings.HasPrefix(v, "v") && !strings.Contains(v, "+") &&
		!pseudoVersion.MatchString(v) && semver.MatchString(v)
}

var (
	semver        = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
	pseudoVersion = regexp.MustCompile(`[.-][0-9]{14}-[0-9a-f]{12}$`)
)

const versionUsage = `Usage: nerveskey version
       nerveskey --version

Prints the program version, then the commit it was built from and its
time when the build recorded them ("modified": with uncommitted changes),
and the Go version.

Examples:

	$ go install ./cmd/nerveskey
	$ nerveskey version
	nerveskey 0.1.0-dev (f6a2355abcde, 2026-12-01T21:58:05Z) go1.26.0
`
