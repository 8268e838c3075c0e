// Tests of package nerveskey run on simulated chips (package nerveskeytest)
// unless told otherwise. Flags:
//
//	-nerveskey.bus NAME     run the tests that only read a provisioned chip
//	                        on the real NervesKey at 0x60 on this I2C bus
//	                        (as nerveskey.OpenBus names it, e.g. /dev/i2c-1)
//	-nerveskey.destroy-chip also run the tests that write the real chip
//	                        (settings; they restore what they can)
//	-nerveskey.bus sim      the hardware path on a simulated ATECC608A, to
//	                        test this plumbing without hardware
//
// With -nerveskey.bus, newTestKey and newTestChip open the bus (with periph,
// as nerveskey.OpenBus does) instead of a simulated chip and return a nil
// *nerveskeytest.Chip: signing,
// concurrent signing, TLS, JWT, SSH and MQTT against local peers, and
// certificate and Info reads run on the chip, with the simulator-only
// assertions (bus statistics) left out. Tests that need the simulator
// (statistics, fault injection, images, provisioning, Elixir vectors)
// call needSim and skip; tests that write a chip call needWritableChip and
// skip on hardware without -nerveskey.destroy-chip, as piv-go's tests do
// without --wipe-yubikey. Tests that build their own simulated chips
// without these helpers (settings, examples) still run on the simulator.
//
// Example, on the device or a board with the chip:
//
//	go test -c -o nerveskey.test . && ./nerveskey.test -test.v -nerveskey.bus /dev/i2c-1

package nerveskey_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"
)

var (
	hwBus       = flag.String("nerveskey.bus", "", "run the read-only tests on the NervesKey at 0x60 on this I2C bus, not the simulator (\"sim\": the hardware path on a simulated chip)")
	destroyChip = flag.Bool("nerveskey.destroy-chip", false, "with -nerveskey.bus, also run the tests that write the chip")
)

// simBus is the -nerveskey.bus value that runs the hardware path on a
// simulated chip.
const simBus = "sim"

func hardwareMode() bool { return *hwBus != "" }

// needSim skips t in hardware mode: it needs what only the simulator
// gives (what names it).
func needSim(t testing.TB, what string) {
	t.Helper()
	if hardwareMode() {
		t.Skipf("skipping in hardware mode (-nerveskey.bus %s): needs the simulator's %s", *hwBus, what)
	}
}

// needWritableChip skips t in hardware mode unless -nerveskey.destroy-chip
// allows writing the chip.
func needWritableChip(t testing.TB) {
	t.Helper()
	if hardwareMode() && !*destroyChip {
		t.Skipf("skipping: writes the chip on %s; add -nerveskey.destroy-chip to allow it", *hwBus)
	}
}

// openHardwareBus opens the I2C bus -nerveskey.bus names, through periph
// as nerveskey.OpenBus does, or for "sim" a simulated provisioned
// ATECC608A; t.Cleanup closes it.
func openHardwareBus(t testing.TB) i2c.Bus {
	t.Helper()
	if *hwBus == simBus {
		return nerveskeytest.NewProvisionedChip(t, nil)
	}
	if _, err := host.Init(); err != nil {
		t.Fatalf("hardware mode: init periph host drivers: %v", err)
	}
	bus, err := i2creg.Open(*hwBus)
	if err != nil {
		t.Fatalf("hardware mode: open I2C bus %q: %v (is it there? ls /dev/i2c-*)", *hwBus, err)
	}
	t.Cleanup(func() { bus.Close() })
	return bus
}

// newTestChip returns a provisioned chip: a simulated one of revision rev
// with its simulator, or in hardware mode the real chip and nil.
func newTestChip(t testing.TB, rev nerveskeytest.Revision) (*nerveskey.Chip, *nerveskeytest.Chip) {
	t.Helper()
	if hardwareMode() {
		c, err := nerveskey.OpenChip(t.Context(), openHardwareBus(t), nil)
		if err != nil {
			t.Fatalf("OpenChip: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c, nil
	}
	bus := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: rev})
	return openChip(t, bus, nil), bus
}

