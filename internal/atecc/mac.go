package atecc

import (
	"context"
	"fmt"
)

// MAC modes (DS508 §9.11 Table 9-31): bit 0 takes the challenge from
// TempKey, bit 2 must equal TempKey's SourceFlag (1 = Input, after a
// Nonce pass-through).
const macTempKeyInput = 0x05

// MACTempKey loads challenge into TempKey (Nonce pass-through) and runs
// MAC mode 0x05 with the key in slot, in one session, as the Elixir
// mac_deterministic does. The chip returns SHA-256(slot key ‖ challenge ‖
// 08 05 slot(LE16) ‖ 11 zero bytes ‖ SN[8] ‖ 4 zero bytes ‖ SN[0..1] ‖ 2
// zero bytes) (DS508 §9.11).
func (d *Dev) MACTempKey(ctx context.Context, slot int, challenge [32]byte) ([32]byte, error) {
	var mac [32]byte
	if err := checkSlot(slot); err != nil {
		return mac, err
	}
	err := d.Do(ctx, func(s *Session) error {
		if err := s.NonceLoad(ctx, challenge); err != nil {
			return err
		}
		b, err := s.exec(ctx, fmt.Sprintf("mac slot %d", slot), OpMAC, macTempKeyInput, uint16(slot), nil, 32)
		if err != nil {
			return err
		}
		mac = [32]byte(b)
		return nil
	})
	return mac, err
}
