// Package layout says what a chip is from its configuration zone: blank,
// a NervesKey (regular or volatile key), a Microchip Trust&Go part, or
// configured by someone else. It is the one place that decision is made;
// the nerveskey package's Info, Key and the CLI all ask [Detect].
//
// # Sources
//
// The NervesKey slot configuration is nerves_key's (docs/nerves_key.md
// §3.4: slot 0 SlotConfig 87 20; the volatile-key 608 variant adds
// KeyConfig 33 10). The Trust&Go fingerprint is Microchip's TLS
// configuration of slots 0 and 1 (SlotConfig 85 00 and 82 00, KeyConfig
// 53 00 each) at Trust&Go's I2C address 0x35 (config byte 16 = 0x6A,
// DS608-TNG Table 2-3).
package layout
