package main

import (
	"crypto"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/cmd/nerveskey/internal/keysource"
)

// keyHelp is the flag text for a key value, shared by every command that
// signs with a signer or CA key.
const keyHelp = "a PEM `KEY` file (EC, PKCS#8, or encrypted PKCS#8) or an RFC 7512 PKCS#11 URI, " +
	"pkcs11:token=LABEL;object=LABEL?module-path=FILE&pin-source=file:PINFILE " +
	"(module also from NERVESKEY_PKCS11_MODULE, PIN from NERVESKEY_PKCS11_PIN or a prompt; " +
	"pin-value=PIN works but shows the PIN to other users in ps)"

// A keyFlag is a --signer-key style flag with its --passphrase-file.
type keyFlag struct {
	value    string
	passFile string
}

// addKeyFlags registers name (e.g. "signer-key") and --passphrase-file on fs.
func addKeyFlags(fs *flag.FlagSet, name, what string) *keyFlag {
	k := &keyFlag{}
	fs.StringVar(&k.value, name, "", what+": "+keyHelp)
	if fs.Lookup("passphrase-file") == nil {
		fs.StringVar(&k.passFile, "passphrase-file", "", "read the passphrase of an encrypted PEM key from `FILE` (else NERVESKEY_KEY_PASSPHRASE, else a terminal prompt)")
	}
	return k
}

// openKey opens the key k names, asking for a PIN or passphrase on the
// terminal when no file or environment variable gives one.
func (c *cli) openKey(k *keyFlag) (*keysource.Key, error) {
	return c.openKeyOpts(k, false)
}

// openKeyOpts is openKey; anyType accepts keys other than P-256 (a
// company CA's).
func (c *cli) openKeyOpts(k *keyFlag, anyType bool) (*keysource.Key, error) {
	opts := &keysource.Options{PassphraseFile: k.passFile, AnyType: anyType}
	if f, ok := c.stdin.(*os.File); ok && isTerminal(f) {
		opts.Prompt = func(what string) ([]byte, error) {
			fmt.Fprintf(c.stderr, "nerveskey: %s: ", what)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(c.stderr)
			return b, err
		}
	}
	key, err := keysource.Open(c.ctx, k.value, opts)
	if err != nil {
		var te *keysource.KeyTypeError
		if errors.As(err, &te) {
			return nil, withHint(err, "make a P-256 key: pkcs11-tool --keypairgen --key-type EC:prime256v1, or 'nerveskey signer create NAME'")
		}
		if errors.Is(err, keysource.ErrNoPKCS11) {
			return nil, withHint(err, "build with CGO_ENABLED=1 and a C compiler: go install github.com/nerveskey/nerveskey/cmd/nerveskey@latest")
		}
		return nil, err
	}
	return key, nil
}

// loadSigner reads and checks a signer certificate and opens its key,
// given by flags. The caller calls closeKey when done signing.
func (c *cli) loadSigner(cmd, certFile string, k *keyFlag) (_ *x509.Certificate, _ crypto.Signer, closeKey func(), _ error) {
	switch {
	case certFile == "" && k.value == "":
		return nil, nil, nil, usagef(cmd, "%s: --signer-cert and --signer-key are required", cmd)
	case certFile == "":
		return nil, nil, nil, usagef(cmd, "%s: --signer-cert is required", cmd)
	case k.value == "":
		return nil, nil, nil, usagef(cmd, "%s: --signer-key is required", cmd)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("signer certificate: %w", err)
	}
	crt, err := cert.ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", certFile, err)
	}
	if err := signerProblems(certFile, crt); err != nil {
		return nil, nil, nil, err
	}
	if !keysource.IsURI(k.value) {
		keyPEM, err := os.ReadFile(k.value)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("signer key: %w", err)
		}
		if !keysource.IsEncryptedPEM(keyPEM) {
			// A plain PEM key: the library reads it and words its
			// problems against the key file.
			crt, key, err := nerveskey.LoadSigner(certPEM, keyPEM)
			if err != nil {
				if errors.Is(err, nerveskey.ErrSignerKey) {
					return nil, nil, nil, fmt.Errorf("%s: %w", k.value, err)
				}
				return nil, nil, nil, fmt.Errorf("%s: %w", certFile, err)
			}
			return crt, key, func() {}, nil
		}
	}
	key, err := c.openKey(k) // its errors start with the file or URI
	if err != nil {
		return nil, nil, nil, err
	}
	if err := nerveskey.CheckSigner(crt, key.Signer); err != nil {
		key.Close()
		if errors.Is(err, nerveskey.ErrSignerKey) {
			// Not the certificate's key: report it against the key.
			return nil, nil, nil, fmt.Errorf("%s: %w", key.Desc, err)
		}
		return nil, nil, nil, fmt.Errorf("%s: %w", certFile, err)
	}
	return crt, key.Signer, func() { key.Close() }, nil
}

// signerMinLife is how long a signer must still be valid for provision
// to use it: devices whose signer expires within days would fail chain
// verification soon after they leave the factory.
const signerMinLife = 7 * 24 * time.Hour

