package nerveskey

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"

	"periph.io/x/conn/v3/i2c"

	"github.com/nerveskey/nerveskey/internal/atecc"
	ni2c "github.com/nerveskey/nerveskey/internal/i2c"
	"github.com/nerveskey/nerveskey/internal/layout"
)

var _ crypto.Signer = (*Key)(nil)

// A Key is the device's P-256 private key in slot 0 of a provisioned chip.
// It implements crypto.Signer; the private key never leaves the chip.
//
// [Key.Chip] returns the chip, for its certificates, identity and
// settings.
//
// A Key is safe for concurrent use by multiple goroutines. Each signature is
// one Nonce+Sign sequence in one wake cycle, never interleaved with another
// command: the chip loses the digest (TempKey) when it sleeps, and on an
// ATECC508A any other command in between clears it too. Signatures queued
// at once run one after the other in a shared wake cycle, as many as fit
// in the chip's watchdog period, which saves a wake and a sleep each.
type Key struct {
	chip     *Chip
	pub      *ecdsa.PublicKey // read by Chip.Key, never changed
	volatile bool             // mode volatile: the persistent latch must be set
	owns     bool             // Close closes the Chip (Open made it)
	sessions sessionCaches    // TLS session caches of TLSConfig, emptied by Close
	batch    signQueue        // signatures waiting for the chip (signer_batch.go)
	noBatch  bool             // benchmarks only: a wake cycle per signature
	noVerify bool             // benchmarks only: skip the host verification
}

// Open opens the chip on bus and returns its signing key: [OpenChip]
// followed by [Chip.Key]. Closing the Key closes the chip. The caller keeps
// ownership of bus.
//
// On hardware, get bus from periph:
//
//	if _, err := host.Init(); err != nil { … }
//	bus, err := i2creg.Open("/dev/i2c-1")
//
// or use [OpenBus], which does both.
func Open(ctx context.Context, bus i2c.Bus, opts *Options) (*Key, error) {
	c, err := OpenChip(ctx, bus, opts)
	if err != nil {
		return nil, err
	}
	k, err := c.Key(ctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	k.owns = true
	return k, nil
}

// OpenBus opens the I2C bus by name and returns the signing key of the
// chip on it: the one call from a bus name to a Key. It initializes
// periph's host drivers (host.Init), opens the bus with periph's i2creg
// (name is for example "/dev/i2c-1", "1", or "" for the first bus), then
// does what [Open] does. Closing the Key closes the chip and the bus.
// Errors say what to check when the machine has no I2C bus or the bus
// cannot be opened. To read or provision a chip that has no usable key
// yet, open the bus with periph and call [OpenChip].
func OpenBus(ctx context.Context, name string, opts *Options) (*Key, error) {
	bus, err := ni2c.OpenBus(name)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: %w", err)
	}
	k, err := Open(ctx, bus, opts)
	if err != nil {
		bus.Close()
		return nil, err
	}
	k.chip.bus = bus
	return k, nil
}

// Key returns the chip's signing key. It fails with ErrNotProvisioned when
// the data zone is not locked, and with ErrNotNervesKey when a NervesKey
// chip has a foreign configuration. It reads the public key once, with
// GenKey in public-key mode (slot 0 is never read). On a volatile-key chip
// it sets the persistent latch with Options.ActivationKey if it is not set.
// Closing the Key does not close c.
func (c *Chip) Key(ctx context.Context) (*Key, error) {
	k, err := c.key(ctx)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: key: %w", err)
	}
	return k, nil
}

func (c *Chip) key(ctx context.Context) (*Key, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	mode := modeOf(cfg)
	switch {
	case mode == modeUnprovisioned:
		return nil, ErrNotProvisioned
	case mode == modeUnrecognized && c.typ == NervesKey:
		return nil, ErrNotNervesKey
	}
	k := &Key{chip: c, volatile: mode == modeVolatile}
	if k.volatile {
		if err := k.unlatch(ctx); err != nil {
			return nil, err
		}
	}
	pub, err := c.publicKey(ctx)
	if err != nil {
		return nil, err
	}
	k.pub = pub
	return k, nil
}

// Chip returns the chip the key is on, for its identity, certificates,
// settings and random numbers. Closing the Key closes the Chip when [Open]
// or [OpenBus] opened it; otherwise the caller closes the Chip.
func (k *Key) Chip() *Chip { return k.chip }

// unlatch sets a volatile-key chip's persistent latch if it is not set.
func (k *Key) unlatch(ctx context.Context) error {
	var set bool
	err := k.chip.dev.Do(ctx, func(s *atecc.Session) error {
		var err error
		set, err = s.Latch(ctx)
		return err
	})
	if err != nil || set {
		return err
	}
	if k.chip.actKey == nil {
		return ErrActivationKey
	}
	var key [32]byte
	copy(key[:], k.chip.actKey)
	if err := k.chip.dev.AuthVolatileKey(ctx, layout.ActivationSlot, key); err != nil {
		if errors.Is(err, atecc.ErrMiscompare) {
			return fmt.Errorf("%w: %w", ErrActivationKey, err)
		}
		return err
	}
	return nil
}

// Close closes the chip if the Key came from [Open]; a Key from
// [Chip.Key] leaves its Chip open. Either way it empties the TLS session
// caches of the Key's configs (TLSOptions.Resume), and they stay empty.
func (k *Key) Close() error {
	k.sessions.close()
	if k.owns {
		return k.chip.Close()
	}
	return nil
}

