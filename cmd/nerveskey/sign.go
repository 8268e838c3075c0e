package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// withKey opens the chip, gets its signing key and runs f; see
// session.finish for what happens to a simulated chip.
func (c *cli) withKey(f func(s *session, k *nerveskey.Key) error) error {
	s, err := c.openRead()
	if err != nil {
		return err
	}
	k, err := s.Key(c.ctx)
	if err != nil {
		return s.finish(keyError(err))
	}
	return s.finish(f(s, k))
}

// keyError adds a hint to the errors Chip.Key returns for chips that
// cannot sign.
func keyError(err error) error {
	switch {
	case errors.Is(err, nerveskey.ErrNotProvisioned):
		return withHint(err, "provision the chip first: nerveskey provision --signer-cert F --signer-key F")
	case errors.Is(err, nerveskey.ErrActivationKey):
		return withHint(err, "give this volatile-key chip's activation key with --activation-key HEX")
	case errors.Is(err, nerveskey.ErrNotNervesKey):
		return withHint(err, "for a Trust&Go part, add --type trust_and_go")
	}
	return err
}

const pubkeyUsage = `Usage: nerveskey pubkey [--der]

Prints the device public key (P-256, from the slot 0 private key, which
never leaves the chip) as a PEM "PUBLIC KEY" block (PKIX), or as DER with
--der.

Examples:

	$ nerveskey pubkey > device-pub.pem
	$ nerveskey --sim chip.json pubkey | openssl pkey -pubin -noout -text
`

func (c *cli) pubkey(args []string) error {
	fs := flag.NewFlagSet("pubkey", flag.ContinueOnError)
	der := fs.Bool("der", false, "print DER instead of PEM")
	if _, err := c.parse(fs, pubkeyUsage, args, 0, 0); err != nil {
		return err
	}
	return c.withKey(func(s *session, k *nerveskey.Key) error {
		b, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			return err
		}
		return c.writeDER(b, "PUBLIC KEY", *der)
	})
}

// writeDER prints b as PEM, or raw DER when der is set (refusing a
// terminal, where binary output would be garbage).
func (c *cli) writeDER(b []byte, pemType string, der bool) error {
	if !der {
		return pem.Encode(c.stdout, &pem.Block{Type: pemType, Bytes: b})
	}
	if isTerminal(c.stdout) {
		return withHint(errors.New("not writing binary DER to a terminal"), "redirect stdout to a file, or leave out --der for PEM")
	}
	_, err := c.stdout.Write(b)
	return err
}

const signUsage = `Usage: nerveskey sign [--digest HEX] [--rs]

Signs the SHA-256 digest of stdin, or the 32-byte digest given with
--digest, with the chip's key, and prints the signature in hex: ASN.1 DER
(as openssl and crypto/ecdsa expect) or, with --rs, the 64-byte R‖S form
(as JWS ES256 uses).

Examples:

	$ echo hello | nerveskey sign
	$ nerveskey sign --digest $(sha256sum < firmware.bin | cut -c1-64)
	$ nerveskey sign < msg > msg.sig.hex
	$ xxd -r -p msg.sig.hex > msg.sig
	$ openssl dgst -sha256 -verify device-pub.pem -signature msg.sig msg
`

func (c *cli) sign(args []string) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	digestHex := fs.String("digest", "", "sign this SHA-256 `HEX` digest (64 digits) instead of hashing stdin")
	rs := fs.Bool("rs", false, "print the raw 64-byte R‖S signature instead of DER")
	if _, err := c.parse(fs, signUsage, args, 0, 0); err != nil {
		return err
	}
	var digest []byte
	if *digestHex != "" {
		d, err := parseHex(*digestHex, sha256.Size)
		if err != nil {
			return usagef("sign", "--digest: %v", err)
		}
		digest = d
	} else {
		if isTerminal(c.stdin) {
			fmt.Fprintln(c.stderr, "nerveskey: reading the data to sign from the terminal; end it with Ctrl-D")
		}
		h := sha256.New()
		if _, err := io.Copy(h, c.stdin); err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		digest = h.Sum(nil)
	}
	return c.withKey(func(s *session, k *nerveskey.Key) error {
		if *rs {
			sig, err := k.SignRS(c.ctx, digest, crypto.SHA256)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, hex.EncodeToString(sig[:]))
			return nil
		}
		sig, err := k.SignContext(c.ctx, digest, crypto.SHA256)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, hex.EncodeToString(sig))
		return nil
	})
}

