package nerveskey_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"github.com/nerveskey/nerveskey/internal/layout"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// elixirVector is one chip written by the Elixir libraries
// (testdata/elixir-*.json; format in shared/testdata/elixir/README.md).
type elixirVector struct {
	Name   string          `json:"name"`
	Image  json.RawMessage `json:"image"`
	Elixir struct {
		Provisioned           bool     `json:"provisioned"`
		ManufacturerSN        string   `json:"manufacturer_sn"`
		BoardName             string   `json:"board_name"`
		DefaultManufacturerSN string   `json:"default_manufacturer_sn"`
		HasAux                bool     `json:"has_aux"`
		DeviceCertValid       hexBytes `json:"device_cert_valid"`
		DeviceCertElixir      hexBytes `json:"device_cert_elixir"`
		SignerCertOriginal    hexBytes `json:"signer_cert_original"`
		SignerCertElixir      hexBytes `json:"signer_cert_elixir"`
	} `json:"elixir"`
	Aux *struct {
		DeviceCertValid    hexBytes `json:"aux_device_cert_valid"`
		DeviceCertElixir   hexBytes `json:"aux_device_cert_elixir"`
		SignerCertOriginal hexBytes `json:"aux_signer_cert_original"`
		SignerCertElixir   hexBytes `json:"aux_signer_cert_elixir"`
	} `json:"aux"`
}

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

func elixirVectors(tb testing.TB) []elixirVector {
	tb.Helper()
	var all []elixirVector
	for _, f := range []string{"testdata/elixir-chips.json", "testdata/elixir-extra.json"} {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var file struct{ Vectors []elixirVector }
		if err := json.Unmarshal(data, &file); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		all = append(all, file.Vectors...)
	}
	if len(all) < 17 {
		tb.Fatalf("only %d vectors", len(all))
	}
	return all
}

// vectorChip loads v's image into a simulated chip.
func vectorChip(tb testing.TB, v elixirVector) *nerveskeytest.Chip {
	tb.Helper()
	img, err := nerveskeytest.ParseImage(v.Image)
	if err != nil {
		tb.Fatal(err)
	}
	return imageChip(tb, img, nil)
}

func imageChip(tb testing.TB, img *nerveskeytest.Image, opts *nerveskeytest.Options) *nerveskeytest.Chip {
	tb.Helper()
	needSim(tb, "chip images")
	chip, err := nerveskeytest.NewChipFromImage(img, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { chip.Close() })
	return chip
}

