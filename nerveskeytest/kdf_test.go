package nerveskeytest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

func kdfData(details uint32, msg []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, details), msg...)
}

// TestKDF608 checks the KDF against cryptoauthlib's vectors: PRF (TLS 1.2
// P_SHA256) and AES with a 32-byte TempKey of 00..0f twice.
func TestKDF608(t *testing.T) {
	_, h := configLockedChip(t, ATECC608A, nil, func(cfg []byte) {
		binary.LittleEndian.PutUint16(cfg[cfgSlotConfig+2*6:], 0x0F8F)
		binary.LittleEndian.PutUint16(cfg[cfgKeyConfig+2*6:], 0x001C)
		binary.LittleEndian.PutUint16(cfg[cfgChipOptions:], 0x6002)
	})
	ioKey := bytes.Repeat([]byte{0x42}, 32)
	h.ok(1, opWrite, 0x82, 6<<3, ioKey)
	h.ok(1, opLock, 0x81, 0, nil)
	key := append(mustHex("000102030405060708090a0b0c0d0e0f"), mustHex("000102030405060708090a0b0c0d0e0f")...)
	msg := mustHex("000102030405060708090a0b0c0d0e0f")
	prf := mustHex("1ebcbe62005ab948fdffe1c402aaba354ec676050c9bc1aae1ff5b1509a4a04a" +
		"44254664c2a480f5b77ea2d1020c7ba4b3640c4ac793324c26d6fddfdb1f011a")
	h.ok(1, opNonce, 0x03, 0, key)
	// PRF, key 32 bytes, 64 bytes out, to the output.
	if got := h.ok(64, opKDF, 0x10, 0x1234, kdfData(1|0x100|16<<24, msg)); !bytes.Equal(got, prf) {
		t.Fatalf("KDF PRF = %x", got)
	}
	// The same, encrypted under the IO key: each 32-byte block XOR
	// SHA-256(IO key ‖ its half of the nonce).
	enc := h.ok(96, opKDF, 0x14, 0x1234, kdfData(1|0x100|16<<24, msg))
	for i := range 2 {
		pad := sha256.Sum256(append(append([]byte{}, ioKey...), enc[64+16*i:64+16*i+16]...))
		if got := xor(enc[32*i:32*i+32], pad[:]); !bytes.Equal(got, prf[32*i:32*i+32]) {
			t.Fatalf("encrypted KDF block %d = %x", i, got)
		}
	}
	// AES with TempKey's first 16 bytes: FIPS-197's key and plaintext.
	want := append(mustHex("0a940bb5416ef045f1c39458c653ea5a"), make([]byte, 16)...)
	if got := h.ok(32, opKDF, 0x30, 0x1234, kdfData(0, msg)); !bytes.Equal(got, want) {
		t.Fatalf("KDF AES = %x", got)
	}
	// HKDF into the alternate key buffer, then PRF from it: TempKey was
	// never cleared by KDF, and the alt key holds HMAC-SHA256(key, msg).
	h.ok(1, opKDF, 0x4C, 0, kdfData(2|16<<24, msg))
	hk := prfSHA256(hmacSHA256(key, msg), msg, 32)
	if got := h.ok(32, opKDF, 0x13, 0, kdfData(1|16<<24, msg)); !bytes.Equal(got, hk) {
		t.Fatalf("KDF PRF from the HKDF result = %x, want %x", got, hk)
	}
	h.wantStatus(statusParse, opKDF, 0x10, 0, kdfData(1|17<<24, msg)) // length mismatch
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// TestSecureBoot608: Full verifies, FullCopy stores the digest (digest
// stored mode), FullStore compares with it; the encrypted form answers the
// MAC the host computes.
func TestSecureBoot608(t *testing.T) {
	signer := fixedKey(t, 0x44)
	ioKey := bytes.Repeat([]byte{0x42}, 32)
	_, h := configLockedChip(t, ATECC608A, nil, func(cfg []byte) {
		binary.LittleEndian.PutUint16(cfg[cfgSlotConfig+2*6:], 0x0F8F)
		binary.LittleEndian.PutUint16(cfg[cfgKeyConfig+2*6:], 0x001C)
		binary.LittleEndian.PutUint16(cfg[cfgSlotConfig+2*11:], 0x0000)
		binary.LittleEndian.PutUint16(cfg[cfgKeyConfig+2*11:], 0x0010)
		binary.LittleEndian.PutUint16(cfg[cfgChipOptions:], 0x6002)
		binary.LittleEndian.PutUint16(cfg[cfgSecureBoot:], 0xBC03) // digest stored in 12, key in 11
	})
	h.ok(1, opWrite, 0x82, 6<<3, ioKey)
	pub := storedPub(signer)
	for blk := range 3 {
		h.ok(1, opWrite, 0x82, uint16(11<<3|blk<<8), pub[32*blk:32*blk+32])
	}
	h.ok(1, opLock, 0x81, 0, nil)
	digest := sha256.Sum256([]byte("firmware"))
	sig := signRS(t, signer, digest[:])
	data := append(append([]byte{}, digest[:]...), sig...)
	h.wantStatus(statusMiscomp, opSecureBoot, sbootFullStore, 0, digest[:]) // nothing stored yet
	h.ok(1, opSecureBoot, sbootFull, 0, data)
	h.ok(1, opSecureBoot, sbootFullCopy, 0, data)
	h.ok(1, opSecureBoot, sbootFullStore, 0, digest[:])
	bad := append([]byte{}, data...)
	bad[40] ^= 1
	h.wantStatus(statusMiscomp, opSecureBoot, sbootFull, 0, bad)

	// Encrypted digest, MAC answered.
	tk := bytes.Repeat([]byte{0x5A}, 32)
	h.ok(1, opNonce, 0x03, 0, tk)
	hashed := sum(ioKey, tk)
	got := h.ok(32, opSecureBoot, sbootFull|sbootEncMAC, 0, append(xor(digest[:], hashed), sig...))
	if want := sum(hashed, digest[:], sig, []byte{opSecureBoot, sbootFull | sbootEncMAC, 0, 0}); !bytes.Equal(got, want) {
		t.Fatalf("SecureBoot MAC = %x, want %x", got, want)
	}
}
