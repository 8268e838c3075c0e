package nerveskey_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// Opcodes and modes the fault hooks look for (DS508 Table 9-4).
const (
	opWrite  = 0x12
	opLock   = 0x17
	opGenKey = 0x40
	opSign   = 0x41

	lockModeData = 0x01
)

// busWatch is a CommandHook that records the commands a run sends and
// whether the chip executed a data lock, so a test can check that no Write
// follows it; it can apply one fault to the nth command.
type busWatch struct {
	mu         sync.Mutex
	n          int                          // commands seen
	faultAt    int                          // apply fault to this command (1-based); 0 none
	fault      func(*nerveskeytest.Command) // the fault
	faulted    string                       // the command the fault hit
	dataLocked bool                         // a data lock executed with status 0x00
	lateWrites int                          // Writes sent after that
}

func (w *busWatch) hook(c *nerveskeytest.Command) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	if c.Opcode == opWrite && w.dataLocked {
		w.lateWrites++
	}
	if w.n == w.faultAt && w.fault != nil {
		w.faulted = fmt.Sprintf("opcode %#02x mode %#02x param %#04x", c.Opcode, c.Param1, c.Param2)
		w.fault(c)
	}
	if c.Opcode == opLock && c.Param1&0x03 == lockModeData {
		forged := c.Answer
		c.Answer = func(p []byte) []byte {
			// Seen after execution, before any forgery of the answer.
			if len(p) == 1 && p[0] == 0 {
				w.mu.Lock()
				w.dataLocked = true
				w.mu.Unlock()
			}
			if forged != nil {
				return forged(p)
			}
			return p
		}
	}
}

func dataLocked(sim *nerveskeytest.Chip) bool {
	cfg := atecc.Config(sim.Image().Config)
	return cfg.DataLocked()
}

// foreignXY returns the X‖Y of a fresh P-256 key the chip does not hold: a
// well-formed forged GenKey answer.
func foreignXY(t testing.TB) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b[1:]
}

// foreignSig returns R‖S of a valid signature by a key the chip does not
// hold, over another digest: a well-formed forged Sign answer that no
// check short of verification can tell.
func foreignSig() []byte {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("forged"))
	r, s, _ := ecdsa.Sign(rand.Reader, k, d[:])
	var rs [64]byte
	r.FillBytes(rs[:32])
	s.FillBytes(rs[32:])
	return rs[:]
}

