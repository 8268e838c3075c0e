// Package atecc drives an ATECC508A/608A: typed commands, zones, the
// configuration zone, CRC and status codes.
package atecc
