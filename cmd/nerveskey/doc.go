// Command nerveskey provisions and inspects NervesKey secure elements
// (ATECC508A, ATECC608A, ATECC608B) on an I2C bus, or simulated chips stored
// in a file, byte-compatible with the Elixir nerves_key library.
//
// Install it from a clone of the repository with
//
//	go install ./cmd/nerveskey
//
// (go install github.com/nerveskey/nerveskey/cmd/nerveskey@latest works
// once the module is published with a release tag; nerveskey --version
// names the release and commit) and try it without hardware:
//
//	nerveskey sim new chip.json
//	nerveskey signer create signer
//	nerveskey --sim chip.json provision --signer-cert signer.cert --signer-key signer.key --yes
//	nerveskey --sim chip.json info --json
//	nerveskey --sim chip.json cert device | openssl verify -CAfile signer.cert
//	echo hello | nerveskey --sim chip.json sign
//
// # Commands
//
//	info            chip facts (--json: provisioned, mode, revision, serial, ...)
//	config          configuration zone decoded: layout, locks, slot by slot
//	cert            device or signer certificate, primary or --aux, PEM or --der
//	pubkey          device public key, PEM
//	sign            sign SHA-256 of stdin or --digest; DER (or --rs) in hex
//	verify          check the certificate chain, optionally up to --roots
//	selftest        factory QA: chain, public key, signature, settings
//	bench           signing latency percentiles and bus transactions (--sim-timing)
//	csr             certificate signing request for the chip's key (--foreign)
//	agent           SSH agent on a unix socket for ssh, git and ssh-keygen
//	provision       provision a blank chip (plan, confirmation, --dry-run, --json)
//	aux provision   write the auxiliary certificate pair
//	aux write       write an auxiliary certificate pair issued elsewhere
//	aux clear       erase the auxiliary certificate pair
//	settings get    settings as JSON (--typed keeps every Erlang type), or --raw hex
//	settings put    settings from a JSON file (plain or --typed), or --raw-hex
//	version         the version (also --version)
//	signer create   new signer certificate and key, or a certificate for a
//	                key in an HSM (--key pkcs11:...) (no chip)
//	signer cross-cert        company CA certificate for the signer's key
//	signer verification-cert AWS IoT CA registration certificate
//	device create   debug device certificate and key (no chip)
//	sim new         blank simulated chip image
//
// Signer and CA keys are PEM files (plain or encrypted PKCS#8) or RFC
// 7512 PKCS#11 URIs; provision --manifest records every chip. See
// docs/factory.md.
//
// Global flags --bus, --addr, --type, --sim and --activation-key may come
// before or after the command. "nerveskey COMMAND --help" documents each
// command, starting with examples.
//
// # Output and exit status
//
// Results go to stdout; diagnostics go to stderr as one line
// "nerveskey: error: ..." (and sometimes "nerveskey: hint: ..."). The exit
// status is 0 on success, 1 when the operation failed and 2 for a bad
// command line. Commands with --json print one JSON object; provision
// --json streams one object per line (see its help and the event type).
//
// # Simulated chips
//
// With --sim FILE the chip is the simulator of package nerveskeytest loaded
// from FILE (the "image" object of chips.json). A command that changes the
// chip writes FILE back atomically (temporary file, fsync, rename), and
// only if it succeeds: after any error FILE is byte-for-byte unchanged. A
// real chip keeps whatever a failed command wrote; provisioning is
// resumable for that reason. Concurrent commands on one FILE are not
// serialized: the last writer wins.
package main