func openChip(tb testing.TB, bus *nerveskeytest.Chip, opts *nerveskey.Options) *nerveskey.Chip {
	tb.Helper()
	needSim(tb, "chips")
	c, err := nerveskey.OpenChip(tb.Context(), bus, opts)
	if err != nil {
		tb.Fatalf("OpenChip: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// TestElixirChips reads every chip the Elixir libraries wrote and compares
// identity and certificates with what Elixir read back.
func TestElixirChips(t *testing.T) {
	for _, v := range elixirVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			bus := vectorChip(t, v)
			c := openChip(t, bus, nil)
			ctx := t.Context()
			info, err := c.Info(ctx)
			if err != nil {
				t.Fatalf("Info: %v", err)
			}
			e := v.Elixir
			if info.Provisioned != e.Provisioned || info.ManufacturerSN != e.ManufacturerSN ||
				info.BoardName != e.BoardName || info.DefaultManufacturerSN != e.DefaultManufacturerSN ||
				info.HasAux != e.HasAux {
				t.Errorf("Info = %+v\nwant provisioned %v, sn %q, board %q, default sn %q, aux %v",
					info, e.Provisioned, e.ManufacturerSN, e.BoardName, e.DefaultManufacturerSN, e.HasAux)
			}
			if info.Mode != "regular" {
				t.Errorf("Mode = %v, want regular", info.Mode)
			}
			if hasAux, err := hasAux(ctx, c); err != nil || hasAux != e.HasAux {
				t.Errorf("HasAux = %v, %v; want %v", hasAux, err, e.HasAux)
			}

			pairs := []struct {
				pair                 nerveskey.Pair
				device, signer       []byte
				deviceElx, signerElx []byte
			}{{nerveskey.Primary, e.DeviceCertValid, e.SignerCertOriginal, e.DeviceCertElixir, e.SignerCertElixir}}
			if e.HasAux {
				if v.Aux == nil {
					t.Fatal("vector has has_aux but no aux certificates")
				}
				pairs = append(pairs, struct {
					pair                 nerveskey.Pair
					device, signer       []byte
					deviceElx, signerElx []byte
				}{nerveskey.Aux, v.Aux.DeviceCertValid, v.Aux.SignerCertOriginal, v.Aux.DeviceCertElixir, v.Aux.SignerCertElixir})
			} else if _, _, err := c.Certificates(ctx, nerveskey.Aux); !errors.Is(err, nerveskey.ErrNoAux) {
				t.Errorf("DeviceCertificate(Aux) without aux = %v, want ErrNoAux", err)
			}
			for _, p := range pairs {
				dev, _, err := c.Certificates(ctx, p.pair)
				if err != nil {
					t.Fatalf("DeviceCertificate(%v): %v", p.pair, err)
				}
				signer, err := signerOf(c, ctx, p.pair)
				if err != nil {
					t.Fatalf("SignerCertificate(%v): %v", p.pair, err)
				}
				if !bytes.Equal(dev.Raw, p.device) {
					t.Errorf("%v device certificate differs:\n got %x\nwant %x", p.pair, dev.Raw, p.device)
				}
				if !bytes.Equal(signer.Raw, p.signer) {
					t.Errorf("%v signer certificate differs:\n got %x\nwant %x", p.pair, signer.Raw, p.signer)
				}
				if dev.Subject.CommonName != e.ManufacturerSN {
					t.Errorf("%v device CN = %q, want %q", p.pair, dev.Subject.CommonName, e.ManufacturerSN)
				}
				for _, x := range []struct {
					name      string
					der, want []byte
				}{{"device", dev.Raw, p.deviceElx}, {"signer", signer.Raw, p.signerElx}} {
					got, err := cert.ElixirDER(x.der)
					if err != nil || !bytes.Equal(got, x.want) {
						t.Errorf("ElixirDER(%v %s) = %x, %v\nwant %x", p.pair, x.name, got, err, x.want)
					}
				}
				verifyChain(t, dev, signer)
			}
			if n := bus.Stats().Slot0Reads; n != 0 {
				t.Errorf("slot 0 read %d times", n)
			}
		})
	}
}

// verifyChain checks that dev verifies under signer with crypto/x509 and
// with openssl verify, at a time inside both validity periods.
func verifyChain(t *testing.T, dev, signer *x509.Certificate) {
	t.Helper()
	at := dev.NotBefore
	if signer.NotBefore.After(at) {
		at = signer.NotBefore
	}
	at = at.Add(1e9 * 3600)
	roots := x509.NewCertPool()
	roots.AddCert(signer)
	if _, err := dev.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: at,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		t.Errorf("crypto/x509: device certificate does not verify under the signer: %v", err)
	}
	if err := dev.CheckSignatureFrom(signer); err != nil {
		t.Errorf("CheckSignatureFrom: %v", err)
	}

	openssl := needTool(t, "openssl")
	sp, dp := pemFile(t, signer), pemFile(t, dev)
	out, err := exec.Command(openssl, "verify", "-partial_chain", "-attime", fmt.Sprint(at.Unix()), "-CAfile", sp, dp).CombinedOutput()
	if err != nil {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
}

