package atecc

import (
	"context"
	"crypto/sha256"
	"fmt"
)

// Command modes (docs/atecc.md §5).
const (
	lockConfig     = 0x00 // Lock: config zone, with summary CRC
	lockData       = 0x01 // Lock: data and OTP zones, with summary CRC
	lockSlot       = 0x02 // Lock: one slot, slot in bits 5..2
	genKeyPublic   = 0x00 // GenKey: public key of the stored private key
	genKeyCreate   = 0x04 // GenKey: new private key, returns its public key
	nonceRandom    = 0x00 // Nonce: RNG, seed update
	noncePassTemp  = 0x03 // Nonce: 32-byte pass-through into TempKey
	noncePassMsgDB = 0x43 // Nonce: 32-byte pass-through into the 608 message digest buffer
	infoRevision   = 0x00
	infoKeyValid   = 0x01
	infoLatch      = 0x04 // 608 persistent latch
	shaStart       = 0x00
	shaUpdate      = 0x01
	shaEnd         = 0x02
	shaBlock       = 64
	checkMacData   = 32 + 32 + 13
	nonceNumInLen  = 20
	selfTestAll    = 0x3D // RNG, ECDSA, ECDH, AES, SHA (DS608-TFLX Table 5-28)
	ecdhModeOutput = 0x00 // 508-compatible: premaster secret in the clear
)

// A SignSource says where Sign (external mode) finds the digest.
type SignSource byte

// Sign sources.
const (
	// SignTempKey signs the digest loaded into TempKey by a Nonce
	// pass-through (mode 0x80). It works on the 508A and the 608.
	SignTempKey SignSource = 0x80
	// SignDigestBuffer signs the 608 message digest buffer (mode 0xA0),
	// as the Elixir sign_digest does. A 508A answers it with a parse
	// error.
	SignDigestBuffer SignSource = 0xA0
)

// Read reads n (4 or 32) bytes from zone at word address addr.
// A 32-byte read of a short last block (of a 36- or 72-byte slot) is legal
// and padded with zeros by the chip (DS508 §9.1.4).
func (s *Session) Read(ctx context.Context, zone Zone, addr uint16, n int) ([]byte, error) {
	p1, err := zoneParam(zone, n)
	if err != nil {
		return nil, err
	}
	return s.exec(ctx, "read "+addrName(zone, addr, n), OpRead, p1, addr, nil, n)
}

// Write writes data (4 or 32 bytes) in clear to zone at word address addr.
func (s *Session) Write(ctx context.Context, zone Zone, addr uint16, data []byte) error {
	p1, err := zoneParam(zone, len(data))
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "write "+addrName(zone, addr, len(data)), OpWrite, p1, addr, data, 1)
	return err
}

func zoneParam(zone Zone, n int) (byte, error) {
	if zone > ZoneData {
		return 0, fmt.Errorf("invalid zone %d", zone)
	}
	switch n {
	case WordSize:
		return byte(zone), nil
	case BlockSize:
		return zoneLen32 | byte(zone), nil
	}
	return 0, fmt.Errorf("%v access of %d bytes, want 4 or 32", zone, n)
}

// LockConfig locks the config zone if its CRC-16 equals crc (Lock mode
// 0x00). A wrong CRC leaves the zone unlocked.
func (s *Session) LockConfig(ctx context.Context, crc uint16) error {
	_, err := s.exec(ctx, "lock config", OpLock, lockConfig, crc, nil, 1)
	return err
}

// LockData locks the data and OTP zones if crc matches their summary
// (Lock mode 0x01): the CRC-16 of every non-private slot at full size, in
// slot order, then the 64 OTP bytes.
func (s *Session) LockData(ctx context.Context, crc uint16) error {
	_, err := s.exec(ctx, "lock data", OpLock, lockData, crc, nil, 1)
	return err
}

// LockSlot locks one slot (Lock mode 0x02 | slot<<2), which must be
// Lockable.
func (s *Session) LockSlot(ctx context.Context, slot int) error {
	if err := checkSlot(slot); err != nil {
		return err
	}
	_, err := s.exec(ctx, fmt.Sprintf("lock slot %d", slot), OpLock, byte(slot)<<2|lockSlot, 0, nil, 1)
	return err
}

// GenKey returns the public key X‖Y of the private key in slot; with
// create, it first makes a new random private key (mode 0x04), else it
// computes the public key of the stored one (mode 0x00).
func (s *Session) GenKey(ctx context.Context, slot int, create bool) ([64]byte, error) {
	var pub [64]byte
	if err := checkSlot(slot); err != nil {
		return pub, err
	}
	mode, verb := byte(genKeyPublic), "genkey public"
	if create {
		mode, verb = genKeyCreate, "genkey create"
	}
	b, err := s.exec(ctx, fmt.Sprintf("%s slot %d", verb, slot), OpGenKey, mode, uint16(slot), nil, 64)
	if err != nil {
		return pub, err
	}
	return [64]byte(b), nil
}

