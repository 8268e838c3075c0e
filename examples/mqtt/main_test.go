package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"testing"
)

func TestRun(t *testing.T) {
	if _, err := exec.LookPath("mosquitto"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mosquitto not installed, but CI is set: .ci/run installs it")
		}
		t.Skip("skipping: mosquitto not installed; .ci/run installs it")
	}
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^published "hello from ([A-Z2-7]{15})" to nerveskey/hello as ([A-Z2-7]{15})\nreceived "hello from ([A-Z2-7]{15})" on nerveskey/hello\n$`)
	m := want.FindStringSubmatch(out.String())
	if m == nil || m[1] != m[2] || m[1] != m[3] {
		t.Fatalf("output:\n%s", out.String())
	}
}
