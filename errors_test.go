package nerveskey_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// TestErrorText drives failures through the public API and checks the
// error style (STYLE §3): errors.Is finds the sentinel (or errors.As the
// typed error), and the message starts with "nerveskey: <op>: " and says
// "nerveskey:" exactly once, however many layers the error went through.
func TestErrorText(t *testing.T) {
	needSim(t, "closed, blank and faulty chips")
	ctx := t.Context()
	digest := sha256.Sum256([]byte("error text"))

	// A provisioned chip, opened then closed, with a Key taken before.
	closedBus := nerveskeytest.NewProvisionedChip(t, nil)
	closedChip := openChip(t, closedBus, nil)
	closedKey, err := closedChip.Key(ctx)
	if err != nil {
		t.Fatal(err)
	}
	closedChip.Close()

	// A provisioned chip, open.
	prov := openChip(t, nerveskeytest.NewProvisionedChip(t, nil), nil)
	key, err := prov.Key(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A blank chip (configuration and data zones unlocked).
	_, blank := newBlankChip(t, nerveskeytest.ATECC608A, nil)

	// A volatile-key chip whose persistent latch is not set.
	vimg := provisionedImage(t, nerveskeytest.ATECC608A)
	vimg.Config[97] = 0x10 // slot 0 PersistentDisable
	vimg.Config[69] = 0x81 // persistent latch enabled, set by slot 1
	vbus := imageChip(t, vimg, nil)

	signerCert, signerKey := testSigner(t)

	is := func(target error) func(error) bool {
		return func(err error) bool { return errors.Is(err, target) }
	}
	tooLarge := func(err error) bool {
		return errors.Is(err, nerveskey.ErrSettingsTooLarge)
	}
	none := func(error) bool { return true } // no sentinel for this condition

	tests := []struct {
		name string
		op   string // the operation the message must name, after "nerveskey: "
		want func(error) bool
		run  func() error
	}{
		// Closed chip and Key.
		{"closed Sign", "sign", is(nerveskey.ErrClosed), func() error {
			_, err := closedKey.Sign(nil, digest[:], crypto.SHA256)
			return err
		}},
		{"closed SignRS", "sign", is(nerveskey.ErrClosed), func() error {
			_, err := closedKey.SignRS(ctx, digest[:], crypto.SHA256)
			return err
		}},
		{"closed SignJWT", "sign JWT", is(nerveskey.ErrClosed), func() error {
			_, err := closedKey.SignJWT(ctx, jwt.MapClaims{"aud": "x"})
			return err
		}},
		{"closed JWT", "sign JWT", is(nerveskey.ErrClosed), func() error {
			_, err := closedKey.JWT(ctx, &nerveskey.JWTOptions{Audience: "x"})
			return err
		}},
		{"closed jwt SignedString", "ES256 sign", is(nerveskey.ErrClosed), func() error {
			_, err := jwt.NewWithClaims(nerveskey.SigningMethodES256, jwt.MapClaims{}).SignedString(closedKey)
			return err
		}},
		{"closed Info", "info", is(nerveskey.ErrClosed), func() error {
			_, err := closedChip.Info(ctx)
			return err
		}},
		{"closed Info", "info", is(nerveskey.ErrClosed), func() error {
			_, err := hasAux(ctx, closedChip)
			return err
		}},
		{"closed Certificates", "read primary device certificate", is(nerveskey.ErrClosed), func() error {
			_, _, err := closedChip.Certificates(ctx, nerveskey.Primary)
			return err
		}},
		{"closed Certificates aux", "read aux device certificate", is(nerveskey.ErrClosed), func() error {
			_, _, err := closedChip.Certificates(ctx, nerveskey.Aux)
			return err
		}},
		{"closed PublicKey", "public key", is(nerveskey.ErrClosed), func() error {
			_, err := closedChip.PublicKey(ctx)
			return err
		}},
		{"closed Key", "key", is(nerveskey.ErrClosed), func() error {
			_, err := closedChip.Key(ctx)
			return err
		}},
		{"closed Settings", "settings", is(nerveskey.ErrClosed), func() error {
			_, err := closedChip.Settings(ctx)
			return err
		}},
		{"closed PutSettings", "put settings", is(nerveskey.ErrClosed), func() error {
			return closedChip.PutSettings(ctx, map[string]any{"a": 1})
		}},
		{"closed ClearAux", "clear aux", is(nerveskey.ErrClosed), func() error {
			return closedChip.ClearAux(ctx)
		}},
		{"closed Provision", "provision", is(nerveskey.ErrClosed), func() error {
			_, err := closedChip.Provision(ctx, testInfo, signerCert, signerKey, provOpts(nil))
			return err
		}},
		{"closed ProvisionAux", "provision aux", is(nerveskey.ErrClosed), func() error {
			return closedChip.ProvisionAux(ctx, signerCert, signerKey, provOpts(nil))
		}},
		{"closed TLSCertificate", "read primary device certificate", is(nerveskey.ErrClosed), func() error {
			_, err := closedKey.TLSCertificate(ctx)
			return err
		}},

		// Unprovisioned chip.
		{"blank Key", "key", is(nerveskey.ErrNotProvisioned), func() error {
			_, err := blank.Key(ctx)
			return err
		}},
		{"blank Open", "key", is(nerveskey.ErrNotProvisioned), func() error {
			sim, _ := newBlankChip(t, nerveskeytest.ATECC508A, nil)
			_, err := nerveskey.Open(ctx, sim, nil)
			return err
		}},
		{"blank Settings", "settings", is(nerveskey.ErrNotProvisioned), func() error {
			_, err := blank.Settings(ctx)
			return err
		}},
		{"blank PutRawSettings", "put raw settings", is(nerveskey.ErrNotProvisioned), func() error {
			return blank.PutRawSettings(ctx, []byte{131, 116, 0, 0, 0, 0})
		}},
		{"blank Certificates", "read primary device certificate", is(nerveskey.ErrNotProvisioned), func() error {
			_, _, err := blank.Certificates(ctx, nerveskey.Primary)
			return err
		}},
		{"blank ClearAux", "clear aux", is(nerveskey.ErrNotProvisioned), func() error {
			return blank.ClearAux(ctx)
		}},
		{"blank ProvisionAux", "provision aux", is(nerveskey.ErrNotProvisioned), func() error {
			return blank.ProvisionAux(ctx, signerCert, signerKey, provOpts(nil))
		}},

		// Provisioned chip.
		{"Sign nil opts", "sign", none, func() error {
			_, err := key.Sign(nil, digest[:], nil)
			return err
		}},
		{"Sign short digest", "sign", none, func() error {
			_, err := key.SignContext(ctx, digest[:20], crypto.SHA256)
			return err
		}},
		{"Sign SHA-1", "sign", none, func() error {
			_, err := key.Sign(nil, digest[:20], crypto.SHA1)
			return err
		}},
		{"Provision provisioned", "provision", is(nerveskey.ErrAlreadyProvisioned), func() error {
			_, err := prov.Provision(ctx, testInfo, signerCert, signerKey, provOpts(nil))
			return err
		}},
		{"PutRawSettings too large", "put raw settings", tooLarge, func() error {
			return prov.PutRawSettings(ctx, make([]byte, 525))
		}},
		{"PutSettings too large", "put settings", tooLarge, func() error {
			return prov.PutSettings(ctx, map[string]any{"big": strings.Repeat("x", 600)})
		}},
		{"no aux certificate", "read aux device certificate", is(nerveskey.ErrNoAux), func() error {
			_, _, err := prov.Certificates(ctx, nerveskey.Aux)
			return err
		}},
		{"no settings", "settings", is(nerveskey.ErrNoSettings), func() error {
			_, err := prov.Settings(ctx)
			return err
		}},
		{"JWT without audience", "JWT", none, func() error {
			_, err := key.JWT(ctx, nil)
			return err
		}},
		{"TLSConfig versions", "TLS config", none, func() error {
			_, err := key.TLSConfig(ctx, &nerveskey.TLSOptions{MinVersion: 0x0304, MaxVersion: 0x0303})
			return err
		}},
		{"MQTT without broker", "MQTT options", none, func() error {
			_, err := key.MQTTClientOptions(ctx, nil)
			return err
		}},
		{"MQTT JWT versions", "MQTT JWT options", none, func() error {
			_, err := key.MQTTJWTClientOptions(ctx, &nerveskey.MQTTJWTOptions{Broker: "ssl://x:8883", ClientID: "d",
				JWT: nerveskey.JWTOptions{Audience: "a"}, TLS: &nerveskey.TLSOptions{MinVersion: 0x0304, MaxVersion: 0x0303}})
			return err
		}},

		// Volatile-key chip without its activation key.
		{"volatile Open", "key", is(nerveskey.ErrActivationKey), func() error {
			_, err := nerveskey.Open(ctx, vbus, nil)
			return err
		}},
		{"volatile DeviceCertificate", "read primary device certificate", is(nerveskey.ErrActivationKey), func() error {
			c, err := nerveskey.OpenChip(ctx, vbus, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			_, _, err = c.Certificates(ctx, nerveskey.Primary)
			return err
		}},

		// No chip at the address.
		{"wrong address Open", "open nerveskeytest.Chip(ATECC608A@0x60) at 0x61", is(nerveskey.ErrWake), func() error {
			bus := nerveskeytest.NewProvisionedChip(t, nil)
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_, err := nerveskey.Open(ctx, bus, &nerveskey.Options{Addr: 0x61})
			return err
		}},
		{"nil bus", "open", none, func() error {
			_, err := nerveskey.OpenChip(ctx, nil, nil)
			return err
		}},

		// Functions without a chip.
		{"LoadSigner", "load signer", none, func() error {
			_, _, err := nerveskey.LoadSigner([]byte("x"), []byte("y"))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !tt.want(err) {
				t.Errorf("error %q (%T) is not the expected sentinel or type", msg, err)
			}
			if p := "nerveskey: " + tt.op + ": "; !strings.HasPrefix(msg, p) {
				t.Errorf("error %q does not start with %q", msg, p)
			}
			if n := strings.Count(msg, "nerveskey:"); n != 1 {
				t.Errorf("error %q says \"nerveskey:\" %d times, want 1", msg, n)
			}
		})
	}
}

// TestSentinelText checks that the sentinels carry no prefix: the exported
// function that returns one adds it.
func TestSentinelText(t *testing.T) {
	for _, err := range []error{
		nerveskey.ErrClosed, nerveskey.ErrNotProvisioned, nerveskey.ErrNotNervesKey,
		nerveskey.ErrActivationKey, nerveskey.ErrNoAux, nerveskey.ErrNoSettings,
		nerveskey.ErrAlreadyProvisioned, nerveskey.ErrSignature, nerveskey.ErrWake,
	} {
		if strings.Contains(err.Error(), "nerveskey") {
			t.Errorf("sentinel %q carries the package prefix", err)
		}
	}
}

// TestAuxNeedsDataLock runs ClearAux and ProvisionAux on chips whose data
// zone is not locked: a blank chip, and one interrupted after its
// configuration lock, which would accept clear writes to slots 9, 14 and
// 15. Both must return ErrNotProvisioned having run no command but reads
// (the configuration zone, to confirm the cached lock state), leaving the
// EEPROM as it was.
func TestAuxNeedsDataLock(t *testing.T) {
	signerCert, signerKey := testSigner(t)
	for _, tt := range []struct {
		name        string
		configLocks bool
	}{
		{"blank", false},
		{"config locked", true},
	} {
		for _, rev := range []nerveskeytest.Revision{nerveskeytest.ATECC508A, nerveskeytest.ATECC608A} {
			img := blankImage(t, revNames[rev])
			if tt.configLocks {
				img.Config[87] = 0x00 // LockConfig
			}
			var ops []string // commands run, as the driver's trace names them
			trace := &nerveskey.Trace{Command: func(op string, _ time.Duration, _ error) {
				ops = append(ops, op)
			}}
			sim, c := chipFromImage(t, img, &nerveskey.Options{Trace: trace})
			before := sim.Image()
			for _, op := range []struct {
				name string
				run  func() error
			}{
				{"ClearAux", func() error { return c.ClearAux(t.Context()) }},
				{"ProvisionAux", func() error {
					return c.ProvisionAux(t.Context(), signerCert, signerKey, provOpts(nil))
				}},
				{"ProvisionAux bad signer", func() error {
					return c.ProvisionAux(t.Context(), nil, nil, provOpts(nil))
				}},
			} {
				t.Run(tt.name+"/"+rev.String()+"/"+op.name, func(t *testing.T) {
					sim.ResetStats()
					ops = nil
					err := op.run()
					if !errors.Is(err, nerveskey.ErrNotProvisioned) {
						t.Fatalf("err = %v, want ErrNotProvisioned", err)
					}
					for _, o := range ops {
						if !strings.HasPrefix(o, "read config") {
							t.Errorf("ran %q; want configuration reads only", o)
						}
					}
					// The simulator agrees: it executed nothing else.
					if st := sim.Stats(); st.Commands != len(ops) {
						t.Errorf("the chip executed %d commands, the trace saw %d", st.Commands, len(ops))
					}
					if !imagesEqual(before, sim.Image()) {
						t.Error("the chip's EEPROM changed")
					}
				})
			}
		}
	}
}
