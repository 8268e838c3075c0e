package i2c

// CRC16 returns the ATECC CRC-16 of b: polynomial 0x8005, initial value 0,
// data bits taken least significant first, the register shifted left, no
// reflection of the result and no final XOR (docs/atecc.md §1.6; DS508
// Table 9-1). Packets and Lock summaries carry it little-endian.
func CRC16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		for i := range 8 {
			bit := uint16(c>>i) & 1
			fb := bit ^ (crc >> 15)
			crc <<= 1
			if fb != 0 {
				crc ^= 0x8005
			}
		}
	}
	return crc
}
