package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// readManifest parses every line of a manifest file, failing on any line
// that is not a whole record with every field set.
func readManifest(t *testing.T, path string) []manifestRecord {
	t.Helper()
	var recs []manifestRecord
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, path)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r manifestRecord
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("manifest line %d: %v: %q", len(recs)+1, err, sc.Text())
		}
		var m map[string]any
		json.Unmarshal(sc.Bytes(), &m)
		for k, v := range m {
			if s, _ := v.(string); s == "" {
				t.Errorf("manifest line %d: %s is empty", len(recs)+1, k)
			}
		}
		if len(m) != 9 {
			t.Errorf("manifest line %d has %d keys, want 9", len(recs)+1, len(m))
		}
		recs = append(recs, r)
	}
	return recs
}

// checkRecord checks a manifest record against the chip image it came
// from and the signer, with crypto/x509 and openssl.
func checkRecord(t *testing.T, dir, img string, r manifestRecord, signerFile string) {
	t.Helper()
	signer := parsePEMCert(t, string(readFile(t, signerFile)))
	dev := parsePEMCert(t, r.DeviceCert)
	if err := dev.CheckSignatureFrom(signer); err != nil {
		t.Errorf("manifest device_cert does not verify under the signer: %v", err)
	}
	sum := sha256.Sum256(signer.Raw)
	if r.SignerCertSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("signer_cert_sha256 %s, want %x", r.SignerCertSHA256, sum)
	}
	if got := ok(t, dir, "", "--sim", img, "cert", "device").stdout; got != r.DeviceCert {
		t.Errorf("manifest device_cert differs from the chip's")
	}
	if got := ok(t, dir, "", "--sim", img, "pubkey").stdout; got != r.PublicKey {
		t.Errorf("manifest public_key %q differs from the chip's %q", r.PublicKey, got)
	}
	if dev.Subject.CommonName != r.ManufacturerSN {
		t.Errorf("manufacturer_sn %q, device CN %q", r.ManufacturerSN, dev.Subject.CommonName)
	}
	var in infoJSON
	json.Unmarshal([]byte(ok(t, dir, "", "--sim", img, "info", "--json").stdout), &in)
	if in.Serial != r.Serial || in.Revision != r.Revision || in.BoardName != r.BoardName {
		t.Errorf("record %s %s %s, chip %s %s %s", r.Serial, r.Revision, r.BoardName, in.Serial, in.Revision, in.BoardName)
	}
	if at, err := time.Parse(time.RFC3339, r.ProvisionedAt); err != nil || time.Since(at) > time.Hour {
		t.Errorf("provisioned_at %q: %v", r.ProvisionedAt, err)
	}
	pemFile := filepath.Join(dir, "dev-"+r.Serial+".pem")
	writeFile(t, pemFile, []byte(r.DeviceCert))
	if out := openssl(t, dir, "verify", "-CAfile", signerFile, pemFile); !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify: %s", out)
	}
}

