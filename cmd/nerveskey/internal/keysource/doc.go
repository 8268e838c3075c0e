// Package keysource opens the private key a nerveskey command signs with,
// given as one string on the command line: a PEM file (SEC1 "EC PRIVATE
// KEY", PKCS#8 "PRIVATE KEY", or PBES2-encrypted "ENCRYPTED PRIVATE KEY")
// or an RFC 7512 PKCS#11 URI naming a key pair in an HSM, a smart card or
// a cloud KMS that ships a PKCS#11 module.
//
// Only the nerveskey command imports this package: PKCS#11 needs cgo, and
// the library packages that firmware imports stay cgo-free. A build with
// CGO_ENABLED=0 still parses PKCS#11 URIs but [Open] returns
// [ErrNoPKCS11] for them.
//
// # Secrets
//
// A PIN or passphrase on the command line is visible to other users of
// the machine (ps, /proc). The URI's pin-source=file:PATH, the
// NERVESKEY_PKCS11_PIN and NERVESKEY_KEY_PASSPHRASE environment variables,
// a passphrase file or a terminal prompt keep it out of argv.
package keysource
