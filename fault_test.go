package nerveskey_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/nerveskey/nerveskey/internal/atecc"
	"math/rand/v2"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// faultKind is one way the bus or chip misbehaves during a signature.
type faultKind int

const (
	faultNone          faultKind = iota
	faultNAK                     // a NAK storm of 1–20 transactions
	faultNAKFlood                // 10,000 NAKs: more than the retry budget covers
	faultCorrupt                 // 1–2 responses with a bad CRC
	faultECC                     // the Sign answers 0x05
	faultDropWake                // 1–3 wake pulses ignored
	faultWatchdogGap             // the watchdog expires between Nonce and Sign (TempKey lost)
	faultWatchdogEarly           // the watchdog fires 1–120 ms after the wake (0xEE or a lost session)
	faultPowerCut                // power lost after 1–8 more transactions
	faultForged                  // the Sign answers a valid signature by another key (CRC good)
	faultForgedTwice             // the next two Sign answers are forged: the host gives up
	faultLostAnswer              // the Sign executes and its answer is lost (NAK or garbage)
	numFaultKinds
)

func (f faultKind) String() string {
	return [...]string{"none", "nak", "nak-flood", "corrupt", "ecc", "drop-wake", "watchdog-gap", "watchdog-early", "power-cut", "forged", "forged-twice", "lost-answer"}[f]
}

