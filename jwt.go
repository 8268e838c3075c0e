package nerveskey

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SigningMethodES256 is a golang-jwt [jwt.SigningMethod] for "ES256" whose
// Sign takes a *Key: the chip signs the SHA-256 digest of the signing input
// and the signature is the raw 64-byte R‖S that JWS requires (RFC 7518
// §3.4). Tokens it makes verify with [jwt.SigningMethodES256] and the
// device public key.
//
// Its Verify accepts a *Key (its public key) or an *ecdsa.PublicKey, and
// checks as [jwt.SigningMethodES256] does.
//
// It is not registered with jwt.RegisterSigningMethod: parsers see "ES256"
// and use golang-jwt's own method, which is what verifiers want. Sign with
// it explicitly:
//
//	tok := jwt.NewWithClaims(nerveskey.SigningMethodES256, claims)
//	s, err := tok.SignedString(key)
//
// Sign uses context.Background(); [Key.SignJWT] takes a context.
var SigningMethodES256 jwt.SigningMethod = signingMethodES256{}

// signingMethodES256 is the type of SigningMethodES256; it has no state.
type signingMethodES256 struct{}

// Alg returns "ES256".
func (signingMethodES256) Alg() string { return "ES256" }

// Sign returns the R‖S signature of signingString. key must be a *Key.
func (signingMethodES256) Sign(signingString string, key any) ([]byte, error) {
	switch v := key.(type) {
	case contextSigner:
		// From Key.SignJWT, which adds the prefix and its own operation.
		return es256Sign(v.ctx, v.k, signingString)
	case *Key:
		sig, err := es256Sign(context.Background(), v, signingString)
		if err != nil {
			return nil, fmt.Errorf("nerveskey: ES256 sign: %w", err)
		}
		return sig, nil
	}
	return nil, fmt.Errorf("nerveskey: ES256 sign expects a *nerveskey.Key, not %T: %w", key, jwt.ErrInvalidKeyType)
}

// es256Sign signs signingString with k, returning R‖S; its errors carry no
// prefix.
func es256Sign(ctx context.Context, k *Key, signingString string) ([]byte, error) {
	if k == nil {
		return nil, fmt.Errorf("nil *Key: %w", jwt.ErrInvalidKey)
	}
	d := sha256.Sum256([]byte(signingString))
	rs, _, err := k.signRS(ctx, d[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return rs[:], nil
}

// Verify checks an R‖S signature of signingString with key, a *Key or an
// *ecdsa.PublicKey, as jwt.SigningMethodES256 does.
func (signingMethodES256) Verify(signingString string, sig []byte, key any) error {
	switch v := key.(type) {
	case *Key:
		if v == nil {
			return jwt.ErrInvalidKey
		}
		key = v.pub
	case contextSigner:
		key = v.k.pub
	}
	return jwt.SigningMethodES256.Verify(signingString, sig, key)
}

// SignJWT signs claims into a compact JWS (header.payload.signature) with
// [SigningMethodES256], checking ctx between chip commands.
func (k *Key) SignJWT(ctx context.Context, claims jwt.Claims) (string, error) {
	if claims == nil {
		return "", errors.New("nerveskey: sign JWT: nil claims")
	}
	tok, err := jwt.NewWithClaims(SigningMethodES256, claims).SignedString(contextSigner{k, ctx})
	if err != nil {
		return "", fmt.Errorf("nerveskey: sign JWT: %w", err)
	}
	return tok, nil
}

// defaultJWTLifetime is JWTOptions.Lifetime's default.
const defaultJWTLifetime = time.Hour

// defaultJWTMaxLifetime is JWTOptions.MaxLifetime's default.
const defaultJWTMaxLifetime = 24 * time.Hour

// JWTOptions configures [Key.JWT]. A nil *JWTOptions, or a zero field,
// selects the default.
type JWTOptions struct {
	// Audience is the "aud" claim, required. Google Cloud IoT Core (and
	// brokers that kept its scheme, such as ClearBlade IoT Core) expect the
	// project ID.
	Audience string
	// Lifetime is exp − iat, in whole seconds; default 1 h. Google's
	// brokers refused tokens valid for more than 24 h.
	Lifetime time.Duration
	// MaxLifetime is the longest Lifetime accepted; default 24 h. A
	// token is a bearer credential until it expires: a longer one needs
	// this set explicitly.
	MaxLifetime time.Duration
	// IssuedAt is the "iat" claim; default time.Now(). It is truncated to
	// whole seconds. A time before 2025 is refused with ErrClockNotSet.
	IssuedAt time.Time
}

// JWT returns a short-lived ES256 token in the Google Cloud IoT style,
// used as the MQTT password by brokers that authenticate devices with JWTs
// (see [Key.MQTTJWTOptions]): header {"alg":"ES256","typ":"JWT"}, claims
// iat, exp and aud and nothing else. The broker verifies it with the device
// public key (or certificate) registered for the device.
func (k *Key) JWT(ctx context.Context, opts *JWTOptions) (string, error) {
	var o JWTOptions
	if opts != nil {
		o = *opts
	}
	if o.Audience == "" {
		return "", errors.New("nerveskey: JWT: JWTOptions.Audience is required")
	}
	if o.Lifetime < 0 || o.Lifetime > 0 && o.Lifetime < time.Second {
		return "", fmt.Errorf("nerveskey: JWT: lifetime %v is under a second", o.Lifetime)
	}
	if o.Lifetime == 0 {
		o.Lifetime = defaultJWTLifetime
	}
	if o.MaxLifetime == 0 {
		o.MaxLifetime = defaultJWTMaxLifetime
	}
	if o.Lifetime > o.MaxLifetime {
		return "", fmt.Errorf("nerveskey: JWT: lifetime %v is over the maximum %v (JWTOptions.MaxLifetime)", o.Lifetime, o.MaxLifetime)
	}
	if o.IssuedAt.IsZero() {
		o.IssuedAt = time.Now()
	}
	if o.IssuedAt.UTC().Year() < minClockYear {
		return "", fmt.Errorf("nerveskey: JWT: the clock says %s: %w", o.IssuedAt.UTC().Format(time.RFC3339), ErrClockNotSet)
	}
	iat := o.IssuedAt.Unix()
	// A map, not RegisteredClaims, so that aud is a string as Google's
	// brokers expect (golang-jwt writes ClaimStrings as an array).
	return k.SignJWT(ctx, jwt.MapClaims{
		"iat": iat,
		"exp": iat + int64(o.Lifetime/time.Second),
		"aud": o.Audience,
	})
}
