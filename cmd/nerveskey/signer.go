package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"github.com/nerveskey/nerveskey/internal/atecc/cert"
	"math/big"
	"os"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/cmd/nerveskey/internal/keysource"
)

const signerCreateUsage = `Usage: nerveskey signer create NAME [--years-valid N] [--key KEY]

Creates a NervesKey signer: a P-256 key and its self-signed certificate
(CN=Signer), valid from now for N whole years, as "mix nerves_key.signer
create" makes them. Without --key it makes a new key and writes NAME.cert
(PEM CERTIFICATE) and NAME.key (PEM EC PRIVATE KEY, mode 0600); with
--key it certifies that existing key (a PEM file or a key in an HSM) and
writes only NAME.cert. It refuses to overwrite either file. No chip is
used.

Examples:

	$ nerveskey signer create signer
	$ nerveskey signer create acme-2026 --years-valid 10
	$ nerveskey provision --signer-cert acme-2026.cert --signer-key acme-2026.key
	$ export NERVESKEY_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
	$ nerveskey signer create hsm-signer --years-valid 31 --key 'pkcs11:token=factory;object=signer?pin-source=file:/run/pin'

How long: a device certificate is valid 31 years, the signer only as long
as --years-valid (default 1, as nerves_key). Services that check the
signer only when a device registers (AWS IoT with a registered CA) do not
mind a short signer; anything that verifies the whole chain on every
connection (openssl verify, mosquitto, s_server, most TLS servers) fails
once the signer expires, however long the device certificate has left.
provision warns when the signer expires first. A long-lived signer is a
key worth more to steal: keep it in an HSM (--key pkcs11:...).

Keep NAME.key secret: anyone holding it can make certificates your
servers will trust. The compressed certificate format cannot hold issue
years after 2031.
`

func (c *cli) signerCreate(args []string) error {
	fs := flag.NewFlagSet("signer create", flag.ContinueOnError)
	years := fs.Int("years", 1, fmt.Sprintf("validity in whole years, %d to %d (same as --years-valid)", minSignerYears, maxSignerYears))
	yearsValid := fs.Int("years-valid", 0, "validity in whole years, as nerves_key's option (default 1)")
	key := addKeyFlags(fs, "key", "certify this existing P-256 key instead of making one")
	pos, err := c.parse(fs, signerCreateUsage, args, 1, 1)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["years"] && set["years-valid"] && *years != *yearsValid {
		return usagef("signer create", "--years %d and --years-valid %d disagree; give one", *years, *yearsValid)
	}
	if set["years-valid"] {
		*years = *yearsValid
	}
	if *years < minSignerYears || *years > maxSignerYears {
		return usagef("signer create", "--years-valid %d: want %d to %d", *years, minSignerYears, maxSignerYears)
	}
	name := pos[0]
	if err := checkName(name); err != nil {
		return usagef("signer create", "%v", err)
	}
	certFile, keyFile := name+".cert", name+".key"
	if key.value != "" {
		if err := refuseExisting(certFile); err != nil {
			return err
		}
		k, err := c.openKey(key)
		if err != nil {
			return err
		}
		defer k.Close()
		crt, err := nerveskey.NewSignerWithKey(nil, k.Signer, *years, time.Time{})
		if err != nil {
			return err
		}
		if err := writeFileAtomic(certFile, cert.EncodeCertificatePEM(crt), 0o644, false); err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "nerveskey: wrote %s for %s (%s, valid until %s); no key file\n", certFile, k.Desc, crt.Subject, crt.NotAfter.UTC().Format(time.DateOnly))
		return nil
	}
	if err := refuseExisting(certFile, keyFile); err != nil {
		return err
	}
	crt, pk, err := nerveskey.NewSigner(nil, *years, time.Time{})
	if err != nil {
		return err
	}
	keyPEM, err := cert.EncodeKeyPEM(pk)
	if err != nil {
		return err
	}
	if err := writePair(certFile, cert.EncodeCertificatePEM(crt), keyFile, keyPEM); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "nerveskey: wrote %s and %s (%s, valid until %s)\n", certFile, keyFile, crt.Subject, crt.NotAfter.UTC().Format(time.DateOnly))
	return nil
}

const deviceCreateUsage = `Usage: nerveskey device create NAME --signer-cert FILE --signer-key KEY

Creates a debug device certificate and private key without a chip, as
"mix nerves_key.device create" does: a new P-256 key, a random 9-byte chip
serial and a certificate with CN=NAME, valid 31 years, signed by the
signer, shaped exactly as provisioning would make it. Writes NAME.cert and
NAME.key (mode 0600) and refuses to overwrite either. Use it to test
servers; the private key is an ordinary file, not protected by a chip.

Examples:

	$ nerveskey device create test-device --signer-cert signer.cert --signer-key signer.key
	$ openssl verify -CAfile signer.cert test-device.cert
`

