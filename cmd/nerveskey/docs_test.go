package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/internal/testutil"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// docBlock returns the fenced block that follows "<!-- tested: name -->"
// in docs/factory.md.
func docBlock(t *testing.T, name string) string {
	t.Helper()
	doc := string(readFile(t, filepath.Join("..", "..", "docs", "factory.md")))
	_, rest, ok := strings.Cut(doc, "<!-- tested: "+name+" -->\n")
	if !ok {
		t.Fatalf("docs/factory.md has no block marked %q", name)
	}
	_, rest, _ = strings.Cut(rest, "```")
	_, rest, _ = strings.Cut(rest, "\n") // the fence's language
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("docs/factory.md: block %q is not closed", name)
	}
	return block
}

// docsSetup provisions two simulated chips, one by signer.cert (the
// device) and one by another signer (the stranger), and writes a server
// certificate; it returns the work directory and the server's CA pool.
func docsSetup(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	ok(t, dir, "", "signer", "create", "signer", "--years-valid", "31")
	ok(t, dir, "", "signer", "create", "other", "--years-valid", "31")
	for img, signer := range map[string]string{"device.json": "signer", "stranger.json": "other"} {
		ok(t, dir, "", "sim", "new", img, "--revision", "608b")
		ok(t, dir, "", "--sim", img, "provision", "--signer-cert", signer+".cert", "--signer-key", signer+".key", "--sn", strings.TrimSuffix(img, ".json"), "--yes")
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	writeFile(t, filepath.Join(dir, "server.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, filepath.Join(dir, "server.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}))
	crt, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(crt)
	return dir, pool
}

// simKey opens the key of a simulated chip image, as firmware would open
// the real chip.
func simKey(t *testing.T, path string) *nerveskey.Key {
	t.Helper()
	img, err := nerveskeytest.ParseImage(readFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := nerveskeytest.NewChipFromImage(img, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	k, err := nerveskey.Open(t.Context(), sim, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// A server is a program under test with its output gathered by line.
type server struct {
	mu    sync.Mutex // guards lines and done
	cond  *sync.Cond
	lines []string
	done  bool
}

// startServer starts cmd, stops it at cleanup, and waits for a line
// containing ready (never a fixed sleep).
func startServer(t *testing.T, cmd *exec.Cmd, ready string) *server {
	t.Helper()
	s := &server{}
	s.cond = sync.NewCond(&s.mu)
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	stdin, stdinW := io.Pipe() // s_server quits at the end of stdin
	cmd.Stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); w.Close(); close(exited) }()
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.cond.Broadcast()
			s.mu.Unlock()
		}
		s.mu.Lock()
		s.done = true
		s.cond.Broadcast()
		s.mu.Unlock()
	}()
	t.Cleanup(func() { cmd.Process.Kill(); stdinW.Close(); <-exited })
	s.waitLine(t, ready)
	return s
}

// waitLine returns the first line containing sub, failing after 30 s or
// when the program exits without printing it.
func (s *server) waitLine(t *testing.T, sub string) string {
	t.Helper()
	timer := time.AfterFunc(30*time.Second, func() {
		s.mu.Lock()
		s.done = true
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; ; {
		for ; i < len(s.lines); i++ {
			if strings.Contains(s.lines[i], sub) {
				return s.lines[i]
			}
		}
		if s.done {
			t.Fatalf("no line containing %q:\n%s", sub, strings.Join(s.lines, "\n"))
		}
		s.cond.Wait()
	}
}

// TestDocsSServer runs the s_server line of docs/factory.md: the device
// provisioned by signer.cert gets through, the stranger does not.
func TestDocsSServer(t *testing.T) {
	testutil.NeedTool(t, "openssl")
	line := strings.TrimSpace(docBlock(t, "s_server"))
	args := strings.Fields(line)
	if args[0] != "openssl" || !strings.Contains(line, "-verify_return_error") {
		t.Fatalf("unexpected s_server line %q", line)
	}
	for i := range args {
		if args[i] == "8443" {
			args[i] = "127.0.0.1:0"
		}
	}
	dir, pool := docsSetup(t)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	srv := startServer(t, cmd, "ACCEPT")
	addr := strings.TrimSpace(strings.TrimPrefix(srv.waitLine(t, "ACCEPT "), "ACCEPT "))

	cfgs := map[string]*tls.Config{}
	for _, img := range []string{"device.json", "stranger.json"} {
		cfg, err := simKey(t, filepath.Join(dir, img)).TLSConfig(t.Context(), &nerveskey.TLSOptions{RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		cfgs[img] = cfg
	}
	dial := func(img string) (*tls.Conn, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", addr, cfgs[img])
		if err != nil {
			return nil, err
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(c, "hello from %s\n", img); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	// The device: s_server prints what it sends.
	c, err := dial("device.json")
	if err != nil {
		t.Fatalf("the device was refused: %v", err)
	}
	srv.waitLine(t, "hello from device.json")
	c.Close()
	// The stranger: with TLS 1.3 the server's verdict on the client
	// certificate arrives after the client's handshake, so read for it.
	if c, err = dial("stranger.json"); err == nil {
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if ne, ok := err.(net.Error); err == nil || ok && ne.Timeout() {
		t.Errorf("s_server accepted a device from another signer (%v)", err)
	}
	srv.waitLine(t, "verify error")
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, l := range srv.lines {
		if strings.Contains(l, "hello from stranger") {
			t.Errorf("the stranger's data reached s_server: %s", l)
		}
	}
}

// TestDocsMosquitto runs mosquitto with the configuration in
// docs/factory.md (on a free loopback port, logging to stderr): the
// device connects and is named by its CN, the stranger is refused.
func TestDocsMosquitto(t *testing.T) {
	bin := testutil.NeedTool(t, "mosquitto")
	conf := docBlock(t, "mosquitto.conf")
	if !strings.Contains(conf, "listener 8883\n") {
		t.Fatalf("unexpected mosquitto.conf:\n%s", conf)
	}
	dir, pool := docsSetup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf = strings.Replace(conf, "listener 8883\n", fmt.Sprintf("listener %d 127.0.0.1\n", port), 1)
	conf += "log_dest stderr\nlog_type all\npersistence false\n"
	if u, err := user.Current(); err == nil {
		conf += "user " + u.Username + "\n" // as root, mosquitto would switch to a user that cannot read the test files
	}
	writeFile(t, filepath.Join(dir, "mosquitto.conf"), []byte(conf))
	cmd := exec.Command(bin, "-c", "mosquitto.conf")
	cmd.Dir = dir
	log := startServer(t, cmd, " running")

	connect := func(img string) error {
		o, err := simKey(t, filepath.Join(dir, img)).MQTTClientOptions(t.Context(), &nerveskey.MQTTOptions{
			Broker: fmt.Sprintf("ssl://127.0.0.1:%d", port),
			TLS:    &nerveskey.TLSOptions{RootCAs: pool, ServerName: "localhost"},
		})
		if err != nil {
			t.Fatal(err)
		}
		o.SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(30 * time.Second)
		c := mqtt.NewClient(o)
		tok := c.Connect()
		if !tok.WaitTimeout(40 * time.Second) {
			t.Fatalf("%s: connect did not finish", img)
		}
		if tok.Error() == nil {
			c.Disconnect(100)
		}
		return tok.Error()
	}
	if err := connect("device.json"); err != nil {
		t.Fatalf("the device was refused: %v", err)
	}
	// use_identity_as_username: the CN (manufacturer serial) is the user.
	log.waitLine(t, "u'device'")
	if err := connect("stranger.json"); err == nil {
		t.Error("mosquitto accepted a device from another signer")
	}
}
