package cert

import "testing"

func BenchmarkNervesKeyDevice(b *testing.B) {
	v := loadChips(b)[0]
	c := mustParseCompressed(b, unhex(b, v.Image.Slots["10"]))
	signerXY := unhex(b, v.Image.Slots["11"])[:64]
	deviceXY := unhex(b, nkSignerXY) // any 64 bytes; speed does not depend on it
	sn := [9]byte{1, 2, 3}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NervesKeyDevice(c, deviceXY, signerXY, sn, v.Elixir.ManufacturerSN); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNervesKeySigner(b *testing.B) {
	c := mustParseCompressed(b, unhex(b, nkSlot12))
	xy := unhex(b, nkSignerXY)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NervesKeySigner(c, xy); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompress(b *testing.B) {
	der := unhex(b, nkSignerDER)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compress(der, NervesKeySignerTemplate); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseCompressed(b *testing.B) {
	slot := unhex(b, nkSlot12)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCompressed(slot); err != nil {
			b.Fatal(err)
		}
	}
}
