package nerveskeytest

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
)

// p256N is the order of P-256.
var p256N = elliptic.P256().Params().N

// validScalar reports whether d is a usable P-256 private key.
func validScalar(d []byte) bool {
	k := new(big.Int).SetBytes(d)
	return k.Sign() > 0 && k.Cmp(p256N) < 0
}

// privateScalar returns the 32-byte scalar stored in a private key slot
// (after 4 zero bytes, as chips.json stores it).
func (c *Chip) privateScalar(slot int) []byte { return c.slots[slot][4:36] }

// publicKey returns X‖Y of the key in slot.
func (c *Chip) publicKey(slot int) ([]byte, bool) {
	k, err := ecdh.P256().NewPrivateKey(c.privateScalar(slot))
	if err != nil {
		return nil, false
	}
	return k.PublicKey().Bytes()[1:], true
}

// eccSlotOK reports whether slot holds a usable P-256 private key by its
// KeyConfig and SlotConfig.
func (c *Chip) eccSlotOK(slot int) bool {
	sc, kc := c.slotConfig(slot), c.keyConfig(slot)
	return kcPrivate(kc) && isSecret(sc) && kcKeyType(kc) == keyTypeP256
}

// authorized checks ReqAuth and, on a 608, PersistentDisable for a key
// used after the data lock.
func (c *Chip) authorized(slot int) bool {
	if !c.dataLocked() {
		return true
	}
	kc := c.keyConfig(slot)
	if kcReqAuth(kc) && (!c.vol.authValid || c.vol.authKeyID != kcAuthKey(kc)) {
		return false
	}
	if c.rev != ATECC508A && kcPersistentDisable(kc) && !c.latch {
		return false
	}
	return true
}

