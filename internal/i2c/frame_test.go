package i2c

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// appendResponse appends a response frame holding payload; the inverse of
// ParseResponse.
func appendResponse(b, payload []byte) []byte {
	start := len(b)
	b = append(b, byte(len(payload)+frameOverhead))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint16(b, CRC16(b[start:]))
}

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// source: docs/atecc.md §1.6 and docs/nerves_key.md §8.1 (atecc508a crc_test.exs).
func TestCRC16(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "0000"},
		{"80", "0580"},
		{"01", "0383"},
		{"91", "3583"},
		{"01020304", "F085"},
		{"FFFEFD01", "2D0B"},
		{"67C6697351FF4AEC29CDBAABF2FBE346", "81A4"},
		{hex.EncodeToString([]byte("123456789")), "DDBC"},
	}
	for _, tt := range tests {
		got := binary.LittleEndian.AppendUint16(nil, CRC16(unhex(t, tt.in)))
		if !bytes.Equal(got, unhex(t, tt.want)) {
			t.Errorf("CRC16(%s) = % X, want %s", tt.in, got, tt.want)
		}
	}
}

// source: docs/atecc.md §1.6 packet table.
func TestAppendCommand(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
		want string
	}{
		{"read config word 0", Command{Op: 0x02, P1: 0x00, P2: 0}, "07 02 00 00 00 1E 2D"},
		{"read config block 0", Command{Op: 0x02, P1: 0x80, P2: 0}, "07 02 80 00 00 09 AD"},
		{"read slot 10 block 0", Command{Op: 0x02, P1: 0x82, P2: 0x0050}, "07 02 82 50 00 0A 14"},
		{"info revision", Command{Op: 0x30}, "07 30 00 00 00 03 5D"},
		{"random", Command{Op: 0x1B}, "07 1B 00 00 00 24 CD"},
		{"genkey public slot 0", Command{Op: 0x40}, "07 40 00 00 00 00 05"},
		{"genkey create slot 0", Command{Op: 0x40, P1: 0x04}, "07 40 04 00 00 83 87"},
		{"sign tempkey", Command{Op: 0x41, P1: 0x80}, "07 41 80 00 00 28 05"},
		{"sign digest buffer", Command{Op: 0x41, P1: 0xA0}, "07 41 A0 00 00 7B 85"},
		{"lock slot 0", Command{Op: 0x17, P1: 0x02}, "07 17 02 00 00 2D 88"},
		{"lock data no crc", Command{Op: 0x17, P1: 0x81}, "07 17 81 00 00 3A 07"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendCommand(nil, &tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]byte{wordCommand}, unhex(t, tt.want)...)
			if !bytes.Equal(got, want) {
				t.Errorf("got % X, want % X", got, want)
			}
		})
	}
	if _, err := AppendCommand(nil, &Command{Name: "big", Data: make([]byte, maxCommandData+1)}); err == nil {
		t.Error("oversized command accepted")
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr error
	}{
		{"info revision 608A rev 2", "07 00 00 60 02 80 38", "00 00 60 02", nil},
		{"config word 0", "07 01 23 1C 2F 57 30", "01 23 1C 2F", nil},
		{"success", "04 00 03 40", "00", nil},
		{"miscompare", "04 01 00 C3", "01", nil},
		{"parse", "04 03 83 42", "03", nil},
		{"ecc fault", "04 05 C3 43", "05", nil},
		{"self-test", "04 07 40 C2", "07", nil},
		{"health", "04 08 60 C0", "08", nil},
		{"execution padded", "04 0F 23 42 FF FF FF", "0F", nil},
		{"wake", "04 11 33 43", "11", nil},
		{"watchdog", "04 EE 31 41", "EE", nil},
		{"crc", "04 FF 01 42", "FF", nil},
		{"bad crc", "04 0F 23 43", "", ErrFrame},
		{"short", "04 0F 23", "", ErrFrame},
		{"count too small", "03 0F 23 42", "", ErrFrame},
		{"count past end", "08 00 03 40", "", ErrFrame},
		{"all ones", "FF FF FF FF", "", ErrFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseResponse(unhex(t, tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && !bytes.Equal(got, unhex(t, tt.want)) {
				t.Errorf("payload % X, want %s", got, tt.want)
			}
		})
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{"07 00 00 60 02 80 38", "07 01 23 1C 2F 57 30", "04 0F 23 42 FF FF", "04 11 33 43", "FF"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseResponse(b)
		if err != nil {
			return
		}
		re := appendResponse(nil, p)
		if !bytes.Equal(re, b[:len(re)]) {
			t.Fatalf("round trip changed % X into % X", b[:len(re)], re)
		}
	})
}

func TestStatusErrorIs(t *testing.T) {
	tests := []struct {
		st        byte
		want      error
		retryable bool
	}{
		{0x01, ErrMiscompare, false},
		{0x03, ErrParse, false},
		{0x05, ErrECCFault, true},
		{0x07, ErrSelfTest, false},
		{0x08, ErrHealthTest, false},
		{0x0F, ErrExecution, false},
		{0x11, ErrNoWake, true},
		{0xEE, ErrWatchdog, true},
		{0xFF, ErrCRC, true},
		{0x42, nil, true},
	}
	for _, tt := range tests {
		var err error = &StatusError{Op: "write slot 10", Status: tt.st}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("status %#x: errors.Is(%v) false", tt.st, tt.want)
		}
		if retryable(err) != tt.retryable {
			t.Errorf("status %#x: retryable = %v", tt.st, !tt.retryable)
		}
	}
	e := &StatusError{Op: "write slot 10", Status: 0x0F}
	if got, want := e.Error(), "write slot 10: chip status 0x0f (execution error)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
