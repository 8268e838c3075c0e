package nerveskeytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// The host side of each symmetric command below is computed here from the
// message layouts of DS508 §9 (the same as cryptoauthlib's host functions
// publish), so a simulator that hashes anything else fails.

func sum(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func xor(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}

// The key cryptoauthlib's tests write into slot 4, and the HMAC-SHA256 it
// expects of the chip over a 65-byte message (its sha_hmac test).
var (
	calSlot4Key = mustHex("3780e63d4968ade5d822c013fcc323845d1b569fe705b60006feec145a0db1e3")
	calHMACIn   = mustHex("6fb3ec66f9eb070a719bebbe708b93a65b201b78e2d26d8cccdf1c33f741904a" +
		"9ade640fce000c334d04bb30795683dca09dbf3e7e32aea103d760e857a6d6211c")
	calHMACOut = mustHex("297f22b8d251b063a7c08dcf4dba0d1fb35d32a3baab15aceaf4391c4adb3277")
)

// symmetricChip returns a data-locked chip with slot 4 holding
// calSlot4Key (secret), slot 9 encrypted read/write under key 4, slot 10 a
// DeriveKey target (create from key 4, MAC required), slot 2 a P-256 key
// PrivWrite may set under key 4 (ReadKey 7: internal and external Sign,
// ECDH), slot 13 a public key that must be validated by the key in slot 14,
// which holds the public key of parent.
func symmetricChip(t *testing.T, rev Revision, parent, leaf *ecdsa.PrivateKey) (*Chip, *host) {
	t.Helper()
	c, h := configLockedChip(t, rev, nil, func(cfg []byte) {
		set := func(slot int, sc, kc uint16) {
			binary.LittleEndian.PutUint16(cfg[cfgSlotConfig+2*slot:], sc)
			binary.LittleEndian.PutUint16(cfg[cfgKeyConfig+2*slot:], kc)
		}
		set(2, 0x4487, 0x0013)
		set(4, 0x0F8F, 0x001C)
		set(9, 0x44C4, 0x001C)
		set(10, 0xB48F, 0x001C)
		set(13, 0x000E, 0x0012)
		set(14, 0x0000, 0x0010)
	})
	writeSlot := func(slot int, b []byte) {
		for blk := 0; blk*32 < len(b); blk++ {
			h.ok(1, opWrite, 0x82, uint16(slot<<3|blk<<8), b[blk*32:blk*32+32])
		}
	}
	writeSlot(4, calSlot4Key)
	writeSlot(9, make([]byte, 32))
	writeSlot(13, storedPub(leaf))
	writeSlot(14, storedPub(parent))
	h.ok(1, opLock, 0x81, 0, nil)
	return c, h
}

// storedPub is a public key as a slot stores it: 4 pad bytes, X, 4 pad
// bytes, Y, in 96 bytes (3 blocks).
func storedPub(k *ecdsa.PrivateKey) []byte {
	b := make([]byte, 96)
	k.X.FillBytes(b[4:36])
	k.Y.FillBytes(b[40:72])
	return b
}

func fixedKey(t *testing.T, d byte) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{d}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// randomNonce runs Nonce mode 0 and returns the TempKey it leaves:
// SHA-256(RandOut ‖ NumIn ‖ 16 00 00).
func (h *host) randomNonce(numIn []byte) []byte {
	h.t.Helper()
	randOut := h.ok(32, opNonce, 0x00, 0, numIn)
	return sum(randOut, numIn, []byte{opNonce, 0, 0})
}

// genDigSlot runs GenDig over slot's key and returns the new TempKey.
func (h *host) genDigSlot(tk []byte, slot byte, key []byte) []byte {
	h.t.Helper()
	h.ok(1, opGenDig, genDigData, uint16(slot), nil)
	sn := h.c.serial()
	return sum(key, []byte{opGenDig, genDigData, slot, 0, sn[8], sn[0], sn[1]}, make([]byte, 25), tk)
}

func TestSymmetricCommands(t *testing.T) {
	for _, rev := range []Revision{ATECC508A, ATECC608A} {
		t.Run(rev.String(), func(t *testing.T) {
			parent, leaf := fixedKey(t, 0x11), fixedKey(t, 0x22)
			c, h := symmetricChip(t, rev, parent, leaf)
			sn := c.serial()
			challenge := bytes.Repeat([]byte{0x55}, 32)

			// MAC over slot 4 and a challenge, with and without SN.
			for _, mode := range []byte{0x00, 0x40} {
				snMid, snEnd := make([]byte, 4), make([]byte, 2)
				if mode&0x40 != 0 {
					snMid, snEnd = sn[4:8], sn[2:4]
				}
				want := sum(calSlot4Key, challenge, []byte{opMAC, mode, 4, 0}, make([]byte, 11),
					[]byte{sn[8]}, snMid, []byte{sn[0], sn[1]}, snEnd)
				if got := h.ok(32, opMAC, mode, 4, challenge); !bytes.Equal(got, want) {
					t.Fatalf("MAC mode %#02x = %x, want %x", mode, got, want)
				}
				// CheckMac accepts it, with OtherData standing in for the
				// opcode, mode, KeyID and the SN bytes MAC included.
				od := append(append(append([]byte{opMAC, mode, 4, 0}, 0, 0, 0), snMid...), snEnd...)
				h.ok(1, opCheckMac, 0x00, 4, append(append(append([]byte{}, challenge...), want...), od...))
				bad := append([]byte{}, want...)
				bad[0] ^= 1
				h.wantStatus(statusMiscomp, opCheckMac, 0x00, 4, append(append(append([]byte{}, challenge...), bad...), od...))
			}
			// MAC on the private key slot is refused.
			h.wantStatus(statusExecution, opMAC, 0x00, 2, challenge)

			// SHA HMAC with the key in slot 4: the vendor's vector.
			h.ok(1, opSHA, 0x04, 4, nil)
			h.ok(1, opSHA, 0x01, 64, calHMACIn[:64])
			end := byte(0xC2)
			if rev == ATECC508A {
				end = 0x05
			}
			if got := h.ok(32, opSHA, end, 1, calHMACIn[64:]); !bytes.Equal(got, calHMACOut) {
				t.Fatalf("SHA HMAC = %x, want %x", got, calHMACOut)
			}
			m := hmac.New(sha256.New, calSlot4Key)
			m.Write(calHMACIn)
			if !bytes.Equal(m.Sum(nil), calHMACOut) {
				t.Fatal("the vendor vector is not HMAC-SHA256")
			}

			// Encrypted Write of slot 9 under a TempKey from GenDig over
			// key 4, then an encrypted Read of it.
			plain := bytes.Repeat([]byte{0xA5}, 32)
			numIn := bytes.Repeat([]byte{7}, 20)
			tk := h.genDigSlot(h.randomNonce(numIn), 4, calSlot4Key)
			mac := sum(tk, []byte{opWrite, 0xC2, 9 << 3, 0, sn[8], sn[0], sn[1]}, make([]byte, 25), plain)
			h.ok(1, opWrite, 0xC2, 9<<3, append(xor(plain, tk), mac...))
			tk = h.genDigSlot(h.randomNonce(numIn), 4, calSlot4Key)
			if got := xor(h.ok(32, opRead, 0x82, 9<<3, nil), tk); !bytes.Equal(got, plain) {
				t.Fatalf("encrypted read of slot 9 = %x", got)
			}
			// A write MAC that does not match changes nothing.
			tk = h.genDigSlot(h.randomNonce(numIn), 4, calSlot4Key)
			h.wantStatus(statusExecution, opWrite, 0xC2, 9<<3, append(xor(make([]byte, 32), tk), mac...))

			h.rewake() // each step below loads TempKey anew
			// DeriveKey into slot 10 from key 4 with its MAC; CheckMac with
			// the derived key proves what slot 10 holds.
			nonce := bytes.Repeat([]byte{0x3C}, 32)
			h.ok(1, opNonce, 0x03, 0, nonce)
			params := []byte{opDeriveKey, 0x04, 10, 0, sn[8], sn[0], sn[1]}
			h.wantStatus(statusExecution, opDeriveKey, 0x04, 10, nil) // MAC required
			h.ok(1, opNonce, 0x03, 0, nonce)
			h.ok(1, opDeriveKey, 0x04, 10, sum(calSlot4Key, params))
			derived := sum(calSlot4Key, params, make([]byte, 25), nonce)
			od := []byte{opMAC, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
			resp := sum(derived, challenge, od[:4], make([]byte, 11), []byte{sn[8]}, make([]byte, 4), []byte{sn[0], sn[1]}, make([]byte, 2))
			h.ok(1, opCheckMac, 0x00, 10, append(append(append([]byte{}, challenge...), resp...), od...))

			h.rewake()
			// PrivWrite of a known private key into slot 2, encrypted
			// under key 4; the key then signs.
			tk = h.genDigSlot(h.randomNonce(numIn), 4, calSlot4Key)
			d, err := parent.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			value := append(make([]byte, 4), d...)
			pad := sha256.Sum256(tk)
			enc := append(xor(value[:32], tk), xor(value[32:], pad[:4])...)
			pwMAC := sum(tk, []byte{opPrivWrite, 0x40, 2, 0, sn[8], sn[0], sn[1]}, make([]byte, 21), value)
			h.ok(1, opPrivWrite, 0x40, 2, append(enc, pwMAC...))
			digest := sha256.Sum256([]byte("privwrite"))
			h.ok(1, opNonce, 0x03, 0, digest[:])
			verifyRS(t, &parent.PublicKey, digest[:], h.ok(64, opSign, 0x80, 2, nil))
			// Unencrypted PrivWrite after the data lock is refused.
			h.wantStatus(statusExecution, opPrivWrite, 0x00, 2, append(value, make([]byte, 32)...))

			h.rewake()
			// Slot 13 needs validation: stored Verify refuses it until an
			// internal Sign by slot 2 over its GenKey digest validates it.
			leafDigest := sha256.Sum256([]byte("leaf"))
			rs := signRS(t, leaf, leafDigest[:])
			h.ok(1, opNonce, 0x03, 0, leafDigest[:])
			h.wantStatus(statusExecution, opVerify, verifyStored, 13, rs)

			seed := bytes.Repeat([]byte{0x77}, 32)
			other := []byte{0x41, 0x00, 0x00}
			genKeyTK := func() []byte {
				h.ok(1, opNonce, 0x03, 0, seed)
				h.ok(1, opGenKey, 0x10, 13, other)
				return sum(seed, []byte{opGenKey}, other, []byte{sn[8], sn[0], sn[1]}, make([]byte, 25), storedPub(leaf)[4:36], storedPub(leaf)[40:72])
			}
			tk = genKeyTK()
			sig := h.ok(64, opSign, 0x00, 2, nil)
			msg := make([]byte, 55)
			copy(msg, tk)
			msg[32], msg[33], msg[34] = opSign, 0x00, 2
			binary.LittleEndian.PutUint16(msg[36:], 0x000E)
			binary.LittleEndian.PutUint16(msg[38:], 0x0012)
			msg[40] = 13 | 0x10 | 0x40 // KeyID, SourceFlag (Input), GenKeyData
			msg[43], msg[48], msg[49] = sn[8], sn[0], sn[1]
			msg[52] = 1 // slot 13 not locked
			md := sha256.Sum256(msg)
			verifyRS(t, &parent.PublicKey, md[:], sig)
			od19 := append(append(append([]byte{}, msg[33:43]...), msg[44:48]...), msg[50:55]...)
			genKeyTK()
			h.ok(1, opVerify, verifyValidate, 13, append(append([]byte{}, sig...), od19...))
			if got := h.ok(4, opRead, 0x02, 13<<3, nil)[0] >> 4; got != 0x5 {
				t.Fatalf("slot 13 validity nibble %#x after validate", got)
			}
			h.ok(1, opNonce, 0x03, 0, leafDigest[:])
			h.ok(1, opVerify, verifyStored, 13, rs)
			rs[40] ^= 1
			h.ok(1, opNonce, 0x03, 0, leafDigest[:])
			h.wantStatus(statusMiscomp, opVerify, verifyStored, 13, rs)
		})
	}
}

func signRS(t *testing.T, k *ecdsa.PrivateKey, digest []byte) []byte {
	t.Helper()
	r, s, err := ecdsa.Sign(rand.Reader, k, digest)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out
}
