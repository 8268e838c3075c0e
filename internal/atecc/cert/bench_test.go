package cert

import (
	"testing"

	"github.com/nerveskey/nerveskey/internal/testutil"
)

func BenchmarkNervesKeyDevice(b *testing.B) {
	v := loadChips(b)[0]
	c := mustParseCompressed(b, testutil.Unhex(b, v.Image.Slots["10"]))
	signerXY := testutil.Unhex(b, v.Image.Slots["11"])[:64]
	deviceXY := testutil.Unhex(b, nkSignerXY) // any 64 bytes; speed does not depend on it
	sn := [9]byte{1, 2, 3}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NervesKeyDevice(c, deviceXY, signerXY, sn, v.Elixir.ManufacturerSN); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNervesKeySigner(b *testing.B) {
	c := mustParseCompressed(b, testutil.Unhex(b, nkSlot12))
	xy := testutil.Unhex(b, nkSignerXY)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NervesKeySigner(c, xy); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompress(b *testing.B) {
	der := testutil.Unhex(b, nkSignerDER)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compress(der, NervesKeySignerTemplate); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseCompressed(b *testing.B) {
	slot := testutil.Unhex(b, nkSlot12)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCompressed(slot); err != nil {
			b.Fatal(err)
		}
	}
}
