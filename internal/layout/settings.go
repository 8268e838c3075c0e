package layout

import "github.com/nerveskey/nerveskey/internal/atecc"

// A SettingsChunk is a piece of the settings area: N bytes at the start of
// one 32-byte block of a slot.
type SettingsChunk struct {
	Slot, Block, N int
}

// SettingsChunks returns the settings area in Elixir's order
// (docs/nerves_key.md §6.4): slot 8, then 7, 6, 5 on a NervesKey (bytes
// 0..415, 416..451, 452..487, 488..523); slot 8 only on Trust&Go, whose
// slot 5 holds its MAC address.
func SettingsChunks(trustAndGo bool) []SettingsChunk {
	slots := []int{8, 7, 6, 5}
	if trustAndGo {
		slots = slots[:1]
	}
	var l []SettingsChunk
	for _, slot := range slots {
		size := atecc.SlotSize(slot)
		for block := 0; block*atecc.BlockSize < size; block++ {
			l = append(l, SettingsChunk{slot, block, min(atecc.BlockSize, size-block*atecc.BlockSize)})
		}
	}
	return l
}

// SettingsSize returns the size of the settings area: 524 bytes on a
// NervesKey, 416 on Trust&Go (nerves_key's max_settings_len).
func SettingsSize(trustAndGo bool) int {
	n := 0
	for _, ch := range SettingsChunks(trustAndGo) {
		n += ch.N
	}
	return n
}
