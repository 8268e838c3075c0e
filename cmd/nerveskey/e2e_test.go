package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEndToEnd is the README flow: a blank simulated chip is provisioned
// and used, and every artifact is checked with openssl.
func TestEndToEnd(t *testing.T) {
	testutil.NeedTool(t, "openssl")
	dir := t.TempDir()
	ok(t, dir, "", "sim", "new", "chip.json", "--revision", "608b", "--serial", "0123aabbccddeeff01")
	ok(t, dir, "", "signer", "create", "signer", "--years", "2")
	if fi, err := os.Stat(filepath.Join(dir, "signer.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("signer.key mode: %v %v", fi.Mode(), err)
	}
	openssl(t, dir, "x509", "-in", "signer.cert", "-noout")
	openssl(t, dir, "ec", "-in", "signer.key", "-noout", "-check")

	r := ok(t, dir, "", "--sim", "chip.json", "provision", "--signer-cert", "signer.cert", "--signer-key", "signer.key",
		"--sn", "NK-0001", "--board", "rpi4", "--yes")
	for i := 1; i <= 9; i++ {
		if !strings.Contains(r.stderr, "nerveskey: step "+string(rune('0'+i))+"/9: ") {
			t.Errorf("provision progress lacks step %d/9:\n%s", i, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, "nerveskey: plan: ") || strings.Index(r.stderr, "plan:") > strings.Index(r.stderr, "step 2/9") {
		t.Errorf("the plan is not printed before the first write:\n%s", r.stderr)
	}

	var in infoJSON
	if err := json.Unmarshal([]byte(ok(t, dir, "", "--sim", "chip.json", "info", "--json").stdout), &in); err != nil {
		t.Fatal(err)
	}
	want := infoJSON{Provisioned: true, Mode: "regular", Revision: "ATECC608B", Serial: "0123aabbccddeeff01",
		ManufacturerSN: "NK-0001", BoardName: "rpi4", DefaultManufacturerSN: "AER2VO6M3XXP6AI"}
	if in != want {
		t.Errorf("info after provisioning:\n got %+v\nwant %+v", in, want)
	}

	writeFile(t, filepath.Join(dir, "device.pem"), []byte(ok(t, dir, "", "--sim", "chip.json", "cert", "device").stdout))
	if out := openssl(t, dir, "verify", "-CAfile", "signer.cert", "device.pem"); !strings.Contains(out, "device.pem: OK") {
		t.Errorf("openssl verify: %s", out)
	}
	if out := openssl(t, dir, "x509", "-in", "device.pem", "-noout", "-subject"); !strings.Contains(out, "NK-0001") {
		t.Errorf("device subject: %s", out)
	}
	// The rebuilt signer certificate is the one we made.
	if got := ok(t, dir, "", "--sim", "chip.json", "cert", "signer").stdout; got != string(readFile(t, filepath.Join(dir, "signer.cert"))) {
		t.Errorf("cert signer differs from signer.cert:\n%s", got)
	}

	writeFile(t, filepath.Join(dir, "pub.pem"), []byte(ok(t, dir, "", "--sim", "chip.json", "pubkey").stdout))
	msg := []byte("firmware image 1.2.3\n")
	writeFile(t, filepath.Join(dir, "msg"), msg)
	sigHex := strings.TrimSpace(ok(t, dir, string(msg), "--sim", "chip.json", "sign").stdout)
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "msg.sig"), sig)
	if out := openssl(t, dir, "dgst", "-sha256", "-verify", "pub.pem", "-signature", "msg.sig", "msg"); !strings.Contains(out, "Verified OK") {
		t.Errorf("openssl dgst -verify: %s", out)
	}
	// The device certificate's key verifies it too.
	openssl(t, dir, "x509", "-in", "device.pem", "-pubkey", "-noout", "-out", "certpub.pem")
	openssl(t, dir, "dgst", "-sha256", "-verify", "certpub.pem", "-signature", "msg.sig", "msg")

	ok(t, dir, "", "--sim", "chip.json", "selftest")
	ok(t, dir, "", "--sim", "chip.json", "selftest", "--signer-cert", "signer.cert")
	ok(t, dir, "", "--sim", "chip.json", "verify", "--roots", "signer.cert")
	// A chip issued by another (self-consistent) signer passes a plain
	// selftest, but not one that names the expected signer.
	ok(t, dir, "", "signer", "create", "other")
	r = nk(t, dir, "", "--sim", "chip.json", "selftest", "--signer-cert", "other.cert", "--json")
	checkError(t, r, 1, "selftest failed: chain")
	if !strings.Contains(r.stdout, "--signer-cert") {
		t.Errorf("selftest --signer-cert report: %s", r.stdout)
	}

	// Settings: none yet, then a round trip.
	checkError(t, nk(t, dir, "", "--sim", "chip.json", "settings", "get"), 1, "no settings")
	settings := `{"nerves_hub_org": "acme", "retries": 3, "big": 123456789012345678901234567890, "ratio": 0.5, "tags": ["a", "b"], "nested": {"on": true, "off": null}}`
	writeFile(t, filepath.Join(dir, "settings.json"), []byte(settings))
	ok(t, dir, "", "--sim", "chip.json", "settings", "put", "settings.json")
	var got, wantS any
	json.Unmarshal([]byte(ok(t, dir, "", "--sim", "chip.json", "settings", "get").stdout), &got)
	json.Unmarshal([]byte(settings), &wantS)
	if g, w := mustJSON(t, got), mustJSON(t, wantS); g != w {
		t.Errorf("settings round trip:\n got %s\nwant %s", g, w)
	}
	raw := strings.TrimSpace(ok(t, dir, "", "--sim", "chip.json", "settings", "get", "--raw").stdout)
	if len(raw) != 2*524 || !strings.HasPrefix(raw, "83740000") {
		t.Errorf("settings get --raw: %d digits, %.16s…", len(raw), raw)
	}
	// Elixir's example: %{"a" => 1}.
	ok(t, dir, "", "--sim", "chip.json", "settings", "put", "--raw-hex", "8374000000016d000000016161 01")
	if got := ok(t, dir, "", "--sim", "chip.json", "settings", "get").stdout; got != "{\n  \"a\": 1\n}\n" {
		t.Errorf("settings after --raw-hex: %q", got)
	}
	ok(t, dir, `{"from": "stdin"}`, "--sim", "chip.json", "settings", "put", "-")
	if got := ok(t, dir, "", "--sim", "chip.json", "settings", "get").stdout; !strings.Contains(got, `"from": "stdin"`) {
		t.Errorf("settings put - : %q", got)
	}

	// Aux certificates with a second signer.
	ok(t, dir, "", "signer", "create", "aux-signer")
	checkError(t, nk(t, dir, "", "--sim", "chip.json", "cert", "device", "--aux"), 1, "no aux")
	ok(t, dir, "", "--sim", "chip.json", "aux", "provision", "--signer-cert", "aux-signer.cert", "--signer-key", "aux-signer.key")
	writeFile(t, filepath.Join(dir, "aux.pem"), []byte(ok(t, dir, "", "--sim", "chip.json", "cert", "device", "--aux").stdout))
	openssl(t, dir, "verify", "-CAfile", "aux-signer.cert", "aux.pem")
	cross := exec.Command("openssl", "verify", "-CAfile", "aux-signer.cert", "device.pem")
	cross.Dir = dir
	if out, err := cross.CombinedOutput(); err == nil {
		t.Errorf("the primary certificate verifies under the aux signer: %s", out)
	}
	json.Unmarshal([]byte(ok(t, dir, "", "--sim", "chip.json", "info", "--json").stdout), &in)
	if !in.HasAux {
		t.Error("info: has_aux false after aux provision")
	}
	st := ok(t, dir, "", "--sim", "chip.json", "selftest", "--json").stdout
	if !strings.Contains(st, `"aux_chain"`) {
		t.Errorf("selftest does not check the aux pair: %s", st)
	}
	ok(t, dir, "", "--sim", "chip.json", "aux", "clear")
	json.Unmarshal([]byte(ok(t, dir, "", "--sim", "chip.json", "info", "--json").stdout), &in)
	if in.HasAux {
		t.Error("info: has_aux true after aux clear")
	}

	// A debug device from the same signer verifies like a chip's.
	ok(t, dir, "", "device", "create", "debug-1", "--signer-cert", "signer.cert", "--signer-key", "signer.key")
	openssl(t, dir, "verify", "-CAfile", "signer.cert", "debug-1.cert")
	openssl(t, dir, "ec", "-in", "debug-1.key", "-noout", "-check")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestProvisionJSON checks the --json event stream and --dry-run.
func TestProvisionJSON(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "", "sim", "new", "chip.json", "--revision", "508a")
	ok(t, dir, "", "signer", "create", "s")
	before := readFile(t, filepath.Join(dir, "chip.json"))
	args := []string{"--sim", "chip.json", "provision", "--signer-cert", "s.cert", "--signer-key", "s.key", "--json"}

	r := ok(t, dir, "", append(args, "--dry-run")...)
	evs := decodeEvents(t, r.stdout)
	if len(evs) != 2 || evs[0].Action != "start" || evs[0].Plan == nil || evs[1].Action != "done" || !evs[1].DryRun {
		t.Errorf("dry run events: %+v", evs)
	}
	if evs[0].Plan != nil && (evs[0].Plan.Revision != "ATECC508A" || evs[0].Plan.ManufacturerSN == "" || evs[0].Plan.BoardName != "NervesKey") {
		t.Errorf("plan: %+v", evs[0].Plan)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, "chip.json")), before) {
		t.Fatal("--dry-run changed the image")
	}

	r = ok(t, dir, "", append(args, "--yes")...)
	evs = decodeEvents(t, r.stdout)
	if evs[0].Action != "start" || evs[len(evs)-1].Action != "done" {
		t.Errorf("events: %+v", evs)
	}
	ends := map[int]bool{}
	for _, e := range evs[1 : len(evs)-1] {
		if e.Action != "step" || e.Steps != 9 || e.Name == "" {
			t.Errorf("bad step event %+v", e)
		}
		if e.State == "end" {
			ends[e.Step] = true
		}
	}
	if len(ends) != 9 {
		t.Errorf("steps ended: %v, want 1..9", ends)
	}
	if strings.Contains(r.stderr, "step ") {
		t.Errorf("--json also printed progress to stderr:\n%s", r.stderr)
	}

	// Again with the same inputs: the chip is the one they make, so the
	// run succeeds without writing and says so.
	after := readFile(t, filepath.Join(dir, "chip.json"))
	r = ok(t, dir, "", append(args, "--yes")...)
	evs = decodeEvents(t, r.stdout)
	if len(evs) != 1 || evs[0].Action != "done" || evs[0].Status != "already provisioned" || evs[0].KeyProof == "" {
		t.Errorf("events of a repeated provision: %+v", evs)
	}
	if evs[0].SignerSignatures != 0 {
		t.Errorf("a repeated provision made %d signatures, want 0", evs[0].SignerSignatures)
	}

	// With another board name: refused; the stream ends with fail.
	r = nk(t, dir, "", append(args, "--yes", "--board", "other")...)
	checkError(t, r, 1, "already provisioned")
	evs = decodeEvents(t, r.stdout)
	if len(evs) != 1 || evs[0].Action != "fail" || !strings.Contains(evs[0].Error, "already provisioned") {
		t.Errorf("events of a refused provision: %+v", evs)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, "chip.json")), after) {
		t.Error("a refused provision changed the image")
	}
}

