package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuiltWithoutPKCS11 builds the command with CGO_ENABLED=0, as the
// device-side cross builds are made, and checks that a pkcs11: key gets
// one clear error line saying why, while file keys still work.
func TestBuiltWithoutPKCS11(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds the command again (-short)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "nerveskey-nocgo")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	run := func(args ...string) result {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		var r result
		var so, se strings.Builder
		cmd.Stdout, cmd.Stderr = &so, &se
		err := cmd.Run()
		r.stdout, r.stderr = so.String(), se.String()
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		}
		return r
	}
	r := run("signer", "create", "s", "--key", "pkcs11:token=factory;object=signer?module-path=/usr/lib/softhsm/libsofthsm2.so")
	checkError(t, r, 1, "built without PKCS#11 support")
	if r := run("signer", "create", "s"); r.code != 0 {
		t.Fatalf("signer create with a file key: %s", r.stderr)
	}
}
