package nerveskey_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"

	"github.com/nerveskey/nerveskey"
	"github.com/nerveskey/nerveskey/nerveskeytest"
)

// ExampleKey_ECDH agrees on a secret with a peer: the chip computes it
// with its slot 0 key, the peer with crypto/ecdh, and both feed it to a
// KDF. On hardware, only the bus differs.
func ExampleKey_ECDH() {
	ctx := context.Background()
	bus := exampleBus("elixir-1")
	defer bus.Close()
	k, err := nerveskey.Open(ctx, bus, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer k.Close()

	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	secret, err := k.ECDH(ctx, peer.PublicKey())
	if err != nil {
		log.Fatal(err)
	}

	chipPub, err := k.Public().(*ecdsa.PublicKey).ECDH()
	if err != nil {
		log.Fatal(err)
	}
	peerSecret, err := peer.ECDH(chipPub)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same secret:", bytes.Equal(secret, peerSecret), len(secret), "bytes")
	// Output:
	// same secret: true 32 bytes
}

// ExampleChip_Random mixes the chip's random numbers into the system's:
// the chip is one more source, not a replacement for crypto/rand.
func ExampleChip_Random() {
	ctx := context.Background()
	bus := exampleBus("elixir-1")
	defer bus.Close()
	chip, err := nerveskey.OpenChip(ctx, bus, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer chip.Close()

	h := sha256.New()
	if _, err := io.CopyN(h, chip.Random(ctx), 32); err != nil {
		log.Fatal(err)
	}
	if _, err := io.CopyN(h, rand.Reader, 32); err != nil {
		log.Fatal(err)
	}
	seed := h.Sum(nil)
	fmt.Println(len(seed), "bytes of seed")
	// Output:
	// 32 bytes of seed
}

// ExampleChip_ForeignKey uses the slot 0 key of a chip configured by
// others (here a simulated chip whose slot 0 SlotConfig is Microchip's
// default 8f 20, not a NervesKey's) and asks for a certificate for it
// with a CSR.
func ExampleChip_ForeignKey() {
	ctx := context.Background()
	src := exampleBus("elixir-1")
	img := src.Image()
	src.Close()
	img.Config[20], img.Config[21] = 0x8F, 0x20
	bus, err := nerveskeytest.NewChipFromImage(img, nil)
	if err != nil {
		log.Fatal(err)
	}
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
	fmt.Println("layout:", info.Layout)

	k, err := chip.ForeignKey(ctx)
	if err != nil {
		log.Fatal(err)
	}
	der, err := k.CertificateRequest(ctx, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "sensor-7"}})
	if err != nil {
		log.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("request for", csr.Subject, "signed with", csr.SignatureAlgorithm)
	// Output:
	// layout: foreign
	// request for CN=sensor-7 signed with ECDSA-SHA256
}
