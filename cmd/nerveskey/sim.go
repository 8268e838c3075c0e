package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/nerveskey/nerveskey/nerveskeytest"
)

const simNewUsage = `Usage: nerveskey sim new FILE [--revision 508a|608a|608b] [--serial HEX18]

Creates FILE holding a blank factory chip image: nothing locked, no key,
no certificates. Use it with --sim FILE in place of a real chip; commands
that change the chip write FILE back atomically, and only when they
succeed; a command holds a lock on FILE from start to end, so commands on
one image run one after the other. FILE is written readable by its owner
only (0600): it holds the simulated private key. 'sim new' refuses to
overwrite FILE.

Examples:

	$ nerveskey sim new chip.json
	$ nerveskey sim new chip-508.json --revision 508a --serial 0123aabbccddeeff01
	$ nerveskey --sim chip.json info

The image is the JSON "image" object of chips.json: {"config": hex,
"otp": hex, "slots": {"0": hex, ..., "15": hex}}. --sim also reads a
chips.json vector object, and writes it back as a bare image.
`

func (c *cli) simNew(args []string) error {
	fs := flag.NewFlagSet("sim new", flag.ContinueOnError)
	revision := fs.String("revision", "608a", "the chip `REVISION`: 508a, 608a or 608b")
	serial := fs.String("serial", "", "the 9-byte chip serial as 18 `HEX` digits; real chips have 01 23 … EE (default 0123001122334455ee)")
	pos, err := c.parse(fs, simNewUsage, args, 1, 1)
	if err != nil {
		return err
	}
	opts := &nerveskeytest.Options{}
	switch strings.TrimPrefix(strings.ToLower(*revision), "atecc") {
	case "508a":
		opts.Revision = nerveskeytest.ATECC508A
	case "608a":
		opts.Revision = nerveskeytest.ATECC608A
	case "608b":
		opts.Revision = nerveskeytest.ATECC608B
	default:
		return usagef("sim new", "--revision %q is not 508a, 608a or 608b", *revision)
	}
	if *serial != "" {
		b, err := parseHex(*serial, 9)
		if err != nil {
			return usagef("sim new", "--serial: %v", err)
		}
		copy(opts.Serial[:], b)
	}
	path := pos[0]
	if err := refuseExisting(path); err != nil {
		return err
	}
	chip := nerveskeytest.NewChip(opts)
	img := chip.Image()
	chip.Close()
	data, err := marshalImage(img)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, data, 0o600, false); err != nil { // it holds the simulated private key
		return err
	}
	fmt.Fprintf(c.stderr, "nerveskey: created blank %v image %s\n", opts.Revision, path)
	return nil
}
