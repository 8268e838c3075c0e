package nerveskey_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// ExampleChip_Info reads the identity and device certificate of a chip
// provisioned by the Elixir nerves_key library, here simulated from its
// recorded image. On hardware, open the bus instead:
// chip, err := nerveskey.OpenBus(ctx, "/dev/i2c-1", nil).
func ExampleChip_Info() {
	ctx := context.Background()
	bus := exampleBus("elixir-1")
	defer bus.Close()

	chip, err := nerveskey.OpenChip(ctx, bus, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer chip.Close()

	info, err := chip.Info(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("chip:", info.Revision, info.Mode)
	fmt.Println("serial number:", info.ManufacturerSN)
	fmt.Println("board:", info.BoardName)

	dev, _, err := chip.Certificates(ctx, nerveskey.Primary)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("device certificate:", dev.Subject, "issued by", dev.Issuer)
	// Output:
	// chip: ATECC508A regular
	// serial number: N1234
	// board: NervesKey
	// device certificate: CN=N1234 issued by CN=Signer
}

// ExampleOpen opens the chip's key and signs a message digest. The Key is a
// crypto.Signer: the signature is ASN.1 DER and verifies with crypto/ecdsa
// and the public key read when the Key was opened. On hardware, only the
// bus differs: bus, err := i2creg.Open("/dev/i2c-1") after host.Init(),
// or nerveskey.OpenBus and Chip.Key.
func ExampleOpen() {
	ctx := context.Background()
	bus := exampleBus("elixir-1")
	defer bus.Close()

	key, err := nerveskey.Open(ctx, bus, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()

	digest := sha256.Sum256([]byte("firmware v1.2.3"))
	sig, err := key.Sign(nil, digest[:], crypto.SHA256) // rand is ignored: the chip draws the nonce
	if err != nil {
		log.Fatal(err)
	}
	pub := key.Public().(*ecdsa.PublicKey)
	fmt.Println("signature verifies:", ecdsa.VerifyASN1(pub, digest[:], sig))
	// Output: signature verifies: true
}

// ExampleKey_MQTTClientOptions prepares a paho MQTT client that
// authenticates to its broker (AWS IoT Core, mosquitto...) with the
// device certificate; the chip signs each TLS handshake. The client ID
// defaults to the device certificate's CN, the serial number.
func ExampleKey_MQTTClientOptions() {
	ctx := context.Background()
	bus := exampleBus("elixir-1")
	defer bus.Close()
	key, err := nerveskey.Open(ctx, bus, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()

	opts, err := key.MQTTClientOptions(ctx, &nerveskey.MQTTOptions{
		Broker: "ssl://xxxx-ats.iot.eu-west-1.amazonaws.com:8883",
		// TLS: &nerveskey.TLSOptions{RootCAs: amazonRoots},
	})
	if err != nil {
		log.Fatal(err)
	}
	// client := mqtt.NewClient(opts)
	// if tok := client.Connect(); tok.Wait() && tok.Error() != nil { … }
	fmt.Println("broker:", opts.Servers[0])
	fmt.Println("client ID:", opts.ClientID)
	cert, err := opts.TLSConfig.GetClientCertificate(&tls.CertificateRequestInfo{Version: tls.VersionTLS13})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("certificates presented:", len(cert.Certificate))
	// Output:
	// broker: ssl://xxxx-ats.iot.eu-west-1.amazonaws.com:8883
	// client ID: N1234
	// certificates presented: 2
}

// exampleBus returns a simulated chip loaded with the named vector of
// testdata/elixir-chips.json.
func exampleBus(name string) *nerveskeytest.Chip {
	data, err := os.ReadFile("testdata/elixir-chips.json")
	if err != nil {
		log.Fatal(err)
	}
	var file struct{ Vectors []json.RawMessage }
	if err := json.Unmarshal(data, &file); err != nil {
		log.Fatal(err)
	}
	for _, v := range file.Vectors {
		var head struct{ Name string }
		if json.Unmarshal(v, &head) == nil && head.Name == name {
			img, err := nerveskeytest.ParseImage(v)
			if err != nil {
				log.Fatal(err)
			}
			chip, err := nerveskeytest.NewChipFromImage(img, nil)
			if err != nil {
				log.Fatal(err)
			}
			return chip
		}
	}
	log.Fatalf("no vector %q", name)
	return nil
}
