// Command mqtt publishes a message to an MQTT broker over mutual TLS: the
// broker authenticates the device by its NervesKey certificate, and each
// connection is signed by the chip.
//
// By default it provisions a simulated chip with a new signer and starts
// a local mosquitto (which must be installed) that requires client
// certificates issued by that signer; a second client subscribes and
// prints what it receives:
//
//	go run ./examples/mqtt
//
// On real hardware, against your broker (AWS IoT, say, with the signer
// certificate registered as a CA and Amazon Root CA 1 in -ca):
//
//	go run ./examples/mqtt -bus /dev/i2c-1 -broker ssl://xxxx-ats.iot.eu-west-1.amazonaws.com:8883 -ca AmazonRootCA1.pem
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/examples/internal/demo"
)

var (
	busName = flag.String("bus", "", "I2C bus of a real NervesKey (e.g. /dev/i2c-1); default: a simulated chip")
	broker  = flag.String("broker", "", "broker URL, e.g. ssl://host:8883; default: a local mosquitto")
	caFile  = flag.String("ca", "", "PEM file of the CAs the broker's certificate chains to; default: the system roots")
	topic   = flag.String("topic", "nerveskey/hello", "topic to publish to")
)

func main() {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mqtt:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, stdout io.Writer) error {
	key, closeKey, err := demo.OpenKey(ctx, *busName)
	if err != nil {
		return err
	}
	defer closeKey()

	url, tlsOpts := *broker, &nerveskey.TLSOptions{}
	if *caFile != "" {
		b, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		tlsOpts.RootCAs = x509.NewCertPool()
		if !tlsOpts.RootCAs.AppendCertsFromPEM(b) {
			return fmt.Errorf("%s: no PEM certificates", *caFile)
		}
	}
	if url == "" {
		_, signer, err := key.Chip().Certificates(ctx, nerveskey.Primary)
		if err != nil {
			return err
		}
		var stopBroker func()
		url, tlsOpts.RootCAs, stopBroker, err = startMosquitto(ctx, signer)
		if err != nil {
			return err
		}
		defer stopBroker()
		tlsOpts.ServerName = "localhost"
	}

	// The subscriber, to show the message arrives. Brokers with one
	// identity per certificate (AWS IoT policies) may want another device.
	so, err := key.MQTTClientOptions(ctx, &nerveskey.MQTTOptions{Broker: url, ClientID: "nerveskey-example-sub", TLS: tlsOpts})
	if err != nil {
		return err
	}
	got := make(chan mqtt.Message, 1)
	sub := mqtt.NewClient(so)
	if err := wait(ctx, sub.Connect()); err != nil {
		return fmt.Errorf("subscriber: connect: %w", err)
	}
	defer sub.Disconnect(250)
	if err := wait(ctx, sub.Subscribe(*topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case got <- m:
		default:
		}
	})); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}

	// The device: client ID and identity from its certificate.
	o, err := key.MQTTClientOptions(ctx, &nerveskey.MQTTOptions{Broker: url, TLS: tlsOpts})
	if err != nil {
		return err
	}
	pub := mqtt.NewClient(o)
	if err := wait(ctx, pub.Connect()); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pub.Disconnect(250)
	msg := fmt.Sprintf("hello from %s", o.ClientID)
	if err := wait(ctx, pub.Publish(*topic, 1, false, msg)); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	fmt.Fprintf(stdout, "published %q to %s as %s\n", msg, *topic, o.ClientID)
	select {
	case m := <-got:
		fmt.Fprintf(stdout, "received %q on %s\n", m.Payload(), m.Topic())
	case <-time.After(10 * time.Second):
		return errors.New("the subscriber received nothing in 10 s")
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// wait waits for a paho token, or ctx.
func wait(ctx context.Context, t mqtt.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startMosquitto runs mosquitto on a free loopback port, requiring client
// certificates issued by signer, with a throwaway server certificate. It
// returns the broker URL, a pool trusting the server, and a stop function.
func startMosquitto(ctx context.Context, signer *x509.Certificate) (string, *x509.CertPool, func(), error) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		return "", nil, nil, errors.New("mosquitto is not installed: install it (apt install mosquitto) or pass -broker")
	}
	dir, err := os.MkdirTemp("", "nerveskey-mqtt-")
	if err != nil {
		return "", nil, nil, err
	}
	certPEM, keyPEM, pool, err := serverCert()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf("allow_anonymous true\nlog_dest stderr\nlog_type all\npersistence false\n"+
		"listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\nuse_identity_as_username true\n",
		port, filepath.Join(dir, "signer.pem"), filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv.key"))
	if u, err := user.Current(); err == nil {
		conf += "user " + u.Username + "\n" // as root, stay root: files are ours
	}
	for name, b := range map[string][]byte{
		"signer.pem":     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: signer.Raw}),
		"srv.pem":        certPEM,
		"srv.key":        keyPEM,
		"mosquitto.conf": []byte(conf),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			os.RemoveAll(dir)
			return "", nil, nil, err
		}
	}
	cmd := exec.CommandContext(ctx, bin, "-c", filepath.Join(dir, "mosquitto.conf"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, nil, err
	}
	stop := func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	}
	// Wait for the ready line, then keep draining the log.
	ready := make(chan error, 1)
	go func() {
		var log []string
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			log = append(log, s.Text())
			if strings.Contains(s.Text(), " running") {
				ready <- nil
				io.Copy(io.Discard, stderr)
				return
			}
		}
		ready <- fmt.Errorf("mosquitto exited:\n%s", strings.Join(log, "\n"))
	}()
	select {
	case err = <-ready:
	case <-time.After(10 * time.Second):
		err = errors.New("mosquitto did not start in 10 s")
	}
	if err != nil {
		stop()
		return "", nil, nil, err
	}
	return fmt.Sprintf("ssl://127.0.0.1:%d", port), pool, stop, nil
}

// serverCert makes a self-signed certificate for localhost.
func serverCert() (certPEM, keyPEM []byte, pool *x509.CertPool, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), pool, nil
}
