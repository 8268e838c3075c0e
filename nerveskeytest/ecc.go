package nerveskeytest

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/sha256"
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

// genKeyDigest is the GenKey public-key digest (atecc.md §5.3).
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
	if mode&0x20 != 0 || cmd.p2 == 0xFFFF {
		return status(statusParse) // 608 MAC and TempKey modes are not modeled
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
	if c.faults.ECCFault > 0 {
		c.faults.ECCFault--
		return status(statusECC)
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), c.privateScalar(slot))
	if err != nil {
		return status(statusExecution)
	}
	r, s, err := ecdsa.Sign(crand.Reader, priv, msg)
	if err != nil {
		return status(statusECC)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out
}

// signInternal applies the checks of an internal Sign (atecc.md §4.1,
// §5.5): refused with 0x0F before the data lock, without ReadKey bit 1, or
// without a valid TempKey made by GenKey or GenDig. The signed message
// itself is not modeled, so a Sign that passes every check answers 0x03.
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
	}
	return status(statusParse)
}

func (c *Chip) cmdECDH(cmd command) []byte {
	mode := cmd.p1
	if c.rev == ATECC508A && mode != 0 || mode&^0x0F != 0 || len(cmd.data) != 64 {
		return status(statusParse)
	}
	if mode != 0x00 && mode != 0x0C && mode != 0x08 {
		return status(statusParse) // TempKey source, encryption, slot target: not modeled
	}
	slot := int(cmd.p2 & 0xF)
	if !c.eccSlotOK(slot) || !c.keyValid[slot] || !c.authorized(slot) {
		return status(statusExecution)
	}
	rk := readKey(c.slotConfig(slot))
	if rk&0x4 == 0 || !c.useLimited(slot) {
		return status(statusExecution)
	}
	priv, err := ecdh.P256().NewPrivateKey(c.privateScalar(slot))
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
	case mode == 0x08:
		c.loadTempKey(secret, true)
		return status(statusOK)
	case mode == 0x00 && rk&0x8 != 0:
		if slot%2 != 0 || slot == 15 {
			return status(statusExecution)
		}
		copy(c.slots[slot+1], secret)
		return status(statusOK)
	}
	return secret
}

func (c *Chip) cmdVerify(cmd command) []byte {
	legal := byte(0x07)
	if c.rev != ATECC508A {
		legal = 0xA7
	}
	mode := cmd.p1
	if mode&^legal != 0 {
		return status(statusParse)
	}
	if mode&0x07 != 0x02 || mode&0x80 != 0 {
		return status(statusParse) // only external Verify is modeled
	}
	if cmd.p2 != keyTypeP256 || len(cmd.data) != 128 {
		return status(statusParse)
	}
	var msg []byte
	if mode&0x20 != 0 {
		if c.vol.digestValid {
			msg = c.vol.digest[:32]
		}
	} else {
		if c.vol.tk.valid {
			msg = append([]byte{}, c.vol.tk.data[:32]...)
		}
		c.useTempKey()
	}
	if msg == nil {
		return status(statusExecution)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, cmd.data[64:]...))
	if err != nil {
		return status(statusExecution)
	}
	r := new(big.Int).SetBytes(cmd.data[:32])
	s := new(big.Int).SetBytes(cmd.data[32:64])
	if !ecdsa.Verify(pub, msg, r, s) {
		return status(statusMiscomp)
	}
	return status(statusOK)
}
