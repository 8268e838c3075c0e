package nerveskey_test

import (
	"context"
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

	dev, err := chip.DeviceCertificate(ctx, nerveskey.Primary)
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
