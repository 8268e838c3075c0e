package nerveskeytest

import (
	"crypto/aes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// KDF mode fields (DS608-TFLX §5.4.3; cryptoauthlib KDF_MODE_*).
const (
	kdfAlgPRF  = 0x00
	kdfAlgAES  = 0x20
	kdfAlgHKDF = 0x40

	kdfTargetTempKey   = 0x00
	kdfTargetTempKeyUp = 0x04
	kdfTargetSlot      = 0x08
	kdfTargetAltKey    = 0x0C
	kdfTargetOutput    = 0x10
	kdfTargetOutputEnc = 0x14
)

// cmdKDF is the 608 KDF command. Data is 4 bytes of details (LE) and the
// message, whose length is the details' top byte (16 bytes for AES). The
// source key is TempKey (mode bits 1..0 = 0), its upper 32 bytes (1), the
// slot in Param2's low byte (2) or the alternate key buffer (3).
//   - PRF is the TLS 1.2 PRF P_SHA256(key, message) with a 16–64-byte key
//     (details bits 1..0) and 32 or 64 bytes out (details bit 8), as
//     cryptoauthlib's kdf_prf_output vector shows.
//   - AES encrypts the 16-byte message with the 16-byte key block the
//     details bits 1..0 pick; the answer is that and 16 zero bytes, as
//     its kdf_aes_output vector shows.
//   - HKDF is one HMAC-SHA256 of the message (from the input, details
//     bits 1..0 = 2 or 3) with the source key (32 zero bytes with details
//     bit 2): the extract step, or one expand step with a suitable
//     message. No public vector pins this; it is unconfirmed.
//
// The result goes to TempKey, its upper half, the slot in Param2's high
// byte, the alternate key buffer, the output, or the output encrypted
// under the IO protection key. KDF never clears TempKey. Slot permission
// rules for KDF sources and targets beyond the private-key and lock
// checks are not modeled.
func (c *Chip) cmdKDF(cmd command) []byte {
	mode := cmd.p1
	alg, target := mode&0x60, mode&0x1C
	if mode&0x80 != 0 || alg == 0x60 || target > kdfTargetOutputEnc || len(cmd.data) < 4 {
		return status(statusParse)
	}
	details := binary.LittleEndian.Uint32(cmd.data)
	msg := cmd.data[4:]
	switch {
	case alg == kdfAlgAES && len(msg) != 16:
		return status(statusParse)
	case alg != kdfAlgAES && len(msg) != int(details>>24):
		return status(statusParse)
	case alg == kdfAlgPRF && details&0x600 != 0:
		return status(statusParse) // AEAD processing: not modeled
	case alg == kdfAlgHKDF && details&0x3 < 2:
		return status(statusParse) // message from a slot or TempKey: not modeled
	}
	var src []byte
	switch mode & 0x03 {
	case 0, 1:
		if !c.vol.tk.valid {
			return status(statusExecution)
		}
		src = c.vol.tk.data[:]
		if mode&0x03 == 1 {
			src = src[32:]
		}
	case 2:
		slot := int(cmd.p2 & 0xFF)
		if slot > 15 || kcPrivate(c.keyConfig(slot)) || !c.authorized(slot) {
			return status(statusExecution)
		}
		src = c.slots[slot][:min(64, slotSize(slot))]
	case 3:
		if !c.vol.altKeyValid {
			return status(statusExecution)
		}
		src = c.vol.altKey[:]
	}
	var out []byte
	switch alg {
	case kdfAlgPRF:
		n := 16 * (1 + int(details&0x3))
		if n > len(src) {
			return status(statusExecution)
		}
		size := 32
		if details&0x100 != 0 {
			size = 64
		}
		out = prfSHA256(src[:n], msg, size)
	case kdfAlgAES:
		i := int(details & 0x3)
		if c.config[13]&1 == 0 || 16*i+16 > len(src) {
			return status(statusExecution)
		}
		b, err := aes.NewCipher(src[16*i : 16*i+16])
		if err != nil {
			return status(statusExecution)
		}
		out = make([]byte, 32)
		b.Encrypt(out, msg)
	case kdfAlgHKDF:
		key := src[:min(32, len(src))]
		if details&0x4 != 0 {
			key = make([]byte, 32)
		}
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		out = m.Sum(nil)
	}
	switch target {
	case kdfTargetTempKey:
		c.loadTempKey(out, true)
	case kdfTargetTempKeyUp:
		if !c.vol.tk.valid {
			return status(statusExecution)
		}
		copy(c.vol.tk.data[32:], out[:32])
	case kdfTargetSlot:
		slot := int(cmd.p2 >> 8)
		if slot > 15 || kcPrivate(c.keyConfig(slot)) || c.slotLocked(slot) || len(out) > slotSize(slot) {
			return status(statusExecution)
		}
		copy(c.slots[slot], out)
	case kdfTargetAltKey:
		copy(c.vol.altKey[:], out[:32])
		c.vol.altKeyValid = true
	case kdfTargetOutput:
		return out
	case kdfTargetOutputEnc:
		k, ok := c.ioProtectionKey()
		if !ok {
			return status(statusExecution)
		}
		return c.ioEncryptBlocks(k, out)
	}
	return status(statusOK)
}

// prfSHA256 is the TLS 1.2 PRF P_SHA256(secret, seed) (RFC 5246 §5),
// n bytes long.
func prfSHA256(secret, seed []byte, n int) []byte {
	var out []byte
	a := seed
	for len(out) < n {
		m := hmac.New(sha256.New, secret)
		m.Write(a)
		a = m.Sum(nil)
		m.Reset()
		m.Write(a)
		m.Write(seed)
		out = m.Sum(out)
	}
	return out[:n]
}
