package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// TestProvisionResumes interrupts a provisioning run after the
// configuration lock (as a power cut would leave a real chip), saves that
// chip as an image, and checks that the CLI finishes it.
func TestProvisionResumes(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := interruptedChip(t, dir, nerveskeytest.ATECC608A)

	var in infoJSON
	json.Unmarshal([]byte(ok(t, dir, "", "--sim", "chip.json", "info", "--json").stdout), &in)
	if in.Provisioned {
		t.Fatalf("interrupted chip reads as provisioned: %+v", in)
	}
	dry := ok(t, dir, "", "--sim", "chip.json", "provision", "--signer-cert", certFile, "--signer-key", keyFile,
		"--sn", "NK-RESUME", "--board", "b", "--dry-run", "--json")
	if evs := decodeEvents(t, dry.stdout); len(evs) != 2 || evs[0].Plan == nil || !evs[0].Plan.ConfigLocked || evs[0].Plan.DataLocked || evs[0].Plan.ReuseKey {
		t.Errorf("dry run of an interrupted chip: %+v", evs)
	}
	r := ok(t, dir, "", "--sim", "chip.json", "provision", "--signer-cert", certFile, "--signer-key", keyFile,
		"--sn", "NK-RESUME", "--board", "b", "--yes")
	if !strings.Contains(r.stderr, "step 3/9: lock configuration zone: skipped") {
		t.Errorf("the configuration lock was not skipped:\n%s", r.stderr)
	}
	// The plan, printed before the first write, says what remains.
	resume := "nerveskey: plan: resume: the configuration zone is already locked; generate a new device key\n" +
		"nerveskey: plan: then lock the data zone and the key slot (irreversible)\n"
	if i := strings.Index(r.stderr, resume); i < 0 || i > strings.Index(r.stderr, "step 1/9") {
		t.Errorf("the plan does not say what remains before the steps:\n%s", r.stderr)
	}
	ok(t, dir, "", "--sim", "chip.json", "selftest")
	json.Unmarshal([]byte(ok(t, dir, "", "--sim", "chip.json", "info", "--json").stdout), &in)
	if !in.Provisioned || in.ManufacturerSN != "NK-RESUME" {
		t.Errorf("after resuming: %+v", in)
	}
}

// interruptedChip writes dir/chip.json: a chip of revision rev whose
// provisioning (serial NK-RESUME, board b, by the test signer copied to
// dir) was cut after the configuration lock, as a power cut would leave a
// real chip. It returns the signer's certificate and key files.
func interruptedChip(t *testing.T, dir string, rev nerveskeytest.Revision) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = copyFile(t, dir, "signer.cert"), copyFile(t, dir, "signer.key")
	signerCert, signer, err := nerveskey.LoadSigner(readFile(t, certFile), readFile(t, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	sim := nerveskeytest.NewChip(&nerveskeytest.Options{Revision: rev})
	defer sim.Close()
	chip, err := nerveskey.OpenChip(t.Context(), sim, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	opts := &nerveskey.ProvisionOptions{Progress: func(e nerveskey.StepEvent) {
		if e.Step == 3 && e.Done {
			cancel()
		}
	}}
	info := nerveskey.ProvisioningInfo{ManufacturerSN: "NK-RESUME", BoardName: "b"}
	if err := provisionChip(ctx, chip, info, signerCert, signer, opts); err == nil {
		t.Fatal("interrupted Provision succeeded")
	}
	chip.Close()
	data, err := json.Marshal(sim.Image())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "chip.json"), data)
	return certFile, keyFile
}
