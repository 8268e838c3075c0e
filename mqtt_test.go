package nerveskey_test

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/golang-jwt/jwt/v5"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startMosquitto runs mosquitto on a loopback port with a TLS listener
// that requires a client certificate issued by signerPEM, and returns its
// address and log.
func startMosquitto(t testing.TB, srv *serverCert, signerPEM []byte) (string, *peer) {
	t.Helper()
	bin := needTool(t, "mosquitto")
	dir := t.TempDir()
	write(t, filepath.Join(dir, "signer.pem"), signerPEM)
	write(t, filepath.Join(dir, "srv.pem"), srv.certPEM)
	write(t, filepath.Join(dir, "srv.key"), srv.keyPEM)
	port := freePort(t)
	conf := fmt.Sprintf(`# mosquitto 2.0 configuration written by nerveskey's tests
per_listener_settings false
allow_anonymous true
log_dest stderr
log_type all
persistence false
listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
use_identity_as_username true
`, port, filepath.Join(dir, "signer.pem"), filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv.key"))
	if u, err := user.Current(); err == nil {
		// Run as ourselves: as root, mosquitto would switch to a
		// "mosquitto" user that cannot read the test's temporary files.
		conf += "user " + u.Username + "\n"
	}
	write(t, filepath.Join(dir, "mosquitto.conf"), []byte(conf))
	p := startPeer(t, exec.Command(bin, "-c", filepath.Join(dir, "mosquitto.conf")), " running")
	return fmt.Sprintf("ssl://127.0.0.1:%d", port), p
}

func waitToken(t testing.TB, tok mqtt.Token, what string) {
	t.Helper()
	if !tok.WaitTimeout(30 * time.Second) {
		t.Fatalf("%s: timed out", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestMQTTMosquitto publishes through a real mosquitto broker that
// requires client certificates issued by the chip's signer: a subscriber
// (another chip-backed client) receives the message.
func TestMQTTMosquitto(t *testing.T) {
	for _, v := range tlsVersions {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			k, chip := newTestKey(t, nerveskeytest.ATECC608A)
			_, signer, cn := signerPool(t, k)
			srv := newServerCert(t)
			broker, log := startMosquitto(t, srv, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: signer.Raw}))

			tlsOpts := &nerveskey.TLSOptions{RootCAs: srv.pool, ServerName: "localhost", MinVersion: v, MaxVersion: v}
			o, err := k.MQTTClientOptions(t.Context(), &nerveskey.MQTTOptions{Broker: broker, TLS: tlsOpts})
			if err != nil {
				t.Fatal(err)
			}
			if o.ClientID != cn {
				t.Errorf("default client ID %q, want the device CN %q", o.ClientID, cn)
			}
			got := make(chan string, 1)
			so, err := k.MQTTClientOptions(t.Context(), &nerveskey.MQTTOptions{Broker: broker, ClientID: "subscriber", TLS: tlsOpts})
			if err != nil {
				t.Fatal(err)
			}
			sub := mqtt.NewClient(so)
			waitToken(t, sub.Connect(), "subscriber connect")
			defer sub.Disconnect(0)
			waitToken(t, sub.Subscribe("nerveskey/test", 1, func(_ mqtt.Client, m mqtt.Message) {
				select {
				case got <- string(m.Payload()):
				default:
				}
			}), "subscribe")

			if chip != nil { // nil on hardware
				chip.ResetStats()
			}
			for i := range 2 { // the second connection reuses the cached certificates
				pub := mqtt.NewClient(o)
				waitToken(t, pub.Connect(), "publisher connect")
				msg := fmt.Sprintf("hello %d from %s", i, cn)
				waitToken(t, pub.Publish("nerveskey/test", 1, false, msg), "publish")
				select {
				case m := <-got:
					if m != msg {
						t.Errorf("subscriber got %q, want %q", m, msg)
					}
				case <-time.After(30 * time.Second):
					t.Fatal("subscriber got nothing")
				}
				pub.Disconnect(100)
			}
			if st := simStats(chip); chip != nil && st.Commands != 2*2 {
				t.Errorf("2 connections ran %d chip commands, want 2 × (Nonce + Sign)", st.Commands)
			}
			// use_identity_as_username: mosquitto names the client by its
			// verified certificate.
			if l := log.waitLine(t, fmt.Sprintf("as %s (", cn)); !strings.Contains(l, "u'"+cn+"'") {
				t.Errorf("mosquitto did not take the certificate CN as username: %s", l)
			}
		})
	}
}

