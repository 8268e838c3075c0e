package nerveskeytest

import (
	_ "embed"
	"encoding/json"
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
// opts.Revision (default ATECC608A). tb.Cleanup closes it. It calls
// tb.Fatal if the embedded image cannot be loaded.
func NewProvisionedChip(tb testing.TB, opts *Options) *Chip {
	tb.Helper()
	rev := ATECC608A
	if opts != nil && opts.Revision != 0 {
		rev = opts.Revision
	}
	im, err := provisionedImage(rev)
	if err != nil {
		tb.Fatalf("nerveskeytest: provisioned %v image: %v", rev, err)
	}
	c, err := NewChipFromImage(im, opts)
	if err != nil {
		tb.Fatalf("nerveskeytest: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}
