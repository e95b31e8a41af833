package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// SecretKeySize is the size of SECRET_KEY: an AES-256 key.
const SecretKeySize = 32

// ParseSecretKey reads SECRET_KEY: exactly 32 random bytes, written as 64 hex
// characters or as base64 (standard or URL alphabet, padded or not). Anything
// shorter, longer or visibly non-random is refused.
func ParseSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var key []byte
	if b, err := hex.DecodeString(s); err == nil && len(s) == 2*SecretKeySize {
		key = b
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				key = b
				break
			}
		}
	}
	if len(key) != SecretKeySize {
		return nil, errors.New("SECRET_KEY must be 32 random bytes, as 64 hex characters or base64 (try: openssl rand -hex 32)")
	}
	distinct := map[byte]bool{}
	for _, c := range key {
		distinct[c] = true
	}
	if len(distinct) < 8 {
		return nil, errors.New("SECRET_KEY is not random (too few distinct bytes); generate one with: openssl rand -hex 32")
	}
	return key, nil
}

// sealer encrypts session_keys at rest with AES-256-GCM. A sealed value is
// version(1) || nonce(12) || ciphertext+tag, bound to its session id as
// associated data so a sealed key copied onto another row will not open.
type sealer struct{ aead cipher.AEAD }

const sealVersion = 1

var errUnseal = errors.New("auth: sealed value does not open")

func newSealer(key []byte) (*sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plaintext []byte, sessionID string) []byte {
	return s.sealAD(plaintext, aad(sessionID))
}

func (s *sealer) open(sealed []byte, sessionID string) ([]byte, error) {
	return s.openAD(sealed, aad(sessionID))
}

// sealAD seals plaintext bound to ad, which names what it is and where it
// belongs, so that a sealed value cannot be moved to another use or row.
func (s *sealer) sealAD(plaintext, ad []byte) []byte {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	_, _ = rand.Read(out[1:])
	return s.aead.Seal(out, out[1:], plaintext, ad)
}

func (s *sealer) openAD(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return nil, errUnseal
	}
	pt, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], ad)
	if err != nil {
		return nil, errUnseal
	}
	return pt, nil
}

func aad(sessionID string) []byte { return []byte("wxlogin/session_key/v1:" + sessionID) }
