package nerveskeytest

import (
	"bytes"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

func TestAES608(t *testing.T) {
	_, h := configLockedChip(t, ATECC608A, nil, func(cfg []byte) {
		binary.LittleEndian.PutUint16(cfg[cfgSlotConfig+2*5:], 0x0000)
		binary.LittleEndian.PutUint16(cfg[cfgKeyConfig+2*5:], 0x0018) // KeyType 6: AES
	})
	// FIPS-197 Appendix C.1: key 00..0f, plaintext 00 11 .. ff.
	key := mustHex("000102030405060708090a0b0c0d0e0f")
	pt := mustHex("00112233445566778899aabbccddeeff")
	ct := mustHex("69c4e0d86a7b0430d8cdb78070b4c55a")
	h.ok(1, opWrite, 0x82, 5<<3, append(bytes.Repeat([]byte{0xEE}, 16), key...))
	h.ok(1, opLock, 0x81, 0, nil)
	if got := h.ok(16, opAES, 0x40, 5, pt); !bytes.Equal(got, ct) { // second key of the slot
		t.Fatalf("AES encrypt = %x", got)
	}
	if got := h.ok(16, opAES, 0x41, 5, ct); !bytes.Equal(got, pt) {
		t.Fatalf("AES decrypt = %x", got)
	}
	h.wantStatus(statusExecution, opAES, 0x00, 4, pt) // not an AES key slot
	// The GCM field multiply: GCM specification test case 2, X1 = C·H.
	hk := mustHex("66e94bd4ef8a2c3b884cfa59ca342b2e")
	c1 := mustHex("0388dace60b6a392f328c2b971b2fe78")
	if got := h.ok(16, opAES, 0x03, 0, append(hk, c1...)); !bytes.Equal(got, mustHex("5e2ec746917062882c85b0685353deb7")) {
		t.Fatalf("GFM = %x", got)
	}
	// A key in TempKey, which AES does not consume.
	h.ok(1, opNonce, 0x03, 0, append(key, make([]byte, 16)...))
	h.ok(16, opAES, 0x00, 0xFFFF, pt)
	if got := h.ok(16, opAES, 0x00, 0xFFFF, pt); !bytes.Equal(got, ct) {
		t.Fatalf("AES with the TempKey key = %x", got)
	}
}

func TestECDHTempKeyAndIOProtection608(t *testing.T) {
	ioKey := bytes.Repeat([]byte{0x42}, 32)
	_, h := configLockedChip(t, ATECC608A, nil, func(cfg []byte) {
		binary.LittleEndian.PutUint16(cfg[cfgSlotConfig+2*6:], 0x0F8F)
		binary.LittleEndian.PutUint16(cfg[cfgKeyConfig+2*6:], 0x001C)
		binary.LittleEndian.PutUint16(cfg[cfgSlotConfig+2*2:], 0x2087) // ReadKey 7: sign, ECDH
		binary.LittleEndian.PutUint16(cfg[cfgKeyConfig+2*2:], 0x0033)
		binary.LittleEndian.PutUint16(cfg[cfgChipOptions:], 0x6002) // IO protection key: slot 6
	})
	h.ok(1, opWrite, 0x82, 6<<3, ioKey)
	bob := h.ok(64, opGenKey, 0x04, 2, nil)
	h.ok(1, opLock, 0x81, 0, nil)
	// GenKey with KeyID 0xFFFF leaves a private key in TempKey; ECDH
	// mode 0x0D uses it and answers the secret in clear.
	alice := h.ok(64, opGenKey, 0x04, 0xFFFF, nil)
	pms := h.ok(32, opECDH, 0x0D, 0, bob)
	h.wantStatus(statusExecution, opECDH, 0x0D, 0, bob) // TempKey was used up
	// Slot 2 with Alice's public key, output encrypted under the IO key:
	// secret XOR SHA-256(IO key ‖ nonce[0:16]), then the nonce.
	out := h.ok(64, opECDH, 0x0E, 2, alice)
	pad := sha256.Sum256(append(append([]byte{}, ioKey...), out[32:48]...))
	if got := xor(out[:32], pad[:]); !bytes.Equal(got, pms) {
		t.Fatalf("decrypted secret %x, Alice's %x", got, pms)
	}
	if _, err := ecdh.P256().NewPublicKey(append([]byte{4}, alice...)); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyMACOutput608(t *testing.T) {
	ioKey := bytes.Repeat([]byte{0x42}, 32)
	leaf := fixedKey(t, 0x33)
	_, h := configLockedChip(t, ATECC608A, nil, func(cfg []byte) {
		binary.LittleEndian.PutUint16(cfg[cfgSlotConfig+2*6:], 0x0F8F)
		binary.LittleEndian.PutUint16(cfg[cfgKeyConfig+2*6:], 0x001C)
		binary.LittleEndian.PutUint16(cfg[cfgSlotConfig+2*11:], 0x0000)
		binary.LittleEndian.PutUint16(cfg[cfgKeyConfig+2*11:], 0x0010)
		binary.LittleEndian.PutUint16(cfg[cfgChipOptions:], 0x6002)
	})
	h.ok(1, opWrite, 0x82, 6<<3, ioKey)
	pub := storedPub(leaf)
	for blk := range 3 {
		h.ok(1, opWrite, 0x82, uint16(11<<3|blk<<8), pub[32*blk:32*blk+32])
	}
	h.ok(1, opLock, 0x81, 0, nil)
	digest := sha256.Sum256([]byte("verify mac"))
	sysNonce := bytes.Repeat([]byte{0x99}, 32)
	rs := signRS(t, leaf, digest[:])
	// Message and system nonce in the 64-byte digest buffer (Nonce 0x63);
	// stored Verify with MAC output (0xA0).
	h.ok(1, opNonce, 0x63, 0, append(append([]byte{}, digest[:]...), sysNonce...))
	got := h.ok(32, opVerify, 0xA0, 11, rs)
	want := sum(ioKey, digest[:], sysNonce, rs, []byte{opVerify, 0xA0, 11, 0})
	if !bytes.Equal(got, want) {
		t.Fatalf("Verify MAC = %x, want %x", got, want)
	}
}

func TestGenDigZones608(t *testing.T) {
	c, h := configLockedChip(t, ATECC608A, nil, nil)
	sn := c.serial()
	seed := bytes.Repeat([]byte{0x10}, 32)
	other := bytes.Repeat([]byte{0x20}, 32)
	for _, tt := range []struct {
		name       string
		zone       byte
		p2         uint16
		data       []byte
		first, mid []byte
		last       []byte
		params     []byte
	}{
		{"config block 1", genDigConfig, 1, nil, c.config[32:64], make([]byte, 25), seed, []byte{opGenDig, 0, 1, 0}},
		{"counter 1", genDigCounter, 1, nil, make([]byte, 32), append([]byte{0, 0, 0, 0, 0}, make([]byte, 20)...), seed, []byte{opGenDig, 4, 1, 0}},
		{"key config 3", genDigKeyConfig, 3, nil, make([]byte, 32),
			append([]byte{0, byte(c.slotConfig(3)), byte(c.slotConfig(3) >> 8), byte(c.keyConfig(3)), byte(c.keyConfig(3) >> 8), 1}, make([]byte, 19)...),
			seed, []byte{opGenDig, 5, 3, 0}},
		{"shared nonce first", genDigSharedNonce, 0, other, other, make([]byte, 25), seed, []byte{opGenDig, 3, 0, 0}},
		{"shared nonce last", genDigSharedNonce, 0x8000, other, seed, make([]byte, 25), other, []byte{opGenDig, 3, 0, 0}},
	} {
		h.ok(1, opNonce, 0x03, 0, seed)
		h.ok(1, opGenDig, tt.zone, tt.p2, tt.data)
		want := sum(tt.first, tt.params, []byte{sn[8], sn[0], sn[1]}, tt.mid, tt.last)
		// Nonce 0x8000 hashes TempKey into a value both sides can compute.
		got := h.ok(32, opNonce, 0x00, 0x8000, make([]byte, 20))
		if w := sum(want, make([]byte, 20), []byte{opNonce, 0, 0}); !bytes.Equal(got, w) {
			t.Errorf("%s: TempKey after GenDig differs", tt.name)
		}
	}
}
