//go:build cgo

package keysource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// openPKCS11 logs in to the token u names and finds its key pair, with
// crypto11 over the module (u.ModulePath, else EnvModule).
func openPKCS11(ctx context.Context, u *URI, opts *Options) (*Key, error) {
	desc := u.String()
	module := u.ModulePath
	if module == "" {
		module = opts.getenv(EnvModule)
	}
	if module == "" {
		return nil, fmt.Errorf("%s: no PKCS#11 module: add module-path=FILE to the URI or set %s", desc, EnvModule)
	}
	// crypto11 reports a missing module only as a failed dlopen; say
	// which file is missing.
	if _, err := os.Stat(module); err != nil {
		return nil, fmt.Errorf("%s: PKCS#11 module: %w", desc, err)
	}
	pin, err := pkcs11PIN(ctx, u, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", desc, err)
	}
	cfg := &crypto11.Config{Path: module, TokenLabel: u.Token, TokenSerial: u.Serial, Pin: pin}
	c11, err := crypto11.Configure(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", desc, pkcs11Error(err, u))
	}
	var label []byte
	if u.Object != "" {
		label = []byte(u.Object)
	}
	signer, err := c11.FindKeyPair(u.ID, label)
	if err != nil || signer == nil {
		c11.Close()
		if err == nil || strings.Contains(err.Error(), "not found") {
			return nil, fmt.Errorf("%s: no key pair with that object label or id in the token (pkcs11-tool --list-objects lists them; the key needs a CKA_ID)", desc)
		}
		return nil, fmt.Errorf("%s: %w", desc, pkcs11Error(err, u))
	}
	if err := CheckPublic(signer.Public()); err != nil && !opts.anyType() {
		c11.Close()
		return nil, fmt.Errorf("%s: %w", desc, err)
	}
	return &Key{Signer: signer, Desc: desc, PKCS11: true, close: c11.Close}, nil
}

// pkcs11PIN returns the user PIN: pin-value, the pin-source file,
// EnvPIN, or the prompt, in that order.
func pkcs11PIN(ctx context.Context, u *URI, opts *Options) (string, error) {
	switch {
	case u.PinValue != "":
		return u.PinValue, nil
	case u.PinSource != "":
		b, err := os.ReadFile(pinFile(u.PinSource))
		if err != nil {
			return "", fmt.Errorf("pin-source: %w", err)
		}
		return string(trimLine(b)), nil
	}
	if p := opts.getenv(EnvPIN); p != "" {
		return p, nil
	}
	if opts != nil && opts.Prompt != nil {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		b, err := opts.Prompt("PIN for token " + u.Token + u.Serial)
		return string(b), err
	}
	return "", fmt.Errorf("no PIN: add pin-source=file:PATH to the URI, set %s, or run on a terminal to be asked", EnvPIN)
}

// pkcs11Error words the errors of crypto11.Configure that users meet.
func pkcs11Error(err error, u *URI) error {
	var perr pkcs11.Error
	if errors.As(err, &perr) {
		switch perr {
		case pkcs11.CKR_PIN_INCORRECT:
			return errors.New("wrong PIN (CKR_PIN_INCORRECT)")
		case pkcs11.CKR_PIN_LOCKED:
			return errors.New("the PIN is locked (CKR_PIN_LOCKED); the security officer must reset it")
		case pkcs11.CKR_PIN_LEN_RANGE:
			return errors.New("wrong PIN: its length is out of the token's range (CKR_PIN_LEN_RANGE)")
		}
		return err
	}
	if strings.Contains(err.Error(), "could not find PKCS#11 token") {
		name := fmt.Sprintf("labeled %q", u.Token)
		if u.Serial != "" {
			name = fmt.Sprintf("with serial %q", u.Serial)
		}
		return fmt.Errorf("no token %s in the module (pkcs11-tool --module FILE --list-token-slots lists them)", name)
	}
	return err
}