// genKeyDigest is the GenKey public-key digest (docs/atecc.md §5.3).
func (c *Chip) genKeyDigest(mode byte, keyID uint16, other []byte, pub []byte) [32]byte {
	sn := c.serial()
	h := sha256.New()
	h.Write(c.vol.tk.data[:32])
	h.Write([]byte{opGenKey})
	if other != nil {
		h.Write(other)
	} else {
		h.Write([]byte{mode, byte(keyID), byte(keyID >> 8)})
	}
	h.Write([]byte{sn[8], sn[0], sn[1]})
	h.Write(make([]byte, 25))
	h.Write(pub)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

func (c *Chip) loadTempKey(data []byte, sourceInput bool) {
	c.vol.tk = tempKey{valid: true, sourceInput: sourceInput}
	copy(c.vol.tk.data[:], data)
	c.tkLoaded = true
}

func (c *Chip) cmdGenKey(cmd command) []byte {
	legal := byte(0x1C)
	if c.rev != ATECC508A {
		legal = 0x3C
	}
	mode := cmd.p1
	if mode&^legal != 0 || cmd.p2 > 0xF && cmd.p2 != 0xFFFF {
		return status(statusParse)
	}
	if mode&0x20 != 0 {
		return status(statusParse) // 608 MAC mode is not modeled
	}
	if cmd.p2 == 0xFFFF {
		return c.genKeyTempKey(cmd)
	}
	digest := mode&0x08 != 0
	var other []byte
	switch {
	case mode&0x10 != 0:
		if len(cmd.data) != 3 {
			return status(statusParse)
		}
		other = cmd.data
	case len(cmd.data) != 0 && len(cmd.data) != 3:
		return status(statusParse)
	}
	slot := int(cmd.p2 & 0xF)
	if !c.configLocked() {
		return status(statusExecution)
	}
	kc := c.keyConfig(slot)
	if other != nil {
		// Digest of a public key stored in slot 8..15.
		tk := c.vol.tk
		c.useTempKey()
		if slot < 8 || kcPrivate(kc) || kcKeyType(kc) != keyTypeP256 || !tk.valid || !c.authorized(slot) {
			return status(statusExecution)
		}
		if kcReqRandom(kc) && tk.sourceInput {
			return status(statusExecution)
		}
		s := c.slots[slot]
		pub := append(append([]byte{}, s[4:36]...), s[40:72]...)
		c.vol.tk = tk
		d := c.genKeyDigest(0, 0, other, pub)
		c.loadTempKey(d[:], tk.sourceInput)
		c.vol.tk.genKeyData = true
		c.vol.tk.keyID = byte(slot)
		return status(statusOK)
	}
	if !c.eccSlotOK(slot) || !c.authorized(slot) {
		return status(statusExecution)
	}
	create := mode&0x04 != 0
	if create {
		if c.slotLocked(slot) || (c.dataLocked() && writeConfig(c.slotConfig(slot))&0x2 == 0) {
			return status(statusExecution)
		}
	} else if !c.keyValid[slot] || (c.dataLocked() && !kcPubInfo(kc)) {
		return status(statusExecution)
	}
	if digest {
		if !c.vol.tk.valid || (kcReqRandom(kc) && c.vol.tk.sourceInput) {
			c.useTempKey()
			return status(statusExecution)
		}
	}
	if create {
		if c.faults.ECCFault > 0 {
			c.faults.ECCFault--
			if digest {
				c.useTempKey()
			}
			return status(statusECC)
		}
		for {
			d := c.randomBytes(32)
			if validScalar(d) {
				copy(c.slots[slot][4:36], d)
				break
			}
			if !c.configLocked() {
				break // unreachable: GenKey needs the config lock
			}
		}
		c.keyValid[slot] = true
	}
	pub, ok := c.publicKey(slot)
	if !ok {
		return status(statusExecution)
	}
	if digest {
		tk := c.vol.tk
		d := c.genKeyDigest(mode, cmd.p2, nil, pub)
		c.loadTempKey(d[:], tk.sourceInput)
		c.vol.tk.genKeyData = true
		c.vol.tk.keyID = byte(slot)
	}
	return pub
}

// genKeyTempKey makes a random private key in TempKey (608, GenKey
// mode 0x04 with KeyID 0xFFFF), for an ECDH that takes its key from
// TempKey, and answers its public key.
func (c *Chip) genKeyTempKey(cmd command) []byte {
	if c.rev == ATECC508A || cmd.p1 != 0x04 {
		return status(statusParse)
	}
	if !c.configLocked() {
		return status(statusExecution)
	}
	for {
		d := c.randomBytes(32)
		if !validScalar(d) {
			continue
		}
		k, err := ecdh.P256().NewPrivateKey(d)
		if err != nil {
			return status(statusExecution)
		}
		c.loadTempKey(d, false)
		c.vol.tk.genKeyPrivate = true
		return k.PublicKey().Bytes()[1:]
	}
}

func (c *Chip) cmdSign(cmd command) []byte {
	legal := byte(0xC1)
	if c.rev != ATECC508A {
		legal = 0xE1
	}
	mode := cmd.p1
	if mode&^legal != 0 || len(cmd.data) != 0 {
		return status(statusParse)
	}
	if mode&0x80 == 0 {
		return c.signInternal(cmd)
	}
	if mode&0x01 != 0 {
		return status(statusParse)
	}
	slot := int(cmd.p2 & 0xF)
	fromDigest := mode&0x20 != 0
	var msg []byte
	if fromDigest {
		if c.vol.digestValid {
			msg = append([]byte{}, c.vol.digest[:32]...)
		}
	} else {
		if c.vol.tk.valid {
			msg = append([]byte{}, c.vol.tk.data[:32]...)
		}
		c.useTempKey()
	}
	checkReadKey := c.configLocked() && (c.dataLocked() || !c.opts.Profile.SignReadKeyAfterDataLockOnly)
	switch {
	case !c.eccSlotOK(slot), !c.keyValid[slot], !c.authorized(slot):
		return status(statusExecution)
	case checkReadKey && readKey(c.slotConfig(slot))&1 == 0:
		return status(statusExecution)
	case msg == nil:
		return status(statusExecution)
	case !c.useLimited(slot):
		return status(statusExecution)
	}
	return c.ecdsaSign(slot, msg)
}

// signInternal signs the digest of a message the chip builds from
// TempKey (made by GenKey or GenDig) and its own state (DS508 §9.18,
// Table 9-50): TempKey, 41 ‖ mode ‖ KeyID, SlotConfig and KeyConfig of
// TempKey.KeyID, the TempKey flags, two zero bytes, SN8, SN4..7 (mode bit
// 6) or zeros, SN0..1, SN2..3 (mode bit 6) or zeros, SlotLocked of
// TempKey.KeyID (1 = unlocked), mode bit 0 (for Verify invalidate), 0.
// Refused with 0x0F before the data lock, without ReadKey bit 1, or
// without a valid TempKey from GenKey or GenDig.
func (c *Chip) signInternal(cmd command) []byte {
	slot := int(cmd.p2 & 0xF)
	tk := c.vol.tk
	c.useTempKey()
	switch {
	case !c.dataLocked():
		return status(statusExecution)
	case !c.eccSlotOK(slot), !c.keyValid[slot], !c.authorized(slot):
		return status(statusExecution)
	case readKey(c.slotConfig(slot))&0x2 == 0:
		return status(statusExecution)
	case !tk.valid || !(tk.genDigData || tk.genKeyData):
		return status(statusExecution)
	case !c.useLimited(slot):
		return status(statusExecution)
	}
	msg := make([]byte, 55)
	copy(msg, tk.data[:32])
	msg[32], msg[33] = opSign, cmd.p1
	binary.LittleEndian.PutUint16(msg[34:], cmd.p2)
	k := int(tk.keyID & 0xF)
	binary.LittleEndian.PutUint16(msg[36:], c.slotConfig(k))
	binary.LittleEndian.PutUint16(msg[38:], c.keyConfig(k))
	msg[40] = tk.keyID & 0xF
	for bit, set := range []bool{tk.sourceInput, tk.genDigData, tk.genKeyData, tk.noMacFlag} {
		if set {
			msg[40] |= 1 << (4 + bit)
		}
	}
	sn := c.serial()
	msg[43] = sn[8]
	msg[48], msg[49] = sn[0], sn[1]
	if cmd.p1&0x40 != 0 {
		copy(msg[44:48], sn[4:8])
		copy(msg[50:52], sn[2:4])
	}
	if !c.slotLocked(k) {
		msg[52] = 1
	}
	msg[53] = cmd.p1 & 0x01
	digest := sha256.Sum256(msg)
	return c.ecdsaSign(slot, digest[:])
}

// ecdsaSign signs digest with the private key in slot, answering R‖S.
func (c *Chip) ecdsaSign(slot int, digest []byte) []byte {
	if c.faults.ECCFault > 0 {
		c.faults.ECCFault--
		return status(statusECC)
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), c.privateScalar(slot))
	if err != nil {
		return status(statusExecution)
	}
	r, s, err := ecdsa.Sign(crand.Reader, priv, digest)
	if err != nil {
		return status(statusECC)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out
}

// ioProtectionKey returns the 608 IO protection key (ChipOptions bit 1
// enables it; bits 15..12 name its slot, DS608-TFLX §2.2.10).
func (c *Chip) ioProtectionKey() ([]byte, bool) {
	opts := binary.LittleEndian.Uint16(c.config[cfgChipOptions:])
	if c.rev == ATECC508A || opts&0x2 == 0 {
		return nil, false
	}
	return c.slotSecret(int(opts >> 12)), true
}

// ioEncryptBlocks encrypts 32 or 64 bytes for output under the IO
// protection key: 32-byte block i is XORed with SHA-256(key ‖
// nonce[16i:16i+16]), the inverse of cryptoauthlib's documented host
// decryption. It answers the ciphertext, then the 32-byte random nonce.
func (c *Chip) ioEncryptBlocks(key, data []byte) []byte {
	nonce := make([]byte, 32)
	c.rng.Read(nonce)
	enc := make([]byte, len(data))
	for i := range enc {
		if i%32 == 0 {
			pad := sha256.Sum256(append(append([]byte{}, key...), nonce[16*(i/32):16*(i/32)+16]...))
			for j := range 32 {
				enc[i+j] = data[i+j] ^ pad[j]
			}
		}
	}
	return append(enc, nonce...)
}

// cmdECDH: on the 508 mode 0 only; on the 608 bit 0 takes the private key
// from TempKey (left there by GenKey with KeyID 0xFFFF), bit 1 encrypts
// the output with the IO protection key, bits 3..2 pick the target: 00 as
// the 508, 10 TempKey, 11 the output. The slot target (01) is not modeled.
func (c *Chip) cmdECDH(cmd command) []byte {
	mode := cmd.p1
	if c.rev == ATECC508A && mode != 0 || mode&^0x0F != 0 || len(cmd.data) != 64 {
		return status(statusParse)
	}
	target := mode & 0x0C
	if target == 0x04 || mode&0x02 != 0 && target != 0x0C {
		return status(statusParse) // slot target, encrypted TempKey target: not modeled
	}
	var scalar []byte
	rk := uint16(0x4)
	slot := int(cmd.p2 & 0xF)
	if mode&0x01 != 0 {
		tk := c.vol.tk
		c.useTempKey()
		if !tk.valid || !tk.genKeyPrivate {
			return status(statusExecution)
		}
		scalar = tk.data[:32]
	} else {
		if !c.eccSlotOK(slot) || !c.keyValid[slot] || !c.authorized(slot) {
			return status(statusExecution)
		}
		rk = readKey(c.slotConfig(slot))
		if rk&0x4 == 0 || !c.useLimited(slot) {
			return status(statusExecution)
		}
		scalar = c.privateScalar(slot)
	}
	var ioKey []byte
	if mode&0x02 != 0 {
		k, ok := c.ioProtectionKey()
		if !ok {
			return status(statusExecution)
		}
		ioKey = k
	}
	priv, err := ecdh.P256().NewPrivateKey(scalar)
	if err != nil {
		return status(statusExecution)
	}
	pub, err := ecdh.P256().NewPublicKey(append([]byte{4}, cmd.data...))
	if err != nil {
		return status(statusExecution)
	}
	secret, err := priv.ECDH(pub)
	if err != nil {
		return status(statusExecution)
	}
	switch {
	case target == 0x08:
		c.loadTempKey(secret, true)
		return status(statusOK)
	case target == 0x00 && rk&0x8 != 0:
		if slot%2 != 0 || slot == 15 {
			return status(statusExecution)
		}
		copy(c.slots[slot+1], secret)
		return status(statusOK)
	case ioKey != nil:
		return c.ioEncryptBlocks(ioKey, secret)
	}
	return secret
}

// storedPublicKey returns the P-256 public key stored in a public-key
// slot (8–15) in the 72-byte form: 4 pad bytes, X, 4 pad bytes, Y.
func (c *Chip) storedPublicKey(slot int) (*ecdsa.PublicKey, bool) {
	if slot < 8 {
		return nil, false
	}
	s := c.slots[slot]
	xy := append(append([]byte{4}, s[4:36]...), s[40:72]...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), xy)
	return pub, err == nil
}