// NonceLoad loads v into TempKey unchanged (Nonce pass-through mode 0x03).
// It works on the 508A and the 608.
func (s *Session) NonceLoad(ctx context.Context, v [32]byte) error {
	_, err := s.exec(ctx, "nonce load tempkey", OpNonce, noncePassTemp, 0, v[:], 1)
	return err
}

// NonceLoadDigestBuffer loads v into the 608 message digest buffer (Nonce
// mode 0x43). A 508A answers it with a parse error.
func (s *Session) NonceLoadDigestBuffer(ctx context.Context, v [32]byte) error {
	_, err := s.exec(ctx, "nonce load digest buffer", OpNonce, noncePassMsgDB, 0, v[:], 1)
	return err
}

// NonceRandom runs Nonce in random mode 0x00 with the host's numIn and
// returns the chip's RandOut. The chip sets TempKey to
// SHA-256(RandOut ‖ numIn ‖ 16 00 00); see [RandomNonceTempKey].
func (s *Session) NonceRandom(ctx context.Context, numIn [20]byte) ([32]byte, error) {
	b, err := s.exec(ctx, "nonce random", OpNonce, nonceRandom, 0, numIn[:], 32)
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(b), nil
}

// RandomNonceTempKey returns the TempKey a Nonce in random mode 0x00
// leaves in the chip: SHA-256(randOut ‖ numIn ‖ 0x16 ‖ 0x00 ‖ 0x00)
// (DS508 §9.12; docs/nerves_key.md §8.3).
func RandomNonceTempKey(randOut [32]byte, numIn [20]byte) [32]byte {
	h := sha256.New()
	h.Write(randOut[:])
	h.Write(numIn[:])
	h.Write([]byte{byte(OpNonce), nonceRandom, 0x00})
	return [32]byte(h.Sum(nil))
}

// Sign signs the digest held in src with the private key in slot
// (external Sign) and returns R‖S.
func (s *Session) Sign(ctx context.Context, slot int, src SignSource) ([64]byte, error) {
	var sig [64]byte
	if err := checkSlot(slot); err != nil {
		return sig, err
	}
	if src != SignTempKey && src != SignDigestBuffer {
		return sig, fmt.Errorf("invalid sign source %#x", byte(src))
	}
	b, err := s.exec(ctx, signOpName(slot), OpSign, byte(src), uint16(slot), nil, 64)
	if err != nil {
		return sig, err
	}
	return [64]byte(b), nil
}

// Random returns 32 bytes from the chip's RNG. Before the config lock the
// chip returns the fixed pattern FF FF 00 00 repeated.
func (s *Session) Random(ctx context.Context) ([32]byte, error) {
	b, err := s.exec(ctx, "random", OpRandom, 0, 0, nil, 32)
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(b), nil
}

// Info runs the Info command and returns its 4-byte answer.
func (s *Session) Info(ctx context.Context, mode byte, param uint16) ([4]byte, error) {
	b, err := s.exec(ctx, fmt.Sprintf("info mode %d", mode), OpInfo, mode, param, nil, 4)
	if err != nil {
		return [4]byte{}, err
	}
	return [4]byte(b), nil
}

// InfoRevision returns the Info(Revision) answer, e.g. 00 00 60 02. It
// need not equal RevNum (DS608-TFLX §5.1.2.1).
func (s *Session) InfoRevision(ctx context.Context) ([4]byte, error) {
	return s.Info(ctx, infoRevision, 0)
}

// KeyValid reports whether slot holds a valid ECC private key (Info mode
// 0x01).
func (s *Session) KeyValid(ctx context.Context, slot int) (bool, error) {
	if err := checkSlot(slot); err != nil {
		return false, err
	}
	b, err := s.Info(ctx, infoKeyValid, uint16(slot))
	return b[0] == 1, err
}

// Latch reports the 608 persistent latch (Info mode 0x04).
func (s *Session) Latch(ctx context.Context) (bool, error) {
	b, err := s.Info(ctx, infoLatch, 0)
	return b[0] == 1, err
}

// SetLatch sets or clears the 608 persistent latch (Info mode 0x04, Param2
// bit 1 = set, bit 0 = value). Setting it needs a prior successful
// CheckMac with the VolatileKeyPermission slot in the same session.
func (s *Session) SetLatch(ctx context.Context, on bool) error {
	p := uint16(0x0002)
	if on {
		p |= 1
	}
	b, err := s.Info(ctx, infoLatch, p)
	if err != nil {
		return err
	}
	if on != (b[0] == 1) {
		return fmt.Errorf("set latch: latch is % x after the command", b)
	}
	return nil
}

