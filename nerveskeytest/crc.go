package nerveskeytest

// crc16 is the ATECC CRC-16: polynomial 0x8005, initial value 0, data bits
// taken least significant first, no reflection of the result and no final
// XOR (docs/atecc.md §1.6). The caller stores it little-endian.
func crc16(data []byte) uint16 {
	var crc uint16
	for _, b := range data {
		for i := range 8 {
			bit := uint16(b>>i) & 1
			fb := bit ^ (crc >> 15)
			crc <<= 1
			if fb != 0 {
				crc ^= 0x8005
			}
		}
	}
	return crc
}

// appendCRC appends the CRC-16 of b to b, little-endian.
func appendCRC(b []byte) []byte {
	c := crc16(b)
	return append(b, byte(c), byte(c>>8))
}
