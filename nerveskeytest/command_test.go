package nerveskeytest

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/big"
	"testing"
)

// publicOf returns the ECDSA public key of X‖Y.
func publicOf(t *testing.T, xy []byte) *ecdsa.PublicKey {
	t.Helper()
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, xy...))
	if err != nil {
		t.Fatalf("public key % x: %v", xy, err)
	}
	return pub
}

func verifyRS(t *testing.T, pub *ecdsa.PublicKey, digest, rs []byte) {
	t.Helper()
	if len(rs) != 64 {
		t.Fatalf("signature is %d bytes", len(rs))
	}
	r := new(big.Int).SetBytes(rs[:32])
	s := new(big.Int).SetBytes(rs[32:])
	if !ecdsa.Verify(pub, digest, r, s) {
		t.Fatal("signature does not verify")
	}
}

func provisioned(t *testing.T, rev Revision) (*Chip, *host) {
	c := NewProvisionedChip(t, &Options{Revision: rev, Seed: 1})
	h := newHost(t, c)
	h.wake()
	return c, h
}

func TestSignTempKey(t *testing.T) {
	for _, rev := range []Revision{ATECC508A, ATECC608A, ATECC608B} {
		t.Run(rev.String(), func(t *testing.T) {
			c, h := provisioned(t, rev)
			if c.Revision() != rev {
				t.Fatalf("revision %v", c.Revision())
			}
			pub := publicOf(t, h.ok(64, opGenKey, 0, 0, nil))
			digest := sha256.Sum256([]byte("hello " + rev.String()))
			h.ok(1, opNonce, 0x03, 0, digest[:])
			rs := h.ok(64, opSign, 0x80, 0, nil)
			verifyRS(t, pub, digest[:], rs)
			// TempKey is consumed by Sign.
			h.wantStatus(statusExecution, opSign, 0x80, 0, nil)
		})
	}
}

func TestNonceReadSign(t *testing.T) {
	// A Read between Nonce and Sign clears TempKey on a 508 only.
	for _, tt := range []struct {
		rev  Revision
		want byte
	}{{ATECC508A, statusExecution}, {ATECC608A, statusOK}, {ATECC608B, statusOK}} {
		t.Run(tt.rev.String(), func(t *testing.T) {
			_, h := provisioned(t, tt.rev)
			pub := publicOf(t, h.ok(64, opGenKey, 0, 0, nil))
			digest := sha256.Sum256([]byte("m"))
			h.ok(1, opNonce, 0x03, 0, digest[:])
			h.ok(32, opRead, 0x80, 0, nil)
			out := h.cmd(opSign, 0x80, 0, nil)
			if tt.want != statusOK {
				if !bytes.Equal(out, []byte{tt.want}) {
					t.Fatalf("Sign after Read: % x, want status %#02x", out, tt.want)
				}
				return
			}
			verifyRS(t, pub, digest[:], out)
		})
	}
}

func TestDigestBuffer(t *testing.T) {
	_, h := provisioned(t, ATECC508A)
	digest := sha256.Sum256([]byte("m"))
	h.wantStatus(statusParse, opNonce, 0x43, 0, digest[:])
	h.wantStatus(statusParse, opSign, 0xA0, 0, nil)

	_, h = provisioned(t, ATECC608A)
	pub := publicOf(t, h.ok(64, opGenKey, 0, 0, nil))
	h.ok(1, opNonce, 0x43, 0, digest[:])
	verifyRS(t, pub, digest[:], h.ok(64, opSign, 0xA0, 0, nil))
	// A Read wipes the digest buffer.
	h.ok(1, opNonce, 0x43, 0, digest[:])
	h.ok(4, opRead, 0, 0, nil)
	h.wantStatus(statusExecution, opSign, 0xA0, 0, nil)
	// The digest buffer does not touch TempKey, and vice versa.
	h.ok(1, opNonce, 0x03, 0, digest[:])
	h.ok(1, opNonce, 0x43, 0, bytes.Repeat([]byte{1}, 32))
	verifyRS(t, pub, digest[:], h.ok(64, opSign, 0x80, 0, nil))
}

