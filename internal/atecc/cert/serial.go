package cert

import "crypto/sha256"

// SerialFromDeviceSN returns the certificate serial number of a NervesKey
// device certificate (serial-number source 0xB): the first 16 bytes of
// SHA-256(chip serial ‖ encoded dates), with the top two bits set to 01 so
// that it is a positive 128-bit integer whose DER is always 02 10 ‖ serial.
func SerialFromDeviceSN(sn9 [9]byte, dates [3]byte) [16]byte {
	return serialFrom(sn9[:], dates)
}

// SerialFromPublicKey returns the serial number for serial-number source
// 0xA (signer and Trust&Go certificates): as [SerialFromDeviceSN], over the
// raw public key X‖Y instead of the chip serial.
func SerialFromPublicKey(xy []byte, dates [3]byte) [16]byte {
	return serialFrom(xy, dates)
}

func serialFrom(in []byte, dates [3]byte) [16]byte {
	h := sha256.New()
	h.Write(in)
	h.Write(dates[:])
	sn := [16]byte(h.Sum(nil))
	sn[0] = sn[0]&0x3f | 0x40
	return sn
}
