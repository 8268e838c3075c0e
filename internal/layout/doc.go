// Package layout is the one home of the NervesKey facts: what a chip is
// from its configuration zone ([Detect]), and how a NervesKey lays out its
// memory. Each fact is decided once, in one file, and both reading a chip
// and provisioning one ask it:
//
//   - layout.go: detection of blank, NervesKey (regular or volatile key),
//     Trust&Go and foreign chips;
//   - config.go: the NervesKey configuration image provisioning writes
//     ([NervesKeyConfig]) and its comparison with a chip ([ConfigDiff]);
//   - slots.go: the slot map (key, activation and encryption slots, the
//     certificate pairs, the Trust&Go MAC) and the slots locked last;
//   - otp.go: the OTP zone layout ([OTP], [ParseOTP], [NewOTP]) and its
//     user data ([OTP.SetUserData]);
//   - serial.go: the manufacturer serial number and board name rules, the
//     defaults, and the one all-zero test;
//   - settings.go: the settings area ([SettingsChunks]);
//   - rebuild.go: the one certificate rebuild from slot bytes
//     ([RebuildSigner], [RebuildDevice]).
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
