package atecc

import (
	"bytes"
	"encoding/json"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"testing"
)

// configurationTestImage is the 508A config zone of the Elixir
// atecc508a test/atecc508a/configuration_test.exs ("read and decode the
// config zone").
const configurationTestImage = "01230bc300005000f485f099eec01500c00055008f200f0f0f0f0f0f8f8f8f8f" +
	"9f8faf8f0000000000000000000000000000af8fffffffff00000000ffffffff" +
	"00000000ffffffffffffffffffffffffffffffff00005555ffff000000000000" +
	"3300330033001c001c001c001c001c003c003c003c003c003c003c003c001c00"

func TestParseConfigElixir(t *testing.T) {
	c, err := ParseConfig(testutil.Unhex(t, configurationTestImage))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Config508()
	// The assertions of configuration_test.exs.
	if s.I2CAddress != 0xC0 || c.I2CAddress() != 0x60 {
		t.Errorf("i2c address %#x / %#x", s.I2CAddress, c.I2CAddress())
	}
	if s.Counter0 != 4294967295 || s.Counter1 != 4294967295 {
		t.Errorf("counters %d %d", s.Counter0, s.Counter1)
	}
	if s.X509Format != [4]byte{} || s.UserExtra != 0 || s.SlotLocked != 0xFFFF {
		t.Errorf("x509 %x user extra %d slot locked %#x", s.X509Format, s.UserExtra, s.SlotLocked)
	}
	if got, want := c.SerialNumber(), [9]byte{1, 35, 11, 195, 244, 133, 240, 153, 238}; got != want {
		t.Errorf("serial % x", got)
	}
	if c.Revision() != ATECC508A || c.Revision().String() != "ATECC508A" {
		t.Errorf("revision %v", c.Revision())
	}
	if s.OTPMode != 0x55 || c.LockValue() != 0x55 || c.LockConfig() != 0x55 || s.ChipMode != 0 {
		t.Errorf("otp mode %#x lock %#x %#x chip mode %#x", s.OTPMode, c.LockValue(), c.LockConfig(), s.ChipMode)
	}
	if c.ConfigLocked() || c.DataLocked() || c.SlotLocked(0) {
		t.Error("unlocked image reads as locked")
	}
	if !bytes.Equal(s.KeyConfig[:], testutil.Unhex(t, "3300330033001c001c001c001c001c003c003c003c003c003c003c003c001c00")) {
		t.Errorf("key config % x", s.KeyConfig)
	}
	if !bytes.Equal(s.SlotConfig[:], testutil.Unhex(t, "8f200f0f0f0f0f0f8f8f8f8f9f8faf8f0000000000000000000000000000af8f")) {
		t.Errorf("slot config % x", s.SlotConfig)
	}
	// Bit fields of slot 0 (SlotConfig 8F 20, KeyConfig 33 00).
	sc, kc := c.SlotConfig(0), c.KeyConfig(0)
	if sc.ReadKey() != 0xF || !sc.IsSecret() || sc.WriteConfig() != 2 || !sc.GenKeyAllowed() || !sc.ExternalSign() {
		t.Errorf("slot config 0 = %#04x decoded wrong", uint16(sc))
	}
	if !kc.Private() || !kc.PubInfo() || kc.KeyType() != 4 || !kc.Lockable() || kc.ReqAuth() {
		t.Errorf("key config 0 = %#04x decoded wrong", uint16(kc))
	}
	// The config lock CRC of this image, computed independently (Python,
	// bit by bit per docs/atecc.md §1.6): wire bytes 34 AA.
	if got := c.CRC(); got != 0xAA34 {
		t.Errorf("CRC = %#04x, want 0xaa34", got)
	}
	if s2 := s.Config(); s2 != c {
		t.Errorf("508 round trip changed the image")
	}
	if s6 := c.Config608(); s6.Config() != c {
		t.Errorf("608 round trip changed the image")
	}
}

func TestRevisionOf(t *testing.T) {
	tests := []struct {
		rev  string
		want Revision
	}{
		{"00005000", ATECC508A},
		{"00006001", ATECC608A},
		{"00006002", ATECC608A},
		{"00006003", ATECC608B},
		{"80001001", RevisionUnknown},
		{"00020008", RevisionUnknown},
	}
	for _, tt := range tests {
		if got := RevisionOf([4]byte(testutil.Unhex(t, tt.rev))); got != tt.want {
			t.Errorf("RevisionOf(%s) = %v, want %v", tt.rev, got, tt.want)
		}
	}
}

func TestConfig608Fields(t *testing.T) {
	var c Config
	c[69] = 0x81 // configure_volatile: enabled, slot 1
	copy(c[96:], testutil.Unhex(t, "33107800"))
	if en, slot := c.VolatileKeyPermission(); !en || slot != 1 {
		t.Errorf("volatile key permission %v %d", en, slot)
	}
	if !c.KeyConfig(0).PersistentDisable() || c.KeyConfig(1).KeyType() != 6 || !c.KeyConfig(1).ReqRandom() {
		t.Error("608 key config bits decoded wrong")
	}
	if _, err := ParseConfig(make([]byte, 127)); err == nil {
		t.Error("127-byte config accepted")
	}
}

func TestAddresses(t *testing.T) {
	// docs/nerves_key.md §6.1 and docs/atecc.md §3.
	tests := []struct {
		slot, block, word int
		want              uint16
	}{
		{10, 0, 0, 0x0050},
		{10, 2, 0, 0x0250},
		{8, 12, 0, 0x0C40},
		{5, 1, 0, 0x0128},
		{9, 1, 5, 0x014D},
	}
	for _, tt := range tests {
		if got := DataAddr(tt.slot, tt.block, tt.word); got != tt.want {
			t.Errorf("DataAddr(%d,%d,%d) = %#04x, want %#04x", tt.slot, tt.block, tt.word, got, tt.want)
		}
	}
	for slot, want := range []int{36, 36, 36, 36, 36, 36, 36, 36, 416, 72, 72, 72, 72, 72, 72, 72} {
		if SlotSize(slot) != want {
			t.Errorf("SlotSize(%d) = %d", slot, SlotSize(slot))
		}
	}
	if SlotSize(16) != 0 || SlotSize(-1) != 0 {
		t.Error("SlotSize of a missing slot")
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(testutil.Unhex(f, configurationTestImage))
	for _, v := range elixirVectors(f) {
		var img struct {
			Image struct{ Config string } `json:"image"`
		}
		if err := json.Unmarshal(v.Raw, &img); err != nil {
			f.Fatal(err)
		}
		f.Add(testutil.Unhex(f, img.Image.Config))
	}
	f.Add(make([]byte, 128))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			if len(b) == ConfigSize {
				t.Fatalf("128 bytes rejected: %v", err)
			}
			return
		}
		s5, s6 := c.Config508(), c.Config608()
		if s5.Config() != c || s6.Config() != c || !bytes.Equal(c[:], b) {
			t.Fatalf("round trip changed % x", b)
		}
		for slot := range NumSlots {
			_ = c.SlotConfig(slot).WriteConfig() + c.KeyConfig(slot).KeyType()
			_ = c.SlotLocked(slot)
		}
		_ = c.Revision().String()
	})
}
