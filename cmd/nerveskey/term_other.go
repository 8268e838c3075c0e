//go:build !linux

package main

import "os"

// isTerminal reports whether f is an *os.File open on a character device,
// the nearest portable test for a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	fi, err := file.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
