package nerveskey_test

import (
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// nervesKeyUserOTP is nerves_key's otp_test.exs vector for
// OTP.new("my_board", "1234578", <<0..31>>) (docs/nerves_key.md §5.1),
// written out byte by byte.
const nervesKeyUserOTP = "4e727673" + "0000" + "6d795f626f617264" + "0000" +
	"31323334353738" + "000000000000000000" +
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func countingUserData() (u [32]byte) {
	for i := range u {
		u[i] = byte(i)
	}
	return u
}

// TestProvisionUserData provisions with OTP user data and checks the OTP
// bytes against nerves_key's vector, Info, and re-runs.
func TestProvisionUserData(t *testing.T) {
	signerCert, signerKey := testSigner(t)
	sim, c := newBlankChip(t, nerveskeytest.ATECC608A, nil)
	info := nerveskey.ProvisioningInfo{ManufacturerSN: "1234578", BoardName: "my_board", UserData: countingUserData()}
	if _, err := c.Provision(t.Context(), info, signerCert, signerKey, provOpts(nil)); err != nil {
		t.Fatal(err)
	}
	img := sim.Image()
	if got := hex.EncodeToString(img.OTP[:]); got != nervesKeyUserOTP {
		t.Fatalf("OTP = %s\nwant  %s", got, nervesKeyUserOTP)
	}
	checkProvisioned(t, sim, info, signerCert, nil)
	in, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if in.UserData != info.UserData || in.ManufacturerSN != info.ManufacturerSN {
		t.Fatalf("Info = %+v", in)
	}
	// The same inputs find the chip done; other user data is another chip.
	res, err := c.Provision(t.Context(), info, signerCert, signerKey, provOpts(nil))
	if err != nil || res.Status != nerveskey.AlreadyProvisioned {
		t.Fatalf("re-run: %v, %v", res, err)
	}
	other := info
	other.UserData[31] ^= 0xff
	if _, err := c.Provision(t.Context(), other, signerCert, signerKey, provOpts(nil)); !errors.Is(err, nerveskey.ErrAlreadyProvisioned) || !strings.Contains(err.Error(), "user data") {
		t.Fatalf("re-run with other user data: %v", err)
	}
}

// TestProvisionUserDataLongSerial refuses user data beside a serial that
// takes its bytes, before writing anything.
func TestProvisionUserDataLongSerial(t *testing.T) {
	signerCert, signerKey := testSigner(t)
	sim, c := newBlankChip(t, nerveskeytest.ATECC608A, nil)
	before := sim.Image()
	info := nerveskey.ProvisioningInfo{ManufacturerSN: "12345678901234567", BoardName: "b", UserData: countingUserData()}
	_, err := c.Provision(t.Context(), info, signerCert, signerKey, provOpts(nil))
	ie, ok := errors.AsType[*nerveskey.InputError](err)
	if !ok || ie.Field != "user data" || !errors.Is(err, nerveskey.ErrInvalidInput) {
		t.Fatalf("err = %v, want an *InputError for the user data", err)
	}
	if !reflect.DeepEqual(sim.Image(), before) {
		t.Fatal("a refused Provision changed the chip")
	}
	// A 16-byte serial still has room.
	info.ManufacturerSN = info.ManufacturerSN[:16]
	if _, err := c.Provision(t.Context(), info, signerCert, signerKey, provOpts(nil)); err != nil {
		t.Fatal(err)
	}
	if got := sim.Image().OTP; [32]byte(got[32:]) != info.UserData {
		t.Fatalf("OTP user bytes %x", got[32:])
	}
}

// TestInfoUserDataElixir reads user data from chips nerves_key provisioned:
// a 16-byte serial (flags 0) with user bytes set as nerves_key's OTP.new
// writes them, and a 17-byte serial (flags 1), whose bytes 32–63 are the
// serial's and no user data.
func TestInfoUserDataElixir(t *testing.T) {
	var short, long *elixirVector
	for _, v := range elixirVectors(t) {
		switch v.Name {
		case "608b-sn16-flag0-shared-signer":
			short = &v
		case "608b-sn17-flag1":
			long = &v
		}
	}
	if short == nil || long == nil {
		t.Fatal("vectors 608b-sn16-flag0-shared-signer and 608b-sn17-flag1 missing")
	}
	img, err := nerveskeytest.ParseImage(short.Image)
	if err != nil {
		t.Fatal(err)
	}
	want := countingUserData()
	copy(img.OTP[32:], want[:])
	c := openChip(t, imageChip(t, img, nil), nil)
	in, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if in.UserData != want || in.ManufacturerSN != short.Elixir.ManufacturerSN {
		t.Fatalf("Info = %+v", in)
	}
	// The device certificate does not depend on the user data.
	if _, _, err := c.Certificates(t.Context(), nerveskey.Primary); err != nil {
		t.Fatal(err)
	}

	c = openChip(t, vectorChip(t, *long), nil)
	in, err = c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if in.UserData != ([32]byte{}) || in.ManufacturerSN != long.Elixir.ManufacturerSN {
		t.Fatalf("Info = %+v", in)
	}
}
