package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/etf"
)

const settingsGetUsage = `Usage: nerveskey settings get [--typed | --raw]

Prints the settings stored on the chip (an Erlang term written by
nerves_key's put_settings or by 'nerveskey settings put') as JSON.

A map whose keys are strings or atoms (the usual case) prints as a plain
JSON object: binaries and atoms as strings, tuples and lists as arrays,
true/false/nil as true/false/null, floats always with a fraction ("1.0").
Any other term Elixir can decode (keys that are numbers, tuples or other
maps, binaries that are not UTF-8, a term that is not a map) prints in
typed JSON, with a hint on stderr; --typed prints typed JSON always. In
typed JSON every term is {"t": TYPE, "v": VALUE}, TYPE one of map (VALUE a
list of [key, value] pairs), bin (UTF-8 text), bytes (hex), atom, int,
float, list, tuple. Typed JSON goes back with 'settings put --typed'
unchanged, except that atoms are written in UTF-8 as OTP 26 writes them.

With --raw it prints the whole stored area (524 bytes on a NervesKey, 416
on Trust&Go) as hex, whatever it holds. It fails when no settings were
ever written or when they are corrupt (as Elixir's get_settings would
say): use --raw then.

Examples:

	$ nerveskey settings get
	$ nerveskey settings get | jq -r .nerves_hub_org
	$ nerveskey settings get --typed > settings.json
	$ nerveskey settings put --typed settings.json
	$ nerveskey settings get --raw > settings.hex
`

func (c *cli) settingsGet(args []string) error {
	fs := flag.NewFlagSet("settings get", flag.ContinueOnError)
	raw := fs.Bool("raw", false, "print the raw stored bytes as hex")
	typed := fs.Bool("typed", false, "print typed JSON, which keeps every Erlang type")
	if _, err := c.parse(fs, settingsGetUsage, args, 0, 0); err != nil {
		return err
	}
	if *raw && *typed {
		return usagef("settings get", "settings get: give --raw or --typed, not both")
	}
	s, err := c.openRead()
	if err != nil {
		return err
	}
	return s.finish(func() error {
		if *raw {
			b, err := s.RawSettings(c.ctx)
			if err != nil {
				return keyError(err)
			}
			fmt.Fprintln(c.stdout, hex.EncodeToString(b))
			return nil
		}
		t, err := s.SettingsTerm(c.ctx)
		switch {
		case errors.Is(err, nerveskey.ErrNoSettings):
			return withHint(err, "write some with 'nerveskey settings put FILE.json'")
		case errors.Is(err, nerveskey.ErrSettingsCorrupt):
			return withHint(err, "see the stored bytes with 'nerveskey settings get --raw'")
		case err != nil:
			return keyError(err)
		}
		out, plain, err := settingsJSON(t.Value, *typed)
		if err != nil {
			return withHint(fmt.Errorf("settings: %w", err), "see the stored bytes with 'nerveskey settings get --raw'")
		}
		fmt.Fprintf(c.stdout, "%s\n", out)
		if !plain && !*typed {
			fmt.Fprintln(c.stderr, "nerveskey: hint: these settings have no plain JSON form (keys that are not strings or atoms, bytes that are not UTF-8, or not a map): printed as typed JSON, which 'nerveskey settings put --typed' writes back")
		}
		return nil
	}())
}

// settingsJSON returns v as indented JSON: plain JSON when v is a map that
// has a faithful plain form and typed is false, else typed JSON. plain
// says which.
func settingsJSON(v any, typed bool) (out []byte, plain bool, err error) {
	if _, isMap := v.(etf.Map); isMap && !typed {
		// Plain JSON only when `settings put` would store exactly these
		// bytes again: atoms, tuples and binaries print as strings and
		// arrays, so a map that holds them takes the typed form.
		if j, err := etf.ToJSON(v); err == nil {
			out, err := json.MarshalIndent(j, "", "  ")
			if err == nil && plainRoundTrips(v, out) {
				return out, true, nil
			}
		}
	}
	b, err := etf.TypedJSON(v)
	if err != nil {
		return nil, false, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return nil, false, err
	}
	return buf.Bytes(), false, nil
}

