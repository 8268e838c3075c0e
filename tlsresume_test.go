package nerveskey_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// countSigns counts the Sign commands chip accepts from now on.
func countSigns(chip *nerveskeytest.Chip) *atomic.Int64 {
	var n atomic.Int64
	chip.SetCommandHook(func(c *nerveskeytest.Command) {
		if c.Opcode == 0x41 { // Sign (DS508 Table 9-4)
			n.Add(1)
		}
	})
	return &n
}

// startResumeServer runs a Go server that requires a client certificate
// chaining to clientCAs and issues session tickets (crypto/tls's
// default). Each connection answers one line: the first 8 bytes of the
// SHA-256 of the client's leaf certificate, in hex.
func startResumeServer(t testing.TB, srv *serverCert, clientCAs *x509.CertPool, version uint16) string {
	t.Helper()
	return serve(t, mtlsListener(t, srv, clientCAs, version), func(c net.Conn) { answerLeaf(c.(*tls.Conn)) })
}

func answerLeaf(c *tls.Conn) {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := c.Handshake(); err != nil {
		return
	}
	bufio.NewReader(c).ReadString('\n')
	fmt.Fprintf(c, "%s\n", leafID(c.ConnectionState().PeerCertificates[0]))
}

func leafID(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return hex.EncodeToString(h[:8])
}

// dialLeaf connects with cfg, sends a line and reads the server's answer
// to the end, so the client also reads the tickets sent after the
// handshake. It returns the answer and whether the session was resumed.
func dialLeaf(t testing.TB, addr string, cfg *tls.Config) (string, bool, error) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	io.WriteString(c, "hello\n")
	b, err := io.ReadAll(c)
	return strings.TrimSpace(string(b)), c.ConnectionState().DidResume, err
}

// TestTLSResume makes 10 sequential connections to a server that requires
// client certificates: with Resume, one chip signature in all and the
// other 9 resumed; by default, and when the server speaks only TLS 1.2
// (whose resumption has no fresh key exchange), one per connection.
func TestTLSResume(t *testing.T) {
	needSim(t, "command hook")
	for _, tt := range []struct {
		name      string
		resume    bool
		version   uint16
		wantSigns int64
	}{
		{"TLS 1.3/resume", true, tls.VersionTLS13, 1},
		{"TLS 1.3/default", false, tls.VersionTLS13, 10},
		{"TLS 1.2/resume", true, tls.VersionTLS12, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, chip := newTestKey(t, nerveskeytest.ATECC608A)
			pool, _, _ := signerPool(t, k)
			dev, _, _ := k.Chip().Certificates(t.Context(), nerveskey.Primary)
			srv := newServerCert(t)
			addr := startResumeServer(t, srv, pool, tt.version)
			cfg, err := k.TLSConfig(t.Context(), &nerveskey.TLSOptions{RootCAs: srv.pool, ServerName: "localhost", Resume: tt.resume})
			if err != nil {
				t.Fatal(err)
			}
			signs := countSigns(chip)
			resumed := 0
			for i := range 10 {
				got, didResume, err := dialLeaf(t, addr, cfg)
				if err != nil || got != leafID(dev) {
					t.Fatalf("connection %d: server saw %q (%v), want the device certificate %s", i, got, err, leafID(dev))
				}
				if didResume {
					resumed++
				}
			}
			if n := signs.Load(); n != tt.wantSigns || resumed != 10-int(tt.wantSigns) {
				t.Errorf("10 connections: %d chip signatures, %d resumed; want %d and %d", n, resumed, tt.wantSigns, 10-tt.wantSigns)
			}
		})
	}
}

