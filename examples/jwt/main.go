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
	"github.com/nerveskey/nerveskey/examples/internal/demo"
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
	key, closeKey, err := demo.OpenKey(ctx, *busName)
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
