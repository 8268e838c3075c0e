package main

import (
	"encoding/hex"
	"fmt"
)

// parseUserData parses provision's --user-data: at most 32 bytes of hex,
// zero-padded to the 32 bytes of the OTP user field.
func parseUserData(s string) ([32]byte, error) {
	var u [32]byte
	if s == "" {
		return u, nil
	}
	b, err := parseHex(s, 0)
	if err != nil {
		return u, err
	}
	if len(b) > len(u) {
		return u, fmt.Errorf("%d bytes, max %d (%d hex digits)", len(b), len(u), 2*len(u))
	}
	copy(u[:], b)
	return u, nil
}

// userDataHex is OTP user data as info and the plan show it: hex, or ""
// when all zeros (none).
func userDataHex(u [32]byte) string {
	if u == ([32]byte{}) {
		return ""
	}
	return hex.EncodeToString(u[:])
}
