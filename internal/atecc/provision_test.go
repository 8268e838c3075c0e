package atecc

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"testing"

	"github.com/nerveskey/nerveskey/internal/i2c"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// TestProvisionSequence drives a blank chip through the NervesKey
// provisioning steps of docs/nerves_key.md §4.1 with this package's commands:
// config write and lock, OTP, GenKey, padded slot writes, data lock with
// the summary CRC, slot-0 lock; then 4-byte settings writes and a signature.
func TestProvisionSequence(t *testing.T) {
	for _, rv := range simRevisions[:2] {
		t.Run(rv.name, func(t *testing.T) {
			provisionAndSign(t, &nerveskeytest.Options{Revision: rv.sim})
		})
	}
}

// TestDriverUnderEveryProfile runs the provisioning sequence, ReadSlot and
// SignDigest under every reading of the rules docs/atecc.md leaves unconfirmed
// (each nerveskeytest.Profile switch flipped from the strict default) and
// under typical, maximum and random execution times: the driver must not
// depend on one reading or on typical timing.
func TestDriverUnderEveryProfile(t *testing.T) {
	profiles := []struct {
		name string
		p    nerveskeytest.Profile
	}{
		{"strict", nerveskeytest.Profile{}},
		{"RandomKeepsTempKey508", nerveskeytest.Profile{RandomKeepsTempKey508: true}},
		{"LockMismatch01", nerveskeytest.Profile{LockMismatchStatus: 0x01}},
		{"BadAddress0F", nerveskeytest.Profile{BadAddressStatus: 0x0F}},
		{"PartialReadACK", nerveskeytest.Profile{PartialReadACK: true}},
		{"SHALenientLength", nerveskeytest.Profile{SHALenientLength: true}},
		{"UpdateExtraNeedsConfigLock", nerveskeytest.Profile{UpdateExtraNeedsConfigLock: true}},
		{"SignReadKeyAfterDataLockOnly", nerveskeytest.Profile{SignReadKeyAfterDataLockOnly: true}},
		{"IdleLosesSHAContext", nerveskeytest.Profile{IdleLosesSHAContext: true}},
	}
	timings := []nerveskeytest.TimingMode{nerveskeytest.TimingTypical, nerveskeytest.TimingMax, nerveskeytest.TimingRandom}
	for _, rv := range simRevisions {
		for _, pr := range profiles {
			for _, tm := range timings {
				t.Run(rv.name+"/"+pr.name+"/"+tm.String(), func(t *testing.T) {
					t.Parallel()
					provisionAndSign(t, &nerveskeytest.Options{Revision: rv.sim, Profile: pr.p, Timing: tm, Seed: 11})
				})
			}
		}
	}
}