// Verify modes (Param1 bits 2..0).
const (
	verifyStored     = 0x00
	verifyExternal   = 0x02
	verifyValidate   = 0x03
	verifyInvalidate = 0x07
)

func (c *Chip) cmdVerify(cmd command) []byte {
	legal := byte(0x07)
	if c.rev != ATECC508A {
		legal = 0xA7
	}
	mode := cmd.p1
	if mode&^legal != 0 {
		return status(statusParse)
	}
	if mode&0x80 != 0 && mode&0x07 != verifyStored && mode&0x07 != verifyExternal {
		return status(statusParse)
	}
	var pub *ecdsa.PublicKey
	var msg []byte
	switch mode & 0x07 {
	case verifyExternal:
		if cmd.p2 != keyTypeP256 || len(cmd.data) != 128 {
			return status(statusParse)
		}
		p, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, cmd.data[64:]...))
		if err != nil {
			c.messageSource(mode)
			return status(statusExecution)
		}
		pub = p
	case verifyStored:
		if cmd.p2 > 15 || len(cmd.data) != 64 {
			return status(statusParse)
		}
		slot := int(cmd.p2)
		kc := c.keyConfig(slot)
		p, ok := c.storedPublicKey(slot)
		// A key with PubInfo = 1 must have been validated (DS508 §2.2.4).
		if kcPrivate(kc) || kcKeyType(kc) != keyTypeP256 || !ok || !c.authorized(slot) ||
			kcPubInfo(kc) && c.slots[slot][0]>>4 != 0x5 {
			c.messageSource(mode)
			return status(statusExecution)
		}
		pub = p
	case verifyValidate, verifyInvalidate:
		return c.verifyValidate(cmd)
	default:
		return status(statusParse) // validate external: not modeled
	}
	var nonce, ioKey []byte
	if mode&0x80 != 0 {
		// MAC output (608): the system nonce is the digest buffer's first
		// half, or its second half when the message is in the first.
		k, ok := c.ioProtectionKey()
		if !ok || !c.vol.digestValid {
			c.messageSource(mode)
			return status(statusExecution)
		}
		ioKey = k
		if mode&0x20 != 0 {
			nonce = append([]byte{}, c.vol.digest[32:64]...)
		} else {
			nonce = append([]byte{}, c.vol.digest[:32]...)
		}
	}
	msg = c.messageSource(mode)
	if msg == nil {
		return status(statusExecution)
	}
	r := new(big.Int).SetBytes(cmd.data[:32])
	s := new(big.Int).SetBytes(cmd.data[32:64])
	if !ecdsa.Verify(pub, msg, r, s) {
		return status(statusMiscomp)
	}
	if ioKey != nil {
		// MAC = SHA-256(IO key ‖ message ‖ nonce ‖ R‖S ‖ 45 ‖ mode ‖
		// KeyID LE), which the host checks so a forged "verified" answer
		// on the bus is caught (DS608-TFLX §5.2.5).
		h := sha256.New()
		h.Write(ioKey)
		h.Write(msg)
		h.Write(nonce)
		h.Write(cmd.data[:64])
		h.Write([]byte{opVerify, mode, byte(cmd.p2), byte(cmd.p2 >> 8)})
		return h.Sum(nil)
	}
	return status(statusOK)
}