// TestMQTTMosquittoRejectsStranger checks that the broker set up above
// refuses a client whose certificate another CA issued, so the test can
// fail.
func TestMQTTMosquittoRejectsStranger(t *testing.T) {
	srv := newServerCert(t)
	other := newServerCert(t)
	broker, _ := startMosquitto(t, srv, other.certPEM)
	k, _ := newTestKey(t, nerveskeytest.ATECC608A)
	o, err := k.MQTTClientOptions(t.Context(), &nerveskey.MQTTOptions{Broker: broker, TLS: &nerveskey.TLSOptions{RootCAs: srv.pool, ServerName: "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	o.SetConnectTimeout(10 * time.Second)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	tok.WaitTimeout(30 * time.Second)
	if tok.Error() == nil {
		c.Disconnect(0)
		t.Fatal("mosquitto accepted a device its CA did not issue")
	}
}

func TestMQTTOptionsErrors(t *testing.T) {
	k, _ := newTestKey(t, nerveskeytest.ATECC608A)
	if _, err := k.MQTTClientOptions(t.Context(), nil); err == nil {
		t.Error("MQTTClientOptions(nil): no error")
	}
	for _, o := range []*nerveskey.MQTTJWTOptions{
		nil,
		{Broker: "ssl://x:8883"},
		{Broker: "ssl://x:8883", ClientID: "d"}, // no audience
		{Broker: "ssl://x:8883", ClientID: "d", JWT: nerveskey.JWTOptions{Audience: "a"},
			TLS: &nerveskey.TLSOptions{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS12}},
	} {
		if _, err := k.MQTTJWTClientOptions(t.Context(), o); err == nil {
			t.Errorf("MQTTJWTClientOptions(%+v): no error", o)
		}
	}
}

// jwtBroker is a minimal MQTT 3.1.1 server for one purpose: it reads
// CONNECT, checks the password is an ES256 JWT that verifies under the
// device key, and answers CONNACK (0 accepted, 5 not authorized).
type jwtBroker struct {
	mu       sync.Mutex // guards the fields below
	tokens   []string
	clientID string
	username string
	refused  int
}

func startJWTBroker(t *testing.T, srv *serverCert, verify func(string) error) (string, *jwtBroker) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{srv.cert}})
	if err != nil {
		t.Fatal(err)
	}
	b := &jwtBroker{}
	addr := serve(t, ln, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		r := bufio.NewReader(c)
		id, user, pass, err := readConnect(r)
		if err != nil {
			return
		}
		rc := byte(0)
		b.mu.Lock()
		b.clientID, b.username = id, user
		b.tokens = append(b.tokens, pass)
		if verify(pass) != nil {
			rc = 5
			b.refused++
		}
		b.mu.Unlock()
		c.Write([]byte{0x20, 2, 0, rc})
		if rc == 0 {
			io.Copy(io.Discard, r) // until DISCONNECT closes it
		}
	})
	return "ssl://" + addr, b
}

// readConnect parses an MQTT 3.1.1 CONNECT packet with username and
// password.
func readConnect(r *bufio.Reader) (clientID, user, pass string, err error) {
	h, err := r.ReadByte()
	if err != nil || h != 0x10 {
		return "", "", "", fmt.Errorf("not CONNECT: %x %v", h, err)
	}
	n, err := binary.ReadUvarint(r) // MQTT's remaining length is this varint
	if err != nil || n > 4096 {
		return "", "", "", fmt.Errorf("length %d: %v", n, err)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return "", "", "", err
	}
	str := func() string {
		if len(p) < 2 {
			err = errors.New("short packet")
			return ""
		}
		l := int(binary.BigEndian.Uint16(p))
		if len(p) < 2+l {
			err = errors.New("short string")
			return ""
		}
		s := string(p[2 : 2+l])
		p = p[2+l:]
		return s
	}
	if proto := str(); proto != "MQTT" || len(p) < 4 {
		return "", "", "", fmt.Errorf("protocol %q", proto)
	}
	flags := p[1]
	p = p[4:] // level, flags, keep-alive
	clientID = str()
	if flags&0x04 != 0 { // will topic and message
		str()
		str()
	}
	if flags&0xC0 != 0xC0 {
		return "", "", "", errors.New("no username or password")
	}
	user, pass = str(), str()
	return clientID, user, pass, err
}