func TestMode508ParseErrors(t *testing.T) {
	_, h := provisioned(t, ATECC508A)
	h.wantStatus(statusParse, opSHA, 0x42, 0, nil)
	h.wantStatus(statusParse, opGenKey, 0x20, 0, nil)
	h.wantStatus(statusParse, opECDH, 0x0C, 0, make([]byte, 64))
	h.wantStatus(statusParse, opInfo, 0x04, 0, nil)
	h.wantStatus(statusParse, opSelfTest, 0x3D, 0, nil)
}

func TestRandomClearsTempKey508(t *testing.T) {
	for _, keep := range []bool{false, true} {
		c := NewProvisionedChip(t, &Options{Revision: ATECC508A, Profile: Profile{RandomKeepsTempKey508: keep}})
		h := newHost(t, c)
		h.wake()
		h.ok(1, opNonce, 0x03, 0, make([]byte, 32))
		h.ok(32, opRandom, 0, 0, nil)
		valid := h.ok(4, opInfo, 2, 0, nil)[1]&0x80 != 0
		if valid != keep {
			t.Errorf("RandomKeepsTempKey508=%v: TempKey valid after Random = %v", keep, valid)
		}
	}
}

func TestECCFault(t *testing.T) {
	for _, tt := range []struct {
		rev  Revision
		kept bool
	}{{ATECC508A, true}, {ATECC608A, false}} {
		c, h := provisioned(t, tt.rev)
		pub := publicOf(t, h.ok(64, opGenKey, 0, 0, nil))
		digest := sha256.Sum256([]byte("x"))
		h.ok(1, opNonce, 0x03, 0, digest[:])
		c.SetFaults(Faults{ECCFault: 1})
		h.wantStatus(statusECC, opSign, 0x80, 0, nil)
		out := h.cmd(opSign, 0x80, 0, nil)
		if tt.kept {
			verifyRS(t, pub, digest[:], out)
		} else if !bytes.Equal(out, []byte{statusExecution}) {
			t.Errorf("%v: retry after ECC fault gave % x", tt.rev, out)
		}
	}
}

func TestECDH(t *testing.T) {
	_, h := provisioned(t, ATECC608A)
	pub, err := ecdh.P256().NewPublicKey(append([]byte{4}, h.ok(64, opGenKey, 0, 0, nil)...))
	if err != nil {
		t.Fatal(err)
	}
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	got := h.ok(32, opECDH, 0, 0, peer.PublicKey().Bytes()[1:])
	want, _ := peer.ECDH(pub)
	if !bytes.Equal(got, want) {
		t.Fatal("ECDH secret differs")
	}
	h.wantStatus(statusExecution, opECDH, 0, 0, make([]byte, 64)) // not on the curve
}

func TestSHA(t *testing.T) {
	msg := bytes.Repeat([]byte("abcdefgh"), 9) // 72 bytes
	for _, rev := range []Revision{ATECC508A, ATECC608A} {
		_, h := provisioned(t, rev)
		h.ok(1, opSHA, 0, 0, nil)
		h.ok(1, opSHA, 1, 64, msg[:64])
		got := h.ok(32, opSHA, 2, 8, msg[64:])
		want := sha256.Sum256(msg)
		if !bytes.Equal(got, want[:]) {
			t.Errorf("%v: SHA % x", rev, got)
		}
		h.wantStatus(statusExecution, opSHA, 2, 0, nil) // no context any more
	}
	_, h := provisioned(t, ATECC608A)
	h.ok(1, opSHA, 0, 0, nil)
	h.wantStatus(statusParse, opSHA, 0xC2, 0, msg[:32]) // Param2 ≠ length
	c := NewProvisionedChip(t, &Options{Profile: Profile{SHALenientLength: true}})
	h = newHost(t, c)
	h.wake()
	h.ok(1, opSHA, 0, 0, nil)
	want := sha256.Sum256(msg[:32])
	if got := h.ok(32, opSHA, 0xC2, 0, msg[:32]); !bytes.Equal(got, want[:]) {
		t.Error("lenient SHA end")
	}
}

