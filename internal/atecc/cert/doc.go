// Package cert implements the Atmel/Microchip compressed certificate format
// (72 bytes) and the X.509 templates that nerves_key and atecc508a rebuild
// certificates from: NervesKey device and signer, Trust&Go device and
// signer (docs/nerves_key.md §7).
//
// The read path parses a slot with [ParseCompressed] and rebuilds the DER
// certificate with [NervesKeyDevice], [NervesKeySigner], [TrustAndGoDevice]
// or [TrustAndGoSigner]. The write path makes certificates with
// [NewSigner], [NewDevice] and [NewDebugDevice], loads signers with
// [ParseSignerPEM], checks them with [CheckSigner], and compresses with
// [Compress]; [Compare] explains why a certificate would not survive
// compression. The package does no I/O and holds no state; everything in
// it is safe for concurrent use.
//
// # Departures from upstream
//
// Rebuilt certificates carry a minimal DER signature. nerves_key keeps
// each 32-byte R and S whole, so when one is below 2^247 (about 1
// certificate in 256) its rebuild is non-minimal DER: it differs from the
// certificate that was signed and crypto/x509 and OpenSSL reject its
// signature. The rebuild here always equals the certificate as originally
// signed and verifies. [ElixirDER] re-encodes a certificate the upstream
// way, only for matching bytes recorded from an Elixir device, and
// [Compressed.ElixirQuirk] says when the two differ.
//
// [NewSigner] and [NewDevice] re-sign until R and S are both at least
// 2^247, so chips provisioned with this package also read back correctly
// with nerves_key. On February 29 they issue as of February 28 when the
// expiry year is not a leap year (nerves_key would sign an impossible
// February 29 notAfter that crypto/x509 cannot parse). Dates are always
// formatted from integers, never through time.Time, so the rebuild of a
// certificate upstream did sign with such a date is still byte-exact.
//
// # Year 2032
//
// The format holds issue years 2000 to 2031. [NewSigner] and [NewDevice]
// refuse later years with a [*DateError] instead of making certificates
// that would not rebuild.
package cert