// TestMQTTJWT connects to a broker that authenticates with a JWT password,
// twice: each connection's token verifies with golang-jwt's ES256 under
// the device key and has the audience asked for.
func TestMQTTJWT(t *testing.T) {
	k, chip := newTestKey(t, nerveskeytest.ATECC508A)
	srv := newServerCert(t)
	verify := func(tok string) error {
		_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return k.Public(), nil },
			jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience("my-project"), jwt.WithExpirationRequired())
		return err
	}
	broker, b := startJWTBroker(t, srv, verify)
	const id = "projects/my-project/locations/eu/registries/r/devices/d"
	o, err := k.MQTTJWTClientOptions(t.Context(), &nerveskey.MQTTJWTOptions{
		Broker: broker, ClientID: id,
		JWT: nerveskey.JWTOptions{Audience: "my-project", Lifetime: 20 * time.Minute},
		TLS: &nerveskey.TLSOptions{RootCAs: srv.pool, ServerName: "localhost"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.TLSConfig.GetClientCertificate != nil || len(o.TLSConfig.Certificates) != 0 {
		t.Error("JWT options present a client certificate")
	}
	if chip != nil { // nil on hardware
		chip.ResetStats()
	}
	for i := range 2 {
		c := mqtt.NewClient(o)
		waitToken(t, c.Connect(), fmt.Sprintf("connect %d", i))
		c.Disconnect(0)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.tokens) != 2 || b.refused != 0 || b.clientID != id || b.username != "unused" {
		t.Fatalf("broker saw %d tokens, %d refused, client %q, user %q", len(b.tokens), b.refused, b.clientID, b.username)
	}
	// The token is made once and reused while it has time left.
	if b.tokens[0] != b.tokens[1] {
		t.Error("a fresh token was made for a reconnection within its lifetime")
	}
	if n := simStats(chip).Commands; chip != nil && n != 0 {
		t.Errorf("%d chip commands for connections with a cached token, want 0", n)
	}
	if err := verify(b.tokens[0] + "x"); err == nil {
		t.Error("the broker's check accepts a damaged token")
	}
}

// TestMQTTJWTRenews checks, on a virtual clock, that the credentials
// provider reuses a token until a quarter of its lifetime is left (at
// most 5 minutes), then makes a new one.
func TestMQTTJWTRenews(t *testing.T) {
	needSim(t, "virtual clock (synctest)")
	synctest.Test(t, func(t *testing.T) {
		// The bubble's clock starts in 2000, which JWT refuses as unset.
		time.Sleep(time.Until(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)))
		k, chip := newTestKey(t, nerveskeytest.ATECC608A)
		o, err := k.MQTTJWTClientOptions(t.Context(), &nerveskey.MQTTJWTOptions{
			Broker: "ssl://127.0.0.1:8883", ClientID: "d", Username: "u",
			JWT: nerveskey.JWTOptions{Audience: "a", Lifetime: time.Hour},
		})
		if err != nil {
			t.Fatal(err)
		}
		chip.ResetStats()
		user, first := o.CredentialsProvider()
		if user != "u" {
			t.Errorf("username %q", user)
		}
		time.Sleep(54 * time.Minute)
		if _, tok := o.CredentialsProvider(); tok != first || chip.Stats().Commands != 0 {
			t.Fatal("token renewed with 6 minutes left")
		}
		time.Sleep(2 * time.Minute)
		_, tok := o.CredentialsProvider()
		if tok == first {
			t.Fatal("token not renewed with 4 minutes left")
		}
		var c jwt.RegisteredClaims
		if _, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return k.Public(), nil }); err != nil {
			t.Fatal(err)
		}
		if want := time.Now().Truncate(time.Second); !c.IssuedAt.Equal(want) {
			t.Errorf("new token iat %v, want %v", c.IssuedAt, want)
		}
	})
}