// TestBlankChipInfo reads a factory chip: not provisioned, no OTP yet, and
// the default serial is Base32 of the chip serial.
func TestBlankChipInfo(t *testing.T) {
	serial := [9]byte{0x01, 0x23, 0xAE, 0x76, 0x8D, 0x83, 0xB1, 0xC9, 0xEE}
	bus := nerveskeytest.NewChip(&nerveskeytest.Options{Revision: nerveskeytest.ATECC608B, Serial: serial})
	t.Cleanup(func() { bus.Close() })
	c := openChip(t, bus, nil)
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := nerveskey.Info{
		Mode:                  "unprovisioned",
		Layout:                "blank",
		Revision:              "ATECC608B",
		Serial:                serial,
		DefaultManufacturerSN: "AER245UNQOY4T3Q", // nerves_key README
		Addr:                  0x60,
		ConfigZone:            bus.Image().Config,
	}
	if *info != want {
		t.Fatalf("Info = %+v\nwant %+v", *info, want)
	}
	if _, _, err := c.Certificates(t.Context(), nerveskey.Primary); !errors.Is(err, nerveskey.ErrNotProvisioned) {
		t.Errorf("DeviceCertificate on a blank chip = %v, want ErrNotProvisioned", err)
	}
	if _, _, err := c.Certificates(t.Context(), nerveskey.Primary); !errors.Is(err, nerveskey.ErrNotProvisioned) {
		t.Errorf("SignerCertificate on a blank chip = %v, want ErrNotProvisioned", err)
	}
	if aux, err := hasAux(t.Context(), c); aux || err != nil {
		t.Errorf("HasAux on a blank chip = %v, %v", aux, err)
	}
}

// provisionedImage returns the image of a chip provisioned by the Elixir
// code, for tests to modify.
func provisionedImage(tb testing.TB, rev nerveskeytest.Revision) *nerveskeytest.Image {
	tb.Helper()
	needSim(tb, "chip images")
	return nerveskeytest.NewProvisionedChip(tb, &nerveskeytest.Options{Revision: rev}).Image()
}

// TestCorruptChips checks that every read validates what it decodes: each
// damaged image gives its own typed error.
func TestCorruptChips(t *testing.T) {
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		damage  func(img *nerveskeytest.Image)
		read    func(c *nerveskey.Chip) error
		wantErr error
		check   func(t *testing.T, err error)
	}{
		{
			name:    "OTP not a NervesKey's",
			damage:  func(img *nerveskeytest.Image) { copy(img.OTP[:], "Xrvs") },
			read:    func(c *nerveskey.Chip) error { _, err := c.Info(t.Context()); return err },
			wantErr: nerveskey.ErrNotNervesKeyOTP,
			check: func(t *testing.T, err error) {
				if e, ok := errors.AsType[*layout.OTPError](err); !ok || e.Field != "magic" {
					t.Errorf("err = %#v, want an *OTPError for the magic", err)
				}
			},
		},
		{
			name:    "device certificate with a NervesKey OTP missing",
			damage:  func(img *nerveskeytest.Image) { img.OTP = [64]byte{} },
			read:    deviceCert(nerveskey.Primary),
			wantErr: nerveskey.ErrNotNervesKeyOTP,
		},
		{
			name:    "device certificate with the signer template",
			damage:  func(img *nerveskeytest.Image) { img.Slots[10][69] = 0x10 },
			read:    deviceCert(nerveskey.Primary),
			wantErr: nerveskey.ErrMalformedCertificate,
			check:   certErrorAt(nerveskey.Primary, "device", 10),
		},
		{
			name:    "signer certificate with a wrong chain id",
			damage:  func(img *nerveskeytest.Image) { img.Slots[12][69] = 0x11 },
			read:    signerCert(nerveskey.Primary),
			wantErr: nerveskey.ErrMalformedCertificate,
			check:   certErrorAt(nerveskey.Primary, "signer", 12),
		},
		{
			name:    "device certificate with a wrong signer id",
			damage:  func(img *nerveskeytest.Image) { img.Slots[10][67] = 0x12 },
			read:    deviceCert(nerveskey.Primary),
			wantErr: nerveskey.ErrMalformedCertificate,
		},
		{
			name:    "empty device slot",
			damage:  func(img *nerveskeytest.Image) { clear(img.Slots[10]) },
			read:    deviceCert(nerveskey.Primary),
			wantErr: nerveskey.ErrMalformedCertificate,
			check:   certErrorAt(nerveskey.Primary, "device", 10),
		},
		{
			name:    "reserved byte set",
			damage:  func(img *nerveskeytest.Image) { img.Slots[12][71] = 1 },
			read:    signerCert(nerveskey.Primary),
			wantErr: nerveskey.ErrMalformedCertificate,
		},
		{
			name:   "signer key not on the curve",
			damage: func(img *nerveskeytest.Image) { img.Slots[11][63] ^= 1 },
			read:   deviceCert(nerveskey.Primary),
			check:  certErrorAt(nerveskey.Primary, "device", 11),
		},
		{
			name:    "device signature damaged",
			damage:  func(img *nerveskeytest.Image) { img.Slots[10][40] ^= 1 },
			read:    deviceCert(nerveskey.Primary),
			wantErr: nerveskey.ErrSignature,
			check:   sigErrorFor(nerveskey.Primary, "device"),
		},
		{
			name:    "signer signature damaged",
			damage:  func(img *nerveskeytest.Image) { img.Slots[12][3] ^= 1 },
			read:    signerCert(nerveskey.Primary),
			wantErr: nerveskey.ErrSignature,
			check:   sigErrorFor(nerveskey.Primary, "signer"),
		},
		{
			name: "device key replaced",
			damage: func(img *nerveskeytest.Image) {
				img.Slots[0] = append(make([]byte, 4), testutil.PrivateKeyBytes(t, otherKey)...)
			},
			read:    deviceCert(nerveskey.Primary),
			wantErr: nerveskey.ErrSignature,
			check:   sigErrorFor(nerveskey.Primary, "device"),
		},
		{
			name:    "issue date changed",
			damage:  func(img *nerveskeytest.Image) { img.Slots[10][66] ^= 0x20 },
			read:    deviceCert(nerveskey.Primary),
			wantErr: nerveskey.ErrSignature,
		},
		{
			name: "aux signer key from another pair",
			damage: func(img *nerveskeytest.Image) {
				// Slot 9 holds the primary device certificate, slot 14 a
				// key that did not sign it.
				copy(img.Slots[9], img.Slots[10])
				pub, _ := otherKey.PublicKey.Bytes()
				copy(img.Slots[14], pub[1:])
			},
			read:    deviceCert(nerveskey.Aux),
			wantErr: nerveskey.ErrSignature,
			check:   sigErrorFor(nerveskey.Aux, "device"),
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img := provisionedImage(t, nerveskeytest.ATECC608A)
			tt.damage(img)
			bus := imageChip(t, img, nil)
			c := openChip(t, bus, nil)
			err := tt.read(c)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
			if n := bus.Stats().Slot0Reads; n != 0 {
				t.Errorf("slot 0 read %d times", n)
			}
		})
	}
}

