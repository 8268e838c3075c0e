package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nerveskey/nerveskey"
)

const settingsGetUsage = `Usage: nerveskey settings get [--raw]

Prints the settings stored on the chip (an Erlang term map written by
nerves_key's put_settings or by 'nerveskey settings put') as a JSON object:
string and atom keys by name, binaries and atoms as strings, tuples and
lists as arrays. With --raw it prints the whole stored area (524 bytes on
a NervesKey, 416 on Trust&Go) as hex, whatever it holds.

It fails when no settings were ever written, when they are corrupt (as
Elixir's get_settings would say), or when a value has no faithful JSON
form (a binary that is not UTF-8, a key that is not a string or atom):
use --raw then.

Examples:

	$ nerveskey settings get
	$ nerveskey settings get | jq -r .nerves_hub_org
	$ nerveskey settings get --raw > settings.hex
`

func (c *cli) settingsGet(args []string) error {
	fs := flag.NewFlagSet("settings get", flag.ContinueOnError)
	raw := fs.Bool("raw", false, "print the raw stored bytes as hex")
	if _, err := c.parse(fs, settingsGetUsage, args, 0, 0); err != nil {
		return err
	}
	s, err := c.open()
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
		m, err := s.Settings(c.ctx)
		switch {
		case errors.Is(err, nerveskey.ErrNoSettings):
			return withHint(err, "write some with 'nerveskey settings put FILE.json'")
		case errors.Is(err, nerveskey.ErrSettingsCorrupt), errors.Is(err, nerveskey.ErrSettingsKeys), errors.Is(err, nerveskey.ErrSettingsNotMap):
			return withHint(err, "see the stored bytes with 'nerveskey settings get --raw'")
		case err != nil:
			return keyError(err)
		}
		v, err := settingsToJSON(m)
		if err != nil {
			return withHint(fmt.Errorf("settings: %w", err), "see the stored bytes with 'nerveskey settings get --raw'")
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s\n", b)
		return nil
	}())
}

// settingsToJSON converts decoded settings values to values encoding/json
// writes without loss of meaning, or fails.
func settingsToJSON(v any) (any, error) {
	switch v := v.(type) {
	case nil, bool, int64:
		return v, nil
	case float64:
		// Keep floats floats: 1.0 must not come back as the integer 1.
		f := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(f, ".eEn") {
			f += ".0"
		}
		return json.Number(f), nil
	case string:
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("binary %q is not UTF-8 text", v)
		}
		return v, nil
	case nerveskey.Atom:
		return string(v), nil
	case *big.Int:
		return json.Number(v.String()), nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if !utf8.ValidString(k) {
				return nil, fmt.Errorf("key %q is not UTF-8 text", k)
			}
			j, err := settingsToJSON(x)
			if err != nil {
				return nil, err
			}
			out[k] = j
		}
		return out, nil
	case nerveskey.Map:
		m, ok := v.StringMap()
		if !ok {
			return nil, errors.New("a nested map has keys that are not distinct strings or atoms")
		}
		return settingsToJSON(m)
	case []any:
		return listToJSON(v)
	case nerveskey.Tuple:
		return listToJSON(v)
	}
	return nil, fmt.Errorf("value of type %T has no JSON form", v)
}

func listToJSON(l []any) (any, error) {
	out := make([]any, len(l))
	for i, x := range l {
		j, err := settingsToJSON(x)
		if err != nil {
			return nil, err
		}
		out[i] = j
	}
	return out, nil
}

const settingsPutUsage = `Usage: nerveskey settings put FILE.json
       nerveskey settings put --raw-hex HEX

Replaces the settings stored on a provisioned chip. FILE.json ("-" for
stdin) must hold one JSON object; it is written as Elixir's
term_to_binary would write the same map with string keys: strings become
binaries, whole numbers integers, other numbers floats, arrays lists,
true/false/null the atoms true/false/nil. --raw-hex writes the given bytes
as they are (up to 524 bytes on a NervesKey, 416 on Trust&Go), as
nerves_key's put_raw_settings does.

The input is checked (valid JSON, fits the area) before anything is
written. The chip has no transactions: a put interrupted on a real chip
leaves settings that read as corrupt until the next put.

Examples:

	$ echo '{"nerves_hub_org": "acme", "retries": 3}' > settings.json
	$ nerveskey settings put settings.json
	$ nerveskey settings put --raw-hex "$(cat settings.hex)"
`

func (c *cli) settingsPut(args []string) error {
	fs := flag.NewFlagSet("settings put", flag.ContinueOnError)
	rawHex := fs.String("raw-hex", "", "write these raw `HEX` bytes instead of a JSON file")
	pos, err := c.parse(fs, settingsPutUsage, args, 0, 1)
	if err != nil {
		return err
	}
	var raw []byte
	var value map[string]any
	switch {
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
		if value, err = settingsFromJSON(data); err != nil {
			return fmt.Errorf("%s: %w", pos[0], err)
		}
	}
	s, err := c.open()
	if err != nil {
		return err
	}
	return s.finish(func() error {
		var err error
		if raw != nil {
			err = s.PutRawSettings(c.ctx, raw)
		} else {
			err = s.PutSettings(c.ctx, value)
		}
		if err != nil {
			return keyError(err)
		}
		fmt.Fprintln(c.stderr, "nerveskey: settings written")
		return nil
	}())
}

// settingsFromJSON decodes one JSON object into values PutSettings
// encodes as Elixir would: integers stay exact.
func settingsFromJSON(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: more than one value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("settings must be a JSON object")
	}
	out, err := fromJSON(m)
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

func fromJSON(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			y, err := fromJSON(x)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			y, err := fromJSON(x)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case json.Number:
		s := string(v)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := v.Int64(); err == nil {
				return i, nil
			}
			if b, ok := new(big.Int).SetString(s, 10); ok {
				return b, nil
			}
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s is out of range", s)
		}
		return f, nil
	}
	return v, nil // string, bool, nil
}
