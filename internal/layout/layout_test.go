package layout_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/layout"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

func blankConfig(t *testing.T) atecc.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "elixir-blank-608a.json"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := nerveskeytest.ParseImage(b)
	if err != nil {
		t.Fatal(err)
	}
	return atecc.Config(img.Config)
}

// TestDetect checks each kind on the simulator's images: the Elixir
// oracle's blank chip, chips provisioned by nerves_key, the volatile-key
// variant, the Trust&Go part and two foreign layouts.
func TestDetect(t *testing.T) {
	nk := func(rev nerveskeytest.Revision) atecc.Config {
		return atecc.Config(nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: rev}).Image().Config)
	}
	tng := atecc.Config(nerveskeytest.NewTrustAndGoChip(t, nil).Image().Config)
	for _, tt := range []struct {
		name   string
		cfg    atecc.Config
		change func(c *atecc.Config)
		want   layout.Kind
	}{
		{"blank", blankConfig(t), nil, layout.Blank},
		{"blank with NervesKey slots", nk(nerveskeytest.ATECC608A), func(c *atecc.Config) { c[87] = 0x55; c[86] = 0x55 }, layout.Blank},
		{"nerves_key 508A", nk(nerveskeytest.ATECC508A), nil, layout.NervesKey},
		{"nerves_key 608B", nk(nerveskeytest.ATECC608B), nil, layout.NervesKey},
		{"nerves_key, data unlocked", nk(nerveskeytest.ATECC608A), func(c *atecc.Config) { c[86] = 0x55 }, layout.NervesKey},
		{"nerves_key volatile", nk(nerveskeytest.ATECC608A), func(c *atecc.Config) { c[96], c[97] = 0x33, 0x10 }, layout.NervesKeyVolatile},
		{"trust_and_go", tng, nil, layout.TrustAndGo},
		{"trust_and_go slots at another address", tng, func(c *atecc.Config) { c[16] = 0x6C }, layout.Foreign},
		{"foreign slot 0", nk(nerveskeytest.ATECC608A), func(c *atecc.Config) { c[20] = 0x8F }, layout.Foreign},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			if tt.change != nil {
				tt.change(&c)
			}
			if got := layout.Detect(&c); got != tt.want {
				t.Errorf("Detect = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[layout.Kind]string{
		layout.Blank: "blank", layout.NervesKey: "nerves_key", layout.NervesKeyVolatile: "nerves_key_volatile",
		layout.TrustAndGo: "trust_and_go", layout.Foreign: "foreign", layout.Kind(9): "Kind(9)",
	} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(k), k.String(), want)
		}
	}
	if !layout.NervesKeyVolatile.IsNervesKey() || layout.TrustAndGo.IsNervesKey() {
		t.Error("IsNervesKey wrong")
	}
}

// FuzzDetect checks Detect on any 128 bytes: it never panics, says Blank
// exactly when the configuration zone is unlocked, and says a NervesKey
// kind only for nerves_key's slot 0 words.
func FuzzDetect(f *testing.F) {
	f.Add(make([]byte, 128))
	tng := nerveskeytest.NewTrustAndGoChip(f, nil).Image().Config
	f.Add(tng[:])
	nk := nerveskeytest.NewProvisionedChip(f, nil).Image().Config
	f.Add(nk[:])
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 128 {
			return
		}
		c := atecc.Config(b)
		k := layout.Detect(&c)
		if (k == layout.Blank) != !c.ConfigLocked() {
			t.Fatalf("Detect = %v with config locked %v", k, c.ConfigLocked())
		}
		if k.IsNervesKey() != (c.ConfigLocked() && b[20] == 0x87 && b[21] == 0x20) {
			t.Fatalf("Detect = %v with slot 0 SlotConfig % x", k, b[20:22])
		}
		if k < layout.Blank || k > layout.Foreign {
			t.Fatalf("Detect = %d", int(k))
		}
	})
}
