package main

import (
	"os"

	"golang.org/x/term"
)

// isTerminal reports whether f is an *os.File open on a terminal, on any
// system golang.org/x/term supports.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}
