// Package nerveskeytest provides a simulated ATECC508A/608A/608B chip that
// is a periph I2C bus ([periph.io/x/conn/v3/i2c.Bus]), for tests without
// hardware, as net/http/httptest provides a real server.
//
// Full documentation is being written.
package nerveskeytest
