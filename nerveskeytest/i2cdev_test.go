package nerveskeytest

import (
	"errors"
	"testing"

	"periph.io/x/conn/v3/physic"
)

// TestI2CDevMode: through Linux i2c-dev the wake pulse and every NAK are
// plain errno errors (not ErrNAK), and the bus speed cannot be changed.
func TestI2CDevMode(t *testing.T) {
	t.Setenv("NERVESKEYTEST_I2CDEV", "")
	c := NewChip(&Options{I2CDev: true})
	err := c.Tx(0, []byte{0}, nil)
	if err == nil || errors.Is(err, ErrNAK) || err.Error() != "sysfs-i2c: no such device or address" {
		t.Fatalf("wake pulse: %v", err)
	}
	if err := c.SetSpeed(400 * physic.KiloHertz); err == nil {
		t.Fatal("SetSpeed succeeded on i2c-dev")
	}
	h := newHost(t, c)
	h.sleep(1500e3)
	if err := c.Tx(0x60, nil, make([]byte, 4)); err != nil {
		t.Fatalf("wake response: %v", err)
	}
	h.send(packet(opRandom, 0, 0, nil))
	if err := c.Tx(0x60, nil, make([]byte, 35)); err == nil || errors.Is(err, ErrNAK) {
		t.Fatalf("read of a busy chip: %v", err)
	}
	// A byte past the command's count is a data NAK: EREMOTEIO.
	h.sleep(30e6)
	err = c.Tx(0x60, append([]byte{wordCommand}, append(packet(opInfo, 0, 0, nil), 0)...), nil)
	if err == nil || err.Error() != "sysfs-i2c: remote I/O error" {
		t.Fatalf("data NAK: %v", err)
	}
	if st := c.Stats(); st.NAKs != 3 {
		t.Errorf("Stats.NAKs = %d, want 3", st.NAKs)
	}
	t.Setenv("NERVESKEYTEST_I2CDEV", "1")
	if c := NewChip(nil); c.SetSpeed(100*physic.KiloHertz) == nil {
		t.Error("NERVESKEYTEST_I2CDEV=1 did not select the i2c-dev mode")
	}
}
