package etf

import "fmt"

// A tag is the first byte of an encoded term (erts external.h, and the
// "External Term Format" chapter of the ERTS User's Guide).
type tag uint8

const (
	versionMagic = 131 // precedes every top-level term

	tagNewFloat      tag = 70
	tagBitBinary     tag = 77
	tagCompressed    tag = 80
	tagAtomCacheRef  tag = 82
	tagNewPid        tag = 88
	tagNewPort       tag = 89
	tagNewerRef      tag = 90
	tagSmallInteger  tag = 97
	tagInteger       tag = 98
	tagFloat         tag = 99
	tagAtom          tag = 100
	tagReference     tag = 101
	tagPort          tag = 102
	tagPid           tag = 103
	tagSmallTuple    tag = 104
	tagLargeTuple    tag = 105
	tagNil           tag = 106
	tagString        tag = 107
	tagList          tag = 108
	tagBinary        tag = 109
	tagSmallBig      tag = 110
	tagLargeBig      tag = 111
	tagNewFun        tag = 112
	tagExport        tag = 113
	tagNewReference  tag = 114
	tagSmallAtom     tag = 115
	tagMap           tag = 116
	tagFun           tag = 117
	tagAtomUTF8      tag = 118
	tagSmallAtomUTF8 tag = 119
	tagV4Port        tag = 120
	tagLocal         tag = 121
)

var tagNames = map[tag]string{
	tagNewFloat:      "NEW_FLOAT_EXT",
	tagBitBinary:     "BIT_BINARY_EXT",
	tagCompressed:    "COMPRESSED",
	tagAtomCacheRef:  "ATOM_CACHE_REF",
	tagNewPid:        "NEW_PID_EXT",
	tagNewPort:       "NEW_PORT_EXT",
	tagNewerRef:      "NEWER_REFERENCE_EXT",
	tagSmallInteger:  "SMALL_INTEGER_EXT",
	tagInteger:       "INTEGER_EXT",
	tagFloat:         "FLOAT_EXT",
	tagAtom:          "ATOM_EXT",
	tagReference:     "REFERENCE_EXT",
	tagPort:          "PORT_EXT",
	tagPid:           "PID_EXT",
	tagSmallTuple:    "SMALL_TUPLE_EXT",
	tagLargeTuple:    "LARGE_TUPLE_EXT",
	tagNil:           "NIL_EXT",
	tagString:        "STRING_EXT",
	tagList:          "LIST_EXT",
	tagBinary:        "BINARY_EXT",
	tagSmallBig:      "SMALL_BIG_EXT",
	tagLargeBig:      "LARGE_BIG_EXT",
	tagNewFun:        "NEW_FUN_EXT",
	tagExport:        "EXPORT_EXT",
	tagNewReference:  "NEW_REFERENCE_EXT",
	tagSmallAtom:     "SMALL_ATOM_EXT",
	tagMap:           "MAP_EXT",
	tagFun:           "FUN_EXT",
	tagAtomUTF8:      "ATOM_UTF8_EXT",
	tagSmallAtomUTF8: "SMALL_ATOM_UTF8_EXT",
	tagV4Port:        "V4_PORT_EXT",
	tagLocal:         "LOCAL_EXT",
}

func (t tag) String() string {
	if n, ok := tagNames[t]; ok {
		return fmt.Sprintf("%s (%d)", n, uint8(t))
	}
	return fmt.Sprintf("unknown tag %d", uint8(t))
}
