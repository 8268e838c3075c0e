package cert

import (
	"bytes"
	"encoding/base64"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"testing"
)

// seeds returns compressed slots and DER certificates from the vectors.
func seeds(f *testing.F) (slots, ders [][]byte) {
	for _, v := range loadChips(f) {
		for _, n := range []string{"9", "10", "12", "15"} {
			slots = append(slots, testutil.Unhex(f, v.Image.Slots[n]))
		}
		for _, d := range []string{v.Elixir.DeviceCertValid, v.Elixir.DeviceCertElixir, v.Elixir.SignerCertOriginal, v.Elixir.SignerCertElixir} {
			ders = append(ders, testutil.Unhex(f, d))
		}
	}
	lm, _ := base64.StdEncoding.DecodeString(lmSignerB64)
	slots = append(slots, testutil.Unhex(f, nkSlot12), testutil.Unhex(f, lmSlot12), testutil.Unhex(f, tngSlot10), testutil.Unhex(f, tngSlot12))
	ders = append(ders, testutil.Unhex(f, nkSignerDER), lm, testutil.Unhex(f, tngDevDER))
	return slots, ders
}

func FuzzParseCompressed(f *testing.F) {
	slots, _ := seeds(f)
	for _, s := range slots {
		f.Add(s)
	}
	xy := testutil.Unhex(f, nkSignerXY)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCompressed(b)
		if err != nil {
			return
		}
		m, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal of parsed %x: %v", b, err)
		}
		if !bytes.Equal(m, b) {
			t.Fatalf("round trip changed %x into %x", b, m)
		}
		// Every rebuild either fails cleanly or gives a certificate that
		// compresses back to the same data.
		for _, r := range []struct {
			t Template
			f func() ([]byte, error)
		}{
			{NervesKeySignerTemplate, func() ([]byte, error) { return NervesKeySigner(c, xy) }},
			{NervesKeyDeviceTemplate, func() ([]byte, error) { return NervesKeyDevice(c, xy, xy, [9]byte{1}, "fuzz") }},
			{TrustAndGoSignerTemplate, func() ([]byte, error) { return TrustAndGoSigner(c, xy) }},
			{TrustAndGoDeviceTemplate, func() ([]byte, error) { return TrustAndGoDevice(c, xy, xy, [9]byte{1}, "000000000000") }},
		} {
			der, err := r.f()
			if err != nil {
				continue
			}
			c2, err := Compress(der, r.t)
			if err != nil {
				t.Fatalf("%v: Compress of rebuilt certificate: %v", r.t, err)
			}
			want := bytes.Clone(b)
			if !templates[r.t].trustAndGo {
				// Like nerves_key, the NervesKey rebuild ignores the stored
				// serial-number source and uses the template's.
				want[70] = r.t.SNSource()<<4 | want[70]&0x0f
			}
			if m2, _ := c2.Marshal(); !bytes.Equal(m2, want) {
				t.Fatalf("%v: rebuilt certificate compresses to %x, want %x", r.t, m2, want)
			}
		}
	})
}

func FuzzCompress(f *testing.F) {
	_, ders := seeds(f)
	for _, d := range ders {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		for _, tmpl := range []Template{NervesKeyDeviceTemplate, NervesKeySignerTemplate, TrustAndGoDeviceTemplate, TrustAndGoSignerTemplate} {
			c, err := Compress(der, tmpl)
			if err != nil {
				continue
			}
			m, err := c.Marshal()
			if err != nil {
				t.Fatalf("Marshal of Compress result %+v: %v", c, err)
			}
			c2, err := ParseCompressed(m)
			if err != nil || *c2 != *c {
				t.Fatalf("ParseCompressed(Marshal) = %+v, %v; want %+v", c2, err, c)
			}
		}
		if err := Compare(der, der); err != nil {
			t.Fatalf("Compare(der, der) = %v", err)
		}
		if ex, err := ElixirDER(der); err == nil {
			// Re-encoding the quirk is idempotent.
			if ex2, err := ElixirDER(ex); err != nil || !bytes.Equal(ex, ex2) {
				t.Fatalf("ElixirDER not idempotent: %v", err)
			}
		}
	})
}