// TestMQTTMosquittoResume connects 5 times through mosquitto, which
// requires client certificates and resumes TLS 1.3 sessions: with
// TLSOptions.Resume the chip signs once; by default, once per connection.
func TestMQTTMosquittoResume(t *testing.T) {
	needSim(t, "command hook")
	for _, tt := range []struct {
		resume    bool
		wantSigns int64
	}{{true, 1}, {false, 5}} {
		t.Run(fmt.Sprintf("resume=%v", tt.resume), func(t *testing.T) {
			k, chip := newTestKey(t, nerveskeytest.ATECC608A)
			_, signer, cn := signerPool(t, k)
			srv := newServerCert(t)
			broker, log := startMosquitto(t, srv, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: signer.Raw}))
			o, err := k.MQTTClientOptions(t.Context(), &nerveskey.MQTTOptions{Broker: broker, TLS: &nerveskey.TLSOptions{
				RootCAs: srv.pool, ServerName: "localhost", MinVersion: tls.VersionTLS13, Resume: tt.resume,
			}})
			if err != nil {
				t.Fatal(err)
			}
			signs := countSigns(chip)
			for i := range 5 {
				c := mqtt.NewClient(o)
				waitToken(t, c.Connect(), fmt.Sprintf("connect %d", i))
				// A round trip, so the client has read the tickets that
				// follow the handshake before it disconnects.
				waitToken(t, c.Publish("nerveskey/resume", 1, false, "x"), "publish")
				c.Disconnect(100)
			}
			if n := signs.Load(); n != tt.wantSigns {
				t.Errorf("5 connections: %d chip signatures, want %d", n, tt.wantSigns)
			}
			// A resumed session keeps the identity the broker verified.
			log.waitLine(t, fmt.Sprintf("as %s (", cn))
		})
	}
}

// TestMQTTPlaintextRefused: broker URLs without TLS are refused with
// ErrPlaintextBroker by both helpers (the JWT is a bearer credential; a
// tcp:// URL never presents the device certificate), unless the caller
// opts in with AllowPlaintext; TLS schemes pass in any case.
func TestMQTTPlaintextRefused(t *testing.T) {
	k, _ := newTestKey(t, nerveskeytest.ATECC608A)
	jwtOpts := func(broker string, allow bool) *nerveskey.MQTTJWTOptions {
		return &nerveskey.MQTTJWTOptions{Broker: broker, ClientID: "d", JWT: nerveskey.JWTOptions{Audience: "a"}, AllowPlaintext: allow}
	}
	for _, tt := range []struct {
		broker string
		tls    bool
	}{
		{"tcp://127.0.0.1:1883", false}, {"mqtt://h:1883", false}, {"ws://h/mqtt", false}, {"TCP://h:1883", false}, {"h:1883", false},
		{"ssl://h:8883", true}, {"tls://h:8883", true}, {"mqtts://h:8883", true}, {"wss://h/mqtt", true}, {"SSL://h:8883", true},
	} {
		_, err := k.MQTTClientOptions(t.Context(), &nerveskey.MQTTOptions{Broker: tt.broker})
		if got := errors.Is(err, nerveskey.ErrPlaintextBroker); got == tt.tls {
			t.Errorf("MQTTClientOptions(%q): %v", tt.broker, err)
		}
		_, err = k.MQTTJWTClientOptions(t.Context(), jwtOpts(tt.broker, false))
		if got := errors.Is(err, nerveskey.ErrPlaintextBroker); got == tt.tls {
			t.Errorf("MQTTJWTClientOptions(%q): %v", tt.broker, err)
		}
		if _, err := k.MQTTClientOptions(t.Context(), &nerveskey.MQTTOptions{Broker: tt.broker, AllowPlaintext: true}); err != nil {
			t.Errorf("MQTTClientOptions(%q) with AllowPlaintext: %v", tt.broker, err)
		}
		if _, err := k.MQTTJWTClientOptions(t.Context(), jwtOpts(tt.broker, true)); err != nil {
			t.Errorf("MQTTJWTClientOptions(%q) with AllowPlaintext: %v", tt.broker, err)
		}
	}
}
