package nerveskey

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"time"
)

// TLSOptions configures [Key.TLSConfig]. A nil *TLSOptions, or a zero
// field, selects the default.
type TLSOptions struct {
	// Pair is the certificate pair presented to the server; default
	// Primary. Aux certificates certify the same slot 0 key under another
	// signer.
	Pair Pair
	// ServerName verifies the server's certificate (and is sent as SNI);
	// default: the host part of the address dialed, as crypto/tls does.
	ServerName string
	// RootCAs are the CAs the server's certificate must chain to; default
	// the host's system roots. AWS IoT needs Amazon's roots, a private
	// broker its own CA.
	RootCAs *x509.CertPool
	// MinVersion is the lowest TLS version offered; default TLS 1.2.
	// TLS 1.3 is used when the server supports it.
	MinVersion uint16
	// MaxVersion is the highest TLS version offered; default TLS 1.3.
	MaxVersion uint16
	// NextProtos are the ALPN protocols offered, for example
	// "x-amzn-mqtt-ca" for MQTT to AWS IoT on port 443; default none.
	NextProtos []string
	// OmitSigner presents the device certificate alone. By default the
	// signer certificate follows it, which servers that know only the
	// signer's issuer (or register the signer as a CA) need.
	OmitSigner bool
	// Resume lets the Config resume TLS 1.3 sessions (a PSK with a fresh
	// ECDHE exchange, RFC 8446 §2.2), so a reconnection to a server that
	// resumes costs no chip signature. Off by default, because it trades
	// something: a session ticket copied out of process memory lets its
	// holder connect as the device, without the chip, until it expires,
	// and a resumed session skips the server's revocation check. See
	// [Key.TLSConfig].
	Resume bool
	// ResumeMaxAge bounds how long a session is resumed after the full
	// handshake (the chip signature) it descends from; resuming does not
	// extend it. Default one hour; the server's ticket lifetime may be
	// shorter.
	ResumeMaxAge time.Duration
}

// TLSCertificate returns the device's TLS identity: the primary device
// certificate followed by its signer certificate (the chain AWS IoT and
// NervesHub expect), PrivateKey the Key itself, Leaf the device
// certificate, and SupportedSignatureAlgorithms ECDSA P-256 with SHA-256,
// the only scheme the chip signs. The certificates are read from the chip
// once; each handshake then costs one signature.
//
// For a client, prefer [Key.TLSConfig], whose handshakes pass their
// context to the chip. As a server (a device serving a local API, say),
// put the certificate in [tls.Config.Certificates]; its Sign uses
// context.Background():
//
//	cert, err := key.TLSCertificate(ctx)
//	…
//	srv := &http.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
//
// Clients of such a server trust the signer certificate as a root, but
// must verify the chain themselves: a NervesKey device certificate names
// the device in its subject CN only (no SAN, which crypto/tls requires)
// and its only extended key usage is clientAuth (crypto/x509 wants
// serverAuth for a server). Go clients set InsecureSkipVerify and check in
// [tls.Config.VerifyConnection] with KeyUsages ExtKeyUsageClientAuth and a
// CN comparison (see the package examples).
func (k *Key) TLSCertificate(ctx context.Context) (tls.Certificate, error) {
	return k.tlsCertificate(ctx, Primary, false)
}

func (k *Key) tlsCertificate(ctx context.Context, p Pair, omitSigner bool) (tls.Certificate, error) {
	dev, err := k.chip.certificate(ctx, p, deviceCert)
	if err != nil {
		return tls.Certificate{}, err
	}
	if pub, ok := dev.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(k.pub) {
		return tls.Certificate{}, fmt.Errorf("nerveskey: TLS certificate: the %v device certificate is not for the chip's key", p)
	}
	chain := [][]byte{dev.Raw}
	if !omitSigner {
		signer, err := k.chip.certificate(ctx, p, signerCert)
		if err != nil {
			return tls.Certificate{}, err
		}
		chain = append(chain, signer.Raw)
	}
	return tls.Certificate{
		Certificate:                  chain,
		PrivateKey:                   k,
		Leaf:                         dev,
		SupportedSignatureAlgorithms: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
	}, nil
}

