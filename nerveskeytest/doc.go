// Package nerveskeytest provides a simulated ATECC508A/608A chip that is a
// periph I2C bus, for tests without hardware.
package nerveskeytest