func TestNonceRandom(t *testing.T) {
	_, h := provisioned(t, ATECC608A)
	numIn := bytes.Repeat([]byte{0x42}, 20)
	randOut := h.ok(32, opNonce, 0, 0, numIn)
	// Check TempKey = SHA-256(RandOut ‖ NumIn ‖ 16 00 00) through a MAC-free
	// path: CheckMac with the challenge from TempKey and a key we know is
	// impossible here, so compare with GenKey's digest mode instead.
	want := sha256.Sum256(append(append(append([]byte{}, randOut...), numIn...), 0x16, 0x00, 0x00))
	pubXY := h.ok(64, opGenKey, 0x08, 0, nil)
	// GenKey digest = SHA-256(TempKey ‖ 40 08 00 00 ‖ SN8 SN0 SN1 ‖ 25×0 ‖ X‖Y).
	cfg := h.ok(32, opRead, 0x80, 0, nil)
	m := append(append([]byte{}, want[:]...), 0x40, 0x08, 0x00, 0x00, cfg[12], cfg[0], cfg[1])
	m = append(append(m, make([]byte, 25)...), pubXY...)
	tkd := sha256.Sum256(m)
	// Sign signs TempKey, so the signature must verify over tkd.
	verifyRS(t, publicOf(t, pubXY), tkd[:], h.ok(64, opSign, 0x80, 0, nil))
	if bytes.Equal(randOut[:4], []byte{0xFF, 0xFF, 0, 0}) {
		t.Error("locked chip returned the unlocked RNG pattern")
	}
}

func TestVolatileKeyAuthorization(t *testing.T) {
	// A 608 configured as the volatile NervesKey variant (docs/nerves_key.md
	// §3.3): slot 0 PersistentDisable, slot 1 the activation key,
	// VolatileKeyPermission 0x81.
	im, err := provisionedImage(ATECC608A)
	if err != nil {
		t.Fatal(err)
	}
	im.Config[cfgVolatileKeyPerm] = 0x81
	im.Config[cfgKeyConfig+1] = 0x10 // slot 0 PersistentDisable
	key := bytes.Repeat([]byte{0x5A}, 16)
	copy(im.Slots[1], key)
	c, err := NewChipFromImage(im, &Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	h := newHost(t, c)
	h.wake()
	digest := sha256.Sum256([]byte("v"))
	h.ok(1, opNonce, 0x03, 0, digest[:])
	h.wantStatus(statusExecution, opSign, 0x80, 0, nil) // latch clear
	h.wantStatus(statusExecution, opInfo, 0x04, 3, nil) // no CheckMac yet
	if got := h.ok(4, opInfo, 0x04, 0, nil); got[0] != 0 {
		t.Fatal("latch set")
	}

	rand20 := bytes.Repeat([]byte{1}, 20)
	rng := h.ok(32, opNonce, 0, 0, rand20)
	tk := sha256.Sum256(append(append(append([]byte{}, rng...), rand20...), 0x16, 0, 0))
	sn := c.Image().Config
	key32 := append(append([]byte{}, key...), make([]byte, 16)...)
	msg := append(append([]byte{}, key32...), tk[:]...)
	msg = append(msg, make([]byte, 4+8+3)...)
	msg = append(msg, sn[12])
	msg = append(msg, make([]byte, 4)...)
	msg = append(msg, sn[0], sn[1], 0, 0)
	mac := sha256.Sum256(msg)
	bad := append(append(make([]byte, 32), mac[:]...), make([]byte, 13)...)
	bad[40] ^= 1
	// A wrong MAC answers 01; TempKey is consumed, so redo the nonce.
	h.wantStatus(statusMiscomp, opCheckMac, 0x01, 1, bad)
	rng = h.ok(32, opNonce, 0, 0, rand20)
	tk = sha256.Sum256(append(append(append([]byte{}, rng...), rand20...), 0x16, 0, 0))
	msg = append(append(append([]byte{}, key32...), tk[:]...), msg[64:]...)
	mac = sha256.Sum256(msg)
	h.ok(1, opCheckMac, 0x01, 1, append(append(make([]byte, 32), mac[:]...), make([]byte, 13)...))
	if got := h.ok(4, opInfo, 0x04, 3, nil); !bytes.Equal(got, []byte{1, 0, 0, 0}) {
		t.Fatalf("set latch answered % x", got)
	}
	pub := publicOf(t, h.ok(64, opGenKey, 0, 0, nil))
	h.ok(1, opNonce, 0x03, 0, digest[:])
	verifyRS(t, pub, digest[:], h.ok(64, opSign, 0x80, 0, nil))
	// The latch survives sleep, not power loss.
	h.sleepChip()
	h.wake()
	if got := h.ok(4, opInfo, 0x04, 0, nil); got[0] != 1 {
		t.Fatal("latch lost over sleep")
	}
	c.PowerCycle()
	h.wake()
	if got := h.ok(4, opInfo, 0x04, 0, nil); got[0] != 0 {
		t.Fatal("latch kept over power loss")
	}
}

func TestSlot0NeverLeaves(t *testing.T) {
	c, h := provisioned(t, ATECC608A)
	c.ResetStats()
	h.wantStatus(statusExecution, opRead, 0x82, 0, nil)
	h.wantStatus(statusExecution, opRead, 0x02, 1, nil)
	h.wantStatus(statusExecution, opWrite, 0x82, 0, make([]byte, 32))
	h.wantStatus(statusExecution, opGenKey, 0x04, 0, nil) // slot-locked
	st := c.Stats()
	if st.Slot0Reads != 2 || st.Slot0Writes != 1 {
		t.Errorf("slot 0 counters %+v", st)
	}
}

func TestInfo(t *testing.T) {
	_, h := provisioned(t, ATECC608B)
	if got := h.ok(4, opInfo, 0, 0, nil); !bytes.Equal(got, []byte{0, 0, 0x60, 0x03}) {
		t.Errorf("revision % x", got)
	}
	if got := h.ok(4, opInfo, 1, 0, nil); !bytes.Equal(got, []byte{1, 0, 0, 0}) {
		t.Errorf("KeyValid slot 0 % x", got)
	}
	if got := h.ok(4, opInfo, 1, 5, nil); !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Errorf("KeyValid slot 5 % x", got)
	}
	h.wantStatus(statusExecution, opInfo, 3, 0, nil)
	h.wantStatus(statusParse, opInfo, 9, 0, nil)
}