// errClass names the typed error a failed signature returned, or "" if
// it is not one callers can recognize.
func errClass(err error) string {
	if se, ok := errors.AsType[*nerveskey.StatusError](err); ok {
		return fmt.Sprintf("StatusError(0x%02x)", se.Status)
	}
	for _, s := range []struct {
		name string
		err  error
	}{
		{"ErrTimeout", nerveskey.ErrTimeout},
		{"ErrFrame", atecc.ErrFrame},
		{"ErrWake", nerveskey.ErrWake},
		{"ErrInconsistent", nerveskey.ErrInconsistent},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	if _, ok := errors.AsType[*nerveskey.BusError](err); ok {
		return "BusError"
	}
	return ""
}

// TestSignUnderFaults signs 10,000 digests per revision while injecting
// bus and chip faults before almost every signature. No signature may be
// wrong, nothing may panic, and every failure must be a typed error;
// signatures that needed retries are counted.
func TestSignUnderFaults(t *testing.T) {
	needSim(t, "fault injection")
	n := 10000
	if testing.Short() {
		n = 1000
	}
	for _, rev := range benchRevisions {
		t.Run(rev.String(), func(t *testing.T) {
			chip := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: rev, Seed: 7, Timing: nerveskeytest.TimingRandom})
			var (
				retries  atomic.Int64 // Retry hook calls in the current signature
				gapArmed atomic.Bool  // expire the watchdog after the next Nonce
				wdArmed  atomic.Int64 // set WatchdogAfter (µs) at the next wake
				forge    atomic.Int64 // forge the answers of this many next Signs
				lose     atomic.Int64 // lose the answer of the next Sign (a Loss)
				forged   atomic.Int64 // forged answers sent
			)
			chip.SetCommandHook(func(c *nerveskeytest.Command) {
				if c.Opcode != opSign {
					return
				}
				if forge.Load() > 0 {
					forge.Add(-1)
					forged.Add(1)
					c.Answer = func([]byte) []byte { return foreignSig() }
				}
				if l := lose.Swap(0); l != 0 {
					c.Lose = nerveskeytest.Loss(l)
				}
			})
			trace := &nerveskey.Trace{
				Retry: func(int, error, time.Duration) { retries.Add(1) },
				Command: func(op string, _ time.Duration, err error) {
					if err == nil && strings.HasPrefix(op, "nonce") && gapArmed.CompareAndSwap(true, false) {
						chip.ExpireWatchdog()
					}
				},
				Wake: func(_ int, err error) {
					if us := wdArmed.Swap(0); err == nil && us > 0 {
						chip.SetFaults(nerveskeytest.Faults{WatchdogAfter: time.Duration(us) * time.Microsecond})
					}
				},
			}
			k, err := nerveskey.Open(t.Context(), chip, &nerveskey.Options{Trace: trace})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			pub := k.Public().(*ecdsa.PublicKey)
			rng := rand.New(rand.NewPCG(1, uint64(rev)))

			var ok, retried, wrong, panics int
			failures := map[string]int{}
			byKind := make([][3]int, numFaultKinds) // ok first time, ok after retry, failed
			for i := range n {
				kind := faultKind(rng.IntN(int(numFaultKinds)))
				if kind == faultNAKFlood && rng.IntN(8) != 0 {
					kind = faultNAK // keep the hopeless case rare
				}
				var f nerveskeytest.Faults
				switch kind {
				case faultNAK:
					f.NAK = 1 + rng.IntN(20)
				case faultNAKFlood:
					f.NAK = 10000
				case faultCorrupt:
					f.CorruptResponse = 1 + rng.IntN(2)
				case faultECC:
					f.ECCFault = 1
				case faultDropWake:
					f.DropWake = 1 + rng.IntN(3)
				case faultWatchdogGap:
					gapArmed.Store(true)
				case faultWatchdogEarly:
					wdArmed.Store(int64(1000 + rng.IntN(120000)))
				case faultPowerCut:
					f.PowerCutAfter = 1 + rng.IntN(8)
				case faultForged:
					forge.Store(1)
				case faultForgedTwice:
					forge.Store(2)
				case faultLostAnswer:
					lose.Store(int64(nerveskeytest.LostNAK) + int64(rng.IntN(2)))
				}
				chip.SetFaults(f)
				retries.Store(0)
				var d [32]byte
				binary.BigEndian.PutUint64(d[:], uint64(i))
				d = sha256.Sum256(d[:])

				sig, err := func() (sig []byte, err error) {
					defer func() {
						if r := recover(); r != nil {
							panics++
							err = fmt.Errorf("panic: %v", r)
						}
					}()
					return k.Sign(nil, d[:], crypto.SHA256)
				}()
				// Leave no fault behind for the next signature.
				chip.SetFaults(nerveskeytest.Faults{})
				gapArmed.Store(false)
				wdArmed.Store(0)
				forge.Store(0)
				lose.Store(0)

				switch {
				case err != nil:
					c := errClass(err)
					if c == "" {
						t.Errorf("sign %d (%v): untyped error %v", i, kind, err)
						c = "untyped"
					}
					failures[c]++
					byKind[kind][2]++
				case !ecdsa.VerifyASN1(pub, d[:], sig):
					wrong++
					t.Errorf("sign %d (%v): wrong signature", i, kind)
				case retries.Load() > 0:
					retried++
					byKind[kind][1]++
				default:
					ok++
					byKind[kind][0]++
				}
			}
			if wrong != 0 || panics != 0 {
				t.Errorf("%d wrong signatures, %d panics", wrong, panics)
			}
			var fl []string
			for c, v := range failures {
				fl = append(fl, fmt.Sprintf("%s=%d", c, v))
			}
			sort.Strings(fl)
			t.Logf("%d signs: %d ok first time, %d ok after retries, %d typed errors [%s], %d wrong, %d panics; %d forged Sign answers",
				n, ok, retried, n-ok-retried, strings.Join(fl, " "), wrong, panics, forged.Load())
			for kind, c := range byKind {
				t.Logf("  %-14v ok=%d retried-ok=%d failed=%d", faultKind(kind), c[0], c[1], c[2])
			}
			// The driver must recover from every transient fault but the
			// flood: a few failures are expected, most signatures succeed.
			if fails := n - ok - retried; fails > byKind[faultNAKFlood][2]+byKind[faultForgedTwice][2]+n/20 {
				t.Errorf("%d failures; the retry budget should absorb transient faults", fails)
			}
			// The chip still signs after all that.
			d := sha256.Sum256([]byte("after"))
			if sig, err := k.Sign(nil, d[:], crypto.SHA256); err != nil || !ecdsa.VerifyASN1(pub, d[:], sig) {
				t.Fatalf("sign after the fault run: %v", err)
			}
		})
	}
}

