package layout

import (
	"fmt"

	"github.com/nerveskey/nerveskey/internal/atecc"
)

// A Kind is what a configuration zone says a chip is.
type Kind int

const (
	// Blank: the configuration zone is not locked, so nothing about the
	// chip is settled yet.
	Blank Kind = iota
	// NervesKey: slot 0 is configured as nerves_key configures it, with
	// its key usable at any time.
	NervesKey
	// NervesKeyVolatile: a 608 NervesKey whose slot 0 key needs the
	// persistent latch (KeyConfig PersistentDisable).
	NervesKeyVolatile
	// TrustAndGo: Microchip's Trust&Go configuration.
	TrustAndGo
	// Foreign: locked with a configuration that is none of the above.
	Foreign
)

// String returns "blank", "nerves_key", "nerves_key_volatile",
// "trust_and_go" or "foreign".
func (k Kind) String() string {
	switch k {
	case Blank:
		return "blank"
	case NervesKey:
		return "nerves_key"
	case NervesKeyVolatile:
		return "nerves_key_volatile"
	case TrustAndGo:
		return "trust_and_go"
	case Foreign:
		return "foreign"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// IsNervesKey reports whether k is either NervesKey kind.
func (k Kind) IsNervesKey() bool { return k == NervesKey || k == NervesKeyVolatile }

// Configuration words that identify a layout (16-bit little-endian
// SlotConfig and KeyConfig values; docs/atecc.md §2.2).
const (
	nervesKeySlot0Config   = 0x2087 // bytes 87 20: external+internal sign, ECDH, IsSecret; GenKey allowed
	nervesKeyVolatileSlot0 = 0x1033 // KeyConfig bytes 33 10: P-256 private, PubInfo, lockable, PersistentDisable
	tngSlot0Config         = 0x0085 // bytes 85 00: external sign, ECDH, IsSecret; never written
	tngSlot1Config         = 0x0082 // bytes 82 00: internal sign only
	tngKeyConfig01         = 0x0053 // bytes 53 00: P-256 private, PubInfo, ReqRandom
	tngI2CAddress          = 0x35   // 7-bit; config byte 16 = 0x6A
)

// Detect returns the kind of chip c describes. A chip whose configuration
// zone is locked keeps its kind for good; whether its data zone is locked
// too (provisioned) is c.DataLocked, not part of the kind.
func Detect(c *atecc.Config) Kind {
	if !c.ConfigLocked() {
		return Blank
	}
	switch {
	case c.SlotConfig(0) == nervesKeySlot0Config && c.KeyConfig(0) == nervesKeyVolatileSlot0:
		return NervesKeyVolatile
	case c.SlotConfig(0) == nervesKeySlot0Config:
		return NervesKey
	case c.SlotConfig(0) == tngSlot0Config && c.SlotConfig(1) == tngSlot1Config &&
		c.KeyConfig(0) == tngKeyConfig01 && c.KeyConfig(1) == tngKeyConfig01 &&
		c[16]>>1 == tngI2CAddress:
		return TrustAndGo
	}
	return Foreign
}
