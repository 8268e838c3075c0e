package nerveskey_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// tlsVersions are the versions every handshake test runs with.
var tlsVersions = []uint16{tls.VersionTLS12, tls.VersionTLS13}

// serverCert is a self-signed loopback server certificate made for a test.
type serverCert struct {
	cert    tls.Certificate
	pool    *x509.CertPool // trusts cert
	certPEM []byte
	keyPEM  []byte
}

func newServerCert(t testing.TB) *serverCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "nerveskey test server"},
		NotBefore:             time.Now().Add(-24 * time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &serverCert{
		cert:    tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pool:    pool,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// signerPool returns a pool holding the chip's signer certificate and the
// device certificate's subject CN.
func signerPool(t testing.TB, k *nerveskey.Key) (*x509.CertPool, *x509.Certificate, string) {
	t.Helper()
	signer, err := signerOf(k.Chip(), t.Context(), nerveskey.Primary)
	if err != nil {
		t.Fatalf("SignerCertificate: %v", err)
	}
	dev, _, err := k.Chip().Certificates(t.Context(), nerveskey.Primary)
	if err != nil {
		t.Fatalf("DeviceCertificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(signer)
	return pool, signer, dev.Subject.CommonName
}

func TestTLSCertificate(t *testing.T) {
	for _, rev := range revisions {
		t.Run(rev.String(), func(t *testing.T) {
			k, _ := newTestKey(t, rev)
			cert, err := k.TLSCertificate(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(cert.Certificate) != 2 {
				t.Fatalf("chain has %d certificates, want device + signer", len(cert.Certificate))
			}
			pool, signer, _ := signerPool(t, k)
			if string(cert.Certificate[1]) != string(signer.Raw) {
				t.Error("second certificate is not the signer certificate")
			}
			leaf, err := x509.ParseCertificate(cert.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("device certificate does not verify for client auth under the signer: %v", err)
			}
			if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(k.Public()) || cert.PrivateKey != k || cert.Leaf == nil {
				t.Error("certificate key, PrivateKey or Leaf do not belong to the chip key")
			}
			if len(cert.SupportedSignatureAlgorithms) != 1 || cert.SupportedSignatureAlgorithms[0] != tls.ECDSAWithP256AndSHA256 {
				t.Errorf("SupportedSignatureAlgorithms = %v", cert.SupportedSignatureAlgorithms)
			}
		})
	}
}

// mtlsListener listens on loopback for TLS at exactly version, requiring
// a client certificate that chains to clientCAs (crypto/tls issues session
// tickets by default).
func mtlsListener(t testing.TB, srv *serverCert, clientCAs *x509.CertPool, version uint16) net.Listener {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srv.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
		MinVersion:   version,
		MaxVersion:   version,
	})
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startTLSServer runs a Go mutual-TLS server that requires a client
// certificate chaining to clientCAs. Each connection answers one line with
// the client's CN and TLS version.
func startTLSServer(t testing.TB, srv *serverCert, clientCAs *x509.CertPool, version uint16) string {
	t.Helper()
	return serve(t, mtlsListener(t, srv, clientCAs, version), func(c net.Conn) {
		tc := c.(*tls.Conn)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.Handshake(); err != nil {
			return
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		st := tc.ConnectionState()
		fmt.Fprintf(c, "%s %s %s", st.PeerCertificates[0].Subject.CommonName, tls.VersionName(st.Version), line)
	})
}

// serve accepts connections on ln until the test ends and runs handle on
// each in its own goroutine, closing the connection when handle returns.
// Cleanup closes ln and waits for the handlers. It returns ln's address.
func serve(t testing.TB, ln net.Listener, handle func(net.Conn)) string {
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	return ln.Addr().String()
}

func TestTLSConfigMutualTLS(t *testing.T) {
	for _, rev := range []nerveskeytest.Revision{nerveskeytest.ATECC508A, nerveskeytest.ATECC608A} {
		for _, v := range tlsVersions {
			t.Run(rev.String()+"/"+tls.VersionName(v), func(t *testing.T) {
				k, chip := newTestKey(t, rev)
				pool, _, cn := signerPool(t, k)
				srv := newServerCert(t)
				addr := startTLSServer(t, srv, pool, v)
				cfg, err := k.TLSConfig(t.Context(), &nerveskey.TLSOptions{RootCAs: srv.pool, ServerName: "localhost"})
				if err != nil {
					t.Fatal(err)
				}
				if chip != nil { // nil on hardware
					chip.ResetStats()
				}
				for i := range 3 { // reconnections sign, and read nothing
					c, err := tls.Dial("tcp", addr, cfg)
					if err != nil {
						t.Fatalf("dial %d: %v", i, err)
					}
					fmt.Fprintf(c, "hello %d\n", i)
					got, err := io.ReadAll(c)
					c.Close()
					if want := fmt.Sprintf("%s %s hello %d\n", cn, tls.VersionName(v), i); string(got) != want || err != nil {
						t.Fatalf("server answered %q (%v), want %q", got, err, want)
					}
				}
				if st := simStats(chip); chip != nil && st.Commands != 3*2 {
					t.Errorf("3 handshakes ran %d chip commands, want 3 × (Nonce + Sign)", st.Commands)
				}
			})
		}
	}
}

// TestTLSConfigWrongCA checks that a server which trusts another CA
// rejects the device, so the handshake tests above can fail.
func TestTLSConfigWrongCA(t *testing.T) {
	k, _ := newTestKey(t, nerveskeytest.ATECC608A)
	srv := newServerCert(t)
	addr := startTLSServer(t, srv, newServerCert(t).pool, tls.VersionTLS13)
	cfg, err := k.TLSConfig(t.Context(), &nerveskey.TLSOptions{RootCAs: srv.pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", addr, cfg)
	if err == nil {
		// TLS 1.3: the client learns of the rejection on its first read.
		fmt.Fprintf(c, "hello\n")
		_, err = io.ReadAll(c)
		c.Close()
	}
	if err == nil {
		t.Fatal("a server trusting another CA accepted the device")
	}
}

func TestTLSConfigHandshakeContext(t *testing.T) {
	k, chip := newTestKey(t, nerveskeytest.ATECC608A)
	pool, _, _ := signerPool(t, k)
	srv := newServerCert(t)
	addr := startTLSServer(t, srv, pool, tls.VersionTLS13)
	cfg, err := k.TLSConfig(t.Context(), &nerveskey.TLSOptions{RootCAs: srv.pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	// The context reaches the chip: canceled during the handshake (when
	// the client certificate is asked for), it stops before signing.
	ctx, cancel := context.WithCancel(t.Context())
	cfg.GetClientCertificate = wrapGetCert(cfg.GetClientCertificate, cancel)
	if chip != nil { // nil on hardware
		chip.ResetStats()
	}
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		t.Fatal("handshake succeeded with a canceled context")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := simStats(chip).Commands; chip != nil && n != 0 {
		t.Errorf("%d chip commands after cancellation, want 0", n)
	}
}

func wrapGetCert(f func(*tls.CertificateRequestInfo) (*tls.Certificate, error), before func()) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		before()
		return f(cri)
	}
}

func TestTLSConfigOptions(t *testing.T) {
	k, _ := newTestKey(t, nerveskeytest.ATECC608A)
	cfg, err := k.TLSConfig(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.MaxVersion != tls.VersionTLS13 || cfg.RootCAs != nil || cfg.InsecureSkipVerify {
		t.Errorf("defaults: min %x max %x roots %v insecure %v", cfg.MinVersion, cfg.MaxVersion, cfg.RootCAs, cfg.InsecureSkipVerify)
	}
	cfg, err = k.TLSConfig(t.Context(), &nerveskey.TLSOptions{OmitSigner: true, NextProtos: []string{"x-amzn-mqtt-ca"}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := cfg.GetClientCertificate(&tls.CertificateRequestInfo{})
	if err != nil || len(cert.Certificate) != 1 || cfg.NextProtos[0] != "x-amzn-mqtt-ca" {
		t.Errorf("OmitSigner/NextProtos: %v, %d certificates, %v", err, len(cert.Certificate), cfg.NextProtos)
	}
	for _, o := range []*nerveskey.TLSOptions{
		{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS12},
		{Pair: nerveskey.Aux}, // the Elixir image has no aux pair
		{Pair: nerveskey.Pair(7)},
	} {
		if _, err := k.TLSConfig(t.Context(), o); err == nil {
			t.Errorf("TLSConfig(%+v): no error", *o)
		}
	}
	k.Close()
	if _, err := k.TLSCertificate(t.Context()); !errors.Is(err, nerveskey.ErrClosed) {
		t.Errorf("TLSCertificate after Close = %v, want ErrClosed", err)
	}
}

// TestTLSServerSide uses the chip key as a server's certificate: the
// client trusts the signer and checks the device CN itself.
func TestTLSServerSide(t *testing.T) {
	for _, v := range tlsVersions {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			k, _ := newTestKey(t, nerveskeytest.ATECC508A)
			cert, err := k.TLSCertificate(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			pool, _, cn := signerPool(t, k)
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: v, MaxVersion: v})
			if err != nil {
				t.Fatal(err)
			}
			addr := serve(t, ln, func(c net.Conn) { io.WriteString(c, "device here\n") })
			c, err := tls.Dial("tcp", addr, &tls.Config{
				InsecureSkipVerify: true, // replaced by VerifyConnection: the device certificate has no SAN
				VerifyConnection: func(cs tls.ConnectionState) error {
					inter := x509.NewCertPool()
					for _, c := range cs.PeerCertificates[1:] {
						inter.AddCert(c)
					}
					// The device certificate's only extended key usage is
					// clientAuth, which crypto/x509 refuses for a server
					// unless told otherwise.
					opts := x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
					if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
						return err
					}
					if got := cs.PeerCertificates[0].Subject.CommonName; got != cn {
						return fmt.Errorf("device CN %q, want %q", got, cn)
					}
					return nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if line, err := bufio.NewReader(c).ReadString('\n'); line != "device here\n" {
				t.Fatalf("read %q, %v", line, err)
			}
		})
	}
}

// TestTLSOpenSSLServer completes handshakes with openssl s_server, which
// requires a client certificate (-Verify 1) issued by the signer (-CAfile).
func TestTLSOpenSSLServer(t *testing.T) {
	openssl := needTool(t, "openssl")
	for _, v := range tlsVersions {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			k, _ := newTestKey(t, nerveskeytest.ATECC608A)
			_, signer, cn := signerPool(t, k)
			srv := newServerCert(t)
			dir := t.TempDir()
			write(t, filepath.Join(dir, "srv.pem"), srv.certPEM)
			write(t, filepath.Join(dir, "srv.key"), srv.keyPEM)
			write(t, filepath.Join(dir, "signer.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: signer.Raw}))
			flag := map[uint16]string{tls.VersionTLS12: "-tls1_2", tls.VersionTLS13: "-tls1_3"}[v]
			cmd := exec.Command(openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
				"-cert", filepath.Join(dir, "srv.pem"), "-key", filepath.Join(dir, "srv.key"),
				"-CAfile", filepath.Join(dir, "signer.pem"), "-Verify", "1", "-verify_return_error", flag)
			out := startPeer(t, cmd, "ACCEPT ")
			addr := strings.TrimSpace(strings.TrimPrefix(out.waitLine(t, "ACCEPT "), "ACCEPT "))

			cfg, err := k.TLSConfig(t.Context(), &nerveskey.TLSOptions{RootCAs: srv.pool, ServerName: "localhost"})
			if err != nil {
				t.Fatal(err)
			}
			c, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				t.Fatalf("handshake with openssl s_server: %v\n%s", err, out.String())
			}
			if st := c.ConnectionState(); st.Version != v {
				t.Errorf("negotiated %s, want %s", tls.VersionName(st.Version), tls.VersionName(v))
			}
			fmt.Fprintf(c, "hello from the chip\n")
			out.waitLine(t, "hello from the chip")
			c.Close()
			log := out.String()
			if !strings.Contains(log, "CN = "+cn) && !strings.Contains(log, "CN="+cn) {
				t.Errorf("s_server did not show the client subject CN %q:\n%s", cn, log)
			}
			if !strings.Contains(log, "verify return:1") || strings.Contains(log, "verify error") {
				t.Errorf("s_server did not verify the client chain:\n%s", log)
			}
		})
	}
}

// peer is an external program a test talks to (openssl, mosquitto), with
// its stdout and stderr collected line by line.
type peer struct {
	mu    sync.Mutex // guards lines and done
	cond  *sync.Cond
	lines []string
	done  bool
}

// startPeer starts cmd, stops it in t.Cleanup, and waits until a line of
// its output contains ready (never a fixed sleep).
func startPeer(t testing.TB, cmd *exec.Cmd, ready string) *peer {
	t.Helper()
	p := &peer{}
	p.cond = sync.NewCond(&p.mu)
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	// openssl s_server quits at the end of its stdin: keep it open.
	stdin, stdinW := io.Pipe()
	cmd.Stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		w.Close()
		close(exited)
	}()
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, s.Text())
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		p.mu.Lock()
		p.done = true
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		stdinW.Close()
		<-exited
	})
	p.waitLine(t, ready)
	return p
}

// waitLine returns the first line containing s, failing the test if the
// program exits first or nothing comes within a generous deadline.
func (p *peer) waitLine(t testing.TB, s string) string {
	t.Helper()
	timer := time.AfterFunc(30*time.Second, func() {
		p.mu.Lock()
		p.done = true
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; ; {
		for ; i < len(p.lines); i++ {
			if strings.Contains(p.lines[i], s) {
				return p.lines[i]
			}
		}
		if p.done {
			t.Fatalf("no line containing %q; output:\n%s", s, strings.Join(p.lines, "\n"))
		}
		p.cond.Wait()
	}
}

// String returns the output so far.
func (p *peer) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}
