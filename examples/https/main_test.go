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
	// The server saw the chip's certificate, verified under the signer.
	if !regexp.MustCompile(`^HTTP/2.0 TLS 1.3\nhello, device [A-Z2-7]{15}\n$`).Match(out.Bytes()) {
		t.Fatalf("output:\n%s", out.String())
	}
}