func (c *cli) deviceCreate(args []string) error {
	fs := flag.NewFlagSet("device create", flag.ContinueOnError)
	certFile := fs.String("signer-cert", "", "the signer certificate PEM `FILE`")
	keyFile := addKeyFlags(fs, "signer-key", "the signer's private key")
	pos, err := c.parse(fs, deviceCreateUsage, args, 1, 1)
	if err != nil {
		return err
	}
	name := pos[0]
	if err := checkName(name); err != nil {
		return usagef("device create", "%v", err)
	}
	signerCert, signerKey, closeKey, err := c.loadSigner("device create", *certFile, keyFile)
	if err != nil {
		return err
	}
	defer closeKey()
	outCert, outKey := name+".cert", name+".key"
	if err := refuseExisting(outCert, outKey); err != nil {
		return err
	}
	crt, key, err := nerveskey.NewDebugDevice(nil, name, signerCert, signerKey, time.Time{})
	if err != nil {
		return err
	}
	keyPEM, err := cert.EncodeKeyPEM(key)
	if err != nil {
		return err
	}
	if err := writePair(outCert, cert.EncodeCertificatePEM(crt), outKey, keyPEM); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "nerveskey: wrote %s and %s (CN=%s, issued by %s)\n", outCert, outKey, crt.Subject.CommonName, crt.Issuer)
	return nil
}

const signerCrossCertUsage = `Usage: nerveskey signer cross-cert --signer-cert FILE --ca-cert FILE --ca-key KEY
                                  [--years N] [--out FILE]

Issues, with your company CA's key, a certificate for the signer's key:
same subject (CN=Signer) and subject key identifier as the signer, issuer
the company CA, a CA certificate with path length 0. A chip can only store
a self-signed signer (the compressed format fixes issuer = subject), so a
signer cannot be an intermediate under a company CA; this cross
certificate gives servers that trust the company root a chain to the
devices: device certificate, then this certificate, then the root. The CA
key may be any type (RSA, P-384, P-256) and come from a PEM file or an
HSM. The certificate is valid from now for N years, but never past the
CA's own expiry. Writes PEM to --out (refusing to overwrite) or stdout.

Examples:

	$ nerveskey signer cross-cert --signer-cert signer.cert --ca-cert acme-root.pem \
	    --ca-key 'pkcs11:token=ca;object=root?module-path=/usr/lib/softhsm/libsofthsm2.so' --out signer-cross.pem
	$ openssl verify -CAfile acme-root.pem -untrusted signer-cross.pem device.pem

Devices (or the server's configuration) send signer-cross.pem after the
device certificate as the intermediate.
`

func (c *cli) signerCrossCert(args []string) error {
	fs := flag.NewFlagSet("signer cross-cert", flag.ContinueOnError)
	signerFile := fs.String("signer-cert", "", "the signer certificate PEM `FILE`")
	caFile := fs.String("ca-cert", "", "the company CA certificate PEM `FILE`")
	caKey := addKeyFlags(fs, "ca-key", "the company CA's private key")
	years := fs.Int("years", 10, "validity in `N` years, capped at the CA's expiry")
	out := fs.String("out", "", "write the certificate to `FILE` (default stdout)")
	if _, err := c.parse(fs, signerCrossCertUsage, args, 0, 0); err != nil {
		return err
	}
	if *signerFile == "" || *caFile == "" || caKey.value == "" {
		return usagef("signer cross-cert", "signer cross-cert: --signer-cert, --ca-cert and --ca-key are required")
	}
	if *years < 1 || *years > 100 {
		return usagef("signer cross-cert", "--years %d: want 1 to 100", *years)
	}
	signer, err := readCert(*signerFile)
	if err != nil {
		return err
	}
	if err := signerProblems(*signerFile, signer); err != nil {
		return err
	}
	ca, err := readCert(*caFile)
	if err != nil {
		return err
	}
	if !ca.IsCA || ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%s: %s is not a CA certificate that may sign certificates", *caFile, ca.Subject)
	}
	if *out != "" {
		if err := refuseExisting(*out); err != nil {
			return err
		}
	}
	k, err := c.openCAKey(caKey)
	if err != nil {
		return err
	}
	defer k.Close()
	now := time.Now().UTC().Truncate(time.Second)
	notAfter := now.AddDate(*years, 0, 0)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
		fmt.Fprintf(c.stderr, "nerveskey: warning: the CA expires on %s; the cross certificate ends then\n", ca.NotAfter.UTC().Format(time.DateOnly))
	}
	if !notAfter.After(now) {
		return fmt.Errorf("%s: the CA expired on %s", *caFile, ca.NotAfter.UTC().Format(time.DateOnly))
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               signer.Subject,
		RawSubject:            signer.RawSubject,
		NotBefore:             now,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		SubjectKeyId:          signer.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, signer.PublicKey, k.Signer)
	if err != nil {
		return fmt.Errorf("cross-cert: %w", err)
	}
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	if err := crt.CheckSignatureFrom(ca); err != nil {
		return fmt.Errorf("cross-cert: the CA key's signature does not verify under %s: %w", *caFile, err)
	}
	if err := writeOut(c, *out, cert.EncodeCertificatePEM(crt)); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "nerveskey: cross certificate for %s issued by %s, valid until %s\n", crt.Subject, crt.Issuer, crt.NotAfter.UTC().Format(time.DateOnly))
	return nil
}