func TestCounterAndSelfTest(t *testing.T) {
	_, h := provisioned(t, ATECC608A)
	if got := h.ok(4, opCounter, 1, 1, nil); binary.LittleEndian.Uint32(got) != 1 {
		t.Errorf("counter % x", got)
	}
	h.ok(1, opSelfTest, 0x3D, 0, nil)
	h.ok(1, opSelfTest, 0x3B, 0, nil)
	h.wantStatus(statusParse, opSelfTest, 0x40, 0, nil)
}

func TestVerifyExternal(t *testing.T) {
	_, h := provisioned(t, ATECC608A)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("verify"))
	r, s, _ := ecdsa.Sign(rand.Reader, priv, digest[:])
	xy, _ := priv.PublicKey.Bytes()
	data := append(append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...), xy[1:]...)
	h.ok(1, opNonce, 0x03, 0, digest[:])
	h.ok(1, opVerify, 0x02, 4, data)
	data[5] ^= 1
	h.ok(1, opNonce, 0x03, 0, digest[:])
	h.wantStatus(statusMiscomp, opVerify, 0x02, 4, data)
}

func TestCorruptResponse(t *testing.T) {
	c, h := provisioned(t, ATECC608A)
	c.SetFaults(Faults{CorruptResponse: 1})
	h.send(packet(opInfo, 0, 0, nil))
	h.sleep(5_000_000)
	r := make([]byte, 7)
	if err := c.Tx(0x60, nil, r); err != nil {
		t.Fatal(err)
	}
	if crc16(r[:5]) == binary.LittleEndian.Uint16(r[5:]) {
		t.Fatalf("corrupted response % x has a good CRC", r)
	}
	if got := h.ok(4, opInfo, 0, 0, nil); !bytes.Equal(got, []byte{0, 0, 0x60, 2}) {
		t.Fatalf("next response % x", got)
	}
}

