// Package nerveskey makes a NervesKey (an ATECC508A/608A secure element) a
// crypto.Signer for Go.
package nerveskey
