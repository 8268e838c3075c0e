// Command jwt makes a Google-Cloud-IoT-style JWT (iat, exp, aud) signed by
// the NervesKey and verifies it with golang-jwt's standard ES256 method and
// the device public key, as a broker would.
//
// It runs on a freshly provisioned simulated chip by default:
//
//	go run ./examples/jwt
//
// and on real hardware with -bus:
//
//	go run ./examples/jwt -bus /dev/i2c-1 -aud my-project
package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

var (
	busName  = flag.String("bus", "", "I2C bus of a real NervesKey (e.g. /dev/i2c-1); default: a simulated chip")
	audience = flag.String("aud", "my-project", "the token's audience (aud), e.g. the cloud project ID")
	lifetime = flag.Duration("lifetime", 20*time.Minute, "the token's lifetime (exp - iat)")
)

func main() {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "jwt:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, stdout io.Writer) error {
	key, closeKey, err := openKey(ctx, *busName)
	if err != nil {
		return err
	}
	defer closeKey()

	tok, err := key.JWT(ctx, &nerveskey.JWTOptions{Audience: *audience, Lifetime: *lifetime})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)

	// What the broker does: golang-jwt's own ES256 and the device's
	// public key (registered with the cloud, or taken from its certificate).
	var claims jwt.RegisteredClaims
	_, err = jwt.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return key.Public(), nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(*audience), jwt.WithExpirationRequired())
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(key.Public())
	fmt.Fprintf(stdout, "verified with ES256: aud=%v, valid for %v, device key %x…\n",
		claims.Audience, claims.ExpiresAt.Sub(claims.IssuedAt.Time), pub[len(pub)-8:])
	return nil
}

// openKey opens the NervesKey on the named bus or, when name is empty,
// provisions a blank simulated chip with a new signer.
func openKey(ctx context.Context, name string) (*nerveskey.Key, func(), error) {
	if name != "" {
		c, err := nerveskey.OpenBus(ctx, name, nil)
		if err != nil {
			return nil, nil, err
		}
		k, err := c.Key(ctx)
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		return k, func() { c.Close() }, nil
	}
	c, err := nerveskey.OpenChip(ctx, nerveskeytest.NewChip(nil), nil)
	if err != nil {
		return nil, nil, err
	}
	k, err := provision(ctx, c)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return k, func() { c.Close() }, nil
}

// provision makes a signer and provisions the blank chip c with it, as a
// factory would.
func provision(ctx context.Context, c *nerveskey.Chip) (*nerveskey.Key, error) {
	signerCert, signerKey, err := nerveskey.NewSigner(nil, 1, time.Now())
	if err != nil {
		return nil, err
	}
	info, err := c.DefaultInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.Provision(ctx, info, signerCert, signerKey, nil); err != nil {
		return nil, err
	}
	return c.Key(ctx)
}