func TestNAKStormAndDroppedWake(t *testing.T) {
	c := NewChip(nil)
	h := newHost(t, c)
	c.SetFaults(Faults{DropWake: 1, NAK: 3})
	c.Tx(0, []byte{0}, nil)
	h.sleep(2_000_000)
	if c.Awake() {
		t.Fatal("dropped wake woke the chip")
	}
	c.Tx(0, []byte{0}, nil)
	h.sleep(2_000_000)
	for i := range 3 {
		if err := c.Tx(0x60, nil, make([]byte, 4)); err == nil {
			t.Fatalf("read %d not NAKed", i)
		}
	}
	r := make([]byte, 4)
	if err := c.Tx(0x60, nil, r); err != nil || r[1] != statusWake {
		t.Fatalf("after storm: % x %v", r, err)
	}
	if f := c.Faults(); f != (Faults{}) {
		t.Errorf("faults left %+v", f)
	}
}

func TestExpireWatchdogMidCommand(t *testing.T) {
	c, h := provisioned(t, ATECC608A)
	h.ok(1, opNonce, 0x03, 0, make([]byte, 32))
	h.send(packet(opGenKey, 0x04, 2, nil))
	c.ExpireWatchdog()
	h.sleep(1_000_000_000)
	h.wake()
	if st := h.ok(4, opInfo, 2, 0, nil); st[1]&0x80 != 0 {
		t.Fatal("TempKey survived watchdog")
	}
	c.SetFaults(Faults{WatchdogAfter: 50_000_000})
	h.wantStatus(statusWatchdog, opGenKey, 0x00, 0, nil) // 57 ms > 50 ms left
}

func TestGenKeyPublicMatchesImage(t *testing.T) {
	for _, v := range readVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			im, err := ParseImage(v.raw)
			if err != nil {
				t.Fatal(err)
			}
			c, err := NewChipFromImage(im, nil)
			if err != nil {
				t.Fatal(err)
			}
			h := newHost(t, c)
			h.wake()
			d, _ := hex.DecodeString(v.Slot0)
			priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := priv.PublicKey.Bytes()
			if got := h.ok(64, opGenKey, 0, 0, nil); !bytes.Equal(got, want[1:]) {
				t.Fatalf("GenKey public % x, want % x", got, want[1:])
			}
		})
	}
}

func TestSelfTestFailure(t *testing.T) {
	c, h := provisioned(t, ATECC608A)
	c.SetFaults(Faults{SelfTestFailure: 1})
	if got := h.status(opSelfTest, 0x05, 0, nil); got != 0x05 {
		t.Fatalf("failing SelfTest answered %#02x", got)
	}
	h.wantStatus(statusSelfTest, opRandom, 0, 0, nil)
	h.ok(4, opRead, 0, 0, nil)
	h.wantStatus(0x05, opSelfTest, 0, 0, nil)
	h.ok(1, opSelfTest, 0x3D, 0, nil)
	h.ok(32, opRandom, 0, 0, nil)
}

func TestEncryptedWriteBeforeDataLock(t *testing.T) {
	c := NewChip(&Options{Revision: ATECC508A})
	h := newHost(t, c)
	h.wake()
	cfg := c.Image().Config
	h.ok(1, opLock, 0x00, crc16(cfg[:]), nil)
	tk := bytes.Repeat([]byte{0x3C}, 32)
	plain := bytes.Repeat([]byte{0x11}, 32)
	h.ok(1, opNonce, 0x03, 0, tk)
	addr := uint16(9 << 3)
	sn := cfg
	m := append(append([]byte{}, tk...), opWrite, 0xC2, byte(addr), byte(addr>>8), sn[12], sn[0], sn[1])
	m = append(append(m, make([]byte, 25)...), plain...)
	mac := sha256.Sum256(m)
	enc := make([]byte, 32)
	for i := range enc {
		enc[i] = plain[i] ^ tk[i]
	}
	h.ok(1, opWrite, 0xC2, addr, append(append([]byte{}, enc...), mac[:]...))
	if got := c.Image().Slots[9][:32]; !bytes.Equal(got, plain) {
		t.Fatalf("slot 9 % x", got)
	}
	// TempKey is gone (508: cleared by the Write), so a second one fails.
	h.wantStatus(statusExecution, opWrite, 0xC2, addr, append(append([]byte{}, enc...), mac[:]...))
}
