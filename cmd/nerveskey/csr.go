package main

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"net"
	"strings"

	"github.com/nerveskey/nerveskey"
)

const csrUsage = `Usage: nerveskey csr --subject DN [--dns NAME]... [--ip ADDR]... [--der] [--foreign]

Prints a PKCS #10 certificate signing request for the chip's key, signed
by the chip (ECDSA-SHA256), as a PEM "CERTIFICATE REQUEST" block (or DER
with --der), to send to a CA. It is the way to get a certificate for a
chip configured by others (with --foreign, which uses slot 0 of any chip
whose configuration allows external signatures), or an externally signed
aux certificate.

The subject is comma-separated attributes, most significant first, with
the keys C, ST, L, O, OU, CN and SERIALNUMBER; values may not contain
commas.

Examples:

	$ nerveskey csr --subject "O=Example,CN=device-42" --dns device-42.example.com > device.csr
	$ openssl req -verify -noout -in device.csr
	$ nerveskey --addr 0x35 csr --foreign --subject CN=sensor-7 > sensor.csr
`

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func (c *cli) csr(args []string) error {
	fs := flag.NewFlagSet("csr", flag.ContinueOnError)
	subject := fs.String("subject", "", "the subject `DN`, e.g. \"O=Example,CN=device-42\" (required)")
	var dns, ips stringsFlag
	fs.Var(&dns, "dns", "add a DNS `NAME` to the subject alternative names (repeatable)")
	fs.Var(&ips, "ip", "add an IP `ADDR` to the subject alternative names (repeatable)")
	der := fs.Bool("der", false, "print DER instead of PEM")
	foreign := fs.Bool("foreign", false, "use slot 0 of a chip that is not a NervesKey, if its configuration allows external signatures")
	if _, err := c.parse(fs, csrUsage, args, 0, 0); err != nil {
		return err
	}
	if *subject == "" {
		return usagef("csr", "csr: --subject is required")
	}
	name, err := parseSubject(*subject)
	if err != nil {
		return usagef("csr", "--subject: %v", err)
	}
	tmpl := &x509.CertificateRequest{Subject: name, DNSNames: dns}
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return usagef("csr", "--ip: %q is not an IP address", s)
		}
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	}
	return c.withSigningKey(*foreign, func(s *session, k *nerveskey.Key) error {
		b, err := k.CertificateRequest(c.ctx, tmpl)
		if err != nil {
			return err
		}
		return c.writeDER(b, "CERTIFICATE REQUEST", *der)
	})
}

// withSigningKey is withKey, or with foreign the slot 0 key of a chip
// configured by others (Chip.ForeignKey).
func (c *cli) withSigningKey(foreign bool, f func(s *session, k *nerveskey.Key) error) error {
	if !foreign {
		return c.withKey(f)
	}
	s, err := c.openRead()
	if err != nil {
		return err
	}
	k, err := s.ForeignKey(c.ctx)
	if err != nil {
		return s.finish(keyError(err))
	}
	return s.finish(f(s, k))
}

// parseSubject parses "KEY=value,KEY=value", most significant first.
func parseSubject(s string) (pkix.Name, error) {
	var n pkix.Name
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v == "" {
			return n, fmt.Errorf("%q is not KEY=value", part)
		}
		switch strings.ToUpper(strings.TrimSpace(k)) {
		case "C":
			n.Country = append(n.Country, v)
		case "ST":
			n.Province = append(n.Province, v)
		case "L":
			n.Locality = append(n.Locality, v)
		case "O":
			n.Organization = append(n.Organization, v)
		case "OU":
			n.OrganizationalUnit = append(n.OrganizationalUnit, v)
		case "CN":
			if n.CommonName != "" {
				return n, fmt.Errorf("more than one CN")
			}
			n.CommonName = v
		case "SERIALNUMBER":
			n.SerialNumber = v
		default:
			return n, fmt.Errorf("unknown attribute %q (want C, ST, L, O, OU, CN or SERIALNUMBER)", k)
		}
	}
	return n, nil
}