func decodeEvents(t *testing.T, s string) []event {
	t.Helper()
	var evs []event
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		var e event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("event line %q: %v", line, err)
		}
		evs = append(evs, e)
	}
	return evs
}

func TestBench(t *testing.T) {
	dir := t.TempDir()
	img := copyFile(t, dir, "608a.json")
	var r benchResult
	if err := json.Unmarshal([]byte(ok(t, dir, "", "--sim", img, "bench", "-n", "20", "--json").stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.Signatures != 20 || r.Clock != "modeled" || r.TransactionsPerSignature < 3 || r.P50MS <= 0 || r.P50MS > r.P99MS || r.P99MS > r.MaxMS {
		t.Errorf("bench: %+v", r)
	}
	if out := ok(t, dir, "", "--sim", img, "bench", "-n", "3").stdout; !strings.Contains(out, "i2c transactions per signature") {
		t.Errorf("bench text: %s", out)
	}
}

// TestSelftestDetectsDamage swaps the certificate slots of two chips: the
// chain no longer matches the key and selftest must fail with exit 1.
func TestSelftestDetectsDamage(t *testing.T) {
	dir := t.TempDir()
	a := copyFile(t, dir, "608a.json")
	b := copyFile(t, dir, "608b-aux.json")
	var ia, ib map[string]any
	json.Unmarshal(readFile(t, a), &ia)
	json.Unmarshal(readFile(t, b), &ib)
	ia["slots"].(map[string]any)["10"] = ib["slots"].(map[string]any)["10"]
	data, _ := json.Marshal(ia)
	writeFile(t, a, data)
	r := nk(t, dir, "", "--sim", a, "selftest", "--json")
	checkError(t, r, 1, "selftest failed")
	var rep checkReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.OK || len(rep.Checks) < 2 || !rep.Checks[0].OK {
		t.Errorf("report: %+v", rep)
	}
	for _, ch := range rep.Checks {
		if ch.Name == "device_cert" && ch.OK {
			t.Errorf("device_cert passed with another chip's certificate: %+v", ch)
		}
	}
	if !bytes.Equal(readFile(t, a), data) {
		t.Error("selftest changed the image")
	}
}

func TestSignVerifiesAcrossRevisions(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"508a-aux.json", "608a.json", "608b-aux.json"} {
		img := copyFile(t, dir, name)
		dev := parsePEMCert(t, ok(t, dir, "", "--sim", img, "cert", "device").stdout)
		d := sha256.Sum256([]byte(name))
		sig, _ := hex.DecodeString(strings.TrimSpace(ok(t, dir, "", "--sim", img, "sign", "--digest", hex.EncodeToString(d[:])).stdout))
		if !ecdsa.VerifyASN1(dev.PublicKey.(*ecdsa.PublicKey), d[:], sig) {
			t.Errorf("%s: signature does not verify with the device certificate", name)
		}
	}
}

// TestVolatile provisions a volatile-key 608B: it signs only with the
// activation key, and a wrong one is refused.
func TestVolatile(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, dir, "signer.cert")
	copyFile(t, dir, "signer.key")
	ok(t, dir, "", "sim", "new", "chip.json", "--revision", "608b")
	act := "00112233445566778899aabbccddeeff"
	// The keys from a file and from standard input, not the command line.
	if err := os.WriteFile(filepath.Join(dir, "act.hex"), []byte(act+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	checkError(t, nk(t, dir, act, "--sim", "chip.json", "--activation-key", "-", "provision", "--volatile",
		"--encryption-key", "-", "--signer-cert", "signer.cert", "--signer-key", "signer.key", "--yes"), 2, "standard input")
	checkError(t, nk(t, dir, "", "--sim", "chip.json", "--activation-key", "@missing.hex", "info"), 2, "missing.hex")
	ok(t, dir, "ffeeddccbbaa99887766554433221100\n", "--sim", "chip.json", "--activation-key", "@act.hex", "provision", "--volatile",
		"--encryption-key", "-", "--signer-cert", "signer.cert", "--signer-key", "signer.key", "--yes")
	img := readFile(t, filepath.Join(dir, "chip.json"))
	if !bytes.Contains(img, []byte("ffeeddccbbaa99887766554433221100")) || !bytes.Contains(img, []byte(act)) {
		t.Error("the keys read from the file and standard input are not in slots 1 and 2")
	}
	ok(t, dir, act, "--sim", "chip.json", "selftest", "--activation-key", "-")
	if out := ok(t, dir, "", "--sim", "chip.json", "info", "--json").stdout; !strings.Contains(out, `"mode":"volatile"`) {
		t.Errorf("info: %s", out)
	}
	before := readFile(t, filepath.Join(dir, "chip.json"))
	checkError(t, nk(t, dir, "msg", "--sim", "chip.json", "sign"), 1, "activation key")
	checkError(t, nk(t, dir, "msg", "--sim", "chip.json", "sign", "--activation-key", "00112233445566778899aabbccddeefe"), 1, "activation key")
	ok(t, dir, "", "--sim", "chip.json", "selftest", "--activation-key", act)
	checkError(t, nk(t, dir, "", "--sim", "chip.json", "cert", "device"), 1, "activation key")
	dev := parsePEMCert(t, ok(t, dir, "", "--sim", "chip.json", "cert", "device", "--activation-key", act).stdout)
	sig, _ := hex.DecodeString(strings.TrimSpace(ok(t, dir, "msg", "--sim", "chip.json", "sign", "--activation-key", act).stdout))
	d := sha256.Sum256([]byte("msg"))
	if !ecdsa.VerifyASN1(dev.PublicKey.(*ecdsa.PublicKey), d[:], sig) {
		t.Error("volatile-key signature does not verify")
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, "chip.json")), before) {
		t.Error("using the chip changed the image")
	}
}

