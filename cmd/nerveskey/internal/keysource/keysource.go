package keysource

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Environment variables read by [Open] (through [Options.Getenv]).
const (
	// EnvModule names the PKCS#11 module when the URI has no module-path.
	EnvModule = "NERVESKEY_PKCS11_MODULE"
	// EnvPIN holds the token's user PIN when the URI gives none.
	EnvPIN = "NERVESKEY_PKCS11_PIN"
	// EnvPassphrase holds the passphrase of an encrypted PEM key when no
	// passphrase file is given.
	EnvPassphrase = "NERVESKEY_KEY_PASSPHRASE"
)

// Options says where secrets come from. A nil *Options reads the process
// environment and never prompts.
type Options struct {
	// Getenv reads environment variables; nil means os.Getenv.
	Getenv func(string) string
	// PassphraseFile, if set, holds the passphrase of an encrypted PEM
	// key (one line; a final newline is dropped).
	PassphraseFile string
	// Prompt, if set, asks for a secret (what names it, e.g. "PIN for
	// token factory") when no other source gives one. It is called only
	// when a secret is needed.
	Prompt func(what string) ([]byte, error)
	// AnyType accepts keys of any type (RSA, other curves), for keys
	// that sign something other than chip certificates: a company CA's.
	AnyType bool
}

func (o *Options) anyType() bool { return o != nil && o.AnyType }

func (o *Options) getenv(k string) string {
	if o == nil || o.Getenv == nil {
		return os.Getenv(k)
	}
	return o.Getenv(k)
}

// A Key is an open signing key. A Key is safe for concurrent use if its
// Signer is: file keys are; PKCS#11 keys take a session from a pool per
// signature.
type Key struct {
	// Signer signs with the key; its Public is a P-256 *ecdsa.PublicKey.
	Signer crypto.Signer
	// Desc describes the key for messages: the file name, or the URI
	// without its PIN.
	Desc string
	// PKCS11 reports whether the key is in a PKCS#11 token.
	PKCS11 bool

	close func() error
}

// Close releases the key's module and sessions. It is safe to call more
// than once, and on a nil Key.
func (k *Key) Close() error {
	if k == nil || k.close == nil {
		return nil
	}
	f := k.close
	k.close = nil
	return f()
}

// Open opens the P-256 ECDSA key that value names: a PKCS#11 URI (see
// [URI]) or the name of a PEM file. Keys of another type or curve are
// refused with an error saying what the key is. The caller closes the Key.
// ctx bounds only the prompts' wait, not calls into a PKCS#11 module,
// which cannot be interrupted.
func Open(ctx context.Context, value string, opts *Options) (*Key, error) {
	if value == "" {
		return nil, errors.New("no key given")
	}
	if IsURI(value) {
		u, err := ParseURI(value)
		if err != nil {
			return nil, err
		}
		return openPKCS11(ctx, u, opts)
	}
	data, err := os.ReadFile(value)
	if err != nil {
		return nil, err
	}
	s, err := parsePEMKey(data, func() ([]byte, error) { return passphrase(value, opts) }, opts.anyType())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", value, err)
	}
	return &Key{Signer: s, Desc: value}, nil
}

// passphrase returns the passphrase for an encrypted key file: from
// Options.PassphraseFile, EnvPassphrase, or the prompt, in that order.
func passphrase(file string, opts *Options) ([]byte, error) {
	if opts != nil && opts.PassphraseFile != "" {
		b, err := os.ReadFile(opts.PassphraseFile)
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %w", err)
		}
		return trimLine(b), nil
	}
	if p := opts.getenv(EnvPassphrase); p != "" {
		return []byte(p), nil
	}
	if opts != nil && opts.Prompt != nil {
		return opts.Prompt("passphrase for " + file)
	}
	return nil, fmt.Errorf("the key is encrypted and no passphrase was given (a passphrase file, %s, or run on a terminal to be asked)", EnvPassphrase)
}

// trimLine drops one final "\n" or "\r\n", as files written by echo have.
func trimLine(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// parsePEMKey returns the first private key in data: "EC PRIVATE KEY",
// "PRIVATE KEY" or "ENCRYPTED PRIVATE KEY" (pass is called for the
// passphrase only then). Other blocks ("EC PARAMETERS", certificates) are
// skipped.
func parsePEMKey(data []byte, pass func() ([]byte, error), anyType bool) (crypto.Signer, error) {
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, errors.New(`no "EC PRIVATE KEY", "PRIVATE KEY" or "ENCRYPTED PRIVATE KEY" PEM block`)
		}
		switch b.Type {
		case "EC PRIVATE KEY":
			if _, ok := b.Headers["DEK-Info"]; ok {
				return nil, errors.New("legacy PEM encryption (DEK-Info) is not supported; convert with 'openssl pkcs8 -topk8 -v2 aes-256-cbc'")
			}
			k, err := x509.ParseECPrivateKey(b.Bytes)
			if err != nil {
				return nil, errors.New("the EC PRIVATE KEY block is not a valid SEC 1 EC key")
			}
			return checkKey(k, anyType)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, errors.New("the PRIVATE KEY block is not a valid PKCS #8 key")
			}
			return checkKey(k, anyType)
		case "ENCRYPTED PRIVATE KEY":
			e, err := parseEncryptedPKCS8(b.Bytes)
			if err != nil {
				return nil, err
			}
			p, err := pass()
			if err != nil {
				return nil, err
			}
			der, err := e.decrypt(p)
			if err != nil {
				return nil, err
			}
			k, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				return nil, &PKCS8Error{Msg: "wrong passphrase (or corrupt key): the decrypted key does not parse", Wrong: true}
			}
			return checkKey(k, anyType)
		}
	}
}

// IsEncryptedPEM reports whether the first private key block of data is
// an "ENCRYPTED PRIVATE KEY" (PKCS#8), which [Open] decrypts.
func IsEncryptedPEM(data []byte) bool {
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return false
		}
		switch b.Type {
		case "EC PRIVATE KEY", "PRIVATE KEY":
			return false
		case "ENCRYPTED PRIVATE KEY":
			return true
		}
	}
}

// A KeyTypeError reports a key that is not a P-256 ECDSA key, the only
// kind a NervesKey signer can have.
type KeyTypeError struct {
	Type string // e.g. "RSA 2048", "ECDSA P-384"
}

func (e *KeyTypeError) Error() string {
	return fmt.Sprintf("key is %s, want ECDSA P-256 (the compressed certificates on the chip hold only P-256)", e.Type)
}

// checkKey returns k as a crypto.Signer if it is a P-256 ECDSA key.
// With anyType, any crypto.Signer is accepted.
func checkKey(k any, anyType bool) (crypto.Signer, error) {
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key is %T, which cannot sign", k)
	}
	if anyType {
		return s, nil
	}
	if err := CheckPublic(s.Public()); err != nil {
		return nil, err
	}
	return s, nil
}

// CheckPublic returns a *KeyTypeError for a public key that is not
// P-256 ECDSA, else nil.
func CheckPublic(pub crypto.PublicKey) error {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p.Curve == elliptic.P256() {
			return nil
		}
		return &KeyTypeError{Type: "ECDSA " + p.Curve.Params().Name}
	case *rsa.PublicKey:
		return &KeyTypeError{Type: fmt.Sprintf("RSA %d", p.N.BitLen())}
	default:
		return &KeyTypeError{Type: strings.TrimPrefix(fmt.Sprintf("%T", pub), "*")}
	}
}
