package atecc

import "fmt"

// An Opcode is a chip command code (DS508 Table 9-4; docs/atecc.md §5.1).
type Opcode byte

// Opcodes used by this package.
const (
	OpRead        Opcode = 0x02
	OpMAC         Opcode = 0x08
	OpWrite       Opcode = 0x12
	OpNonce       Opcode = 0x16
	OpLock        Opcode = 0x17
	OpRandom      Opcode = 0x1B
	OpUpdateExtra Opcode = 0x20
	OpCounter     Opcode = 0x24
	OpCheckMac    Opcode = 0x28
	OpInfo        Opcode = 0x30
	OpGenKey      Opcode = 0x40
	OpSign        Opcode = 0x41
	OpECDH        Opcode = 0x43
	OpVerify      Opcode = 0x45
	OpSHA         Opcode = 0x47
	OpSelfTest    Opcode = 0x77 // 608 only
)

// String returns the command name, e.g. "sign".
func (o Opcode) String() string {
	switch o {
	case OpRead:
		return "read"
	case OpMAC:
		return "mac"
	case OpWrite:
		return "write"
	case OpNonce:
		return "nonce"
	case OpLock:
		return "lock"
	case OpRandom:
		return "random"
	case OpUpdateExtra:
		return "updateextra"
	case OpCounter:
		return "counter"
	case OpCheckMac:
		return "checkmac"
	case OpInfo:
		return "info"
	case OpGenKey:
		return "genkey"
	case OpSign:
		return "sign"
	case OpECDH:
		return "ecdh"
	case OpVerify:
		return "verify"
	case OpSHA:
		return "sha"
	case OpSelfTest:
		return "selftest"
	}
	return fmt.Sprintf("opcode 0x%02x", byte(o))
}