// TestSimImageLocked runs two commands that change different parts of one
// image at the same time (an aux certificate pair, settings): each holds
// the image's lock for its whole run, so both changes are kept; without
// it, both would succeed and the one that saved last would erase the
// other's. Saved images are readable by their owner only.
func TestSimImageLocked(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("skipping: no flock(2)")
	}
	for round := range 3 {
		dir := t.TempDir()
		img := copyFile(t, dir, "608a.json")
		copyFile(t, dir, "aux-signer.cert")
		copyFile(t, dir, "aux-signer.key")
		if err := os.WriteFile(filepath.Join(dir, "s.json"), []byte(`{"round": "`+strconv.Itoa(round)+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var aux, put result
		wg.Go(func() {
			aux = nk(t, dir, "", "--sim", "608a.json", "aux", "provision", "--signer-cert", "aux-signer.cert", "--signer-key", "aux-signer.key")
		})
		wg.Go(func() { put = nk(t, dir, "", "--sim", "608a.json", "settings", "put", "s.json") })
		wg.Wait()
		if aux.code != 0 || put.code != 0 {
			t.Fatalf("round %d: aux provision exit %d (%s), settings put exit %d (%s)", round, aux.code, aux.stderr, put.code, put.stderr)
		}
		r := ok(t, dir, "", "--sim", "608a.json", "settings", "get")
		if !strings.Contains(r.stdout, `"round"`) {
			t.Errorf("round %d: the settings were lost: %s", round, r.stdout)
		}
		ok(t, dir, "", "--sim", "608a.json", "cert", "device", "--aux")
		if fi, err := os.Stat(img); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("round %d: saved image mode %v, want 0600", round, fi.Mode().Perm())
		}
	}
	dir := t.TempDir()
	ok(t, dir, "", "sim", "new", "new.json")
	if fi, err := os.Stat(filepath.Join(dir, "new.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("sim new wrote mode %v, want 0600", fi.Mode().Perm())
	}
}