func deviceCert(p nerveskey.Pair) func(c *nerveskey.Chip) error {
	return func(c *nerveskey.Chip) error {
		_, _, err := c.Certificates(context.Background(), p)
		return err
	}
}

func signerCert(p nerveskey.Pair) func(c *nerveskey.Chip) error {
	return func(c *nerveskey.Chip) error {
		_, err := signerOf(c, context.Background(), p)
		return err
	}
}

func certErrorAt(p nerveskey.Pair, which string, slot int) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		e, ok := errors.AsType[*nerveskey.CertificateError](err)
		if !ok || e.Pair != p || e.Cert != which || e.Slot != slot {
			t.Errorf("err = %v, want a *CertificateError for the %v %s certificate at slot %d", err, p, which, slot)
		}
	}
}

func sigErrorFor(p nerveskey.Pair, which string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		e, ok := errors.AsType[*nerveskey.CertificateError](err)
		if !ok || e.Pair != p || e.Cert != which {
			t.Errorf("err = %v, want a *SignatureError for the %v %s certificate", err, p, which)
		}
	}
}

// TestCertificatesCached checks that certificates and identity are read
// once: a second read costs no bus transaction, and forgetting (here, a
// new Chip on the same bus) reads again.
func TestCertificatesCached(t *testing.T) {
	bus := nerveskeytest.NewProvisionedChip(t, nil)
	c := openChip(t, bus, nil)
	ctx := t.Context()
	read := func() (*x509.Certificate, *x509.Certificate, *nerveskey.Info) {
		t.Helper()
		d, _, err := c.Certificates(ctx, nerveskey.Primary)
		if err != nil {
			t.Fatal(err)
		}
		s, err := signerOf(c, ctx, nerveskey.Primary)
		if err != nil {
			t.Fatal(err)
		}
		i, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d, s, i
	}
	d1, s1, i1 := read()
	bus.ResetStats()
	d2, s2, i2 := read()
	if n := bus.Stats().Transactions; n != 0 {
		t.Errorf("cached reads cost %d bus transactions", n)
	}
	if d1 != d2 || s1 != s2 || *i1 != *i2 {
		t.Error("cached reads differ")
	}
	i2.BoardName = "changed"
	if i3, _ := c.Info(ctx); i3.BoardName == "changed" {
		t.Error("Info returns the cached value itself")
	}
}