func TestManifest(t *testing.T) {
	testutil.NeedTool(t, "openssl")
	dir := t.TempDir()
	ok(t, dir, "", "signer", "create", "signer", "--years-valid", "31")
	ok(t, dir, "", "sim", "new", "chip.json", "--revision", "608a", "--serial", "0123aabbccddeeff02")
	prov := []string{"--sim", "chip.json", "provision", "--signer-cert", "signer.cert", "--signer-key", "signer.key", "--manifest", "m.jsonl", "--sn", "NK-7", "--board", "b1"}

	// A dry run checks the manifest but creates nothing.
	r := ok(t, dir, "", append(prov, "--dry-run")...)
	if _, err := os.Stat(filepath.Join(dir, "m.jsonl")); err == nil {
		t.Fatal("a dry run created the manifest")
	}
	// A 31-year signer outlives the device certificate: no warning.
	if strings.Contains(r.stderr, "warning") {
		t.Errorf("warning for a 31-year signer:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "device certificate valid until") {
		t.Errorf("the plan lacks the device certificate's expiry:\n%s", r.stderr)
	}

	// A failed run leaves no manifest behind.
	checkError(t, nk(t, dir, "", "--sim", "missing.json", "provision", "--signer-cert", "signer.cert", "--signer-key", "signer.key", "--manifest", "m.jsonl", "--yes"), 1, "missing.json")
	checkError(t, nk(t, dir, "", "--sim", "chip.json", "provision", "--signer-cert", "signer.cert", "--signer-key", "signer.key", "--manifest", "m.jsonl", "--yes", "--sn", "a/b"), 1, "serial number")
	if _, err := os.Stat(filepath.Join(dir, "m.jsonl")); err == nil {
		t.Fatal("a failed run left a manifest")
	}
	ok(t, dir, "", append(prov, "--yes")...)
	recs := readManifest(t, filepath.Join(dir, "m.jsonl"))
	if len(recs) != 1 || recs[0].Status != "provisioned" || recs[0].ManufacturerSN != "NK-7" || recs[0].BoardName != "b1" || recs[0].Revision != "ATECC608A" || recs[0].Serial != "0123aabbccddeeff02" {
		t.Fatalf("manifest: %+v", recs)
	}
	checkRecord(t, dir, "chip.json", recs[0], filepath.Join(dir, "signer.cert"))

	// The same command again finds the chip done and records that.
	ok(t, dir, "", append(prov, "--yes")...)
	recs = readManifest(t, filepath.Join(dir, "m.jsonl"))
	if len(recs) != 2 || recs[1].Status != "already_provisioned" || recs[1].DeviceCert != recs[0].DeviceCert || recs[1].Serial != recs[0].Serial {
		t.Fatalf("manifest after a second run: %+v", recs)
	}
}

// TestManifestNotWritable: the error comes before the chip is touched.
func TestManifestNotWritable(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, dir, "blank-608b.json")
	copyFile(t, dir, "signer.cert")
	copyFile(t, dir, "signer.key")
	bad := []string{
		t.TempDir(),                             // a directory
		filepath.Join("nodir", "m.jsonl"),       // a missing directory
		filepath.Join("signer.cert", "m.jsonl"), // under a file
	}
	if os.Geteuid() != 0 { // root may write read-only files
		writeFile(t, filepath.Join(dir, "ro.jsonl"), nil)
		os.Chmod(filepath.Join(dir, "ro.jsonl"), 0o444)
		bad = append(bad, "ro.jsonl")
	}
	before := snapshot(t, dir)
	for _, m := range bad {
		for _, dry := range []bool{false, true} {
			args := []string{"--sim", "blank-608b.json", "provision", "--signer-cert", "signer.cert", "--signer-key", "signer.key", "--yes", "--manifest", m}
			if dry {
				args = append(args, "--dry-run")
			}
			r := nk(t, dir, "", args...)
			checkError(t, r, 1, "manifest")
			if strings.Contains(r.stderr, "plan:") {
				t.Errorf("the chip was read before the manifest was checked:\n%s", r.stderr)
			}
		}
	}
	after := snapshot(t, dir)
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Errorf("%s changed", name)
		}
	}
	if len(after) != len(before) {
		t.Errorf("files before %d, after %d", len(before), len(after))
	}
}

// TestManifestConcurrentAppends runs station processes at once on one
// manifest: every line must be whole.
func TestManifestConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, dir, "signer.cert")
	copyFile(t, dir, "signer.key")
	const n = 8
	for i := range n {
		ok(t, dir, "", "sim", "new", "c"+string(rune('0'+i))+".json", "--revision", "608b", "--serial", "0123aabbccddeeff1"+string(rune('0'+i)))
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ok(t, dir, "", "--sim", "c"+string(rune('0'+i))+".json", "provision", "--signer-cert", "signer.cert", "--signer-key", "signer.key", "--yes", "--manifest", "m.jsonl")
		})
	}
	wg.Wait()
	recs := readManifest(t, filepath.Join(dir, "m.jsonl"))
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.Serial] = true
	}
	if len(seen) != n {
		t.Errorf("serials %v", seen)
	}
}

// writeSigner writes a signer certificate made at now for years, and its
// key, as name.cert and name.key.
func writeSigner(t *testing.T, dir, name string, years int, now time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	crt, err := nerveskey.NewSignerWithKey(nil, key, years, now)
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := cert.EncodeKeyPEM(key)
	writeFile(t, filepath.Join(dir, name+".cert"), cert.EncodeCertificatePEM(crt))
	writeFile(t, filepath.Join(dir, name+".key"), kp)
}

