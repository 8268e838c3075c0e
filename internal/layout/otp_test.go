package layout

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/nerveskey/nerveskey/internal/atecc"
	"os"
	"strings"
	"testing"
)

// otpHex builds 64 OTP bytes from hex pieces, zero-padded at the end.
func otpHex(t testing.TB, parts ...string) [atecc.OTPSize]byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil || len(b) > atecc.OTPSize {
		t.Fatalf("bad OTP hex: %v (%d bytes)", err, len(b))
	}
	var o [atecc.OTPSize]byte
	copy(o[:], b)
	return o
}

// TestNervesKeyOTPVectors checks nerves_key's otp_test.exs encodings
// (docs/nerves_key.md §5.1).
func TestNervesKeyOTPVectors(t *testing.T) {
	var user [32]byte
	for i := range user {
		user[i] = byte(i)
	}
	withUser, err := NewOTP("my_board", "1234578")
	if err != nil {
		t.Fatal(err)
	}
	if err := withUser.SetUserData(user); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		otp  OTP
		want [atecc.OTPSize]byte
	}{
		{"user data", withUser, otpHex(t, "4e727673", "0000", hex.EncodeToString([]byte("my_board")), "0000",
			hex.EncodeToString([]byte("1234578")), strings.Repeat("00", 9), hex.EncodeToString(user[:]))},
		{"16-byte serial", mustOTP(t, "", "1234567890123456"), otpHex(t, "4e727673", "0000", strings.Repeat("00", 10),
			hex.EncodeToString([]byte("1234567890123456")))},
		{"17-byte serial", mustOTP(t, "", "12345678901234567"), otpHex(t, "4e727673", "0001", strings.Repeat("00", 10),
			hex.EncodeToString([]byte("12345678901234567")))},
		{"32-byte serial", mustOTP(t, "", strings.Repeat("ab", 16)), otpHex(t, "4e727673", "0001", strings.Repeat("00", 10),
			hex.EncodeToString([]byte(strings.Repeat("ab", 16))))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.otp.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Marshal = %x\nwant      %x", got, tt.want)
			}
			back, err := ParseOTP(got)
			if err != nil {
				t.Fatal(err)
			}
			if back != tt.otp {
				t.Fatalf("ParseOTP = %+v, want %+v", back, tt.otp)
			}
		})
	}
}

