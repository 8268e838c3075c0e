package nerveskey

import (
	"context"
	"fmt"

	"github.com/nerveskey/nerveskey/internal/atecc"
	"github.com/nerveskey/nerveskey/internal/layout"
)

// ForeignKey returns the slot 0 key of a chip configured by others (a
// Trust&Go part, a board vendor's layout) as a Key, for callers that
// supply their own certificates (see [CertificateRequest]). On a NervesKey
// it is [Chip.Key].
//
// Unlike Key, it accepts any locked configuration in which the Key can do
// its work, and checks that before any other command: slot 0 must hold a
// P-256 private key (KeyConfig Private, KeyType 4) whose public key the
// chip may compute (PubInfo), external signatures must be allowed
// (SlotConfig ReadKey bit 0), and the key must need no authorization or
// latch (ReqAuth and PersistentDisable clear). Otherwise it returns a
// [*ConfigError]. It fails with ErrNotProvisioned when the data zone is
// not locked, since the chip signs only then. Closing the Key does not
// close c.
func (c *Chip) ForeignKey(ctx context.Context) (*Key, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: foreign key: %w", err)
	}
	if layout.Detect(cfg).IsNervesKey() {
		return c.Key(ctx)
	}
	if !cfg.DataLocked() {
		return nil, fmt.Errorf("nerveskey: foreign key: %w", ErrNotProvisioned)
	}
	if err := externalSignPermitted(cfg, layout.KeySlot); err != nil {
		return nil, fmt.Errorf("nerveskey: foreign key: %w", err)
	}
	pub, err := c.publicKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("nerveskey: foreign key: %w", err)
	}
	return &Key{chip: c, pub: pub}, nil
}

// externalSignPermitted returns a *ConfigError unless slot holds a P-256
// private key that signs external digests without authorization (DS508
// Tables 2-6 and 2-12).
func externalSignPermitted(cfg *atecc.Config, slot int) error {
	sc, kc := cfg.SlotConfig(slot), cfg.KeyConfig(slot)
	reason := ""
	switch {
	case !kc.Private() || kc.KeyType() != 4:
		reason = "is not a P-256 private key (KeyConfig Private, KeyType 4)"
	case !kc.PubInfo():
		reason = "does not let the chip compute its public key (KeyConfig PubInfo)"
	case !sc.ExternalSign():
		reason = "does not allow external signatures (SlotConfig ReadKey bit 0)"
	case kc.ReqAuth():
		reason = fmt.Sprintf("needs authorization by slot %d first (KeyConfig ReqAuth)", kc.AuthKey())
	case kc.PersistentDisable():
		reason = "needs the persistent latch (KeyConfig PersistentDisable)"
	default:
		return nil
	}
	return &ConfigError{Op: "key", Reason: fmt.Sprintf("slot %d (SlotConfig 0x%04x, KeyConfig 0x%04x) %s", slot, uint16(sc), uint16(kc), reason)}
}
