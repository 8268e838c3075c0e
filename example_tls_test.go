package nerveskey_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// provisionedKey provisions a blank simulated chip with a new signer. On
// hardware, use nerveskey.OpenBus(ctx, "/dev/i2c-1", nil) and Chip.Key.
func provisionedKey(ctx context.Context) (*nerveskey.Key, error) {
	bus := nerveskeytest.NewChip(nil)
	c, err := nerveskey.OpenChip(ctx, bus, nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	signerCert, signerKey, err := nerveskey.NewSigner(nil, 1, time.Now())
	if err != nil {
		return nil, err
	}
	in, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	info := nerveskey.ProvisioningInfo{ManufacturerSN: in.DefaultManufacturerSN, BoardName: "NervesKey"}
	if _, err := c.Provision(ctx, info, signerCert, signerKey, nil); err != nil {
		return nil, err
	}
	return nerveskey.Open(ctx, bus, nil) // the Key owns its chip: Close releases it
}

// A device calls an HTTPS API that authenticates it by its NervesKey
// certificate. The server trusts the signer certificate as client CA.
func ExampleKey_TLSConfig() {
	ctx := context.Background()
	key, err := provisionedKey(ctx) // hardware: nerveskey.OpenBus(ctx, "/dev/i2c-1", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	_, signer, err := key.Chip().Certificates(ctx, nerveskey.Primary)
	if err != nil {
		log.Fatal(err)
	}

	// The server side: require a client certificate issued by the signer.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dev := r.TLS.PeerCertificates[0]
		fmt.Fprintf(w, "hello, device with a %d-character serial number, over %s", len(dev.Subject.CommonName), tls.VersionName(r.TLS.Version))
	}))
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(signer)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	srv.StartTLS()
	defer srv.Close()

	// The device side.
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	cfg, err := key.TLSConfig(ctx, &nerveskey.TLSOptions{RootCAs: roots})
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: hello, device with a 15-character serial number, over TLS 1.3
}

// AWS IoT Core: the NervesKey signer certificate is registered as a CA in
// the account; the device presents its certificate with the signer behind
// it, and trusts Amazon's root. Port 443 needs the ALPN protocol
// x-amzn-mqtt-ca; 8883 needs none.
func ExampleKey_TLSConfig_awsIoT() {
	ctx := context.Background()
	key, err := provisionedKey(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	cfg, err := key.TLSConfig(ctx, &nerveskey.TLSOptions{
		NextProtos: []string{"x-amzn-mqtt-ca"},
		// RootCAs: a pool with AmazonRootCA1.pem; nil uses the system roots.
	})
	if err != nil {
		log.Fatal(err)
	}
	// conn, err := tls.Dial("tcp", "xxxx-ats.iot.eu-west-1.amazonaws.com:443", cfg)
	cert, _ := cfg.GetClientCertificate(&tls.CertificateRequestInfo{})
	fmt.Println("certificates presented:", len(cert.Certificate), "(device, signer)")
	// Output: certificates presented: 2 (device, signer)
}

// A token for a broker that takes a JWT as the MQTT password, verified as
// the broker does, with golang-jwt's own ES256 and the device public key.
func ExampleKey_JWT() {
	ctx := context.Background()
	key, err := provisionedKey(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	tok, err := key.JWT(ctx, &nerveskey.JWTOptions{Audience: "my-project", Lifetime: 20 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	var claims jwt.RegisteredClaims
	_, err = jwt.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return key.Public(), nil },
		jwt.WithValidMethods([]string{"ES256"}))
	fmt.Println(err, claims.Audience, claims.ExpiresAt.Sub(claims.IssuedAt.Time))
	// Output: <nil> [my-project] 20m0s
}
