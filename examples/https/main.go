// Command https makes an HTTPS request with mutual TLS: the client
// certificate is the NervesKey's device certificate and every handshake
// is signed by the chip.
//
// By default it provisions a simulated chip with a new signer and starts a
// local HTTPS server that requires client certificates issued by that
// signer:
//
//	go run ./examples/https
//
// On real hardware, against a server of yours that trusts the chip's
// signer certificate:
//
//	go run ./examples/https -bus /dev/i2c-1 -url https://device-api.example.com/hello -ca server-ca.pem
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/examples/internal/demo"
)

var (
	busName = flag.String("bus", "", "I2C bus of a real NervesKey (e.g. /dev/i2c-1); default: a simulated chip")
	url     = flag.String("url", "", "URL to GET; default: a local server that requires the chip's certificate")
	caFile  = flag.String("ca", "", "PEM file of the CAs the server's certificate chains to; default: the system roots")
)

func main() {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "https:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, stdout io.Writer) error {
	key, closeKey, err := demo.OpenKey(ctx, *busName)
	if err != nil {
		return err
	}
	defer closeKey()

	opts := &nerveskey.TLSOptions{}
	target := *url
	if target == "" {
		// A local server that trusts the chip's signer as client CA.
		_, signer, err := key.Chip().Certificates(ctx, nerveskey.Primary)
		if err != nil {
			return err
		}
		srv := localServer(signer)
		defer srv.Close()
		target = srv.URL + "/hello"
		opts.RootCAs = x509.NewCertPool()
		opts.RootCAs.AddCert(srv.Certificate())
	} else if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		opts.RootCAs = x509.NewCertPool()
		if !opts.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s: no PEM certificates", *caFile)
		}
	}

	cfg, err := key.TLSConfig(ctx, opts)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}, Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, "GET", target, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", target, resp.Status, body)
	}
	fmt.Fprintf(stdout, "%s %s\n%s", resp.Proto, tls.VersionName(resp.TLS.Version), body)
	return nil
}

// localServer starts an HTTPS server that requires a client certificate
// issued by signer and greets the device by its certificate's CN.
func localServer(signer *x509.Certificate) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, device %s\n", r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(signer)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	srv.EnableHTTP2 = true
	srv.StartTLS()
	return srv
}