const signerVerificationCertUsage = `Usage: nerveskey signer verification-cert --signer-cert FILE --signer-key KEY --code CODE [--out FILE]

Makes the verification certificate AWS IoT asks for when you register the
signer as a CA certificate: subject CN=CODE (the registration code from
"aws iot get-registration-code"), issued and signed by the signer key, for
a fresh P-256 key that is thrown away (AWS needs only the certificate).
Valid from now for 30 days, or until the signer expires if sooner. Writes
PEM to --out (refusing to overwrite) or stdout. See docs/factory.md.

Examples:

	$ code=$(aws iot get-registration-code --query registrationCode --output text)
	$ nerveskey signer verification-cert --signer-cert signer.cert --signer-key signer.key --code "$code" --out verification.pem
	$ aws iot register-ca-certificate --ca-certificate file://signer.cert \
	    --verification-cert file://verification.pem --set-as-active --allow-auto-registration
`

func (c *cli) signerVerificationCert(args []string) error {
	fs := flag.NewFlagSet("signer verification-cert", flag.ContinueOnError)
	certFile := fs.String("signer-cert", "", "the signer certificate PEM `FILE`")
	keyFlag := addKeyFlags(fs, "signer-key", "the signer's private key")
	code := fs.String("code", "", "the registration `CODE`, the certificate's CN")
	out := fs.String("out", "", "write the certificate to `FILE` (default stdout)")
	if _, err := c.parse(fs, signerVerificationCertUsage, args, 0, 0); err != nil {
		return err
	}
	if *code == "" {
		return usagef("signer verification-cert", "signer verification-cert: --code is required")
	}
	if len(*code) > 64 {
		return usagef("signer verification-cert", "--code is %d bytes; a CN holds at most 64", len(*code))
	}
	if *out != "" {
		if err := refuseExisting(*out); err != nil {
			return err
		}
	}
	signer, key, closeKey, err := c.loadSigner("signer verification-cert", *certFile, keyFlag)
	if err != nil {
		return err
	}
	defer closeKey()
	now := time.Now().UTC().Truncate(time.Second)
	if err := checkSignerLife(*certFile, signer, now); err != nil {
		return err
	}
	notAfter := now.AddDate(0, 0, 30)
	if signer.NotAfter.Before(notAfter) {
		notAfter = signer.NotAfter.UTC()
	}
	throwaway, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: *code},
		NotBefore:             now,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, throwaway.Public(), key)
	if err != nil {
		return fmt.Errorf("verification-cert: %w", err)
	}
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	if err := crt.CheckSignatureFrom(signer); err != nil {
		return fmt.Errorf("verification-cert: the signature does not verify under the signer: %w", err)
	}
	if err := writeOut(c, *out, cert.EncodeCertificatePEM(crt)); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "nerveskey: verification certificate CN=%s signed by %s, valid until %s\n", *code, signer.Subject, notAfter.Format(time.DateOnly))
	return nil
}

// openCAKey opens a CA key of any type.
func (c *cli) openCAKey(k *keyFlag) (*keysource.Key, error) {
	return c.openKeyOpts(k, true)
}

// readCert reads the first certificate of a PEM file.
func readCert(file string) (*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	crt, err := cert.ParseCertificatePEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return crt, nil
}

// writeOut writes data to file (atomically, never overwriting) or, when
// file is "", to stdout.
func writeOut(c *cli, file string, data []byte) error {
	if file == "" {
		_, err := c.stdout.Write(data)
		return err
	}
	return writeFileAtomic(file, data, 0o644, false)
}

// randomSerial returns a random positive 128-bit certificate serial.
func randomSerial() *big.Int {
	b := make([]byte, 16)
	rand.Read(b)
	b[0] &= 0x7f
	b[0] |= 0x40
	return new(big.Int).SetBytes(b)
}

// checkName rejects output names that are empty or end in a separator.
func checkName(name string) error {
	if name == "" || name[len(name)-1] == '/' || name == "." || name == ".." {
		return fmt.Errorf("%q is not a usable file name prefix", name)
	}
	return nil
}

// writePair writes a certificate and its key, each atomically and without
// overwriting; if the key cannot be written the certificate is removed.
func writePair(certFile string, certPEM []byte, keyFile string, keyPEM []byte) error {
	if err := writeFileAtomic(certFile, certPEM, 0o644, false); err != nil {
		return err
	}
	if err := writeFileAtomic(keyFile, keyPEM, 0o600, false); err != nil {
		os.Remove(certFile)
		return err
	}
	return nil
}