// SHA256 hashes data with the chip's SHA engine (Start, Update per
// 64-byte block, End with the rest), using only modes both the 508A and
// the 608 accept. It uses TempKey and clears it. It does not depend on
// idle keeping the SHA context: a chip that drops it answers End with an
// execution error, which the caller sees.
func (s *Session) SHA256(ctx context.Context, data []byte) ([32]byte, error) {
	if _, err := s.exec(ctx, "sha start", OpSHA, shaStart, 0, nil, 1); err != nil {
		return [32]byte{}, err
	}
	for len(data) >= shaBlock {
		if _, err := s.exec(ctx, "sha update", OpSHA, shaUpdate, shaBlock, data[:shaBlock], 1); err != nil {
			return [32]byte{}, err
		}
		data = data[shaBlock:]
	}
	b, err := s.exec(ctx, "sha end", OpSHA, shaEnd, uint16(len(data)), data, 32)
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(b), nil
}

// ECDH returns the premaster secret (the X coordinate of the shared
// point) between the private key in slot and the peer public key X‖Y
// (ECDH mode 0x00, clear output; the slot's ReadKey bit 3 must be 0).
func (s *Session) ECDH(ctx context.Context, slot int, peer [64]byte) ([32]byte, error) {
	if err := checkSlot(slot); err != nil {
		return [32]byte{}, err
	}
	b, err := s.exec(ctx, fmt.Sprintf("ecdh slot %d", slot), OpECDH, ecdhModeOutput, uint16(slot), peer[:], 32)
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(b), nil
}

// CheckMac asks the chip to compare response with the MAC it computes over
// the key in slot; a match authorizes the key for this wake cycle. A
// mismatch is a [*StatusError] wrapping [ErrMiscompare].
func (s *Session) CheckMac(ctx context.Context, mode byte, slot int, challenge, response [32]byte, other [13]byte) error {
	if err := checkSlot(slot); err != nil {
		return err
	}
	data := make([]byte, 0, checkMacData)
	data = append(data, challenge[:]...)
	data = append(data, response[:]...)
	data = append(data, other[:]...)
	_, err := s.exec(ctx, fmt.Sprintf("checkmac slot %d", slot), OpCheckMac, mode, uint16(slot), data, 1)
	return err
}

// SelfTest runs the 608 self tests selected by tests (0 reads the failure
// register; see DS608-TFLX Table 5-28) and returns the failure bitmap, 0
// when all passed.
func (s *Session) SelfTest(ctx context.Context, tests byte) (byte, error) {
	cmd := s.command("selftest", OpSelfTest, tests, 0, nil, 1)
	cmd.RawStatus = true
	b, err := s.s.Execute(ctx, cmd)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// AuthVolatileKey authorizes the 608 volatile key: it proves knowledge of
// key (the 32-byte secret of the VolatileKeyPermission slot) with Nonce
// random, CheckMac mode 0x01 and then sets the persistent latch, as the
// Elixir auth_volatile_key does (docs/nerves_key.md §8.3). numIn should be
// fresh random bytes. The latch then stays set while the chip is powered,
// sleep included (MIG §1.1.6); the CheckMac authorization itself is lost
// at the next sleep, so a key with ReqAuth needs this in the session of
// its Sign (see [Dev.SignDigestVolatile]).
func (s *Session) AuthVolatileKey(ctx context.Context, slot int, key [32]byte, numIn [20]byte) error {
	randOut, err := s.NonceRandom(ctx, numIn)
	if err != nil {
		return err
	}
	tk := RandomNonceTempKey(randOut, numIn)
	sn := s.SerialNumber()
	msg := make([]byte, 0, 88)
	msg = append(msg, key[:]...)
	msg = append(msg, tk[:]...)
	msg = append(msg, make([]byte, 4+8+3)...)
	msg = append(msg, sn[8])
	msg = append(msg, make([]byte, 4)...)
	msg = append(msg, sn[0], sn[1])
	msg = append(msg, 0, 0)
	resp := sha256.Sum256(msg)
	if err := s.CheckMac(ctx, 0x01, slot, [32]byte{}, resp, [13]byte{}); err != nil {
		return err
	}
	return s.SetLatch(ctx, true)
}

// signOpNames names Sign on each slot without formatting on every signature.
var signOpNames = func() (n [16]string) {
	for i := range n {
		n[i] = fmt.Sprintf("sign slot %d", i)
	}
	return n
}()

func signOpName(slot int) string {
	if slot >= 0 && slot < len(signOpNames) {
		return signOpNames[slot]
	}
	return fmt.Sprintf("sign slot %d", slot)
}
