package nerveskeytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
)

// cfgSecureBoot is the 608 SecureBootConfig word (config bytes 70–71):
// bits 1..0 SecureBootMode (1 full, 2 signature stored, 3 digest stored),
// bits 11..8 the slot of the stored signature or digest, bits 15..12 the
// slot of the public key (DS608-TFLX §2.2.9; cryptoauthlib
// SECUREBOOTCONFIG_*).
const cfgSecureBoot = 70

// SecureBoot modes (Param1 bits 2..0) and flags.
const (
	sbootFull      = 0x05 // verify the digest's signature
	sbootFullStore = 0x06 // check against what is stored
	sbootFullCopy  = 0x07 // verify, then store
	sbootEncMAC    = 0x80 // digest encrypted under IO key and TempKey, MAC answered
)

// cmdSecureBoot is the 608 SecureBoot command: Full verifies the ECDSA
// signature (data bytes 32–95) of the digest (bytes 0–31) with the public
// key slot, FullCopy does so and then stores the digest (or the signature,
// by SecureBootMode) in the SigDig slot, FullStore checks the digest alone
// against that slot. With mode bit 7 the digest arrives XORed with
// SHA-256(IO key ‖ TempKey), and success answers the MAC SHA-256(that
// hash ‖ digest ‖ signature, unless a stored digest was compared ‖ 80 ‖
// mode ‖ Param2 LE), which cryptoauthlib's atcah_secureboot_mac documents.
// A signature or digest that does not match answers 0x01. The prohibit
// flag (bit 6) and the persistent-latch and random-nonce options of
// SecureBootConfig are not modeled.
func (c *Chip) cmdSecureBoot(cmd command) []byte {
	mode := cmd.p1
	m := mode & 0x07
	if mode&^0x87 != 0 || m < sbootFull || cmd.p2 != 0 {
		return status(statusParse)
	}
	sbc := binary.LittleEndian.Uint16(c.config[cfgSecureBoot:])
	sbMode := sbc & 0x3
	storedDigest := m == sbootFullStore && sbMode == 3
	want := 96
	if m == sbootFullStore {
		want = 32
	}
	if len(cmd.data) != want {
		return status(statusParse)
	}
	if !c.dataLocked() || sbMode == 0 || m == sbootFullStore && sbMode == 1 {
		return status(statusExecution)
	}
	digest := append([]byte{}, cmd.data[:32]...)
	var hashed []byte
	if mode&sbootEncMAC != 0 {
		k, ok := c.ioProtectionKey()
		tk := c.vol.tk
		c.useTempKey()
		if !ok || !tk.valid {
			return status(statusExecution)
		}
		h := sha256.Sum256(append(append([]byte{}, k...), tk.data[:32]...))
		hashed = h[:]
		digest = xor32(digest, hashed)
	}
	sigDig := int(sbc>>8) & 0xF
	store := c.slots[sigDig]
	if len(store) < 64 || kcPrivate(c.keyConfig(sigDig)) {
		return status(statusExecution) // a 36-byte or private key slot cannot hold a digest or signature
	}
	var sig []byte
	switch {
	case storedDigest:
		if !bytes.Equal(digest, store[:32]) {
			return status(statusMiscomp)
		}
	default:
		sig = cmd.data[32:]
		if m == sbootFullStore {
			sig = store[:64]
		}
		pub, ok := c.storedPublicKey(int(sbc >> 12))
		if !ok {
			return status(statusExecution)
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:64])
		if !ecdsa.Verify(pub, digest, r, s) {
			return status(statusMiscomp)
		}
	}
	if m == sbootFullCopy {
		if sbMode == 3 {
			copy(store, digest)
		} else {
			copy(store, sig)
		}
	}
	if hashed == nil {
		return status(statusOK)
	}
	h := sha256.New()
	h.Write(hashed)
	h.Write(digest)
	h.Write(sig)
	h.Write([]byte{opSecureBoot, mode, byte(cmd.p2), byte(cmd.p2 >> 8)})
	return h.Sum(nil)
}

func xor32(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}
