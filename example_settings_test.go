package nerveskey_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/nerveskey/nerveskey/etf"
	"log"

	"github.com/nerveskey/nerveskey"
)

// ExampleChip_PutSettings reads the settings Elixir's
// NervesKey.put_settings stored on a chip (here a simulated copy of one),
// then writes new ones that Elixir's get_settings reads back. String keys
// are the safe choice from Go: Elixir decodes with binary_to_term(raw,
// [:safe]), which refuses atoms its code never names. On hardware, open
// the bus instead: chip, err := nerveskey.OpenBus(ctx, "/dev/i2c-1", nil).
func ExampleChip_PutSettings() {
	ctx := context.Background()
	bus := exampleBus("elixir-4")
	defer bus.Close()
	chip, err := nerveskey.OpenChip(ctx, bus, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer chip.Close()

	old, err := chip.Settings(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("Elixir wrote:", old["wifi_ssid"], old["gain"], old["enabled"])

	err = chip.PutSettings(ctx, map[string]any{
		"nerves_hub": map[string]any{"org": "acme", "product": "widget"},
		"wifi_ssid":  "factory-net",
		"revision":   3,
	})
	if err != nil {
		log.Fatal(err)
	}
	settings, err := chip.Settings(ctx)
	if err != nil {
		log.Fatal(err)
	}
	org, _ := settings["nerves_hub"].(etf.Map).Get("org") // nested maps keep their order
	fmt.Println("now:", org, settings["revision"], settings["wifi_ssid"])

	// 600 bytes do not fit in the 524-byte area: nothing is written.
	err = chip.PutSettings(ctx, map[string]any{"blob": make([]byte, 600)})
	if errors.Is(err, nerveskey.ErrSettingsTooLarge) {
		fmt.Println(err)
	}
	// Output:
	// Elixir wrote: factory-net 1.25 true
	// now: acme 3 factory-net
	// nerveskey: put settings: settings too large: 620 bytes, max 524
}
