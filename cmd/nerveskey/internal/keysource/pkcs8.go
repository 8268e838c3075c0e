package keysource

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"

	stdasn1 "encoding/asn1"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers of PKCS#5 v2.1 (RFC 8018 appendix A, B.2, C) and
// NIST AES (RFC 3565).
var (
	oidPBES2          = stdasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2         = stdasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACWithSHA1   = stdasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA224 = stdasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACWithSHA256 = stdasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACWithSHA384 = stdasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACWithSHA512 = stdasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC      = stdasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC      = stdasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC      = stdasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// maxIterations bounds PBKDF2's iteration count, so that a crafted file
// cannot keep the command busy for hours. OpenSSL 3 writes 2048; even
// cautious tools stay far below this.
const maxIterations = 10_000_000

// A PKCS8Error reports an encrypted private key that cannot be read: a
// malformed structure, an unsupported algorithm, or (Wrong set) a
// passphrase that does not decrypt it.
type PKCS8Error struct {
	Msg   string
	Wrong bool // the passphrase is wrong (or the data corrupt)
}

func (e *PKCS8Error) Error() string { return "encrypted private key: " + e.Msg }

func pkcs8Errorf(format string, args ...any) error {
	return &PKCS8Error{Msg: fmt.Sprintf(format, args...)}
}

// ErrWrongPassphrase is what a wrong passphrase (or a corrupt key)
// unwraps to.
var ErrWrongPassphrase = errors.New("wrong passphrase")

func (e *PKCS8Error) Unwrap() error {
	if e.Wrong {
		return ErrWrongPassphrase
	}
	return nil
}

// encryptedPKCS8 is an EncryptedPrivateKeyInfo (RFC 5958 §3) protected by
// PBES2 with PBKDF2 and AES-CBC (RFC 8018 §6.2, appendix A.2):
//
//	EncryptedPrivateKeyInfo ::= SEQUENCE {
//	    encryptionAlgorithm  AlgorithmIdentifier {PBES2, PBES2-params},
//	    encryptedData        OCTET STRING }
//	PBES2-params ::= SEQUENCE {
//	    keyDerivationFunc AlgorithmIdentifier {PBKDF2, PBKDF2-params},
//	    encryptionScheme  AlgorithmIdentifier {aesNNN-CBC, IV OCTET STRING} }
//	PBKDF2-params ::= SEQUENCE {
//	    salt OCTET STRING, iterationCount INTEGER,
//	    keyLength INTEGER OPTIONAL, prf AlgorithmIdentifier DEFAULT hmacWithSHA1 }
//
// The optional fields remember how they were encoded, so that marshal
// gives back the parsed bytes.
type encryptedPKCS8 struct {
	salt       []byte
	iterations int
	keyLength  int                      // 0: absent
	prf        stdasn1.ObjectIdentifier // nil: absent (hmacWithSHA1)
	prfNull    bool                     // the prf's parameters are an explicit NULL
	cipher     stdasn1.ObjectIdentifier
	iv         []byte
	data       []byte
}

// parseEncryptedPKCS8 parses the DER of an EncryptedPrivateKeyInfo. It
// accepts only PBES2 with PBKDF2 and AES-CBC, as "openssl pkcs8 -topk8
// -v2 aes-256-cbc" (and OpenSSL 3's default) writes them.
func parseEncryptedPKCS8(der []byte) (*encryptedPKCS8, error) {
	e := &encryptedPKCS8{}
	s := cryptobyte.String(der)
	var info, alg, params, kdf, kdfParams, enc cryptobyte.String
	var oid stdasn1.ObjectIdentifier
	if !s.ReadASN1(&info, asn1.SEQUENCE) || !s.Empty() ||
		!info.ReadASN1(&alg, asn1.SEQUENCE) ||
		!info.ReadASN1Bytes(&e.data, asn1.OCTET_STRING) || !info.Empty() {
		return nil, pkcs8Errorf("malformed EncryptedPrivateKeyInfo")
	}
	if !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, pkcs8Errorf("malformed encryption algorithm")
	}
	if !oid.Equal(oidPBES2) {
		return nil, pkcs8Errorf("encryption algorithm %v is not PBES2; re-encrypt with 'openssl pkcs8 -topk8 -v2 aes-256-cbc'", oid)
	}
	if !alg.ReadASN1(&params, asn1.SEQUENCE) || !alg.Empty() ||
		!params.ReadASN1(&kdf, asn1.SEQUENCE) ||
		!params.ReadASN1(&enc, asn1.SEQUENCE) || !params.Empty() {
		return nil, pkcs8Errorf("malformed PBES2 parameters")
	}
	if !kdf.ReadASN1ObjectIdentifier(&oid) {
		return nil, pkcs8Errorf("malformed key derivation function")
	}
	if !oid.Equal(oidPBKDF2) {
		return nil, pkcs8Errorf("key derivation function %v is not PBKDF2 (scrypt keys are not supported)", oid)
	}
	if !kdf.ReadASN1(&kdfParams, asn1.SEQUENCE) || !kdf.Empty() ||
		!kdfParams.ReadASN1Bytes(&e.salt, asn1.OCTET_STRING) ||
		!kdfParams.ReadASN1Integer(&e.iterations) {
		return nil, pkcs8Errorf("malformed PBKDF2 parameters")
	}
	if kdfParams.PeekASN1Tag(asn1.INTEGER) {
		if !kdfParams.ReadASN1Integer(&e.keyLength) || e.keyLength <= 0 {
			return nil, pkcs8Errorf("malformed PBKDF2 key length")
		}
	}
	if kdfParams.PeekASN1Tag(asn1.SEQUENCE) {
		var prf cryptobyte.String
		if !kdfParams.ReadASN1(&prf, asn1.SEQUENCE) || !prf.ReadASN1ObjectIdentifier(&e.prf) {
			return nil, pkcs8Errorf("malformed PBKDF2 pseudorandom function")
		}
		if prf.PeekASN1Tag(asn1.NULL) {
			var null cryptobyte.String
			if !prf.ReadASN1(&null, asn1.NULL) || !null.Empty() {
				return nil, pkcs8Errorf("malformed PBKDF2 pseudorandom function")
			}
			e.prfNull = true
		}
		if !prf.Empty() {
			return nil, pkcs8Errorf("malformed PBKDF2 pseudorandom function")
		}
		if prfHash(e.prf) == nil {
			return nil, pkcs8Errorf("PBKDF2 pseudorandom function %v is not HMAC-SHA-1/224/256/384/512", e.prf)
		}
	}
	if !kdfParams.Empty() {
		return nil, pkcs8Errorf("malformed PBKDF2 parameters")
	}
	if e.iterations < 1 || e.iterations > maxIterations {
		return nil, pkcs8Errorf("PBKDF2 iteration count %d is outside 1 to %d", e.iterations, maxIterations)
	}
	if !enc.ReadASN1ObjectIdentifier(&e.cipher) {
		return nil, pkcs8Errorf("malformed encryption scheme")
	}
	n := aesKeySize(e.cipher)
	if n == 0 {
		return nil, pkcs8Errorf("encryption scheme %v is not AES-128/192/256-CBC", e.cipher)
	}
	if !enc.ReadASN1Bytes(&e.iv, asn1.OCTET_STRING) || !enc.Empty() || len(e.iv) != aes.BlockSize {
		return nil, pkcs8Errorf("malformed AES-CBC IV")
	}
	if e.keyLength != 0 && e.keyLength != n {
		return nil, pkcs8Errorf("PBKDF2 key length %d does not match the cipher's %d", e.keyLength, n)
	}
	if len(e.data) == 0 || len(e.data)%aes.BlockSize != 0 {
		return nil, pkcs8Errorf("encrypted data is %d bytes, not a positive multiple of %d", len(e.data), aes.BlockSize)
	}
	return e, nil
}