// TestConcurrentCertificates reads certificates from 32 goroutines on a
// cold Chip; every result must be the same verified certificate.
func TestConcurrentCertificates(t *testing.T) {
	bus := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: nerveskeytest.ATECC508A})
	c := openChip(t, bus, nil)
	var wg sync.WaitGroup
	ders := make([][]byte, 32)
	for i := range ders {
		wg.Go(func() {
			d, _, err := c.Certificates(t.Context(), nerveskey.Primary)
			if err != nil {
				t.Errorf("goroutine %d: %v", i, err)
				return
			}
			ders[i] = d.Raw
		})
	}
	wg.Wait()
	for i := range ders {
		if !bytes.Equal(ders[i], ders[0]) {
			t.Fatalf("goroutine %d read a different certificate", i)
		}
	}
}

// TestCertificatesOneWake checks what a cold certificate read costs: the
// device certificate reads slots 10, 11 and 12, the OTP zone and the device
// public key in one wake; the signer certificate, TLSCertificate and Info
// then read nothing cached again (Info reads only slot 9, for HasAux).
func TestCertificatesOneWake(t *testing.T) {
	for _, rev := range revisions {
		t.Run(rev.String(), func(t *testing.T) {
			bus := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: rev})
			var ops []string
			trace := &nerveskey.Trace{Command: func(op string, _ time.Duration, _ error) { ops = append(ops, op) }}
			c := openChip(t, bus, &nerveskey.Options{Trace: trace})
			step := func(name string, wantWakes int, wantOps []string, f func() error) {
				t.Helper()
				bus.ResetStats()
				ops = nil
				if err := f(); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if st := bus.Stats(); st.Wakes != wantWakes || st.Commands != len(wantOps) {
					t.Errorf("%s: %d wakes, %d commands %q; want %d wakes, commands %q", name, st.Wakes, st.Commands, ops, wantWakes, wantOps)
				} else if fmt.Sprint(ops) != fmt.Sprint(wantOps) {
					t.Errorf("%s: commands %q, want %q", name, ops, wantOps)
				}
			}
			blocks := func(slot int) []string {
				return []string{
					fmt.Sprintf("read slot %d block 0", slot),
					fmt.Sprintf("read slot %d block 1", slot),
					fmt.Sprintf("read slot %d block 2", slot),
				}
			}
			var want []string
			for _, s := range []int{10, 12, 11} {
				want = append(want, blocks(s)...)
			}
			want = append(want, "read otp block 0", "read otp block 1", "genkey public slot 0")
			step("DeviceCertificate", 1, want, func() error {
				_, _, err := c.Certificates(t.Context(), nerveskey.Primary)
				return err
			})
			step("SignerCertificate", 0, nil, func() error {
				_, _, err := c.Certificates(t.Context(), nerveskey.Primary)
				return err
			})
			var k *nerveskey.Key
			step("Key", 0, nil, func() (err error) {
				k, err = c.Key(t.Context())
				return err
			})
			step("TLSCertificate", 0, nil, func() error {
				_, err := k.TLSCertificate(t.Context())
				return err
			})
			step("Info", 1, blocks(9), func() error {
				_, err := c.Info(t.Context())
				return err
			})
		})
	}
}