// TLSConfig returns a client tls.Config for mutual TLS with the chip's
// key: it verifies the server as opts says and, when the server asks for a
// client certificate, presents the device certificate chain of
// [Key.TLSCertificate], signing with the handshake's context (canceling
// the dial's context stops between chip commands). The certificates are
// read now, once, so reconnections only sign. The Config may be modified
// before use and used for many connections at once.
//
// AWS IoT Core: register the NervesKey signer certificate as a CA
// certificate (with automatic registration, or register each device
// certificate), then connect to your account's endpoint on port 8883, or
// 443 with NextProtos "x-amzn-mqtt-ca"; RootCAs should hold Amazon Root
// CA 1. The device certificate is presented with the signer certificate
// behind it, which just-in-time registration needs.
//
// NervesHub: the signer certificate is uploaded to the organization (mix
// nerves_hub.ca_certificate register); devices present device + signer
// certificates, and RootCAs holds the NervesHub server's CA.
//
// # Session resumption
//
// With TLSOptions.Resume, the Config gets a session cache of its own
// ([tls.Config.ClientSessionCache]): in memory only, never shared with
// another Config (so a Primary Config never resumes an Aux session),
// holding TLS 1.3 sessions only (resumption with a fresh ECDHE exchange,
// so forward secrecy holds; TLS 1.2 sessions are not kept) for at most
// ResumeMaxAge after the chip signed their full handshake, and emptied
// when the Key is closed. A resumed handshake costs no chip signature:
// on a flaky network, a device reconnecting to the same server signs
// once per ResumeMaxAge instead of once per connection. Whether a server
// resumes is its choice: mosquitto does (TLS 1.3 tickets by default);
// AWS IoT Core and Azure IoT Hub are reported not to cache sessions, so
// there Resume saves nothing. The trade is stated at TLSOptions.Resume.
func (k *Key) TLSConfig(ctx context.Context, opts *TLSOptions) (*tls.Config, error) {
	cfg, err := opts.serverConfig()
	if err != nil {
		return nil, fmt.Errorf("nerveskey: TLS config: %w", err)
	}
	var o TLSOptions
	if opts != nil {
		o = *opts
	}
	cert, err := k.tlsCertificate(ctx, o.Pair, o.OmitSigner)
	if err != nil {
		return nil, err
	}
	var cache *sessionCache
	if o.Resume {
		cache = newSessionCache(k, cmp.Or(o.ResumeMaxAge, defaultResumeMaxAge))
		cfg.ClientSessionCache = cache
	}
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		c := cert // the chain is shared and never modified
		c.PrivateKey = contextSigner{k, cri.Context()}
		if cache != nil {
			c.PrivateKey = resumeSigner{contextSigner{k, cri.Context()}, cache}
		}
		return &c, nil
	}
	return cfg, nil
}

// serverConfig returns a client tls.Config that verifies the server as o
// says, with o's defaults, and presents no certificate.
func (o *TLSOptions) serverConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13}
	if o != nil {
		cfg.ServerName, cfg.RootCAs, cfg.NextProtos = o.ServerName, o.RootCAs, o.NextProtos
		cfg.MinVersion = cmp.Or(o.MinVersion, cfg.MinVersion)
		cfg.MaxVersion = cmp.Or(o.MaxVersion, cfg.MaxVersion)
	}
	if cfg.MinVersion > cfg.MaxVersion {
		return nil, fmt.Errorf("MinVersion %s above MaxVersion %s", tls.VersionName(cfg.MinVersion), tls.VersionName(cfg.MaxVersion))
	}
	if o != nil && o.Resume && cfg.MaxVersion < tls.VersionTLS13 {
		return nil, fmt.Errorf("session resumption (TLSOptions.Resume) needs TLS 1.3, but MaxVersion is %s", tls.VersionName(cfg.MaxVersion))
	}
	if o != nil && o.ResumeMaxAge < 0 {
		return nil, fmt.Errorf("ResumeMaxAge %v is negative", o.ResumeMaxAge)
	}
	return cfg, nil
}

// contextSigner is a Key bound to a context: a crypto.Signer whose Sign
// is k.SignContext(ctx, …). TLS binds the handshake's context with it.
type contextSigner struct {
	k   *Key
	ctx context.Context
}

var _ crypto.Signer = contextSigner{}

// Public returns the key's public key.
func (s contextSigner) Public() crypto.PublicKey { return s.k.pub }

// Sign signs digest with the chip under s.ctx; rand is ignored.
func (s contextSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.k.SignContext(s.ctx, digest, opts)
}
