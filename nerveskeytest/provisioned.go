package nerveskeytest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"testing"
)

// provisionedJSON holds chips provisioned by the Elixir nerves_key
// library: one ATECC508A, one ATECC608A and one ATECC608B vector from
// testdata/elixir-chips.json.
//
//go:embed testdata/provisioned.json
var provisionedJSON []byte

// provisionedImage returns the embedded image for rev.
func provisionedImage(rev Revision) (*Image, error) {
	var f struct {
		Vectors []json.RawMessage `json:"vectors"`
	}
	if err := json.Unmarshal(provisionedJSON, &f); err != nil {
		return nil, err
	}
	for _, v := range f.Vectors {
		im, err := ParseImage(v)
		if err != nil {
			return nil, err
		}
		if r, _ := revisionOf(&im.Config); r == rev {
			return im, nil
		}
	}
	return nil, ErrRevision
}

// NewProvisionedChip returns an asleep chip provisioned as a NervesKey by
// the real Elixir code (config and data zones locked, slot 0 key
// generated and slot-locked, certificates in slots 10–12), for
// opts.Revision (default ATECC608A).
//
// In a test, pass its testing.TB: tb.Cleanup closes the chip, and an
// impossible failure to load the embedded image calls tb.Fatal. Outside
// tests (a demo program, an example) pass nil: the caller closes the chip,
// and that failure panics, since the image is compiled into the package.
// Options.Revision other than the three provisioned revisions fails the
// same way.
func NewProvisionedChip(tb testing.TB, opts *Options) *Chip {
	if tb != nil {
		tb.Helper()
	}
	fail := func(format string, args ...any) {
		if tb != nil {
			tb.Fatalf(format, args...)
		}
		panic(fmt.Sprintf(format, args...))
	}
	rev := ATECC608A
	if opts != nil && opts.Revision != 0 {
		rev = opts.Revision
	}
	im, err := provisionedImage(rev)
	if err != nil {
		fail("nerveskeytest: provisioned %v image: %v", rev, err)
		return nil
	}
	c, err := NewChipFromImage(im, opts)
	if err != nil {
		fail("nerveskeytest: %v", err)
		return nil
	}
	if tb != nil {
		tb.Cleanup(func() { c.Close() })
	}
	return c
}