// BenchmarkCertificates measures reading the primary device and signer
// certificates: cold on a freshly opened Chip (slots 10–12, the OTP zone
// and GenKey; the config zone was read by OpenChip and is not counted),
// and warm from the cache, which must cost no bus transaction.
func BenchmarkCertificates(b *testing.B) {
	read := func(b *testing.B, c *nerveskey.Chip) {
		if _, _, err := c.Certificates(b.Context(), nerveskey.Primary); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Certificates(b.Context(), nerveskey.Primary); err != nil {
			b.Fatal(err)
		}
	}
	for _, rev := range revisions {
		bus := nerveskeytest.NewProvisionedChip(b, &nerveskeytest.Options{Revision: rev})
		b.Run(rev.String()+"/cold", func(b *testing.B) {
			var tx int
			var busTime time.Duration
			for b.Loop() {
				b.StopTimer()
				c, err := nerveskey.OpenChip(b.Context(), bus, nil)
				if err != nil {
					b.Fatal(err)
				}
				bus.ResetStats()
				b.StartTimer()
				read(b, c)
				st := bus.Stats()
				tx += st.Transactions
				busTime += st.BusTime
			}
			b.ReportMetric(float64(tx)/float64(b.N), "i2c-tx/op")
			b.ReportMetric(float64(busTime)/float64(time.Millisecond)/float64(b.N), "bus-ms/op")
		})
		b.Run(rev.String()+"/warm", func(b *testing.B) {
			c := openChip(b, bus, nil)
			read(b, c)
			bus.ResetStats()
			for b.Loop() {
				read(b, c)
			}
			st := bus.Stats()
			if st.Transactions != 0 {
				b.Fatalf("warm reads cost %d bus transactions", st.Transactions)
			}
			b.ReportMetric(float64(st.Transactions)/float64(b.N), "i2c-tx/op")
			b.ReportMetric(float64(st.BusTime)/float64(time.Millisecond)/float64(b.N), "bus-ms/op")
		})
	}
}

// TestInfoModes reads chips whose configuration is not a plain NervesKey:
// a foreign configuration with a foreign OTP still gives its identity, and
// a NervesKey with a foreign OTP is an error.
func TestInfoModes(t *testing.T) {
	for _, tt := range []struct {
		name     string
		damage   func(img *nerveskeytest.Image)
		wantMode string
		wantErr  error
	}{
		{"foreign", func(img *nerveskeytest.Image) { img.Config[20] = 0x83; img.OTP = [64]byte{1} }, "unrecognized", nil},
		{"volatile", func(img *nerveskeytest.Image) { img.Config[97] = 0x10 }, "volatile", nil},
		{"regular with a foreign OTP", func(img *nerveskeytest.Image) { img.OTP = [64]byte{1} }, "regular", nerveskey.ErrNotNervesKeyOTP},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img := provisionedImage(t, nerveskeytest.ATECC608A)
			tt.damage(img)
			c := openChip(t, imageChip(t, img, nil), nil)
			info, err := c.Info(t.Context())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Info = %+v, %v; want %v", info, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode != tt.wantMode || !info.Provisioned {
				t.Errorf("Info = %+v, want mode %v", info, tt.wantMode)
			}
			if tt.wantMode == "unrecognized" && (info.ManufacturerSN != "" || info.BoardName != "") {
				t.Errorf("foreign chip: Info = %+v, want no OTP identity", info)
			}
		})
	}
}

// TestVolatileNeedsActivationKey reads the device certificate of a
// volatile-key chip whose latch is not set: GenKey is refused, and without
// an activation key the error says so.
func TestVolatileNeedsActivationKey(t *testing.T) {
	img := provisionedImage(t, nerveskeytest.ATECC608A)
	img.Config[97] = 0x10 // slot 0 PersistentDisable
	img.Config[69] = 0x81 // persistent latch enabled, set by slot 1
	c := openChip(t, imageChip(t, img, nil), nil)
	_, _, err := c.Certificates(t.Context(), nerveskey.Primary)
	if !errors.Is(err, nerveskey.ErrActivationKey) {
		t.Fatalf("err = %v, want ErrActivationKey", err)
	}
	// The signer certificate needs no key: it comes with the error.
	if _, signer, err := c.Certificates(t.Context(), nerveskey.Primary); signer == nil || signer.Subject.CommonName != "Signer" {
		t.Fatalf("signer = %v with %v, want the signer certificate", signer, err)
	}
}

// pemFile writes c as a PEM file in a temporary directory and returns its
// path, for openssl.
func pemFile(t *testing.T, c *x509.Certificate) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "*.pem")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}
