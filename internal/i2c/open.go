package i2c

import (
	"fmt"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"
)

// OpenBus initializes periph's host drivers and opens the I2C bus by name
// (for example "/dev/i2c-1", "1", or "" for the first bus), with errors
// that say what to check. The caller closes the bus.
func OpenBus(name string) (i2c.BusCloser, error) {
	if _, err := host.Init(); err != nil {
		return nil, fmt.Errorf("init periph host drivers: %w", err)
	}
	if len(i2creg.All()) == 0 {
		// Checked first: periph's own error for this case blames a
		// missing host.Init call, which was made above.
		return nil, fmt.Errorf("open I2C bus %q: this machine has no I2C bus (check ls /dev/i2c-* and that the i2c-dev kernel module is loaded)", name)
	}
	bus, err := i2creg.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open I2C bus %q: %w (check that the bus exists, e.g. ls /dev/i2c-*, and that you may open it)", name, err)
	}
	return bus, nil
}