// plainRoundTrips reports whether the plain JSON out, read back as
// `settings put` reads it, encodes to the same term as v.
func plainRoundTrips(v any, out []byte) bool {
	w, err := settingsFromJSON(out, false)
	if err != nil {
		return false
	}
	a, aerr := etf.Encode(v, nil)
	b, berr := etf.Encode(w, nil)
	return aerr == nil && berr == nil && bytes.Equal(a, b)
}

const settingsPutUsage = `Usage: nerveskey settings put FILE.json
       nerveskey settings put --typed FILE.json
       nerveskey settings put --raw-hex HEX

Replaces the settings stored on a provisioned chip. FILE.json ("-" for
stdin) must hold one JSON object; it is written as Elixir's
term_to_binary would write the same map with string keys: strings become
binaries, whole numbers integers, numbers with a fraction or exponent
floats, arrays lists, true/false/null the atoms true/false/nil. With
--typed, FILE.json holds a term (usually a map) in the typed JSON
'settings get --typed' prints, which keeps every Erlang type. --raw-hex
writes the given bytes as they are (up to 524 bytes on a NervesKey, 416
on Trust&Go), as nerves_key's put_raw_settings does.

The input is checked (valid JSON, fits the area) before anything is
written. The chip has no transactions: a put interrupted on a real chip
leaves settings that read as corrupt until the next put.

Examples:

	$ echo '{"nerves_hub_org": "acme", "retries": 3}' > settings.json
	$ nerveskey settings put settings.json
	$ nerveskey settings get --typed | nerveskey settings put --typed -
	$ nerveskey settings put --raw-hex "$(cat settings.hex)"
`

func (c *cli) settingsPut(args []string) error {
	fs := flag.NewFlagSet("settings put", flag.ContinueOnError)
	rawHex := fs.String("raw-hex", "", "write these raw `HEX` bytes instead of a JSON file")
	typed := fs.Bool("typed", false, "FILE.json holds typed JSON, as 'settings get --typed' prints")
	pos, err := c.parse(fs, settingsPutUsage, args, 0, 1)
	if err != nil {
		return err
	}
	var raw []byte
	var value any
	switch {
	case *typed && *rawHex != "":
		return usagef("settings put", "settings put: give --typed or --raw-hex, not both")
	case len(pos) == 1 && *rawHex != "":
		return usagef("settings put", "settings put: give FILE.json or --raw-hex, not both")
	case len(pos) == 0 && *rawHex == "":
		return usagef("settings put", "settings put: missing FILE.json or --raw-hex HEX")
	case *rawHex != "":
		if raw, err = parseHex(*rawHex, 0); err != nil {
			return usagef("settings put", "--raw-hex: %v", err)
		}
		if len(raw) == 0 {
			return usagef("settings put", "--raw-hex: no bytes")
		}
	default:
		data, err := c.readInput(pos[0])
		if err != nil {
			return err
		}
		if value, err = settingsFromJSON(data, *typed); err != nil {
			return fmt.Errorf("%s: %w", pos[0], err)
		}
	}
	s, err := c.open()
	if err != nil {
		return err
	}
	return s.finish(func() error {
		var err error
		switch {
		case raw != nil:
			err = s.PutRawSettings(c.ctx, raw)
		case *typed:
			// Any term, as settings get --typed may print one that is not
			// a map; atoms in UTF-8, as OTP 26 and PutSettings write them.
			err = s.PutSettings(c.ctx, etf.Term{Value: value, Atoms: etf.AtomsUTF8})
		default:
			err = s.PutSettings(c.ctx, value)
		}
		if err != nil {
			return keyError(err)
		}
		fmt.Fprintln(c.stderr, "nerveskey: settings written")
		return nil
	}())
}

// settingsFromJSON decodes one plain JSON object, or one typed JSON term,
// into the values PutSettings encodes as Elixir would (package etf holds the one
// JSON mapping of settings: integers stay exact, floats stay floats).
func settingsFromJSON(data []byte, typed bool) (any, error) {
	if typed {
		return etf.ParseTypedJSON(data)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: more than one value")
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, errors.New("settings must be a JSON object")
	}
	return etf.FromJSON(v)
}