// checkSignerLife refuses a signer that is not yet valid, expired, or
// expiring within signerMinLife of now.
func checkSignerLife(certFile string, crt *x509.Certificate, now time.Time) error {
	day := func(t time.Time) string { return t.UTC().Format(time.DateOnly) }
	hint := "make a new signer: 'nerveskey signer create NAME --years-valid N' (with --key KEY to keep the key)"
	switch {
	case now.Before(crt.NotBefore):
		return withHint(fmt.Errorf("%s: the signer is not valid before %s (clock: %s)", certFile, crt.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)), "check the clock")
	case now.After(crt.NotAfter):
		return withHint(fmt.Errorf("%s: the signer expired on %s", certFile, day(crt.NotAfter)), "%s", hint)
	case crt.NotAfter.Sub(now) < signerMinLife:
		return withHint(fmt.Errorf("%s: the signer expires on %s, in less than %d days: its devices would soon fail chain verification", certFile, day(crt.NotAfter), int(signerMinLife.Hours()/24)), "%s", hint)
	}
	return nil
}

// signerProblems explains why crt cannot be a NervesKey signer, naming
// every property the compressed signer format (docs/nerves_key.md §7)
// cannot hold, or returns nil. A property this list does not know is
// still caught by nerveskey.CheckSigner, which names the first field.
// The error unwraps to CheckSigner's.
func signerProblems(certFile string, crt *x509.Certificate) error {
	err := nerveskey.CheckSigner(crt, nil)
	if err == nil {
		return nil
	}
	why := certProblems(crt)
	msg := fmt.Sprintf("%s: not a NervesKey signer: %s", certFile, oneLine(err.Error()))
	if len(why) > 0 {
		msg = fmt.Sprintf("%s: cannot be a NervesKey signer (the chip stores it compressed): %s", certFile, strings.Join(why, "; "))
	}
	return withHint(&wrapError{msg: msg, err: err}, "%s", signerHint)
}

// A wrapError is an error with its own message that unwraps to err.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

const signerHint = "make a signer with 'nerveskey signer create NAME' (--key KEY keeps an existing P-256 key); " +
	"to chain devices to a company CA, have the CA certify that signer with 'nerveskey signer cross-cert' (docs/factory.md)"

// certProblems lists each property of crt the NervesKey signer template
// fixes and crt does not have.
func certProblems(crt *x509.Certificate) []string {
	var why []string
	if err := checkPublicP256(crt.PublicKey); err != "" {
		why = append(why, "its key is "+err+", the format holds only P-256")
	}
	if crt.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		why = append(why, fmt.Sprintf("it is signed with %v, not ECDSA-SHA256", crt.SignatureAlgorithm))
	}
	if s := crt.Subject.String(); s != "CN=Signer" {
		why = append(why, fmt.Sprintf("its subject is %q, not CN=Signer", s))
	}
	if string(crt.RawIssuer) != string(crt.RawSubject) {
		why = append(why, fmt.Sprintf("it is issued by %q: the format fixes issuer = subject (self-signed), so a signer cannot be an intermediate of another CA", crt.Issuer.String()))
	}
	nb, na := crt.NotBefore.UTC(), crt.NotAfter.UTC()
	if nb.Minute() != 0 || nb.Second() != 0 {
		why = append(why, fmt.Sprintf("its notBefore %s has minutes or seconds (the format stores whole hours)", nb.Format(time.RFC3339)))
	}
	years := na.Year() - nb.Year()
	if !nb.AddDate(years, 0, 0).Equal(na) || years < minSignerYears || years > maxSignerYears {
		why = append(why, fmt.Sprintf("its validity %s to %s is not %d to %d whole years", nb.Format(time.RFC3339), na.Format(time.RFC3339), minSignerYears, maxSignerYears))
	}
	if y := nb.Year(); y < 2000 || y > 2031 {
		why = append(why, fmt.Sprintf("it is issued in %d, outside 2000 to 2031", y))
	}
	if !crt.IsCA || !crt.BasicConstraintsValid || crt.MaxPathLen > 0 || crt.MaxPathLenZero {
		if !crt.IsCA {
			why = append(why, "it is not a CA (basicConstraints cA=TRUE)")
		} else {
			why = append(why, "it has a path length constraint")
		}
	}
	if crt.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		why = append(why, "its key usage is not exactly digitalSignature, keyCertSign, cRLSign")
	}
	if len(crt.ExtKeyUsage) != 2 || crt.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || crt.ExtKeyUsage[1] != x509.ExtKeyUsageClientAuth || len(crt.UnknownExtKeyUsage) > 0 {
		why = append(why, "its extended key usage is not exactly serverAuth, clientAuth")
	}
	if len(crt.SubjectKeyId) == 0 || string(crt.AuthorityKeyId) != string(crt.SubjectKeyId) {
		why = append(why, "its authority key identifier is not its own subject key identifier")
	}
	known := map[string]bool{"2.5.29.19": true, "2.5.29.15": true, "2.5.29.37": true, "2.5.29.14": true, "2.5.29.35": true}
	for _, e := range crt.Extensions {
		if !known[e.Id.String()] {
			why = append(why, fmt.Sprintf("it has an extension the format cannot hold (%v)", e.Id))
		}
	}
	return why
}

// checkPublicP256 describes a public key that is not P-256 ECDSA, or
// returns "".
func checkPublicP256(pub any) string {
	var te *keysource.KeyTypeError
	if errors.As(keysource.CheckPublic(pub), &te) {
		return te.Type
	}
	return ""
}

// The validity a signer certificate may have: the compressed date field
// holds 1 to 31 whole years (docs/nerves_key.md §7.2).
const (
	minSignerYears = 1
	maxSignerYears = 31
)