const benchUsage = `Usage: nerveskey bench [-n N] [--json] [--sim-timing MODE]

Signs N random digests on the chip, verifies every signature, and reports
latency percentiles. On a simulated chip the latency is the modeled bus
and execution time (the wall clock means nothing there) and the report
adds the I2C transactions per signature; on hardware it is wall-clock time.

A simulated chip takes each command's typical execution time from the
datasheet by default, so every signature costs the same; --sim-timing max
makes it take the maximum, and --sim-timing random a time drawn between
the two, as a real chip varies, so the percentiles differ.

Examples:

	$ nerveskey bench -n 200
	$ nerveskey --sim chip.json bench --json
	$ nerveskey --sim chip.json bench --sim-timing random -n 1000
`

// benchResult is the --json output of bench.
type benchResult struct {
	Signatures int     `json:"signatures"`
	Clock      string  `json:"clock"` // "modeled" (simulator) or "wall" (hardware)
	MeanMS     float64 `json:"mean_ms"`
	P50MS      float64 `json:"p50_ms"`
	P90MS      float64 `json:"p90_ms"`
	P99MS      float64 `json:"p99_ms"`
	MaxMS      float64 `json:"max_ms"`
	// TransactionsPerSignature is the mean number of I2C transactions
	// per signature; simulator only.
	TransactionsPerSignature float64 `json:"transactions_per_signature,omitempty"`
}

func (c *cli) bench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("n", 100, "the number of signatures")
	asJSON := fs.Bool("json", false, "print one JSON object")
	timing := fs.String("sim-timing", "typical", "with --sim: the simulated execution times, `MODE` typical, max or random")
	if _, err := c.parse(fs, benchUsage, args, 0, 0); err != nil {
		return err
	}
	if *n < 1 || *n > 1000000 {
		return usagef("bench", "-n %d: want 1 to 1000000", *n)
	}
	switch *timing {
	case "typical":
		c.simTiming = nerveskeytest.TimingTypical
	case "max":
		c.simTiming = nerveskeytest.TimingMax
	case "random":
		c.simTiming = nerveskeytest.TimingRandom
	default:
		return usagef("bench", "--sim-timing %q: want typical, max or random", *timing)
	}
	if *timing != "typical" && c.g.sim == "" {
		return usagef("bench", "--sim-timing needs --sim: a real chip takes the time it takes")
	}
	return c.withKey(func(s *session, k *nerveskey.Key) error {
		pub := k.Public().(*ecdsa.PublicKey)
		lat := make([]time.Duration, 0, *n)
		var tx int
		digest := make([]byte, 32)
		for i := 0; i < *n; i++ {
			if err := c.ctx.Err(); err != nil {
				return err
			}
			rand.Read(digest)
			start := time.Now()
			var before = s.simStats()
			sig, err := k.SignContext(c.ctx, digest, crypto.SHA256)
			if err != nil {
				return fmt.Errorf("signature %d: %w", i+1, err)
			}
			d := time.Since(start)
			if s.sim != nil {
				after := s.simStats()
				d = after.BusTime - before.BusTime
				tx += after.Transactions - before.Transactions
			}
			if !ecdsa.VerifyASN1(pub, digest, sig) {
				return fmt.Errorf("signature %d does not verify with the chip's public key", i+1)
			}
			lat = append(lat, d)
		}
		r := summarize(lat)
		r.Clock = "wall"
		if s.sim != nil {
			r.Clock = "modeled"
			r.TransactionsPerSignature = float64(tx) / float64(*n)
		}
		if *asJSON {
			return json.NewEncoder(c.stdout).Encode(r)
		}
		fmt.Fprintf(c.stdout, "signatures: %d (%s time)\n", r.Signatures, r.Clock)
		fmt.Fprintf(c.stdout, "latency ms: mean %.2f  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", r.MeanMS, r.P50MS, r.P90MS, r.P99MS, r.MaxMS)
		if s.sim != nil {
			fmt.Fprintf(c.stdout, "i2c transactions per signature: %.1f\n", r.TransactionsPerSignature)
		}
		return nil
	})
}

// summarize computes the latency statistics of lat (not empty).
func summarize(lat []time.Duration) benchResult {
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }
	pct := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(lat)))) - 1
		return lat[max(i, 0)]
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return benchResult{
		Signatures: len(lat),
		MeanMS:     ms(sum / time.Duration(len(lat))),
		P50MS:      ms(pct(0.50)),
		P90MS:      ms(pct(0.90)),
		P99MS:      ms(pct(0.99)),
		MaxMS:      ms(lat[len(lat)-1]),
	}
}