// messageSource returns the message a Verify checks: the 608 digest
// buffer (mode bit 5) or TempKey, which it uses up; nil if not loaded.
func (c *Chip) messageSource(mode byte) []byte {
	if mode&0x20 != 0 {
		if !c.vol.digestValid {
			return nil
		}
		return append([]byte{}, c.vol.digest[:32]...)
	}
	tk := c.vol.tk
	c.useTempKey()
	if !tk.valid {
		return nil
	}
	return append([]byte{}, tk.data[:32]...)
}

// verifyValidate validates (0x03) or invalidates (0x07) the public key in
// slot Param2 (DS508 §9.20): TempKey must hold that key's digest from
// GenKey mode 0x10; the signature, made by an internal Sign, is checked
// with the public key in the slot the target's ReadKey names over
// SHA-256(TempKey ‖ 41 ‖ OtherData[0:10] ‖ SN8 ‖ OtherData[10:14] ‖
// SN0..1 ‖ OtherData[14:19]). Success sets the slot's validity nibble
// (byte 0 bits 7..4) to 0x5 (valid) or 0xA (invalid).
func (c *Chip) verifyValidate(cmd command) []byte {
	if cmd.p2 > 15 || len(cmd.data) != 64+19 {
		return status(statusParse)
	}
	slot := int(cmd.p2)
	tk := c.vol.tk
	c.useTempKey()
	kc := c.keyConfig(slot)
	parent, ok := c.storedPublicKey(int(readKey(c.slotConfig(slot))))
	if slot < 8 || kcPrivate(kc) || kcKeyType(kc) != keyTypeP256 || !kcPubInfo(kc) || !ok ||
		!tk.valid || !tk.genKeyData || int(tk.keyID) != slot {
		return status(statusExecution)
	}
	od := cmd.data[64:]
	sn := c.serial()
	h := sha256.New()
	h.Write(tk.data[:32])
	h.Write([]byte{opSign})
	h.Write(od[0:10])
	h.Write([]byte{sn[8]})
	h.Write(od[10:14])
	h.Write([]byte{sn[0], sn[1]})
	h.Write(od[14:19])
	r := new(big.Int).SetBytes(cmd.data[:32])
	s := new(big.Int).SetBytes(cmd.data[32:64])
	if !ecdsa.Verify(parent, h.Sum(nil), r, s) {
		return status(statusMiscomp)
	}
	nibble := byte(0x50)
	if cmd.p1&0x07 == verifyInvalidate {
		nibble = 0xA0
	}
	c.slots[slot][0] = c.slots[slot][0]&0x0F | nibble
	return status(statusOK)
}