// provisionAndSign provisions a blank chip made with opts as a NervesKey,
// checking the recorded packets, refused locks and writes on the way, then
// reads slots back and checks a signature with crypto/ecdsa.
func provisionAndSign(t *testing.T, opts *nerveskeytest.Options) {
	chip := nerveskeytest.NewChip(opts)
	t.Cleanup(func() { chip.Close() })
	bus := &recBus{Chip: chip}
	d := New(bus, nil)
	ctx := t.Context()
	cfg, err := d.ReadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	copy(cfg[20:52], testutil.Unhex(t, "8720 0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F 0F2F0F2F0F2F0F2F 0F0F0F0F"))
	copy(cfg[96:128], testutil.Unhex(t, "3300 1C001C001C001C001C001C001C00 3C003C003C00 3000 3C003C003C003C00"))
	cfg[18], cfg[19] = 0xAA, 0x00
	copy(cfg[92:96], []byte{0, 0, 0, 0})
	if err := d.WriteConfig(ctx, &cfg); err != nil {
		t.Fatal(err)
	}
	// A lock with the wrong summary is refused (0x0F or 0x01, by profile)
	// and locks nothing.
	if err := d.LockConfig(ctx, cfg.CRC()^1); !errors.Is(err, ErrExecution) && !errors.Is(err, ErrMiscompare) {
		t.Fatalf("config lock with a wrong CRC: %v", err)
	}
	if got, err := d.ReadConfig(ctx); err != nil || got.ConfigLocked() {
		t.Fatalf("after a refused config lock: locked=%v, %v", got.ConfigLocked(), err)
	}
	if err := d.LockConfig(ctx, cfg.CRC()); err != nil {
		t.Fatal(err)
	}
	var otp [OTPSize]byte
	copy(otp[:], "Nrvs\x00\x00NervesKey\x00SN1234")
	slots := make([][]byte, NumSlots)
	var pub [64]byte
	err = d.Do(ctx, func(s *Session) error {
		if err := s.WriteOTP(ctx, otp); err != nil {
			return err
		}
		var err error
		pub, err = s.GenKey(ctx, 0, true)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	bus.reset()
	for slot := 1; slot < NumSlots; slot++ {
		slots[slot] = bytes.Repeat([]byte{byte(slot)}, SlotSize(slot))
		if err := d.WriteSlot(ctx, slot, slots[slot]); err != nil {
			t.Fatal(err)
		}
	}
	// write_padded: 2 writes per 36-byte slot, 13 for slot 8, 3 per
	// 72-byte slot (retries would add more).
	if n := len(bus.packets()); n != 7*2+13+7*3 {
		t.Errorf("%d slot writes, want 48", n)
	}
	// 4-byte writes are refused before the data lock (the
	// 32-byte write before it rewrites the same bytes).
	if err := d.WriteSlotWords(ctx, 5, slots[5]); !errors.Is(err, ErrExecution) {
		t.Errorf("4-byte write before data lock: %v", err)
	}
	var sum []byte
	for slot := 1; slot < NumSlots; slot++ {
		sum = append(sum, slots[slot]...)
	}
	sum = append(sum, otp[:]...)
	if err := d.LockData(ctx, i2c.CRC16(sum)^1); !errors.Is(err, ErrExecution) && !errors.Is(err, ErrMiscompare) {
		t.Fatalf("data lock with a wrong CRC: %v", err)
	}
	if err := d.LockData(ctx, i2c.CRC16(sum)); err != nil {
		t.Fatal(err)
	}
	if err := d.LockSlot(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GenKey(ctx, 0, true); !errors.Is(err, ErrExecution) {
		t.Errorf("GenKey on a locked slot 0: %v", err)
	}
	if got, err := d.ReadOTP(ctx); err != nil || got != otp {
		t.Errorf("otp % x, %v", got, err)
	}
	// Settings: one 32-byte and one 4-byte write per 36-byte slot.
	settings := bytes.Repeat([]byte{0xA5}, 36)
	bus.reset()
	if err := d.WriteSlotWords(ctx, 5, settings); err != nil {
		t.Fatal(err)
	}
	p := bus.packets()
	if len(p) != 2 || !bytes.HasPrefix(p[0], testutil.Unhex(t, "27 12 82 28 00")) || !bytes.HasPrefix(p[1], testutil.Unhex(t, "0B 12 02 28 01")) {
		t.Errorf("settings packets % X", p)
	}
	for slot, want := range map[int][]byte{5: settings, 8: slots[8], 12: slots[12]} {
		if got, err := d.ReadSlot(ctx, slot); err != nil || !bytes.Equal(got, want) {
			t.Errorf("slot %d: % x, %v", slot, got, err)
		}
	}
	for i := range 3 {
		digest := sha256.Sum256([]byte{'p', byte(i)})
		sig, err := d.SignDigest(ctx, 0, digest)
		if err != nil {
			t.Fatal(err)
		}
		verify(t, publicKey(t, pub), digest, sig)
	}
	// SHA (Param2 = length under every reading) and Random on a locked chip.
	data := bytes.Repeat([]byte("profile sha "), 13)
	err = d.Do(ctx, func(s *Session) error {
		h, err := s.SHA256(ctx, data)
		if err == nil && h != sha256.Sum256(data) {
			t.Errorf("SHA256 = %x", h)
		}
		if err != nil {
			return err
		}
		r, err := s.Random(ctx)
		if err == nil && bytes.Equal(r[:4], []byte{0xFF, 0xFF, 0, 0}) {
			t.Errorf("random % x on a locked chip", r)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := chip.Stats(); st.Slot0Reads != 0 || st.Slot0Writes != 0 {
		t.Errorf("slot 0 touched: %+v", st)
	}
}

// TestAuthVolatileKey uses an Elixir 608 image rewritten to the volatile
// configuration of docs/nerves_key.md §3.3: slot 0 needs the persistent latch,
// which a CheckMac with the slot 1 key sets.
func TestAuthVolatileKey(t *testing.T) {
	img := vectorImage(t, elixirVectorOf(t, "00006002"))
	copy(img.Config[20:24], testutil.Unhex(t, "87208190"))
	copy(img.Config[96:100], testutil.Unhex(t, "33107800"))
	img.Config[69] = 0x81
	var key [32]byte
	copy(key[:], "0123456789abcdef") // 16-byte activation key, zero-padded
	img.Slots[1] = make([]byte, 36)
	copy(img.Slots[1], key[:])
	chip := vectorChip(t, img, nil)
	d := New(chip, nil)
	ctx := t.Context()
	digest := sha256.Sum256([]byte("volatile"))
	if _, err := d.SignDigest(ctx, 0, digest); !errors.Is(err, ErrExecution) {
		t.Fatalf("sign without latch: %v", err)
	}
	bad := key
	bad[0] ^= 1
	if err := d.AuthVolatileKey(ctx, 1, bad); !errors.Is(err, ErrMiscompare) {
		t.Fatalf("wrong key: %v", err)
	}
	sig, err := d.SignDigestVolatile(ctx, 1, key, 0, digest)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := d.GenKey(ctx, 0, false) // slot 0 needs the latch for this too
	if err != nil {
		t.Fatal(err)
	}
	verify(t, publicKey(t, pub), digest, sig)
	// The latch survives sleep: a plain SignDigest now works.
	sig, err = d.SignDigest(ctx, 0, digest)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, publicKey(t, pub), digest, sig)
	if err := d.Do(ctx, func(s *Session) error {
		on, err := s.Latch(ctx)
		if err == nil && !on {
			t.Error("latch reads clear")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
