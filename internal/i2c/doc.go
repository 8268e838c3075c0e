// Package i2c is the ATECC transport over a periph I2C bus: wake, idle,
// sleep, packet framing and CRC, completion polling and retries.
package i2c
