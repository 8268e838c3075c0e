package nerveskey_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// ExampleChip_Provision provisions a blank chip with a new signer. On
// hardware, open the chip with nerveskey.OpenBus(ctx, "/dev/i2c-1", nil)
// and load the signer with nerveskey.LoadSigner (or use an HSM or KMS
// crypto.Signer for the key).
func ExampleChip_Provision() {
	ctx := context.Background()
	sim := nerveskeytest.NewChip(&nerveskeytest.Options{Revision: nerveskeytest.ATECC608B})
	defer sim.Close()
	chip, err := nerveskey.OpenChip(ctx, sim, nil) // hardware: nerveskey.OpenBus(ctx, "/dev/i2c-1", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer chip.Close()

	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) // use time.Now() in a factory tool
	signerCert, signerKey, err := nerveskey.NewSigner(nil, 5, now)
	if err != nil {
		log.Fatal(err)
	}
	info := nerveskey.ProvisioningInfo{ManufacturerSN: "NK-000123", BoardName: "widget"}
	res, err := chip.Provision(ctx, info, signerCert, signerKey, &nerveskey.ProvisionOptions{
		Now: func() time.Time { return now },
		Progress: func(e nerveskey.StepEvent) {
			if e.Done {
				fmt.Printf("step %d/%d: %s\n", e.Step, e.Steps, e.Name)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	key, err := chip.Key(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v; device key is %T, the one the certificate holds: %v\n", res.Status, key.Public(), res.DeviceCert.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()))
	fmt.Println("key proof:", res.KeyProof)

	// The same inputs again: the chip is compared with them, and is the one
	// they make. Other inputs would give ErrAlreadyProvisioned.
	res, err = chip.Provision(ctx, info, signerCert, signerKey, &nerveskey.ProvisionOptions{Now: func() time.Time { return now }})
	fmt.Println(res.Status, err)
	// Output:
	// step 1/9: validate inputs and chip
	// step 2/9: write configuration
	// step 3/9: lock configuration zone
	// step 4/9: write OTP (serial number, board name)
	// step 5/9: generate device key (slot 0)
	// step 6/9: write certificates (slots 1-15)
	// step 7/9: verify certificates
	// step 8/9: lock data and OTP zones
	// step 9/9: read back, verify and lock key slot
	// provisioned; device key is *ecdsa.PublicKey, the one the certificate holds: true
	// key proof: genkey public re-read matched; slot 0 signed a random challenge that verified
	// already provisioned <nil>
}

// ExampleProvisionOptions_confirm shows the plan and asks before the first
// write, with one Provision call: the signer signs once for validation and
// once for the device certificate, and an answer other than yes leaves the
// chip untouched.
func ExampleProvisionOptions_confirm() {
	ctx := context.Background()
	sim := nerveskeytest.NewChip(&nerveskeytest.Options{Revision: nerveskeytest.ATECC608A})
	defer sim.Close()
	chip, err := nerveskey.OpenChip(ctx, sim, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer chip.Close()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	signerCert, signerKey, err := nerveskey.NewSigner(nil, 5, now)
	if err != nil {
		log.Fatal(err)
	}
	errNo := errors.New("operator declined")
	answer := "no" // a factory tool reads the operator's answer here
	info := nerveskey.ProvisioningInfo{ManufacturerSN: "NK-000124", BoardName: "widget"}
	opts := &nerveskey.ProvisionOptions{
		Now: func() time.Time { return now },
		Confirm: func(ctx context.Context, p *nerveskey.ProvisionPlan) error {
			fmt.Printf("%s %X: %q on %q, signed by %s\n", p.Revision, p.Serial, p.Info.ManufacturerSN, p.Info.BoardName, p.SignerSubject)
			fmt.Printf("%d steps to run from %q, %d already done, reuse key %v\n", len(p.Steps), p.Steps[0], len(p.Skipped), p.ReuseKey)
			if answer != "yes" {
				return errNo
			}
			return nil
		},
	}
	_, err = chip.Provision(ctx, info, signerCert, signerKey, opts)
	fmt.Println(errors.Is(err, errNo), errors.Is(err, nerveskey.ErrAborted))

	answer = "yes"
	if _, err := chip.Provision(ctx, info, signerCert, signerKey, opts); err != nil {
		log.Fatal(err)
	}
	fmt.Println("provisioned")
	// Output:
	// ATECC608A 0123001122334455EE: "NK-000124" on "widget", signed by CN=Signer
	// 8 steps to run from "write configuration", 0 already done, reuse key false
	// true true
	// ATECC608A 0123001122334455EE: "NK-000124" on "widget", signed by CN=Signer
	// 8 steps to run from "write configuration", 0 already done, reuse key false
	// provisioned
}

// ExampleNewDebugDevice makes a device certificate without a chip, as
// "mix nerves_key.device create" does, to test a service.
func ExampleNewDebugDevice() {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	signerCert, signerKey, err := nerveskey.NewSigner(nil, 1, now)
	if err != nil {
		log.Fatal(err)
	}
	dev, _, err := nerveskey.NewDebugDevice(nil, "test-device-1", signerCert, signerKey, now)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dev.Subject.CommonName, dev.Issuer.CommonName, dev.NotBefore, dev.NotAfter)
	fmt.Println(dev.CheckSignatureFrom(signerCert))
	// Output:
	// test-device-1 Signer 2026-06-01 12:00:00 +0000 UTC 2057-06-01 12:00:00 +0000 UTC
	// <nil>
}
