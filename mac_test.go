package nerveskey_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// datasheetMAC is the MAC command's output for mode 0x05 on slot 2 (DS508
// §9.11 Table 9-32: key, TempKey, opcode, mode, Param2, then the optional
// OTP and serial bytes, zero in this mode except SN[8] and SN[0..1]),
// computed on the host: the second route for DeterministicMAC.
func datasheetMAC(key16 [16]byte, sn [9]byte, in [32]byte) [32]byte {
	m := make([]byte, 0, 88)
	m = append(m, key16[:]...)
	m = append(m, make([]byte, 16)...) // the 16-byte key, zero-padded in its slot
	m = append(m, in[:]...)
	m = append(m, 0x08, 0x05, 0x02, 0x00)
	m = append(m, make([]byte, 8+3)...)
	m = append(m, sn[8])
	m = append(m, make([]byte, 4)...)
	m = append(m, sn[0], sn[1], 0, 0)
	return sha256.Sum256(m)
}

// TestDatasheetMAC pins datasheetMAC to vectors computed with Python's
// hashlib from the same definition.
func TestDatasheetMAC(t *testing.T) {
	key := [16]byte{0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xEB, 0xEC, 0xED, 0xEE, 0xEF}
	sn := [9]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xee}
	var counting [32]byte
	for i := range counting {
		counting[i] = byte(i)
	}
	for in, want := range map[[32]byte]string{
		{}:       "53631f77380486c66e3e6a4455bed9cf8360a6065cdf35f1722c54d2e4057b2c",
		counting: "f617c06f6454d322e0383f1a048b7e1aa897d6548338741a59d1ec437e736474",
	} {
		if got := datasheetMAC(key, sn, in); hex.EncodeToString(got[:]) != want {
			t.Errorf("MAC of %x = %x, want %s", in, got, want)
		}
	}
}

// TestDeterministicMAC provisions volatile-key 608A and 608B chips and
// checks DeterministicMAC against the datasheet's MAC definition, computed
// on the host from the encryption key: equal for the same input (also
// after a power loss, which clears the latch), different for another
// input. A regular NervesKey has no encryption key and is refused.
func TestDeterministicMAC(t *testing.T) {
	signerCert, signerKey := testSigner(t)
	vol := &nerveskey.VolatileKeys{Activation: [16]byte{0xAC, 1}, Encryption: [16]byte{0xEC, 2, 3}}
	for _, rev := range []nerveskeytest.Revision{nerveskeytest.ATECC608A, nerveskeytest.ATECC608B} {
		t.Run(rev.String(), func(t *testing.T) {
			sim, c := newBlankChip(t, rev, nil)
			if _, err := c.Provision(t.Context(), testInfo, signerCert, signerKey, provOpts(&nerveskey.ProvisionOptions{Volatile: vol})); err != nil {
				t.Fatal(err)
			}
			sim.PowerCycle()
			k, err := nerveskey.Open(t.Context(), sim, &nerveskey.Options{ActivationKey: vol.Activation[:]})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			in, err := k.Chip().Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			msg := sha256.Sum256([]byte("disk key"))
			want := datasheetMAC(vol.Encryption, in.Serial, msg)
			got, err := k.DeterministicMAC(t.Context(), msg)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("DeterministicMAC = %x, datasheet %x", got, want)
			}
			sim.PowerCycle() // loses the latch
			again, err := k.DeterministicMAC(t.Context(), msg)
			if err != nil || again != want {
				t.Errorf("after a power loss: %x, %v", again, err)
			}
			other, err := k.DeterministicMAC(t.Context(), [32]byte{1})
			if err != nil || bytes.Equal(other[:], want[:]) {
				t.Errorf("another input: %x, %v", other, err)
			}
		})
	}
	k, bus := newTestKey(t, nerveskeytest.ATECC608A)
	if bus != nil {
		bus.ResetStats()
	}
	if _, err := k.DeterministicMAC(t.Context(), [32]byte{}); !errors.As(err, new(*nerveskey.ConfigError)) {
		t.Errorf("regular NervesKey: %v, want a *ConfigError", err)
	}
	if n := simStats(bus).Commands; bus != nil && n != 0 {
		t.Errorf("%d commands sent", n)
	}
}