// TestSignForgedAnswers answers 200 Signs with a well-framed signature by
// another key (valid CRC, valid scalars), every other one of them twice in
// a row: no invalid signature may be returned; a single forgery is
// absorbed by the host verification's one retry and a double one is an
// ErrInconsistent error.
func TestSignForgedAnswers(t *testing.T) {
	needSim(t, "forged answers")
	for _, rev := range benchRevisions {
		t.Run(rev.String(), func(t *testing.T) {
			chip := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: rev})
			var verifyRetries atomic.Int64 // Trace.Retry calls for signatures that did not verify
			k, err := nerveskey.Open(t.Context(), chip, &nerveskey.Options{Trace: &nerveskey.Trace{
				Retry: func(_ int, err error, _ time.Duration) {
					if errors.Is(err, nerveskey.ErrInconsistent) {
						verifyRetries.Add(1)
					}
				},
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			pub := k.Public().(*ecdsa.PublicKey)
			var forge, forged atomic.Int64
			chip.SetCommandHook(func(c *nerveskeytest.Command) {
				if c.Opcode == opSign && forge.Load() > 0 {
					forge.Add(-1)
					forged.Add(1)
					c.Answer = func([]byte) []byte { return foreignSig() }
				}
			})
			var okN, inconsistent, invalid int
			for i := 0; forged.Load() < 200; i++ {
				forge.Store(int64(1 + i%2))
				d := sha256.Sum256(fmt.Appendf(nil, "forged %d", i))
				sig, err := k.Sign(nil, d[:], crypto.SHA256)
				forge.Store(0)
				switch {
				case errors.Is(err, nerveskey.ErrInconsistent):
					inconsistent++
				case err != nil:
					t.Fatalf("sign %d: %v", i, err)
				case !ecdsa.VerifyASN1(pub, d[:], sig):
					invalid++
				default:
					okN++
				}
			}
			if invalid != 0 || okN == 0 || inconsistent == 0 {
				t.Errorf("%d invalid signatures returned", invalid)
			}
			// Every forged answer but the second of a pair was retried, and
			// the trace said so.
			if want := forged.Load() - int64(inconsistent); verifyRetries.Load() != want {
				t.Errorf("Trace.Retry saw %d verification retries, want %d", verifyRetries.Load(), want)
			}
			t.Logf("%d forged Sign answers: %d valid signatures returned (after one retry), %d ErrInconsistent, %d invalid returned", forged.Load(), okN, inconsistent, invalid)
		})
	}
}

// FuzzSignAnswer answers one Sign with fuzzed bytes, well framed: Key.Sign
// either returns a signature that verifies under the chip's public key or
// an error; it never returns the forged bytes and never panics. The
// fuzzed answer may be any length (a status byte, a short or long payload).
func FuzzSignAnswer(f *testing.F) {
	f.Add(foreignSig())
	f.Add(make([]byte, 64))
	f.Add([]byte{0x0F})
	f.Add([]byte{0x00})
	f.Add(append(make([]byte, 63), 1))
	chip := nerveskeytest.NewProvisionedChip(f, &nerveskeytest.Options{Revision: nerveskeytest.ATECC608A})
	k, err := nerveskey.Open(f.Context(), chip, &nerveskey.Options{RetryBudget: -1})
	if err != nil {
		f.Fatal(err)
	}
	defer k.Close()
	pub := k.Public().(*ecdsa.PublicKey)
	f.Fuzz(func(t *testing.T, answer []byte) {
		if len(answer) > 80 {
			return // longer than any chip answer: the frame count byte would not hold it
		}
		var once atomic.Bool
		chip.SetCommandHook(func(c *nerveskeytest.Command) {
			if c.Opcode == opSign && once.CompareAndSwap(false, true) {
				c.Answer = func([]byte) []byte { return append([]byte(nil), answer...) }
			}
		})
		defer chip.SetCommandHook(nil)
		d := sha256.Sum256(answer)
		sig, err := k.Sign(nil, d[:], crypto.SHA256)
		if err == nil && !ecdsa.VerifyASN1(pub, d[:], sig) {
			t.Fatalf("answer %x: an invalid signature was returned", answer)
		}
	})
}
