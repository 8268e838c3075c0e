package nerveskey_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// TestECDH derives a shared secret with the chip's key and the same
// secret on the other side with crypto/ecdh.
func TestECDH(t *testing.T) {
	for _, rev := range []nerveskeytest.Revision{nerveskeytest.ATECC508A, nerveskeytest.ATECC608A, nerveskeytest.ATECC608B} {
		t.Run(rev.String(), func(t *testing.T) {
			k, _ := newTestKey(t, rev)
			chipPub, err := k.Public().(*ecdsa.PublicKey).ECDH()
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				peer, err := ecdh.P256().GenerateKey(rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				got, err := k.ECDH(t.Context(), peer.PublicKey())
				if err != nil {
					t.Fatal(err)
				}
				want, err := peer.ECDH(chipPub)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("chip secret %x, crypto/ecdh %x", got, want)
				}
			}
		})
	}
}

// TestECDHRefused checks that ECDH is refused with a *ConfigError, and
// nothing sent to the chip, when slot 0's configuration forbids it or
// would keep the secret in the chip; and that other curves are refused.
func TestECDHRefused(t *testing.T) {
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		rev    nerveskeytest.Revision
		damage func(cfg *[128]byte)
	}{
		{"no ECDH bit", nerveskeytest.ATECC608A, func(c *[128]byte) { c[20] = 0x83 }},
		{"secret to slot 1", nerveskeytest.ATECC508A, func(c *[128]byte) { c[20] = 0x8F }},
		{"608 output encrypted", nerveskeytest.ATECC608A, func(c *[128]byte) { c[91] = 0x01 }},
		{"608 output in chip", nerveskeytest.ATECC608B, func(c *[128]byte) { c[91] = 0x02 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img := provisionedImage(t, tt.rev)
			tt.damage(&img.Config)
			bus := imageChip(t, img, nil)
			// Some of these are no NervesKey configuration any more.
			k, err := openChip(t, bus, nil).ForeignKey(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var ecdhSent int
			bus.SetCommandHook(func(c *nerveskeytest.Command) {
				if c.Opcode == 0x43 {
					ecdhSent++
				}
			})
			_, err = k.ECDH(t.Context(), peer.PublicKey())
			if _, ok := errors.AsType[*nerveskey.ConfigError](err); !ok {
				t.Fatalf("ECDH: %v, want a *ConfigError", err)
			}
			if ecdhSent != 0 {
				t.Errorf("%d ECDH commands sent", ecdhSent)
			}
		})
	}

	k, _ := newTestKey(t, nerveskeytest.ATECC608A)
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.ECDH(t.Context(), x.PublicKey()); err == nil {
		t.Error("ECDH with an X25519 key: no error")
	}
	if _, err := k.ECDH(t.Context(), nil); err == nil {
		t.Error("ECDH with a nil key: no error")
	}
}

// BenchmarkECDH reports the modeled bus time of one ECDH on the chip.
func BenchmarkECDH(b *testing.B) {
	for _, rev := range benchRevisions {
		b.Run(rev.String(), func(b *testing.B) {
			chip := nerveskeytest.NewProvisionedChip(b, &nerveskeytest.Options{Revision: rev})
			k, err := nerveskey.Open(b.Context(), chip, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer k.Close()
			peer, err := ecdh.P256().GenerateKey(rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			chip.ResetStats()
			for b.Loop() {
				if _, err := k.ECDH(b.Context(), peer.PublicKey()); err != nil {
					b.Fatal(err)
				}
			}
			st := chip.Stats()
			b.ReportMetric(float64(st.BusTime.Microseconds())/1000/float64(b.N), "bus-ms/op")
			b.ReportMetric(float64(st.Transactions)/float64(b.N), "i2c-tx/op")
		})
	}
}
