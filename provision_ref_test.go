package nerveskey_test

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// TestProvisionedRebuildsUnderPythonReference provisions blank chips and
// rebuilds their certificates, primary and aux, from the raw slot bytes
// with the independent Python reference
// (testdata/nerves_key_ref.py, see docs/nerves_key.md §0): it must give the bytes nerveskey reads
// back. The reference reproduces nerves_key's signature encoding, so this
// also shows that certificates nerveskey issues rebuild identically under
// nerves_key.
func TestProvisionedRebuildsUnderPythonReference(t *testing.T) {
	needSim(t, "blank chips (provisioning)")
	python := needTool(t, "python3")
	for _, rev := range revisions {
		t.Run(rev.String(), func(t *testing.T) {
			ctx := t.Context()
			sim := nerveskeytest.NewChip(&nerveskeytest.Options{Revision: rev})
			chip, err := nerveskey.OpenChip(ctx, sim, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer chip.Close()
			now := time.Now()
			signerCert, signerKey, err := nerveskey.NewSigner(nil, 2, now)
			if err != nil {
				t.Fatal(err)
			}
			info := nerveskey.ProvisioningInfo{ManufacturerSN: "Ref-Ünïcode-" + rev.String(), BoardName: "refboard"}
			if _, err := chip.Provision(ctx, info, signerCert, signerKey, nil); err != nil {
				t.Fatal(err)
			}
			auxCert, auxKey, err := nerveskey.NewSigner(nil, 5, now)
			if err != nil {
				t.Fatal(err)
			}
			if err := chip.ProvisionAux(ctx, auxCert, auxKey, nil); err != nil {
				t.Fatal(err)
			}
			key, err := chip.Key(ctx)
			if err != nil {
				t.Fatal(err)
			}
			id, err := chip.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pub := key.Public().(*ecdsa.PublicKey)
			raw, err := pub.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			img := sim.Image()
			for _, p := range []struct {
				pair                     nerveskey.Pair
				devSlot, keySlot, crtSlt int
			}{{nerveskey.Primary, 10, 11, 12}, {nerveskey.Aux, 9, 14, 15}} {
				in, _ := json.Marshal(map[string]string{
					"slot10":     hex.EncodeToString(img.Slots[p.devSlot]),
					"slot11":     hex.EncodeToString(img.Slots[p.keySlot]),
					"slot12":     hex.EncodeToString(img.Slots[p.crtSlt]),
					"device_raw": hex.EncodeToString(raw[1:]),
					"chip_sn9":   hex.EncodeToString(id.Serial[:]),
					"mfg_sn":     id.ManufacturerSN,
				})
				cmd := exec.Command(python, "testdata/refrebuild.py")
				cmd.Stdin = bytes.NewReader(in)
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("%v: refrebuild.py: %v", p.pair, err)
				}
				var got struct{ Device, Signer string }
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatal(err)
				}
				dev, _, err := chip.Certificates(ctx, p.pair)
				if err != nil {
					t.Fatal(err)
				}
				signer, err := signerOf(chip, ctx, p.pair)
				if err != nil {
					t.Fatal(err)
				}
				if want := hex.EncodeToString(dev.Raw); got.Device != want {
					t.Errorf("%v device certificate: Python reference rebuilds\n%s\nnerveskey reads\n%s", p.pair, got.Device, want)
				}
				if want := hex.EncodeToString(signer.Raw); got.Signer != want {
					t.Errorf("%v signer certificate: Python reference rebuilds\n%s\nnerveskey reads\n%s", p.pair, got.Signer, want)
				}
			}
		})
	}
}