// Public returns the public key read when the Key was opened. It does no
// I/O.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// Sign signs digest with the chip's key, as [ecdsa.PrivateKey.Sign] does:
// opts.HashFunc() must be set and digest must be that hash's size (at least
// 32 bytes; longer digests are truncated to their leftmost 32 bytes, as
// ECDSA specifies for P-256). It returns an ASN.1 DER signature. rand is
// ignored: the chip draws its own nonce. Sign is SignContext with
// context.Background().
//
// Every signature is verified on the host with the public key before it
// is returned (crypto/ecdsa: about 85 µs of CPU and 10 allocations on an
// amd64 core, about 180 µs there with the generic code that 32-bit ARM
// boards run (-tags purego), some milliseconds on a slow ARM core; against
// 55 ms or more of chip time per signature; BenchmarkSignHostVerify,
// SECURITY.md). One that does not verify is treated as a fault and the
// chip signs once more; a second failure is an error wrapping
// ErrInconsistent, so a forged or corrupted answer is never returned.
func (k *Key) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), digest, opts)
}

// SignContext is Sign with a context, checked between chip commands.
func (k *Key) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	_, der, err := k.signRS(ctx, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: sign: %w", err)
	}
	return der, nil
}

// SignRS signs digest like SignContext but returns the raw R‖S form (64
// bytes, big-endian), as JWS ES256 and the chip itself use.
func (k *Key) SignRS(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([64]byte, error) {
	rs, _, err := k.signRS(ctx, digest, opts)
	if err != nil {
		return rs, fmt.Errorf("nerveskey: sign: %w", err)
	}
	return rs, nil
}

// signRS signs digest and returns R‖S and its DER encoding, verified.
func (k *Key) signRS(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([64]byte, []byte, error) {
	var rs [64]byte
	if opts == nil || opts.HashFunc() == 0 {
		return rs, nil, errors.New("the chip signs digests only; opts.HashFunc() must name the hash")
	}
	if n := opts.HashFunc().Size(); len(digest) != n || n < 32 {
		return rs, nil, fmt.Errorf("digest is %d bytes; want %v's %d, and at least 32", len(digest), opts.HashFunc(), n)
	}
	if err := k.chip.check(); err != nil {
		return rs, nil, err
	}
	var d [32]byte
	copy(d[:], digest) // leftmost 256 bits, as ECDSA truncates for P-256
	for attempt := 1; ; attempt++ {
		rs, err := k.signOnce(ctx, d)
		if err != nil {
			return rs, nil, err
		}
		der := encodeSignature(rs[:32], rs[32:])
		if k.noVerify || ecdsa.VerifyASN1(k.pub, d[:], der) {
			return rs, der, nil
		}
		if attempt == 2 {
			return [64]byte{}, nil, fmt.Errorf("%w: the chip's signature does not verify under its public key, twice", ErrInconsistent)
		}
		if t := k.chip.trace; t != nil && t.Retry != nil {
			t.Retry(attempt, fmt.Errorf("%w: the chip's signature does not verify under its public key", ErrInconsistent), 0)
		}
	}
}

// signOnce runs one Nonce+Sign, setting a volatile key's latch again if
// the chip lost it.
func (k *Key) signOnce(ctx context.Context, d [32]byte) ([64]byte, error) {
	rs, err := k.signDigest(ctx, d)
	if err != nil && k.volatile && errors.Is(err, ErrExecution) {
		// The persistent latch is lost on power loss (a brown-out, say):
		// set it again and sign once more.
		if lerr := k.unlatch(ctx); lerr == nil {
			rs, err = k.signDigest(ctx, d)
		}
	}
	return rs, err
}

// verifyRS reports whether R‖S is a valid signature of digest under pub.
func verifyRS(pub *ecdsa.PublicKey, digest []byte, rs *[64]byte) bool {
	return ecdsa.VerifyASN1(pub, digest, encodeSignature(rs[:32], rs[32:]))
}

// encodeSignature returns the ASN.1 DER ECDSA-Sig-Value for r and s, with
// minimal integers. It is on the signing path of every handshake, so it
// writes the bytes directly into one allocation rather than through
// big.Int and cryptobyte (eleven allocations): SEQUENCE { INTEGER r,
// INTEGER s }, each at most 33 bytes, so every length fits in one byte.
func encodeSignature(r, s []byte) []byte {
	r, s = minimalInt(r), minimalInt(s)
	n := derIntLen(r) + derIntLen(s)
	b := make([]byte, 0, 2+n)
	b = append(b, 0x30, byte(n)) // SEQUENCE
	b = appendDERInt(b, r)
	return appendDERInt(b, s)
}

// minimalInt strips the leading zero bytes of the big-endian unsigned v,
// keeping one byte for zero.
func minimalInt(v []byte) []byte {
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	return v
}

// derIntLen is the encoded size of the DER INTEGER appendDERInt writes.
func derIntLen(v []byte) int {
	if len(v) > 0 && v[0]&0x80 != 0 {
		return 3 + len(v) // a 0x00 keeps it positive
	}
	return 2 + len(v)
}

// appendDERInt appends the DER INTEGER of the minimal unsigned v.
func appendDERInt(b, v []byte) []byte {
	b = append(b, 0x02, byte(derIntLen(v)-2)) // INTEGER
	if len(v) > 0 && v[0]&0x80 != 0 {
		b = append(b, 0)
	}
	return append(b, v...)
}

// publicKeyFromXY returns the P-256 public key X‖Y, checking it is on the
// curve.
func publicKeyFromXY(xy []byte) (*ecdsa.PublicKey, error) {
	if len(xy) != 64 {
		return nil, fmt.Errorf("public key is %d bytes, want 64", len(xy))
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, xy...))
	if err != nil {
		return nil, fmt.Errorf("public key is not a P-256 point: %w", err)
	}
	return pub, nil
}