// TestProvisionForgedGenKey answers GenKey with another valid P-256 point,
// as a glitched or tapped factory bus could: the run must stop before the
// data lock with ErrInconsistent, the signer must not certify the forged
// key, and a re-run on a sound bus must finish a correct chip.
func TestProvisionForgedGenKey(t *testing.T) {
	signerCert, signerKey := testSigner(t)
	cases := []struct {
		name   string
		forge  func(c *nerveskeytest.Command, xy []byte, seen *int)
		caught string // what catches it
	}{
		{"create", func(c *nerveskeytest.Command, xy []byte, seen *int) {
			if c.Opcode == opGenKey && c.Param1 == 0x04 {
				c.Answer = func([]byte) []byte { return xy }
			}
		}, "genkey public re-read"},
		{"create and public consistently", func(c *nerveskeytest.Command, xy []byte, seen *int) {
			if c.Opcode == opGenKey {
				c.Answer = func([]byte) []byte { return xy }
			}
		}, "challenge signature"},
		{"public before the data lock", func(c *nerveskeytest.Command, xy []byte, seen *int) {
			if c.Opcode == opGenKey && c.Param1 == 0x00 {
				if *seen++; *seen == 2 {
					c.Answer = func([]byte) []byte { return xy }
				}
			}
		}, "re-read before the data lock"},
	}
	for _, rev := range []nerveskeytest.Revision{nerveskeytest.ATECC508A, nerveskeytest.ATECC608A, nerveskeytest.ATECC608B} {
		for _, tc := range cases {
			t.Run(rev.String()+"/"+tc.name, func(t *testing.T) {
				sim, c := newBlankChip(t, rev, nil)
				xy := foreignXY(t)
				seen := 0
				w := &busWatch{}
				sim.SetCommandHook(func(cmd *nerveskeytest.Command) {
					w.hook(cmd)
					tc.forge(cmd, xy, &seen)
				})
				s := &countingSigner{Signer: signerKey}
				_, err := c.Provision(t.Context(), testInfo, signerCert, s, provOpts(nil))
				if !errors.Is(err, nerveskey.ErrInconsistent) {
					t.Fatalf("forged GenKey (%s): %v, want ErrInconsistent", tc.caught, err)
				}
				if dataLocked(sim) {
					t.Fatal("the data zone was locked after a forged GenKey answer")
				}
				forgedCertified := false
				img := sim.Image()
				if !allZero(img.Slots[10]) {
					forgedCertified = true // slots were written: only the third case gets that far
				}
				if forgedCertified && tc.name != "public before the data lock" {
					t.Error("the device certificate was written for an unproven key")
				}
				t.Logf("%s: caught by the %s: %v (signer signatures %d)", tc.name, tc.caught, err, s.n)

				sim.SetCommandHook(w.hook)
				c2, err := nerveskey.OpenChip(t.Context(), sim, nil)
				if err != nil {
					t.Fatal(err)
				}
				res, err := c2.Provision(t.Context(), testInfo, signerCert, signerKey, provOpts(nil))
				if err != nil {
					t.Fatalf("re-run on a sound bus: %v", err)
				}
				if res.Status != nerveskey.Resumed || !strings.Contains(res.KeyProof, "challenge") {
					t.Errorf("re-run: status %v, proof %q", res.Status, res.KeyProof)
				}
				checkProvisioned(t, sim, testInfo, signerCert, nil)
				if w.lateWrites != 0 {
					t.Errorf("%d writes after the data lock", w.lateWrites)
				}
			})
		}
	}
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// TestProvisionProofFallback: a chip that refuses external Sign before the
// data lock (answered here with status 0x0F) is proven by the GenKey
// cross-check alone, and the progress events and the result say so.
func TestProvisionProofFallback(t *testing.T) {
	signerCert, signerKey := testSigner(t)
	sim, c := newBlankChip(t, nerveskeytest.ATECC608A, nil)
	sim.SetCommandHook(func(cmd *nerveskeytest.Command) {
		if cmd.Opcode == opSign {
			cmd.Answer = func([]byte) []byte { return []byte{0x0F} }
		}
	})
	var details []string
	res, err := c.Provision(t.Context(), testInfo, signerCert, signerKey, provOpts(&nerveskey.ProvisionOptions{
		Progress: func(e nerveskey.StepEvent) {
			if e.Step == 5 && e.Done {
				details = append(details, e.Detail)
			}
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.KeyProof, "refused external Sign") || len(details) != 1 || !strings.Contains(details[0], "refused external Sign") {
		t.Errorf("proof %q, events %q: the fallback is not reported", res.KeyProof, details)
	}
	sim.SetCommandHook(nil)
	checkProvisioned(t, sim, testInfo, signerCert, nil)
}

// TestProvisionLostLockAnswers loses the answer of each Lock once, after
// the chip executed it, with the default retry budget and with retries
// off: the run, plus at most one re-run, ends with a correct, fully
// provisioned chip reported as success, and no Write follows the data lock.
func TestProvisionLostLockAnswers(t *testing.T) {
	signerCert, signerKey := testSigner(t)
	locks := []struct {
		name string
		mode byte
	}{{"config", 0x00}, {"data", 0x01}, {"slot 0", 0x02}}
	for _, rev := range []nerveskeytest.Revision{nerveskeytest.ATECC508A, nerveskeytest.ATECC608A, nerveskeytest.ATECC608B} {
		for _, lk := range locks {
			for _, loss := range []nerveskeytest.Loss{nerveskeytest.LostNAK, nerveskeytest.LostGarbage} {
				for _, budget := range []string{"retries", "no retries"} {
					t.Run(fmt.Sprintf("%v/%s/%v/%s", rev, lk.name, loss, budget), func(t *testing.T) {
						opts := &nerveskey.Options{}
						if budget == "no retries" {
							opts.RetryBudget = -1
						}
						sim, c := newBlankChip(t, rev, opts)
						w := &busWatch{}
						done := false
						sim.SetCommandHook(func(cmd *nerveskeytest.Command) {
							w.hook(cmd)
							if !done && cmd.Opcode == opLock && cmd.Param1&0x03 == lk.mode {
								done = true
								cmd.Lose = loss
							}
						})
						res, err := c.Provision(t.Context(), testInfo, signerCert, signerKey, provOpts(nil))
						runs := 1
						if err != nil {
							if budget == "retries" {
								t.Errorf("with retries the lost answer should be absorbed: %v", err)
							}
							runs++
							c2, oerr := nerveskey.OpenChip(t.Context(), sim, nil)
							if oerr != nil {
								t.Fatal(oerr)
							}
							res, err = c2.Provision(t.Context(), testInfo, signerCert, signerKey, provOpts(nil))
						}
						if err != nil {
							t.Fatalf("after %d runs: %v", runs, err)
						}
						if !done {
							t.Fatal("the lock was never sent")
						}
						checkProvisioned(t, sim, testInfo, signerCert, nil)
						if w.lateWrites != 0 {
							t.Errorf("%d writes after the data lock", w.lateWrites)
						}
						t.Logf("%d run(s), status %v", runs, res.Status)
					})
				}
			}
		}
	}
}

// TestProvisionLostAnswerMatrix applies one fault to each command of a
// full provisioning run in turn: its answer lost after execution (NAK,
// garbage) or forged (every byte inverted, with a valid count and CRC).
// The run, plus at most one re-run on a sound bus, must end with a
// correct chip; no Write may follow the data lock; slot 0 is never read or
// written; a forged answer never ends in a chip the inputs do not make.
func TestProvisionLostAnswerMatrix(t *testing.T) {
	needSim(t, "fault injection")
	signerCert, signerKey := testSigner(t)
	invert := func(c *nerveskeytest.Command) {
		c.Answer = func(p []byte) []byte {
			for i := range p {
				p[i] ^= 0xFF
			}
			return p
		}
	}
	faults := []struct {
		name  string
		apply func(*nerveskeytest.Command)
	}{
		{"lost-nak", func(c *nerveskeytest.Command) { c.Lose = nerveskeytest.LostNAK }},
		{"lost-garbage", func(c *nerveskeytest.Command) { c.Lose = nerveskeytest.LostGarbage }},
		{"forged", invert},
	}
	type tc struct {
		rev nerveskeytest.Revision
		vol *nerveskey.VolatileKeys
	}
	cases := []tc{{rev: nerveskeytest.ATECC508A}, {rev: nerveskeytest.ATECC608A}, {rev: nerveskeytest.ATECC608B},
		{rev: nerveskeytest.ATECC608B, vol: &nerveskey.VolatileKeys{Activation: [16]byte{0xAC}, Encryption: [16]byte{0xEC}}}}
	for _, tc := range cases {
		name := tc.rev.String()
		if tc.vol != nil {
			name += "/volatile"
		}
		popts := func() *nerveskey.ProvisionOptions {
			return provOpts(&nerveskey.ProvisionOptions{Volatile: tc.vol})
		}
		t.Run(name, func(t *testing.T) {
			sim, c := newBlankChip(t, tc.rev, nil)
			w := &busWatch{}
			sim.SetCommandHook(w.hook)
			if _, err := c.Provision(t.Context(), testInfo, signerCert, signerKey, popts()); err != nil {
				t.Fatal(err)
			}
			total := w.n
			for _, f := range faults {
				firstOK, rerunOK := 0, 0
				for n := 1; n <= total; n++ {
					sim, c := newBlankChip(t, tc.rev, nil)
					w := &busWatch{faultAt: n, fault: f.apply}
					sim.SetCommandHook(w.hook)
					_, err1 := c.Provision(t.Context(), testInfo, signerCert, signerKey, popts())
					if err1 == nil {
						firstOK++
					} else {
						w.fault = nil
						c2, err := nerveskey.OpenChip(t.Context(), sim, nil)
						if err != nil {
							t.Fatalf("%s at command %d (%s): reopen: %v", f.name, n, w.faulted, err)
						}
						if _, err := c2.Provision(t.Context(), testInfo, signerCert, signerKey, popts()); err != nil {
							t.Errorf("%s at command %d (%s): first run %v; re-run: %v", f.name, n, w.faulted, err1, err)
							continue
						}
						rerunOK++
					}
					if w.lateWrites != 0 {
						t.Errorf("%s at command %d (%s): %d writes after the data lock", f.name, n, w.faulted, w.lateWrites)
					}
					if st := sim.Stats(); st.Slot0Reads+st.Slot0Writes != 0 {
						t.Errorf("%s at command %d: slot 0 touched", f.name, n)
					}
					checkProvisioned(t, sim, testInfo, signerCert, tc.vol)
				}
				t.Logf("%s %s: %d commands; %d runs succeeded despite the fault, %d needed one re-run, %d failed", name, f.name, total, firstOK, rerunOK, total-firstOK-rerunOK)
			}
		})
	}
}

// FuzzProvisionGenKeyAnswer answers the GenKey (create) of a provisioning
// run with fuzzed bytes: the run either fails with the data zone unlocked
// and a sound re-run finishes the chip, or it succeeds with a correct chip
// (the fuzzed answer happened to be the chip's own key).
func FuzzProvisionGenKeyAnswer(f *testing.F) {
	f.Add(foreignXY(f))
	f.Add(make([]byte, 64))
	f.Add([]byte{0x0F})
	signerCert, signerKey := testSigner(f)
	f.Fuzz(func(t *testing.T, answer []byte) {
		if len(answer) > 80 {
			return
		}
		sim, c := newBlankChip(t, nerveskeytest.ATECC608A, &nerveskey.Options{RetryBudget: -1})
		sim.SetCommandHook(func(cmd *nerveskeytest.Command) {
			if cmd.Opcode == opGenKey && cmd.Param1 == 0x04 {
				cmd.Answer = func([]byte) []byte { return append([]byte(nil), answer...) }
			}
		})
		if _, err := c.Provision(t.Context(), testInfo, signerCert, signerKey, provOpts(nil)); err != nil {
			if dataLocked(sim) {
				t.Fatalf("answer %x: failed (%v) with the data zone locked", answer, err)
			}
			sim.SetCommandHook(nil)
			c2, err := nerveskey.OpenChip(t.Context(), sim, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c2.Provision(t.Context(), testInfo, signerCert, signerKey, provOpts(nil)); err != nil {
				t.Fatalf("answer %x: re-run: %v", answer, err)
			}
		}
		checkProvisioned(t, sim, testInfo, signerCert, nil)
	})
}

// TestProvisionProofLatch: a volatile-key chip that refuses the challenge
// signature after key generation (answered here with status 0x0F, as a
// chip enforcing PersistentDisable without the latch would) signs it
// before the data lock once the latch is set with the activation key.
func TestProvisionProofLatch(t *testing.T) {
	signerCert, signerKey := testSigner(t)
	vol := &nerveskey.VolatileKeys{Activation: [16]byte{0xAC}, Encryption: [16]byte{0xEC}}
	sim, c := newBlankChip(t, nerveskeytest.ATECC608B, nil)
	var signs int
	var mu sync.Mutex
	sim.SetCommandHook(func(cmd *nerveskeytest.Command) {
		mu.Lock()
		defer mu.Unlock()
		if cmd.Opcode == opSign {
			if signs++; signs == 1 {
				cmd.Answer = func([]byte) []byte { return []byte{0x0F} }
			}
		}
	})
	res, err := c.Provision(t.Context(), testInfo, signerCert, signerKey, provOpts(&nerveskey.ProvisionOptions{Volatile: vol}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.KeyProof, "refused external Sign") || !strings.Contains(res.KeyProof, "latch set, slot 0 signed") {
		t.Errorf("proof %q", res.KeyProof)
	}
	sim.SetCommandHook(nil)
	checkProvisioned(t, sim, testInfo, signerCert, vol)
}

// TestProvisionAuxForgedPublicKey answers every GenKey public read with
// another valid P-256 point while aux certificates are made: the signer
// must not certify the forged key, nothing is written, and on a sound bus
// the same call succeeds.
func TestProvisionAuxForgedPublicKey(t *testing.T) {
	signerCert, signerKey := testSigner(t)
	for _, rev := range []nerveskeytest.Revision{nerveskeytest.ATECC508A, nerveskeytest.ATECC608A} {
		t.Run(rev.String(), func(t *testing.T) {
			sim := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: rev})
			c, err := nerveskey.OpenChip(t.Context(), sim, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			xy := foreignXY(t)
			sim.SetCommandHook(func(cmd *nerveskeytest.Command) {
				if cmd.Opcode == opGenKey && cmd.Param1 == 0x00 {
					cmd.Answer = func([]byte) []byte { return xy }
				}
			})
			before := sim.Image()
			s := &countingSigner{Signer: signerKey}
			err = c.ProvisionAux(t.Context(), signerCert, s, provOpts(nil))
			if !errors.Is(err, nerveskey.ErrInconsistent) {
				t.Fatalf("ProvisionAux with a forged public key: %v, want ErrInconsistent", err)
			}
			if s.n != 0 {
				t.Errorf("the signer signed %d times for an unproven key", s.n)
			}
			if after := sim.Image(); !reflect.DeepEqual(after.Slots, before.Slots) {
				t.Error("slots changed after a refused ProvisionAux")
			}
			sim.SetCommandHook(nil)
			c2, err := nerveskey.OpenChip(t.Context(), sim, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c2.Close()
			if err := c2.ProvisionAux(t.Context(), signerCert, signerKey, provOpts(nil)); err != nil {
				t.Fatalf("ProvisionAux on a sound bus: %v", err)
			}
		})
	}
}
