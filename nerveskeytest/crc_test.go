package nerveskeytest

import (
	"encoding/hex"
	"testing"
)

// Vectors from docs/atecc.md §1.6.
func TestCRC16(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "0000"},
		{"80", "0580"},
		{"01", "0383"},
		{"91", "3583"},
		{"01020304", "f085"},
		{"fffefd01", "2d0b"},
		{"67c6697351ff4aec29cdbaabf2fbe346", "81a4"},
		{hex.EncodeToString([]byte("123456789")), "ddbc"},
	}
	for _, tt := range tests {
		in, _ := hex.DecodeString(tt.in)
		got := hex.EncodeToString(appendCRC(in)[len(in):])
		if got != tt.want {
			t.Errorf("crc16(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	// Packets of docs/atecc.md §1.6 (bytes after the word address).
	for _, p := range []string{
		"07020000001e2d", "07028000 0009ad", "07028250000a14", "0730000000035d",
		"071b00000024cd", "07400000000005", "07400400008387", "07418000002805",
		"0741a000007b85", "0717020000 2d88", "07178100003a07", "07000060028038",
		"0701231c2f5730",
	} {
		b, err := hex.DecodeString(stripSpaces(p))
		if err != nil {
			t.Fatal(err)
		}
		n := len(b)
		if got := appendCRC(append([]byte{}, b[:n-2]...)); hex.EncodeToString(got) != hex.EncodeToString(b) {
			t.Errorf("packet %x: CRC gives %x", b, got)
		}
	}
}

func stripSpaces(s string) string {
	out := make([]byte, 0, len(s))
	for i := range len(s) {
		if s[i] != ' ' {
			out = append(out, s[i])
		}
	}
	return string(out)
}
