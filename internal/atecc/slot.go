package atecc

import (
	"context"
	"fmt"
)

// ReadSlot reads the whole of slot with 32-byte reads only: 2 reads for a
// 36-byte slot, 3 for a 72-byte slot, 13 for slot 8. The last read covers
// a short block, which the chip allows and pads with zeros (DS508 §9.1.4);
// this saves the Elixir driver's trailing 4-byte reads (1, 2 and 8 extra
// commands respectively). The data zone must be locked and the slot
// readable in clear, else the chip answers 0x0F.
func (s *Session) ReadSlot(ctx context.Context, slot int) ([]byte, error) {
	size := SlotSize(slot)
	if size == 0 {
		return nil, checkSlot(slot)
	}
	out := make([]byte, 0, roundUp(size))
	for block := 0; len(out) < size; block++ {
		b, err := s.Read(ctx, ZoneData, DataAddr(slot, block, 0), BlockSize)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out[:size], nil
}

// WriteSlot writes data to slot from its start, zero-padded to a multiple
// of 32 bytes and sent as 32-byte writes only, like the Elixir
// write_padded (docs/nerves_key.md §6.3). 4-byte data writes are refused before
// the data lock, so this is the form provisioning uses. Bytes past the end
// of the slot in the last block are dropped by the chip.
func (s *Session) WriteSlot(ctx context.Context, slot int, data []byte) error {
	if err := checkData(slot, data); err != nil {
		return err
	}
	for block := 0; block*BlockSize < len(data); block++ {
		var buf [BlockSize]byte
		copy(buf[:], data[block*BlockSize:])
		if err := s.Write(ctx, ZoneData, DataAddr(slot, block, 0), buf[:]); err != nil {
			return err
		}
	}
	return nil
}

// WriteSlotWords writes data to slot as the Elixir DataZone.write does: 32-byte
// writes while 32 or more bytes remain, then 4-byte writes for the rest
// (data is zero-padded to a multiple of 4). Used for the settings slots
// after the data lock, where a 4-byte write needs a clear, always-writable,
// non-secret slot.
func (s *Session) WriteSlotWords(ctx context.Context, slot int, data []byte) error {
	if err := checkData(slot, data); err != nil {
		return err
	}
	off := 0
	for ; len(data)-off >= BlockSize; off += BlockSize {
		if err := s.Write(ctx, ZoneData, DataAddr(slot, off/BlockSize, 0), data[off:off+BlockSize]); err != nil {
			return err
		}
	}
	for ; off < len(data); off += WordSize {
		var w [WordSize]byte
		copy(w[:], data[off:])
		word := off / WordSize
		if err := s.Write(ctx, ZoneData, DataAddr(slot, word/8, word%8), w[:]); err != nil {
			return err
		}
	}
	return nil
}

func checkData(slot int, data []byte) error {
	if err := checkSlot(slot); err != nil {
		return err
	}
	if len(data) > SlotSize(slot) {
		return fmt.Errorf("%d bytes do not fit slot %d (%d bytes)", len(data), slot, SlotSize(slot))
	}
	return nil
}

func roundUp(n int) int { return (n + BlockSize - 1) / BlockSize * BlockSize }

// ReadSlot reads a whole slot in one session; see [Session.ReadSlot].
func (d *Dev) ReadSlot(ctx context.Context, slot int) ([]byte, error) {
	var b []byte
	err := d.Do(ctx, func(s *Session) error {
		var err error
		b, err = s.ReadSlot(ctx, slot)
		return err
	})
	return b, err
}

// WriteSlot writes data to slot in one session; see [Session.WriteSlot].
func (d *Dev) WriteSlot(ctx context.Context, slot int, data []byte) error {
	return d.Do(ctx, func(s *Session) error { return s.WriteSlot(ctx, slot, data) })
}

// WriteSlotWords writes data to slot in one session; see
// [Session.WriteSlotWords].
func (d *Dev) WriteSlotWords(ctx context.Context, slot int, data []byte) error {
	return d.Do(ctx, func(s *Session) error { return s.WriteSlotWords(ctx, slot, data) })
}

// ReadOTP reads the 64-byte OTP zone (two 32-byte reads). The chip allows
// it only after the data lock.
func (s *Session) ReadOTP(ctx context.Context) ([OTPSize]byte, error) {
	var otp [OTPSize]byte
	for block := range OTPSize / BlockSize {
		b, err := s.Read(ctx, ZoneOTP, ConfigAddr(block, 0), BlockSize)
		if err != nil {
			return otp, err
		}
		copy(otp[block*BlockSize:], b)
	}
	return otp, nil
}

// WriteOTP writes the 64-byte OTP zone as two 32-byte writes at word
// addresses 0 and 8 (config locked, data unlocked).
func (s *Session) WriteOTP(ctx context.Context, otp [OTPSize]byte) error {
	for block := range OTPSize / BlockSize {
		if err := s.Write(ctx, ZoneOTP, ConfigAddr(block, 0), otp[block*BlockSize:(block+1)*BlockSize]); err != nil {
			return err
		}
	}
	return nil
}

// ReadOTP reads the OTP zone in one session.
func (d *Dev) ReadOTP(ctx context.Context) ([OTPSize]byte, error) {
	var otp [OTPSize]byte
	err := d.Do(ctx, func(s *Session) error {
		var err error
		otp, err = s.ReadOTP(ctx)
		return err
	})
	return otp, err
}

// WriteOTP writes the OTP zone in one session.
func (d *Dev) WriteOTP(ctx context.Context, otp [OTPSize]byte) error {
	return d.Do(ctx, func(s *Session) error { return s.WriteOTP(ctx, otp) })
}
