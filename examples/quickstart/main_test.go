package main

import (
	"bytes"
	"regexp"
	"testing"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`provision: .* done\n`,
		`ATECC608A serial [0-9a-f]{18}: regular, manufacturer SN QS-0001, board quickstart\n`,
		`device certificate: subject CN=QS-0001, issuer CN=Signer\n`,
		`-----BEGIN CERTIFICATE-----\n`,
		`signature verifies: true\n`,
		// The server verified the chip's certificate under the signer.
		`TLS 1.3, server says: hello, QS-0001\n`,
	} {
		if !regexp.MustCompile(want).Match(out.Bytes()) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