// marshal encodes e as DER; for a parsed e, the bytes it came from.
func (e *encryptedPKCS8) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidPBES2)
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidPBKDF2)
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(e.salt)
						b.AddASN1Int64(int64(e.iterations))
						if e.keyLength != 0 {
							b.AddASN1Int64(int64(e.keyLength))
						}
						if e.prf != nil {
							b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddASN1ObjectIdentifier(e.prf)
								if e.prfNull {
									b.AddASN1NULL()
								}
							})
						}
					})
				})
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(e.cipher)
					b.AddASN1OctetString(e.iv)
				})
			})
		})
		b.AddASN1OctetString(e.data)
	})
	return b.Bytes()
}

// decrypt derives the key from passphrase and returns the PKCS#8
// PrivateKeyInfo DER. A wrong passphrase almost always shows as bad
// padding; the caller's PKCS#8 parse catches the rest.
func (e *encryptedPKCS8) decrypt(passphrase []byte) ([]byte, error) {
	h := prfHash(e.prf)
	if e.prf == nil {
		h = sha1.New
	}
	n := aesKeySize(e.cipher)
	key, err := pbkdf2.Key(h, string(passphrase), e.salt, e.iterations, n)
	if err != nil {
		return nil, pkcs8Errorf("PBKDF2: %v", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, pkcs8Errorf("AES: %v", err)
	}
	out := make([]byte, len(e.data))
	cipher.NewCBCDecrypter(block, e.iv).CryptBlocks(out, e.data)
	// PKCS#7 padding (RFC 8018 §6.1.1 step 4), checked in constant time.
	pad := int(out[len(out)-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, aes.BlockSize)
	for i := range aes.BlockSize {
		inPad := subtle.ConstantTimeLessOrEq(aes.BlockSize-i, pad)
		match := subtle.ConstantTimeByteEq(out[len(out)-aes.BlockSize+i], byte(pad))
		good &= subtle.ConstantTimeSelect(inPad, match, 1)
	}
	if good != 1 {
		return nil, &PKCS8Error{Msg: "wrong passphrase (or corrupt key): bad padding", Wrong: true}
	}
	return out[:len(out)-pad], nil
}

// prfHash returns the hash of a PBKDF2 pseudorandom function, or nil.
func prfHash(oid stdasn1.ObjectIdentifier) func() hash.Hash {
	switch {
	case oid.Equal(oidHMACWithSHA1):
		return sha1.New
	case oid.Equal(oidHMACWithSHA224):
		return sha256.New224
	case oid.Equal(oidHMACWithSHA256):
		return sha256.New
	case oid.Equal(oidHMACWithSHA384):
		return sha512.New384
	case oid.Equal(oidHMACWithSHA512):
		return sha512.New
	}
	return nil
}

// aesKeySize returns the key size in bytes of an AES-CBC scheme, or 0.
func aesKeySize(oid stdasn1.ObjectIdentifier) int {
	switch {
	case oid.Equal(oidAES128CBC):
		return 16
	case oid.Equal(oidAES192CBC):
		return 24
	case oid.Equal(oidAES256CBC):
		return 32
	}
	return 0
}
