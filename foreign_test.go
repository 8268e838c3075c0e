package nerveskey_test

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// TestLayoutAgrees checks that Info.Layout, Info.Mode, Key and ForeignKey
// agree on what each chip is: blank, NervesKey, Trust&Go, foreign.
func TestLayoutAgrees(t *testing.T) {
	foreign := provisionedImage(t, nerveskeytest.ATECC608A)
	foreign.Config[20], foreign.Config[21] = 0x8F, 0x20 // slot 0 as Microchip's default TLS layout
	for _, tt := range []struct {
		name       string
		bus        func(t *testing.T) *nerveskeytest.Chip
		opts       *nerveskey.Options
		layout     string
		mode       string
		keyErr     error // from Key
		foreignErr error // from ForeignKey
	}{
		{"blank", func(t *testing.T) *nerveskeytest.Chip {
			s, _ := newBlankChip(t, nerveskeytest.ATECC608A, nil)
			return s
		},
			nil, "blank", "unprovisioned", nerveskey.ErrNotProvisioned, nerveskey.ErrNotProvisioned},
		{"nerves_key", func(t *testing.T) *nerveskeytest.Chip {
			return nerveskeytest.NewProvisionedChip(t, nil)
		}, nil, "nerves_key", "regular", nil, nil},
		{"trust_and_go", func(t *testing.T) *nerveskeytest.Chip { return nerveskeytest.NewTrustAndGoChip(t, nil) },
			&nerveskey.Options{Addr: 0x35}, "trust_and_go", "unrecognized", nerveskey.ErrNotNervesKey, nil},
		{"foreign", func(t *testing.T) *nerveskeytest.Chip { return imageChip(t, foreign, nil) },
			nil, "foreign", "unrecognized", nerveskey.ErrNotNervesKey, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bus := tt.bus(t)
			c := openChip(t, bus, tt.opts)
			ctx := t.Context()
			in, err := c.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if in.Layout != tt.layout || in.Mode != tt.mode {
				t.Errorf("Info layout %q mode %v, want %q %v", in.Layout, in.Mode, tt.layout, tt.mode)
			}
			if _, err := c.Key(ctx); !errors.Is(err, tt.keyErr) {
				t.Errorf("Key: %v, want %v", err, tt.keyErr)
			}
			k, err := c.ForeignKey(ctx)
			if !errors.Is(err, tt.foreignErr) {
				t.Fatalf("ForeignKey: %v, want %v", err, tt.foreignErr)
			}
			if err != nil {
				return
			}
			d := sha256.Sum256([]byte(tt.name))
			sig, err := k.Sign(nil, d[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
				t.Error("signature does not verify")
			}
			if st := bus.Stats(); st.Slot0Reads != 0 || st.Slot0Writes != 0 {
				t.Errorf("slot 0 touched: %+v", st)
			}
		})
	}
}

// TestForeignKeyTrustAndGoECDH derives a secret with a Trust&Go part's
// slot 0 key, which its configuration allows (ChipOptions 0x600E).
func TestForeignKeyTrustAndGoECDH(t *testing.T) {
	c := openChip(t, nerveskeytest.NewTrustAndGoChip(t, nil), &nerveskey.Options{Addr: 0x35})
	k, err := c.ForeignKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.ECDH(t.Context(), peer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	chipPub, _ := k.Public().(*ecdsa.PublicKey).ECDH()
	if want, _ := peer.ECDH(chipPub); string(got) != string(want) {
		t.Errorf("secret %x, want %x", got, want)
	}
}

// TestForeignKeyRefused checks ForeignKey refuses, with a *ConfigError
// and before any signing command, a slot 0 the Key cannot sign with.
func TestForeignKeyRefused(t *testing.T) {
	for _, tt := range []struct {
		name   string
		sc, kc [2]byte
	}{
		{"internal sign only", [2]byte{0x82, 0x00}, [2]byte{0x53, 0x00}},
		{"not private", [2]byte{0x8F, 0x20}, [2]byte{0x3C, 0x00}},
		{"no PubInfo", [2]byte{0x8F, 0x20}, [2]byte{0x31, 0x00}},
		{"ReqAuth", [2]byte{0x8F, 0x20}, [2]byte{0xB3, 0x01}},
		{"PersistentDisable", [2]byte{0x8F, 0x20}, [2]byte{0x33, 0x10}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img := provisionedImage(t, nerveskeytest.ATECC608A)
			img.Config[20], img.Config[21] = tt.sc[0], tt.sc[1]
			img.Config[96], img.Config[97] = tt.kc[0], tt.kc[1]
			bus := imageChip(t, img, nil)
			c := openChip(t, bus, nil)
			bus.ResetStats()
			_, err := c.ForeignKey(t.Context())
			if _, ok := errors.AsType[*nerveskey.ConfigError](err); !ok {
				t.Fatalf("ForeignKey: %v, want a *ConfigError", err)
			}
			if n := bus.Stats().Commands; n != 0 {
				t.Errorf("%d commands sent", n)
			}
		})
	}
}