func TestSignerExpiry(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, dir, "blank-608a.json")
	now := time.Now()
	writeSigner(t, dir, "short", 1, now)
	writeSigner(t, dir, "expiring", 1, now.AddDate(-1, 0, 3))
	writeSigner(t, dir, "expired", 1, now.AddDate(-2, 0, 0))
	prov := func(name string, extra ...string) []string {
		return append([]string{"--sim", "blank-608a.json", "provision", "--signer-cert", name + ".cert", "--signer-key", name + ".key"}, extra...)
	}
	r := ok(t, dir, "", prov("short", "--dry-run")...)
	warn := 0
	for l := range strings.SplitSeq(r.stderr, "\n") {
		if strings.HasPrefix(l, "nerveskey: warning: the signer expires on ") && strings.Contains(l, "before the device certificate") {
			warn++
		}
	}
	if warn != 1 {
		t.Errorf("a one-year signer gave %d warnings, want 1:\n%s", warn, r.stderr)
	}
	var ev event
	json.Unmarshal([]byte(strings.SplitN(ok(t, dir, "", prov("short", "--dry-run", "--json")...).stdout, "\n", 2)[0]), &ev)
	if ev.Plan == nil || ev.Plan.DeviceNotAfter <= ev.Plan.SignerNotAfter {
		t.Errorf("JSON plan: %+v", ev.Plan)
	}
	before := snapshot(t, dir)
	checkError(t, nk(t, dir, "", prov("expiring", "--yes")...), 1, "in less than 7 days")
	checkError(t, nk(t, dir, "", prov("expired", "--yes")...), 1, "the signer expired on")
	if after := snapshot(t, dir); !bytes.Equal(after["blank-608a.json"], before["blank-608a.json"]) {
		t.Error("the chip changed")
	}
	// aux provision refuses them the same way, on a provisioned chip.
	copyFile(t, dir, "608a.json")
	before = snapshot(t, dir)
	aux := func(name string) []string {
		return []string{"--sim", "608a.json", "aux", "provision", "--signer-cert", name + ".cert", "--signer-key", name + ".key"}
	}
	checkError(t, nk(t, dir, "", aux("expiring")...), 1, "in less than 7 days")
	checkError(t, nk(t, dir, "", aux("expired")...), 1, "the signer expired on")
	if after := snapshot(t, dir); !bytes.Equal(after["608a.json"], before["608a.json"]) {
		t.Error("aux provision changed the chip")
	}
	ok(t, dir, "", aux("short")...)
}

