package main

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"

	"github.com/nerveskey/nerveskey"
)

const infoUsage = `Usage: nerveskey info [--json]

Prints what the chip says about itself: whether it is provisioned, its
mode, part revision and 9-byte serial, the manufacturer serial number and
board name from its OTP zone, the serial number provisioning would use by
default, and whether it holds aux certificates. It works on blank chips.

Examples:

	$ nerveskey info
	$ nerveskey --sim chip.json info --json | jq -r .manufacturer_sn

With --json it prints one object:

	{"provisioned": bool, "mode": "unprovisioned"|"regular"|"volatile"|"unrecognized",
	 "revision": "ATECC608B", "serial": "0123…ee", "manufacturer_sn": string,
	 "board_name": string, "default_manufacturer_sn": string, "has_aux": bool,
	 "user_data": "00…1f"}

user_data, the 32 bytes of OTP user data in hex (provision --user-data),
is there only when they are not all zeros.
`

// infoJSON is the --json output of info. Its keys are a stable interface.
type infoJSON struct {
	Provisioned           bool   `json:"provisioned"`
	Mode                  string `json:"mode"`
	Revision              string `json:"revision"`
	Serial                string `json:"serial"` // 9 bytes, lower-case hex
	ManufacturerSN        string `json:"manufacturer_sn"`
	BoardName             string `json:"board_name"`
	DefaultManufacturerSN string `json:"default_manufacturer_sn"`
	HasAux                bool   `json:"has_aux"`
	UserData              string `json:"user_data,omitempty"` // 32 bytes, hex; omitted when all zeros
}

func (c *cli) info(args []string) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object")
	if _, err := c.parse(fs, infoUsage, args, 0, 0); err != nil {
		return err
	}
	s, err := c.openRead()
	if err != nil {
		return err
	}
	return s.finish(func() error {
		in, err := s.Info(c.ctx)
		if err != nil {
			return err
		}
		j := infoJSON{
			Provisioned:           in.Provisioned,
			Mode:                  in.Mode,
			Revision:              in.Revision,
			Serial:                hex.EncodeToString(in.Serial[:]),
			ManufacturerSN:        in.ManufacturerSN,
			BoardName:             in.BoardName,
			DefaultManufacturerSN: in.DefaultManufacturerSN,
			HasAux:                in.HasAux,
			UserData:              userDataHex(in.UserData),
		}
		if *asJSON {
			return json.NewEncoder(c.stdout).Encode(j)
		}
		fmt.Fprintf(c.stdout, "provisioned:             %t\n", j.Provisioned)
		fmt.Fprintf(c.stdout, "mode:                    %s\n", j.Mode)
		fmt.Fprintf(c.stdout, "revision:                %s\n", j.Revision)
		fmt.Fprintf(c.stdout, "serial:                  %s\n", j.Serial)
		fmt.Fprintf(c.stdout, "manufacturer_sn:         %q\n", j.ManufacturerSN)
		fmt.Fprintf(c.stdout, "board_name:              %q\n", j.BoardName)
		fmt.Fprintf(c.stdout, "default_manufacturer_sn: %s\n", j.DefaultManufacturerSN)
		fmt.Fprintf(c.stdout, "has_aux:                 %t\n", j.HasAux)
		if j.UserData != "" {
			fmt.Fprintf(c.stdout, "user_data:               %s\n", j.UserData)
		}
		return nil
	}())
}

const certUsage = `Usage: nerveskey cert device|signer [--aux] [--der] [--elixir]

Rebuilds a certificate from the chip's compressed form and prints it as
PEM, or DER with --der. "device" is the chip's own certificate, "signer"
the certificate of the key that signed it. The signature is checked before
anything is printed.

Examples:

	$ nerveskey cert device > device.pem
	$ nerveskey cert signer > signer.pem
	$ openssl verify -CAfile signer.pem device.pem
	$ nerveskey cert device --aux --der > aux-device.der

nerves_key rebuilds about one certificate in 256 with a non-minimal DER
signature that OpenSSL rejects; nerveskey prints the certificate as it was
signed. --elixir prints nerves_key's bytes instead, to compare with a
device running the Elixir library.
`

func (c *cli) cert(args []string) error {
	fs := flag.NewFlagSet("cert", flag.ContinueOnError)
	aux := fs.Bool("aux", false, "the aux certificate pair instead of the primary one")
	der := fs.Bool("der", false, "print DER instead of PEM")
	elixir := fs.Bool("elixir", false, "print the bytes nerves_key would rebuild")
	pos, err := c.parse(fs, certUsage, args, 1, 1)
	if err != nil {
		return err
	}
	which := pos[0]
	if which != "device" && which != "signer" {
		return usagef("cert", "cert: %q is not device or signer", which)
	}
	pair := nerveskey.Primary
	if *aux {
		pair = nerveskey.Aux
	}
	s, err := c.openRead()
	if err != nil {
		return err
	}
	return s.finish(func() error {
		var crt *x509.Certificate
		var err error
		if which == "device" {
			crt, _, err = s.Certificates(c.ctx, pair)
		} else {
			_, crt, err = s.Certificates(c.ctx, pair)
		}
		if err != nil {
			return certError(err)
		}
		b := crt.Raw
		if *elixir {
			if b, err = cert.ElixirDER(b); err != nil {
				return err
			}
		}
		return c.writeDER(b, "CERTIFICATE", *der)
	}())
}

// certError adds hints to certificate read errors.
func certError(err error) error {
	if errors.Is(err, nerveskey.ErrNoAux) {
		return withHint(err, "write aux certificates with 'nerveskey aux provision'")
	}
	return keyError(err)
}
