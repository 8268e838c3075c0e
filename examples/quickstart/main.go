// Command quickstart walks through nerveskey on a simulated chip: it makes a
// blank ATECC608A, creates a signer (the factory CA), provisions the chip,
// prints its identity and device certificate, signs a message, and opens a
// mutual-TLS connection to a local server that trusts the signer.
//
//	go run ./examples/quickstart
//
// Nothing here needs hardware. On a board, replace the simulated bus with
// the real one: nerveskey.OpenBus(ctx, "/dev/i2c-1", nil).
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/signal"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, stdout io.Writer) error {
	// 1. A blank factory chip on a simulated I2C bus.
	sim := nerveskeytest.NewChip(&nerveskeytest.Options{Revision: nerveskeytest.ATECC608A})
	chip, err := nerveskey.OpenChip(ctx, sim, nil)
	if err != nil {
		return err
	}
	defer chip.Close()

	// 2. The factory's signer: a CA certificate and its key. In production
	//    the key can be any crypto.Signer (an HSM, a cloud KMS).
	signerCert, signerKey, err := nerveskey.NewSigner(nil, 1, time.Now())
	if err != nil {
		return err
	}

	// 3. Provision: configuration, OTP identity, a key generated inside the
	//    chip, compressed certificates, then the irreversible locks.
	info := nerveskey.ProvisioningInfo{ManufacturerSN: "QS-0001", BoardName: "quickstart"}
	_, err = chip.Provision(ctx, info, signerCert, signerKey, &nerveskey.ProvisionOptions{
		Progress: func(e nerveskey.StepEvent) {
			if e.Done {
				fmt.Fprintf(stdout, "provision: %s done\n", e.Name)
			}
		},
	})
	if err != nil {
		return err
	}

	// 4. What the chip says about itself.
	id, err := chip.Info(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s serial %x: %s, manufacturer SN %s, board %s\n",
		id.Revision, id.Serial, id.Mode, id.ManufacturerSN, id.BoardName)

	key, err := chip.Key(ctx)
	if err != nil {
		return err
	}
	dev, _, err := key.Chip().Certificates(ctx, nerveskey.Primary)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "device certificate: subject %s, issuer %s\n", dev.Subject, dev.Issuer)
	pem.Encode(stdout, &pem.Block{Type: "CERTIFICATE", Bytes: dev.Raw})

	// 5. The chip signs; anyone verifies with the public key.
	digest := sha256.Sum256([]byte("hello from the chip"))
	sig, err := key.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signature verifies: %v\n", ecdsa.VerifyASN1(key.Public().(*ecdsa.PublicKey), digest[:], sig))

	// 6. Mutual TLS to a server that trusts the signer as client CA.
	return tlsHello(ctx, stdout, key, signerCert)
}

// tlsHello starts a local TLS server that requires a client certificate
// issued by signerCert, connects to it with the chip's certificate, and
// prints what the server saw.
func tlsHello(ctx context.Context, stdout io.Writer, key *nerveskey.Key, signerCert *x509.Certificate) error {
	serverCert, err := selfSigned("localhost")
	if err != nil {
		return err
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(signerCert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
	})
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.HandshakeContext(ctx); err != nil {
			return
		}
		fmt.Fprintf(c, "hello, %s\n", tc.ConnectionState().PeerCertificates[0].Subject.CommonName)
	}()

	roots := x509.NewCertPool()
	roots.AddCert(serverCert.Leaf)
	cfg, err := key.TLSConfig(ctx, &nerveskey.TLSOptions{ServerName: "localhost", RootCAs: roots})
	if err != nil {
		return err
	}
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	line := make([]byte, 128)
	n, err := conn.Read(line)
	if err != nil {
		return fmt.Errorf("read from server: %w", err)
	}
	fmt.Fprintf(stdout, "%s, server says: %s", tls.VersionName(conn.(*tls.Conn).ConnectionState().Version), line[:n])
	return nil
}

// selfSigned returns a throwaway server certificate for name.
func selfSigned(name string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