// TestCertificatesVerify reads the primary certificates and Info of a
// provisioned chip: the device certificate verifies under the signer
// (crypto/x509 and openssl), holds the key that signs, and names the
// chip's manufacturer serial.
func TestCertificatesVerify(t *testing.T) {
	c, _ := newTestChip(t, nerveskeytest.ATECC608B)
	ctx := t.Context()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Provisioned || info.ManufacturerSN == "" || !strings.HasPrefix(info.Revision, "ATECC") {
		t.Errorf("Info = %+v", info)
	}
	dev, _, err := c.Certificates(ctx, nerveskey.Primary)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signerOf(c, ctx, nerveskey.Primary)
	if err != nil {
		t.Fatal(err)
	}
	verifyChain(t, dev, signer)
	if dev.Subject.CommonName != info.ManufacturerSN {
		t.Errorf("device CN %q, want the manufacturer serial %q", dev.Subject.CommonName, info.ManufacturerSN)
	}
	k, err := c.Key(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("certificates"))
	sig, err := k.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(dev.PublicKey.(*ecdsa.PublicKey), d[:], sig) {
		t.Error("signature does not verify under the device certificate's key")
	}
}

// TestSettingsWriteBack writes settings and reads them back, then puts
// back the bytes that were there. On hardware it needs
// -nerveskey.destroy-chip.
func TestSettingsWriteBack(t *testing.T) {
	needWritableChip(t)
	c, _ := newTestChip(t, nerveskeytest.ATECC608A)
	ctx := t.Context()
	saved, err := c.RawSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.PutRawSettings(context.WithoutCancel(ctx), saved); err != nil {
			t.Errorf("restore settings: %v", err)
		}
	})
	if err := c.PutSettings(ctx, map[string]any{"nerveskey_test": "hardware"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got["nerveskey_test"] != "hardware" || len(got) != 1 {
		t.Errorf("Settings = %v", got)
	}
}

// TestHardwareMode runs this test binary again in hardware mode: on the
// simulated chip behind -nerveskey.bus sim, the read-only tests pass and
// the simulator-only and writing tests skip with their reasons; on a bus
// that does not exist, a test fails with a clear "open I2C bus" error,
// not a panic.
func TestHardwareMode(t *testing.T) {
	if hardwareMode() {
		t.Skip("already in hardware mode")
	}
	if testing.Short() {
		t.Skip("skipping: runs the test binary again")
	}
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), os.Args[0], append([]string{"-test.v", "-test.count=1"}, args...)...)
		cmd.Env = append(os.Environ(), "CI=") // openssl may be missing here; the outer run reports that
		out, err := cmd.CombinedOutput()
		if bytes.Contains(out, []byte("panic:")) {
			t.Errorf("panic in hardware mode:\n%s", out)
		}
		return string(out), err
	}
	want := func(out, re string) {
		t.Helper()
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %q:\n%s", re, out)
		}
	}

	out, err := run("-test.run", "^(TestSignVerifies|TestSignRejectsBadDigests|TestConcurrentSign|TestCertificatesVerify|TestJWTVerifiesWithGolangJWT|TestTLSConfigMutualTLS|TestSSHClientAuth|TestOpenBlankChip|TestSettingsWriteBack)$",
		"-nerveskey.bus", simBus)
	if err != nil {
		t.Errorf("hardware mode on the simulated chip: %v\n%s", err, out)
	}
	for _, name := range []string{"TestSignVerifies", "TestSignRejectsBadDigests", "TestConcurrentSign", "TestCertificatesVerify",
		"TestJWTVerifiesWithGolangJWT", "TestTLSConfigMutualTLS", "TestSSHClientAuth"} {
		want(out, `--- PASS: `+name+` `)
	}
	want(out, `(?m)^=== RUN   TestOpenBlankChip\n.*skipping in hardware mode \(-nerveskey.bus sim\): needs the simulator's blank chip\n--- SKIP: TestOpenBlankChip `)
	want(out, `(?m)^=== RUN   TestSettingsWriteBack\n.*skipping: writes the chip on sim; add -nerveskey.destroy-chip to allow it\n--- SKIP: TestSettingsWriteBack `)

	out, err = run("-test.run", "^TestSettingsWriteBack$", "-nerveskey.bus", simBus, "-nerveskey.destroy-chip")
	if err != nil {
		t.Errorf("-nerveskey.destroy-chip: %v\n%s", err, out)
	}
	want(out, `--- PASS: TestSettingsWriteBack `)

	out, err = run("-test.run", "^TestSignVerifies$", "-nerveskey.bus", "/dev/i2c-nonexistent")
	if err == nil {
		t.Errorf("a nonexistent bus passed:\n%s", out)
	}
	want(out, `hardware mode: open I2C bus "/dev/i2c-nonexistent"`)
}

// simStats returns the statistics of chip, or zero ones when chip is nil
// (hardware mode), where callers skip their assertions on them.
func simStats(chip *nerveskeytest.Chip) nerveskeytest.Stats {
	if chip == nil {
		return nerveskeytest.Stats{}
	}
	return chip.Stats()
}
