package nerveskey

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// MQTTOptions configures [Key.MQTTClientOptions]. A nil *MQTTOptions is
// an error: Broker is required.
type MQTTOptions struct {
	// Broker is the broker's URL, with scheme ssl, tls, mqtts or wss, for
	// example "ssl://a1b2c3-ats.iot.eu-west-1.amazonaws.com:8883".
	Broker string
	// ClientID is the MQTT client identifier; default the device
	// certificate's subject CN (the manufacturer serial number). AWS IoT
	// policies often expect the thing name.
	ClientID string
	// TLS verifies the broker and selects the certificate pair; see
	// [TLSOptions]. Nil selects its defaults (system roots).
	TLS *TLSOptions
	// AllowPlaintext accepts a broker URL without TLS (tcp, mqtt, ws),
	// which is otherwise refused with ErrPlaintextBroker: over such a
	// connection the device certificate is never presented and nothing
	// is encrypted. For a test broker on loopback only.
	AllowPlaintext bool
}

// checkBroker refuses a broker URL without TLS unless allowed.
func checkBroker(broker string, allow bool) error {
	u, err := url.Parse(broker)
	if err != nil {
		return fmt.Errorf("broker URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "ssl", "tls", "mqtts", "wss":
		return nil
	}
	if allow {
		return nil
	}
	return fmt.Errorf("%w: %q", ErrPlaintextBroker, broker)
}

// MQTTClientOptions returns paho client options for a broker that
// authenticates devices with mutual TLS: the broker URL, the client ID
// and the tls.Config of [Key.TLSConfig]. The certificates are read now;
// every connection and automatic reconnection reuses them and costs one
// signature, or none when TLSOptions.Resume is set and the broker resumes
// the session (mosquitto does). Set handlers, keep-alive and the rest on the result, then
// mqtt.NewClient(o).Connect().
func (k *Key) MQTTClientOptions(ctx context.Context, opts *MQTTOptions) (*mqtt.ClientOptions, error) {
	if opts == nil || opts.Broker == "" {
		return nil, errors.New("nerveskey: MQTT options: MQTTOptions.Broker is required")
	}
	if err := checkBroker(opts.Broker, opts.AllowPlaintext); err != nil {
		return nil, fmt.Errorf("nerveskey: MQTT options: %w", err)
	}
	cfg, err := k.TLSConfig(ctx, opts.TLS)
	if err != nil {
		return nil, err
	}
	id := opts.ClientID
	if id == "" {
		pair := Primary
		if opts.TLS != nil {
			pair = opts.TLS.Pair
		}
		dev, err := k.chip.certificate(ctx, pair, deviceCert) // cached by TLSConfig
		if err != nil {
			return nil, err
		}
		id = dev.Subject.CommonName
	}
	return mqtt.NewClientOptions().AddBroker(opts.Broker).SetClientID(id).SetTLSConfig(cfg), nil
}

// MQTTJWTOptions configures [Key.MQTTJWTClientOptions]. A nil
// *MQTTJWTOptions is an error: Broker, ClientID and JWT.Audience are
// required.
type MQTTJWTOptions struct {
	// Broker is the broker's URL, for example
	// "ssl://mqtt.googleapis.com:8883".
	Broker string
	// ClientID is the MQTT client identifier, required: Google's brokers
	// wanted "projects/P/locations/R/registries/G/devices/D".
	ClientID string
	// Username is sent with the token; default "unused", as Google's
	// brokers ignored it.
	Username string
	// JWT sets the token's audience and lifetime; IssuedAt is ignored, each
	// token is issued when it is made.
	JWT JWTOptions
	// TLS verifies the broker (RootCAs, ServerName, versions). No client
	// certificate is presented: the token authenticates the device.
	TLS *TLSOptions
	// AllowPlaintext accepts a broker URL without TLS (tcp, mqtt, ws),
	// otherwise refused with ErrPlaintextBroker: the token is a bearer
	// credential, and without TLS anyone on the path can reuse it until
	// it expires. For a test broker on loopback only.
	AllowPlaintext bool
}

// MQTTJWTClientOptions returns paho client options for a broker that takes
// a JWT as the MQTT password (Google Cloud IoT Core's scheme, kept by its
// successors): server-authenticated TLS, the client ID, and a credentials
// provider that sends a token from [Key.JWT]. A first token is made now, so
// a chip that cannot sign fails here; a new one is made at a connection
// attempt once less than a quarter of the current one's lifetime (at most
// 5 minutes) is left, so reconnects after expiry are accepted. If signing
// fails then, the old token is sent (paho's provider cannot return an
// error) and the broker's refusal shows on the connect token.
func (k *Key) MQTTJWTClientOptions(ctx context.Context, opts *MQTTJWTOptions) (*mqtt.ClientOptions, error) {
	if opts == nil || opts.Broker == "" || opts.ClientID == "" {
		return nil, errors.New("nerveskey: MQTT JWT options: Broker and ClientID are required")
	}
	if err := checkBroker(opts.Broker, opts.AllowPlaintext); err != nil {
		return nil, fmt.Errorf("nerveskey: MQTT JWT options: %w", err)
	}
	jo := opts.JWT
	jo.IssuedAt = time.Time{}
	if jo.Lifetime == 0 {
		jo.Lifetime = defaultJWTLifetime
	}
	user := opts.Username
	if user == "" {
		user = "unused"
	}
	cfg, err := opts.TLS.serverConfig()
	if err != nil {
		return nil, fmt.Errorf("nerveskey: MQTT JWT options: %w", err)
	}
	src := &jwtSource{k: k, opts: jo}
	if _, err := src.token(ctx); err != nil {
		return nil, err
	}
	return mqtt.NewClientOptions().AddBroker(opts.Broker).SetClientID(opts.ClientID).SetTLSConfig(cfg).
		SetCredentialsProvider(func() (string, string) {
			tok, _ := src.token(context.Background())
			return user, tok
		}), nil
}

// jwtSource makes tokens and reuses one while it has time left.
type jwtSource struct {
	k    *Key
	opts JWTOptions // IssuedAt zero: now

	mu      sync.Mutex // guards tok and renewAt; held while signing
	tok     string
	renewAt time.Time
}

// token returns the current token, or a new one when it is due for
// renewal. On error it returns the last token it made.
func (s *jwtSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.tok != "" && now.Before(s.renewAt) {
		return s.tok, nil
	}
	tok, err := s.k.JWT(ctx, &s.opts)
	if err != nil {
		return s.tok, err
	}
	margin := min(s.opts.Lifetime/4, 5*time.Minute)
	s.tok, s.renewAt = tok, now.Add(s.opts.Lifetime-margin)
	return tok, nil
}