func mustOTP(t testing.TB, board, sn string) OTP {
	t.Helper()
	o, err := NewOTP(board, sn)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestNewNervesKeyOTPRejects(t *testing.T) {
	for _, tt := range []struct{ name, board, sn string }{
		{"board 11 bytes", "ABCDEFGHIJK", "1"},
		{"board NUL", "a\x00b", "1"},
		{"empty serial", "b", ""},
		{"serial 33 bytes", "b", strings.Repeat("x", 33)},
		{"serial NUL", "b", "12\x00"},
	} {
		_, err := NewOTP(tt.board, tt.sn)
		if !errors.Is(err, ErrOTPValue) {
			t.Errorf("%s: err = %v, want ErrOTPValue", tt.name, err)
		}
		if _, ok := errors.AsType[*OTPError](err); !ok {
			t.Errorf("%s: err %T is not an *OTPError", tt.name, err)
		}
	}
	o := OTP{Flags: OTPFlagsLongSN, ManufacturerSN: "x", User: [32]byte{1}}
	if _, err := o.Marshal(); !errors.Is(err, ErrOTPValue) {
		t.Errorf("long layout with user data: err = %v, want ErrOTPValue", err)
	}
}

// TestSetUserData refuses user data beside a serial that takes its bytes,
// leaving the OTP as it was, and accepts it beside a 16-byte serial.
func TestSetUserData(t *testing.T) {
	user := [32]byte{31: 1}
	long := mustOTP(t, "b", "12345678901234567")
	err := long.SetUserData(user)
	if !errors.Is(err, ErrOTPValue) {
		t.Fatalf("17-byte serial: err = %v, want ErrOTPValue", err)
	}
	if e, ok := errors.AsType[*OTPError](err); !ok || e.Field != "user data" {
		t.Fatalf("17-byte serial: err = %#v, want an *OTPError for the user data", err)
	}
	if long != mustOTP(t, "b", "12345678901234567") {
		t.Fatalf("a refused SetUserData changed the OTP: %+v", long)
	}
	if err := long.SetUserData([32]byte{}); err != nil {
		t.Fatalf("17-byte serial, zero user data: %v", err)
	}
	short := mustOTP(t, "b", "1234567890123456")
	if err := short.SetUserData(user); err != nil {
		t.Fatal(err)
	}
	b, err := short.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if [32]byte(b[32:]) != user {
		t.Fatalf("OTP bytes 32-63 = %x", b[32:])
	}
}

func TestParseNervesKeyOTPBadMagic(t *testing.T) {
	for _, magic := range []string{"00000000", "4e727674", "ffffffff"} {
		_, err := ParseOTP(otpHex(t, magic))
		if !errors.Is(err, ErrNotNervesKeyOTP) {
			t.Errorf("magic %s: err = %v, want ErrNotNervesKeyOTP", magic, err)
		}
	}
}

// elixirOTPs returns the OTP images of the Elixir-written chips.
func elixirOTPs(tb testing.TB) [][atecc.OTPSize]byte {
	var out [][atecc.OTPSize]byte
	for _, f := range []string{"../../testdata/elixir-chips.json", "../../testdata/elixir-extra.json"} {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var file struct {
			Vectors []struct {
				Image struct {
					OTP string `json:"otp"`
				} `json:"image"`
			} `json:"vectors"`
		}
		if err := json.Unmarshal(data, &file); err != nil {
			tb.Fatal(err)
		}
		for _, v := range file.Vectors {
			out = append(out, otpHex(tb, v.Image.OTP))
		}
	}
	return out
}

// FuzzNervesKeyOTP checks that every OTP zone that parses encodes back to
// the same 64 bytes, and that Marshal never produces bytes that do not
// parse back to the same value.
func FuzzNervesKeyOTP(f *testing.F) {
	for _, o := range elixirOTPs(f) {
		f.Add(o[:])
	}
	f.Add(make([]byte, atecc.OTPSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != atecc.OTPSize {
			return
		}
		o, err := ParseOTP([atecc.OTPSize]byte(b))
		if err != nil {
			if !errors.Is(err, ErrNotNervesKeyOTP) {
				t.Fatalf("error %v does not wrap ErrNotNervesKeyOTP", err)
			}
			return
		}
		back, err := o.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", o, err)
		}
		if string(back[:]) != string(b) {
			t.Fatalf("round trip changed %x into %x", b, back)
		}
		// The encoder's rules hold for what it accepts.
		if n, err := NewOTP(o.BoardName, o.ManufacturerSN); err == nil {
			enc, err := n.Marshal()
			if err != nil {
				t.Fatalf("NewOTP(%q, %q).Marshal: %v", o.BoardName, o.ManufacturerSN, err)
			}
			again, err := ParseOTP(enc)
			if err != nil || again.BoardName != o.BoardName || again.ManufacturerSN != o.ManufacturerSN {
				t.Fatalf("encoded %q/%q reads back as %+v, %v", o.BoardName, o.ManufacturerSN, again, err)
			}
		}
	})
}

// TestManufacturerSNProblem checks the one serial rule at its edges.
func TestManufacturerSNProblem(t *testing.T) {
	long := strings.Repeat("x", MaxManufacturerSNLen)
	for _, tt := range []struct {
		sn string
		ok bool
	}{
		{"N", true}, {long, true}, {"a=b", true}, {"é", true},
		{"", false}, {long + "x", false}, {"a/b", false}, {"\xff", false}, {"a\x00", false}, {"a\nb", false},
	} {
		if got := ManufacturerSNProblem(tt.sn); (got == "") != tt.ok {
			t.Errorf("ManufacturerSNProblem(%q) = %q, want ok %v", tt.sn, got, tt.ok)
		}
	}
	for _, tt := range []struct {
		name string
		ok   bool
	}{{"", true}, {"NervesKey", true}, {"0123456789", true}, {"0123456789a", false}, {"a\x00", false}, {"\xff", false}} {
		if got := BoardNameProblem(tt.name); (got == "") != tt.ok {
			t.Errorf("BoardNameProblem(%q) = %q, want ok %v", tt.name, got, tt.ok)
		}
	}
	if got := DefaultManufacturerSN([9]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}); len(got) != 15 {
		t.Errorf("DefaultManufacturerSN = %q, want 15 characters", got)
	}
}
