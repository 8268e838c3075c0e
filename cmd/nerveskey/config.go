package main

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/layout"
)

const configUsage = `Usage: nerveskey config [--json]

Prints the chip's configuration zone decoded: what it makes the chip
(blank, nerves_key, nerves_key_volatile, trust_and_go or foreign), the
address, ChipMode, lock states, counters, the 608's ChipOptions and
volatile-key permission, and slot by slot the SlotConfig and KeyConfig
words with their fields. It reads the configuration zone only, so it
works on any chip, blank or configured by others.

Examples:

	$ nerveskey config
	$ nerveskey --addr 0x35 config --json | jq '.slots[0]'

With --json it prints one object; see the configJSON type in the source
for its keys, which are a stable interface. "raw" holds the 128 bytes.
`

// configJSON is the --json output of config. Its keys are a stable
// interface. Multi-byte words are given as stored (little-endian) and
// decoded.
type configJSON struct {
	Layout       string `json:"layout"`        // internal/layout Kind: blank, nerves_key, ...
	Revision     string `json:"revision"`      // ATECC508A, ATECC608A, ATECC608B or unknown
	RevNum       string `json:"rev_num"`       // bytes 4–7, hex
	Serial       string `json:"serial"`        // 9 bytes, hex
	I2CAddress   string `json:"i2c_address"`   // 7-bit, from byte 16
	ChipMode     string `json:"chip_mode"`     // byte 19, hex
	Watchdog     string `json:"watchdog"`      // "1.3s" or "10s" (ChipMode bit 2)
	ClockDivider string `json:"clock_divider"` // 608: "M0", "M1", "M2" or the raw bits; 508: ""
	OTPMode      string `json:"otp_mode,omitempty"`
	CountMatch   string `json:"count_match,omitempty"`
	ConfigLocked bool   `json:"config_locked"`
	DataLocked   bool   `json:"data_locked"`
	Counter0     string `json:"counter0"` // bytes 52–59, raw encoding
	Counter1     string `json:"counter1"` // bytes 60–67
	// 608 only.
	ChipOptions    string     `json:"chip_options,omitempty"`    // bytes 90–91 as a 16-bit word
	ECDHProtection int        `json:"ecdh_protection,omitempty"` // ChipOptions bits 9..8: 0 clear output allowed
	VolatileKey    string     `json:"volatile_key,omitempty"`    // "slot N" or "off" (byte 69)
	Slots          []slotJSON `json:"slots"`
	Raw            string     `json:"raw"` // the 128 bytes, hex
}

// slotJSON is one slot of configJSON.
type slotJSON struct {
	Slot       int    `json:"slot"`
	Size       int    `json:"size"` // bytes
	Locked     bool   `json:"locked"`
	SlotConfig string `json:"slot_config"` // 16-bit word, hex
	KeyConfig  string `json:"key_config"`
	// SlotConfig fields (DS508 Table 2-6).
	ReadKey     int  `json:"read_key"`
	NoMAC       bool `json:"no_mac"`
	LimitedUse  bool `json:"limited_use"`
	EncryptRead bool `json:"encrypt_read"`
	IsSecret    bool `json:"is_secret"`
	WriteKey    int  `json:"write_key"`
	WriteConfig int  `json:"write_config"`
	// KeyConfig fields (DS508 Table 2-12).
	Private           bool `json:"private"`
	PubInfo           bool `json:"pub_info"`
	KeyType           int  `json:"key_type"`
	Lockable          bool `json:"lockable"`
	ReqRandom         bool `json:"req_random"`
	ReqAuth           bool `json:"req_auth"`
	AuthKey           int  `json:"auth_key"`
	PersistentDisable bool `json:"persistent_disable"`
	X509ID            int  `json:"x509_id"`
	// Use summarizes the words, e.g. "P-256 private: sign external,
	// internal; ECDH; GenKey".
	Use string `json:"use"`
}

func (c *cli) config(args []string) error {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object")
	if _, err := c.parse(fs, configUsage, args, 0, 0); err != nil {
		return err
	}
	s, err := c.openRead()
	if err != nil {
		return err
	}
	return s.finish(func() error {
		in, err := s.Info(c.ctx)
		if err != nil {
			return err
		}
		raw := in.ConfigZone
		j := decodeConfig(atecc.Config(raw))
		if *asJSON {
			return json.NewEncoder(c.stdout).Encode(j)
		}
		printConfig(c.stdout, &j)
		return nil
	}())
}

