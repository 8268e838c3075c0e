package nerveskey_test

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

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
	chip, err := nerveskeytest.NewChipFromImage(img, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { chip.Close() })
	return chip
}

func openChip(tb testing.TB, bus *nerveskeytest.Chip, opts *nerveskey.Options) *nerveskey.Chip {
	tb.Helper()
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
			if info.Mode != nerveskey.ModeRegular {
				t.Errorf("Mode = %v, want regular", info.Mode)
			}
			if hasAux, err := c.HasAux(ctx); err != nil || hasAux != e.HasAux {
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
			} else if _, err := c.DeviceCertificate(ctx, nerveskey.Aux); !errors.Is(err, nerveskey.ErrNoAux) {
				t.Errorf("DeviceCertificate(Aux) without aux = %v, want ErrNoAux", err)
			}
			for _, p := range pairs {
				dev, err := c.DeviceCertificate(ctx, p.pair)
				if err != nil {
					t.Fatalf("DeviceCertificate(%v): %v", p.pair, err)
				}
				signer, err := c.SignerCertificate(ctx, p.pair)
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
					got, err := nerveskey.ElixirDER(x.der)
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
	dir := t.TempDir()
	write := func(name string, c *x509.Certificate) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sp, dp := write("signer.pem", signer), write("device.pem", dev)
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
		Mode:                  nerveskey.ModeUnprovisioned,
		Revision:              "ATECC608B",
		Serial:                serial,
		DefaultManufacturerSN: "AER245UNQOY4T3Q", // nerves_key README
	}
	if *info != want {
		t.Fatalf("Info = %+v\nwant %+v", *info, want)
	}
	if _, err := c.DeviceCertificate(t.Context(), nerveskey.Primary); !errors.Is(err, nerveskey.ErrNotProvisioned) {
		t.Errorf("DeviceCertificate on a blank chip = %v, want ErrNotProvisioned", err)
	}
	if _, err := c.SignerCertificate(t.Context(), nerveskey.Primary); !errors.Is(err, nerveskey.ErrNotProvisioned) {
		t.Errorf("SignerCertificate on a blank chip = %v, want ErrNotProvisioned", err)
	}
	if aux, err := c.HasAux(t.Context()); aux || err != nil {
		t.Errorf("HasAux on a blank chip = %v, %v", aux, err)
	}
}