// TestTLSResumePairs checks that the Primary and Aux configs of one chip
// keep their sessions apart: each pair signs once and then resumes as
// itself, never as the other.
func TestTLSResumePairs(t *testing.T) {
	var v elixirVector
	for _, e := range elixirVectors(t) {
		if e.Name == "s-608b-aux" {
			v = e
		}
	}
	if !v.Elixir.HasAux {
		t.Fatal("vector s-608b-aux with an aux pair not found")
	}
	chip := vectorChip(t, v)
	k, err := nerveskey.Open(t.Context(), chip, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	pool := x509.NewCertPool()
	want := map[nerveskey.Pair]string{}
	cfgs := map[nerveskey.Pair]*tls.Config{}
	srv := newServerCert(t)
	for _, p := range []nerveskey.Pair{nerveskey.Primary, nerveskey.Aux} {
		signer, err := signerOf(k.Chip(), t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		pool.AddCert(signer)
		dev, _, err := k.Chip().Certificates(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		want[p] = leafID(dev)
		if cfgs[p], err = k.TLSConfig(t.Context(), &nerveskey.TLSOptions{Pair: p, RootCAs: srv.pool, ServerName: "localhost", Resume: true}); err != nil {
			t.Fatal(err)
		}
	}
	if want[nerveskey.Primary] == want[nerveskey.Aux] {
		t.Fatal("the vector's primary and aux device certificates are the same")
	}
	addr := startResumeServer(t, srv, pool, tls.VersionTLS13)
	signs := countSigns(chip)
	for i, p := range []nerveskey.Pair{nerveskey.Primary, nerveskey.Aux, nerveskey.Primary, nerveskey.Aux} {
		got, resumed, err := dialLeaf(t, addr, cfgs[p])
		if err != nil || got != want[p] {
			t.Fatalf("connection %d (%v): server saw %q (%v), want %s", i, p, got, err, want[p])
		}
		if wantResumed := i >= 2; resumed != wantResumed {
			t.Errorf("connection %d (%v): resumed %v, want %v", i, p, resumed, wantResumed)
		}
	}
	if n := signs.Load(); n != 2 {
		t.Errorf("%d chip signatures, want 2 (one per pair)", n)
	}
}

// TestTLSResumeClose checks that closing the Key empties the caches: a Key
// borrowed from a Chip (Close leaves the Chip open, so it still signs)
// signs again after Close; a Key from Open cannot connect at all.
func TestTLSResumeClose(t *testing.T) {
	needSim(t, "command hook")
	chip := nerveskeytest.NewProvisionedChip(t, &nerveskeytest.Options{Revision: nerveskeytest.ATECC508A})
	c := openChip(t, chip, nil)
	k, err := c.Key(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	pool, _, _ := signerPool(t, k)
	srv := newServerCert(t)
	addr := startResumeServer(t, srv, pool, tls.VersionTLS13)
	opts := &nerveskey.TLSOptions{RootCAs: srv.pool, ServerName: "localhost", Resume: true}
	cfg, err := k.TLSConfig(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	signs := countSigns(chip)
	for i := range 2 {
		if _, resumed, err := dialLeaf(t, addr, cfg); err != nil || resumed != (i == 1) {
			t.Fatalf("before Close, connection %d: resumed %v, %v", i, resumed, err)
		}
	}
	k.Close()
	later, err := k.TLSConfig(t.Context(), opts) // made after Close: never keeps a session
	if err != nil {
		t.Fatal(err)
	}
	for i, cfg := range []*tls.Config{cfg, cfg, later, later} {
		if _, resumed, err := dialLeaf(t, addr, cfg); err != nil || resumed {
			t.Fatalf("after Close, connection %d: resumed %v, %v", i, resumed, err)
		}
	}
	if n := signs.Load(); n != 5 {
		t.Errorf("%d chip signatures, want 1 before Close and 4 after", n)
	}

	k2, err := nerveskey.Open(t.Context(), nerveskeytest.NewProvisionedChip(t, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	pool, _, _ = signerPool(t, k2)
	addr = startResumeServer(t, srv, pool, tls.VersionTLS13)
	cfg, err = k2.TLSConfig(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := dialLeaf(t, addr, cfg); err != nil {
		t.Fatal(err)
	}
	k2.Close()
	if _, resumed, err := dialLeaf(t, addr, cfg); err == nil || resumed {
		t.Errorf("after the Key and its Chip closed: resumed %v, err %v; want a failed handshake", resumed, err)
	}
}

// TestTLSResumeMaxAge runs on a virtual clock: sessions are resumed until
// ResumeMaxAge after the chip's signature, and a resumption in between
// (which brings new tickets) does not extend that.
func TestTLSResumeMaxAge(t *testing.T) {
	needSim(t, "command hook")
	synctest.Test(t, func(t *testing.T) {
		chip := nerveskeytest.NewProvisionedChip(t, nil)
		k, err := nerveskey.Open(t.Context(), chip, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		srv := newServerCert(t) // valid on the bubble's clock
		srvCfg := &tls.Config{
			Certificates: []tls.Certificate{srv.cert},
			// The device certificate's validity is in real time, not the
			// bubble's: the server asks for it but does not verify it.
			ClientAuth: tls.RequireAnyClientCert,
			MinVersion: tls.VersionTLS13,
		}
		cfg, err := k.TLSConfig(t.Context(), &nerveskey.TLSOptions{RootCAs: srv.pool, ServerName: "localhost", Resume: true, ResumeMaxAge: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		signs := countSigns(chip)
		dial := func() bool {
			cc, sc := bufferedPipe()
			go func() {
				defer sc.Close()
				tc := tls.Server(sc, srvCfg)
				if err := tc.Handshake(); err != nil {
					t.Errorf("server handshake: %v", err)
					return
				}
				io.WriteString(tc, "ok\n")
			}()
			c := tls.Client(cc, cfg)
			defer c.Close()
			if b, err := io.ReadAll(c); string(b) != "ok\n" || err != nil {
				t.Fatalf("read %q, %v", b, err)
			}
			return c.ConnectionState().DidResume
		}
		for i, step := range []struct {
			wait        time.Duration
			wantResumed bool
		}{
			{0, false},
			{30 * time.Minute, true},
			{29 * time.Minute, true},  // 59 min after the signature
			{2 * time.Minute, false},  // 61 min: signs again
			{59 * time.Minute, true},  // 59 min after the second signature
			{59 * time.Minute, false}, // 118 min, 59 after the last resumption
		} {
			time.Sleep(step.wait)
			if got := dial(); got != step.wantResumed {
				t.Errorf("connection %d: resumed %v, want %v", i, got, step.wantResumed)
			}
		}
		if n := signs.Load(); n != 3 {
			t.Errorf("%d chip signatures, want 3", n)
		}
	})
}

func TestTLSResumeOptions(t *testing.T) {
	k, _ := newTestKey(t, nerveskeytest.ATECC608A)
	for _, o := range []*nerveskey.TLSOptions{
		{Resume: true, MaxVersion: tls.VersionTLS12},
		{Resume: true, ResumeMaxAge: -time.Second},
	} {
		if _, err := k.TLSConfig(t.Context(), o); err == nil {
			t.Errorf("TLSConfig(%+v): no error", *o)
		}
	}
	cfg, err := k.TLSConfig(t.Context(), nil)
	if err != nil || cfg.ClientSessionCache != nil {
		t.Errorf("default Config: session cache %v, %v; want none", cfg.ClientSessionCache, err)
	}
	a, _ := k.TLSConfig(t.Context(), &nerveskey.TLSOptions{Resume: true})
	b, _ := k.TLSConfig(t.Context(), &nerveskey.TLSOptions{Resume: true})
	if a.ClientSessionCache == nil || a.ClientSessionCache == b.ClientSessionCache {
		t.Error("two Configs with Resume do not have caches of their own")
	}
}

// bufferedPipe is net.Pipe with buffered writes, as TCP has: both TLS
// peers may write at once (a resumed TLS 1.3 server sends its ticket
// while the client sends Finished). Unlike loopback TCP, it blocks
// durably, so synctest can advance its clock.
func bufferedPipe() (net.Conn, net.Conn) {
	a, b := make(chan []byte, 64), make(chan []byte, 64)
	return &chanConn{in: a, out: b}, &chanConn{in: b, out: a}
}

type chanConn struct {
	in   <-chan []byte
	out  chan<- []byte
	rest []byte // read from in, not yet returned

	closeOnce sync.Once
}

func (c *chanConn) Read(p []byte) (int, error) {
	if len(c.rest) == 0 {
		b, ok := <-c.in
		if !ok {
			return 0, io.EOF
		}
		c.rest = b
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

func (c *chanConn) Write(p []byte) (int, error) {
	c.out <- bytes.Clone(p)
	return len(p), nil
}

func (c *chanConn) Close() error {
	c.closeOnce.Do(func() { close(c.out) })
	return nil
}

func (c *chanConn) LocalAddr() net.Addr              { return pipeAddr{} }
func (c *chanConn) RemoteAddr() net.Addr             { return pipeAddr{} }
func (c *chanConn) SetDeadline(time.Time) error      { return nil }
func (c *chanConn) SetReadDeadline(time.Time) error  { return nil }
func (c *chanConn) SetWriteDeadline(time.Time) error { return nil }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