// decodeConfig decodes a configuration zone for the config command.
func decodeConfig(cfg atecc.Config) configJSON {
	rev := cfg.Revision()
	j := configJSON{
		Layout:       layout.Detect(&cfg).String(),
		Revision:     rev.String(),
		RevNum:       hex.EncodeToString(cfg[4:8]),
		I2CAddress:   fmt.Sprintf("0x%02x", cfg.I2CAddress()),
		ChipMode:     fmt.Sprintf("0x%02x", cfg.ChipMode()),
		Watchdog:     "1.3s",
		ConfigLocked: cfg.ConfigLocked(),
		DataLocked:   cfg.DataLocked(),
		Counter0:     hex.EncodeToString(cfg[52:60]),
		Counter1:     hex.EncodeToString(cfg[60:68]),
		Raw:          hex.EncodeToString(cfg[:]),
	}
	sn := cfg.SerialNumber()
	j.Serial = hex.EncodeToString(sn[:])
	if cfg.ChipMode()&0x04 != 0 {
		j.Watchdog = "10s"
	}
	if rev.Is608() {
		switch div := cfg.ChipMode() & 0xF8; div {
		case 0x00:
			j.ClockDivider = "M0"
		case 0x28:
			j.ClockDivider = "M1"
		case 0x68:
			j.ClockDivider = "M2"
		default:
			j.ClockDivider = fmt.Sprintf("0x%02x", div)
		}
		j.CountMatch = fmt.Sprintf("0x%02x", cfg.OTPMode())
		opts := cfg.ChipOptions()
		j.ChipOptions = fmt.Sprintf("0x%04x", opts)
		j.ECDHProtection = int(opts>>8) & 3
		j.VolatileKey = "off"
		if on, slot := cfg.VolatileKeyPermission(); on {
			j.VolatileKey = fmt.Sprintf("slot %d", slot)
		}
	} else {
		j.OTPMode = fmt.Sprintf("0x%02x", cfg.OTPMode())
	}
	for n := range 16 {
		sc, kc := cfg.SlotConfig(n), cfg.KeyConfig(n)
		j.Slots = append(j.Slots, slotJSON{
			Slot: n, Size: atecc.SlotSize(n), Locked: cfg.SlotLocked(n),
			SlotConfig: fmt.Sprintf("0x%04x", uint16(sc)), KeyConfig: fmt.Sprintf("0x%04x", uint16(kc)),
			ReadKey: sc.ReadKey(), NoMAC: sc.NoMac(), LimitedUse: sc.LimitedUse(), EncryptRead: sc.EncryptRead(),
			IsSecret: sc.IsSecret(), WriteKey: sc.WriteKey(), WriteConfig: sc.WriteConfig(),
			Private: kc.Private(), PubInfo: kc.PubInfo(), KeyType: kc.KeyType(), Lockable: kc.Lockable(),
			ReqRandom: kc.ReqRandom(), ReqAuth: kc.ReqAuth(), AuthKey: kc.AuthKey(),
			PersistentDisable: kc.PersistentDisable(), X509ID: kc.X509ID(),
			Use: slotUse(sc, kc),
		})
	}
	return j
}

// slotUse summarizes what a slot's configuration words allow.
func slotUse(sc atecc.SlotConfig, kc atecc.KeyConfig) string {
	var p []string
	switch t := kc.KeyType(); {
	case kc.Private() && t == 4:
		var sign []string
		if sc.ExternalSign() {
			sign = append(sign, "external")
		}
		if sc.InternalSign() {
			sign = append(sign, "internal")
		}
		head := "P-256 private"
		if len(sign) > 0 {
			head += ": sign " + strings.Join(sign, ", ")
		}
		p = append(p, head)
		if sc.ECDH() {
			if sc.ReadKey()&8 != 0 {
				p = append(p, "ECDH to next slot")
			} else {
				p = append(p, "ECDH")
			}
		}
		if sc.GenKeyAllowed() {
			p = append(p, "GenKey")
		}
	case t == 4:
		p = append(p, "P-256 public key")
	case t == 6:
		p = append(p, "AES key")
	case t == 7:
		switch {
		case sc.IsSecret() && sc.EncryptRead():
			p = append(p, fmt.Sprintf("secret, encrypted read (key %d)", sc.ReadKey()))
		case sc.IsSecret():
			p = append(p, "secret")
		default:
			p = append(p, "data, clear read")
		}
	default:
		p = append(p, fmt.Sprintf("key type %d", t))
	}
	if kc.ReqAuth() {
		p = append(p, fmt.Sprintf("needs auth by slot %d", kc.AuthKey()))
	}
	if kc.PersistentDisable() {
		p = append(p, "needs persistent latch")
	}
	if sc.LimitedUse() {
		p = append(p, "limited use")
	}
	return strings.Join(p, "; ")
}

// printConfig prints j as text, one slot per line.
func printConfig(w io.Writer, j *configJSON) {
	fmt.Fprintf(w, "layout:         %s\n", j.Layout)
	fmt.Fprintf(w, "revision:       %s (%s)\n", j.Revision, j.RevNum)
	fmt.Fprintf(w, "serial:         %s\n", j.Serial)
	fmt.Fprintf(w, "i2c address:    %s\n", j.I2CAddress)
	mode := "watchdog " + j.Watchdog
	if j.ClockDivider != "" {
		mode += ", clock divider " + j.ClockDivider
	}
	fmt.Fprintf(w, "chip mode:      %s (%s)\n", j.ChipMode, mode)
	if j.OTPMode != "" {
		fmt.Fprintf(w, "otp mode:       %s\n", j.OTPMode)
	} else {
		fmt.Fprintf(w, "count match:    %s\n", j.CountMatch)
	}
	fmt.Fprintf(w, "config zone:    %s\n", lockWord(j.ConfigLocked))
	fmt.Fprintf(w, "data zone:      %s\n", lockWord(j.DataLocked))
	fmt.Fprintf(w, "counters:       %s %s\n", j.Counter0, j.Counter1)
	if j.ChipOptions != "" {
		fmt.Fprintf(w, "chip options:   %s (ECDH protection %d)\n", j.ChipOptions, j.ECDHProtection)
		fmt.Fprintf(w, "volatile key:   %s\n", j.VolatileKey)
	}
	fmt.Fprintf(w, "\nslot  size  locked  SlotConfig  KeyConfig  use\n")
	for _, s := range j.Slots {
		locked := "no"
		if s.Locked {
			locked = "yes"
		}
		fmt.Fprintf(w, "%4d  %4d  %-6s  %-10s  %-9s  %s\n", s.Slot, s.Size, locked, s.SlotConfig, s.KeyConfig, s.Use)
	}
}

func lockWord(locked bool) string {
	if locked {
		return "locked"
	}
	return "unlocked"
}