// companyCA makes a company root CA (P-384, as company CAs often are)
// and a certificate it issued, which is not a usable signer.
func companyCA(t *testing.T, dir string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Acme Root CA", Organization: []string{"Acme"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(20, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	writeFile(t, filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, filepath.Join(dir, "ca.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
	// An intermediate the CA issued: what a user might try as a signer.
	ikey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	itmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Acme Devices"},
		NotBefore: time.Now().Add(-time.Hour).Truncate(time.Second), NotAfter: time.Now().AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	ider, err := x509.CreateCertificate(rand.Reader, itmpl, ca, ikey.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ikd, _ := x509.MarshalECPrivateKey(ikey)
	writeFile(t, filepath.Join(dir, "intermediate.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ider}))
	writeFile(t, filepath.Join(dir, "intermediate.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ikd}))
}

// TestNotASigner: a company intermediate is refused with every reason
// and the way out.
func TestNotASigner(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, dir, "blank-608a.json")
	companyCA(t, dir)
	r := nk(t, dir, "", "--sim", "blank-608a.json", "provision", "--signer-cert", "intermediate.pem", "--signer-key", "intermediate.key", "--dry-run")
	checkError(t, r, 1, "intermediate.pem: cannot be a NervesKey signer")
	for _, want := range []string{`subject is "CN=Acme Devices", not CN=Signer`, `issued by "CN=Acme Root CA,O=Acme"`, "issuer = subject",
		"minutes or seconds", "not 1 to 31 whole years", "key usage", "extended key usage", "authority key identifier",
		"signer create", "signer cross-cert"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error does not say %q:\n%s", want, r.stderr)
		}
	}
}

func TestSignerCreateKey(t *testing.T) {
	testutil.NeedTool(t, "openssl")
	dir := t.TempDir()
	openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "k.pem")
	writeFile(t, filepath.Join(dir, "pass"), []byte("pw 1\n"))
	openssl(t, dir, "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "k.pem", "-passout", "file:pass", "-out", "k.enc.pem")
	ok(t, dir, "", "signer", "create", "s1", "--key", "k.pem", "--years-valid", "5")
	ok(t, dir, "", "signer", "create", "s2", "--key", "k.enc.pem", "--passphrase-file", "pass", "--years", "3")
	for _, tt := range []struct {
		name  string
		years int
	}{{"s1", 5}, {"s2", 3}} {
		if _, err := os.Stat(filepath.Join(dir, tt.name+".key")); err == nil {
			t.Errorf("%s.key written for an existing key", tt.name)
		}
		c := parsePEMCert(t, string(readFile(t, filepath.Join(dir, tt.name+".cert"))))
		if c.NotAfter.Year()-c.NotBefore.Year() != tt.years {
			t.Errorf("%s: %v to %v, want %d years", tt.name, c.NotBefore, c.NotAfter, tt.years)
		}
		openssl(t, dir, "verify", "-CAfile", tt.name+".cert", tt.name+".cert")
		// The certificate is for k.pem's key.
		pub := openssl(t, dir, "x509", "-in", tt.name+".cert", "-noout", "-pubkey")
		if want := openssl(t, dir, "ec", "-in", "k.pem", "-pubout"); pub != want && !strings.Contains(want, strings.TrimSpace(pub)) {
			t.Errorf("%s certifies another key:\n%s\n%s", tt.name, pub, want)
		}
	}
	// The encrypted key signs devices too (device create), passphrase from the environment.
	cmd := exec.Command(binary, "device", "create", "d", "--signer-cert", "s2.cert", "--signer-key", "k.enc.pem")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NERVESKEY_KEY_PASSPHRASE=pw 1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("device create with an encrypted key: %v\n%s", err, out)
	}
	openssl(t, dir, "verify", "-CAfile", "s2.cert", "d.cert")

	before := snapshot(t, dir)
	checkError(t, nk(t, dir, "", "signer", "create", "s3", "--key", "k.enc.pem", "--passphrase-file", "k.pem"), 1, "wrong passphrase")
	checkError(t, nk(t, dir, "", "signer", "create", "s3", "--key", "k.enc.pem"), 1, "no passphrase")
	checkError(t, nk(t, dir, "", "signer", "create", "s3", "--years", "2", "--years-valid", "3"), 2, "disagree")
	checkError(t, nk(t, dir, "", "signer", "create", "s3", "--years-valid", "32"), 2, "1 to 31")
	checkError(t, nk(t, dir, "", "signer", "create", "s1", "--key", "k.pem"), 1, "already exists")
	companyCA(t, t.TempDir())
	openssl(t, dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "p384.pem")
	checkError(t, nk(t, dir, "", "signer", "create", "s3", "--key", "p384.pem"), 1, "key is ECDSA P-384, want ECDSA P-256")
	delete(before, "p384.pem")
	after := snapshot(t, dir)
	delete(after, "p384.pem")
	if len(after) != len(before) {
		t.Errorf("files before %d, after %d", len(before), len(after))
	}
}

func TestCrossCert(t *testing.T) {
	testutil.NeedTool(t, "openssl")
	dir := t.TempDir()
	companyCA(t, dir)
	ok(t, dir, "", "signer", "create", "signer", "--years-valid", "10")
	ok(t, dir, "", "sim", "new", "chip.json", "--revision", "608b")
	ok(t, dir, "", "--sim", "chip.json", "provision", "--signer-cert", "signer.cert", "--signer-key", "signer.key", "--yes")
	writeFile(t, filepath.Join(dir, "device.pem"), []byte(ok(t, dir, "", "--sim", "chip.json", "cert", "device").stdout))
	ok(t, dir, "", "signer", "cross-cert", "--signer-cert", "signer.cert", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--out", "cross.pem")
	if out := openssl(t, dir, "verify", "-CAfile", "ca.pem", "-untrusted", "cross.pem", "device.pem"); !strings.Contains(out, "device.pem: OK") {
		t.Errorf("openssl verify through the cross certificate: %s", out)
	}
	// A server given root and cross certificate in one CA file accepts
	// the chain a device sends (device and self-signed signer), as
	// docs/factory.md §3 says.
	writeFile(t, filepath.Join(dir, "bundle.pem"), append(readFile(t, filepath.Join(dir, "ca.pem")), readFile(t, filepath.Join(dir, "cross.pem"))...))
	if out := openssl(t, dir, "verify", "-CAfile", "bundle.pem", "-untrusted", "signer.cert", "device.pem"); !strings.Contains(out, "device.pem: OK") {
		t.Errorf("openssl verify with root and cross certificate as CAs: %s", out)
	}
	// A renewed signer certificate for the same key still verifies the
	// devices made under the old one (docs/factory.md §2).
	ok(t, dir, "", "signer", "create", "renewed", "--key", "signer.key", "--years-valid", "20")
	if out := openssl(t, dir, "verify", "-CAfile", "renewed.cert", "device.pem"); !strings.Contains(out, "device.pem: OK") {
		t.Errorf("openssl verify under the renewed signer: %s", out)
	}
	// Without it, the company root alone does not reach the device.
	cmd := exec.Command("openssl", "verify", "-CAfile", "ca.pem", "device.pem")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("verify without the cross certificate passed: %s", out)
	}
	// crypto/x509 agrees.
	roots := x509.NewCertPool()
	roots.AddCert(parsePEMCert(t, string(readFile(t, filepath.Join(dir, "ca.pem")))))
	inter := x509.NewCertPool()
	inter.AddCert(parsePEMCert(t, string(readFile(t, filepath.Join(dir, "cross.pem")))))
	dev := parsePEMCert(t, string(readFile(t, filepath.Join(dir, "device.pem"))))
	if _, err := dev.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("x509 verify through the cross certificate: %v", err)
	}
	checkError(t, nk(t, dir, "", "signer", "cross-cert", "--signer-cert", "signer.cert", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--out", "cross.pem"), 1, "already exists")
	checkError(t, nk(t, dir, "", "signer", "cross-cert", "--signer-cert", "signer.cert", "--ca-cert", "ca.pem", "--ca-key", "signer.key", "--out", "x.pem"), 1, "")
}

func TestVerificationCert(t *testing.T) {
	testutil.NeedTool(t, "openssl")
	dir := t.TempDir()
	ok(t, dir, "", "signer", "create", "signer")
	const code = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	r := ok(t, dir, "", "signer", "verification-cert", "--signer-cert", "signer.cert", "--signer-key", "signer.key", "--code", code)
	writeFile(t, filepath.Join(dir, "v.pem"), []byte(r.stdout))
	if out := openssl(t, dir, "verify", "-CAfile", "signer.cert", "v.pem"); !strings.Contains(out, "v.pem: OK") {
		t.Errorf("openssl verify: %s", out)
	}
	if out := openssl(t, dir, "x509", "-in", "v.pem", "-noout", "-subject", "-nameopt", "RFC2253"); strings.TrimSpace(out) != "subject=CN="+code {
		t.Errorf("subject: %q", out)
	}
	for _, e := range []string{"signer.key", "signer.cert"} {
		if _, err := os.Stat(filepath.Join(dir, e)); err != nil {
			t.Error(err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("files: %v (a key for the verification certificate must not be written)", entries)
	}
	checkError(t, nk(t, dir, "", "signer", "verification-cert", "--signer-cert", "signer.cert", "--signer-key", "signer.key"), 2, "--code")
}

// TestManifestResumed: a run that finishes an interrupted chip records
// status "resumed".
func TestManifestResumed(t *testing.T) {
	testutil.NeedTool(t, "openssl")
	dir := t.TempDir()
	certFile, keyFile := interruptedChip(t, dir, nerveskeytest.ATECC608B)
	ok(t, dir, "", "--sim", "chip.json", "provision", "--signer-cert", certFile, "--signer-key", keyFile,
		"--sn", "NK-RESUME", "--board", "b", "--yes", "--manifest", "m.jsonl")
	recs := readManifest(t, filepath.Join(dir, "m.jsonl"))
	if len(recs) != 1 || recs[0].Status != "resumed" || recs[0].ManufacturerSN != "NK-RESUME" {
		t.Fatalf("manifest after a resumed run: %+v", recs)
	}
	checkRecord(t, dir, "chip.json", recs[0], certFile)
}
