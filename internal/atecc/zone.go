package atecc

import "fmt"

// A Zone is a memory zone as encoded in bits 1..0 of the Read and Write
// Param1 (DS508 Table 9-45; docs/atecc.md §3).
type Zone byte

// Zones.
const (
	ZoneConfig Zone = 0 // 128 bytes, always readable
	ZoneOTP    Zone = 1 // 64 bytes, two blocks
	ZoneData   Zone = 2 // slots 0–7: 36 B, 8: 416 B, 9–15: 72 B
)

// String returns the zone name, e.g. "config".
func (z Zone) String() string {
	switch z {
	case ZoneConfig:
		return "config"
	case ZoneOTP:
		return "otp"
	case ZoneData:
		return "data"
	}
	return fmt.Sprintf("zone %d", byte(z))
}

// Zone and slot sizes (DS508 Table 2-3, Table 9-8; docs/atecc.md §2.6).
const (
	ConfigSize = 128
	OTPSize    = 64
	BlockSize  = 32
	WordSize   = 4
	NumSlots   = 16

	zoneLen32 = 0x80 // Param1 bit 7: 32-byte access
)

// SlotSize returns the size in bytes of data slot slot: 36 for slots 0–7,
// 416 for slot 8, 72 for slots 9–15, and 0 for a slot that does not exist.
func SlotSize(slot int) int {
	switch {
	case slot >= 0 && slot <= 7:
		return 36
	case slot == 8:
		return 416
	case slot >= 9 && slot <= 15:
		return 72
	}
	return 0
}

// DataAddr returns the Param2 word address of a data zone word:
// block<<8 | slot<<3 | word (DS508 Table 9-6; docs/nerves_key.md §6.1).
func DataAddr(slot, block, word int) uint16 {
	return uint16(block)<<8 | uint16(slot&0xF)<<3 | uint16(word&7)
}

// ConfigAddr returns the Param2 word address of a config or OTP word:
// block<<3 | word, which is the byte offset divided by 4.
func ConfigAddr(block, word int) uint16 {
	return uint16(block)<<3 | uint16(word&7)
}

// checkSlot returns an error for a slot number outside 0–15.
func checkSlot(slot int) error {
	if slot < 0 || slot >= NumSlots {
		return fmt.Errorf("slot %d does not exist", slot)
	}
	return nil
}

// addrName describes an access for errors: "config block 1",
// "config word 5", "otp block 0", "slot 10 block 2", "slot 9 block 1 word 5".
func addrName(zone Zone, addr uint16, n int) string {
	switch zone {
	case ZoneConfig, ZoneOTP:
		if n == BlockSize {
			return fmt.Sprintf("%v block %d", zone, addr>>3)
		}
		return fmt.Sprintf("%v word %d", zone, addr)
	case ZoneData:
		slot, block, word := (addr>>3)&0xF, addr>>8, addr&7
		if n == BlockSize {
			return fmt.Sprintf("slot %d block %d", slot, block)
		}
		return fmt.Sprintf("slot %d block %d word %d", slot, block, word)
	}
	return fmt.Sprintf("%v address %#04x", zone, addr)
}
