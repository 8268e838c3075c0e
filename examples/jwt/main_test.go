package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "verified with ES256: aud=[my-project], valid for 20m0s") {
		t.Fatalf("output:\n%s", out.String())
	}
	// The first line is the token itself: a JWS with an ES256 header.
	tok, _, err := jwt.NewParser().ParseUnverified(lines[0], jwt.MapClaims{})
	if err != nil || tok.Method.Alg() != "ES256" {
		t.Fatalf("token %q: %v", lines[0], err)
	}
}
