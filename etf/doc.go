// Package etf encodes and decodes the subset of the Erlang External Term
// Format that a NervesKey settings map can hold: maps, binaries, atoms,
// integers of any size, floats, lists, charlists and tuples. It is what
// Elixir's :erlang.term_to_binary/1 and binary_to_term/2 do to the 524-byte
// settings area (docs/nerves_key.md §6.4).
//
// [Decode] and [DecodeTerm] read the first term after the version byte 131
// and ignore what follows, as binary_to_term does, so the zero padding of the
// settings slots needs no trimming. [Encode] writes a term.
//
// # Go values
//
// Decoding gives these Go types, and Encode accepts them:
//
//	Erlang                          Go
//	map                             [Map] (ordered entries)
//	binary (Elixir string)          string (any bytes, not only UTF-8)
//	atom                            [Atom]
//	true, false                     bool
//	nil (Elixir nil)                nil
//	integer                         int64, or *big.Int beyond int64
//	float                           float64
//	list, charlist, []              []any (never nil when decoded)
//	tuple                           [Tuple]
//
// Encode also accepts []byte (a binary), every Go integer and float type,
// Go maps such as map[string]any, map[Atom]any and map[any]any, and slices
// and maps of other element types. A string key and an [Atom] key of the
// same name are different keys, in Erlang as here.
//
// # Byte-identical round trips
//
// term_to_binary output is canonical: the smallest integer encoding, a list
// of bytes as a charlist (STRING_EXT), map keys of maps with up to 32 keys
// in Erlang term order. Encode writes the same canonical form, so decoding
// an Elixir-written blob and encoding it again gives the same bytes, as long
// as the atom encoding is kept: [DecodeTerm] reports it in [Term.Atoms] and
// [Term.Encode] reuses it. Maps with more than 32 keys are kept in the order
// read (Erlang writes them in hash order, which Encode cannot compute), and
// a Go map of that size is written in term order, which Erlang reads fine
// but would not write itself. A blob that is not canonical (hand-made, or
// from another encoder) decodes, and [Term.Canonical] is false: encoding
// it again gives the canonical bytes, not the original ones.
//
// # Atoms
//
// New writes use the OTP 26+ encoding ([AtomsUTF8], SMALL_ATOM_UTF8_EXT),
// which is what current Elixir releases write; [AtomsLatin1] writes what
// OTP 17 to 25 write (ATOM_EXT). Every OTP release since 20 reads both.
//
// NervesKey reads settings with binary_to_term(raw, [:safe]), which refuses
// atoms that do not already exist in the reading node: a settings map
// written from Go with an atom the device firmware never mentions reads back
// as {:error, :corrupt} on the device. Strings (binaries) are the safe
// choice for keys and values written from Go.
//
// # Hostile input
//
// Every length is checked against the bytes left before anything is
// allocated, so decoding allocates at most a small multiple of the input
// size. Nesting deeper than [MaxDepth] and integers longer than
// [MaxBigBytes] are refused with [ErrLimit]. Terms outside the model (pids,
// references, funs, ports, bitstrings, improper lists, compressed terms)
// give [ErrUnsupported]; bytes that binary_to_term would refuse give
// [ErrCorrupt].
//
// # Concurrency
//
// The package has no state; every function is safe for concurrent use.
package etf
