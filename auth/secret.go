package auth

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// SecretKeySize is the size of SECRET_KEY: an AES-256 key.
const SecretKeySize = 32

// MaxPreviousSecretKeys bounds SECRET_KEY_PREVIOUS: a value in the old
// format (no key id) is tried under every key, so the list stays short.
const MaxPreviousSecretKeys = 8

// ParseSecretKey reads SECRET_KEY: exactly 32 random bytes, written as 64 hex
// characters or as base64 (standard or URL alphabet, padded or not). Anything
// shorter, longer or visibly non-random is refused.
func ParseSecretKey(s string) ([]byte, error) {
	return parseKey(s, "SECRET_KEY")
}

// ParsePreviousSecretKeys reads SECRET_KEY_PREVIOUS: keys written like
// SECRET_KEY, separated by commas, that open values sealed under them but
// never seal. Errors name an entry by its position, never by its text.
func ParsePreviousSecretKeys(s string) ([][]byte, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	entries := strings.Split(s, ",")
	if len(entries) > MaxPreviousSecretKeys {
		return nil, fmt.Errorf("SECRET_KEY_PREVIOUS lists %d keys; at most %d (run wxlogin rekey, then drop the oldest)", len(entries), MaxPreviousSecretKeys)
	}
	var keys [][]byte
	for i, e := range entries {
		key, err := parseKey(e, fmt.Sprintf("SECRET_KEY_PREVIOUS entry %d", i+1))
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	return keys, nil
}

func parseKey(s, name string) ([]byte, error) {
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
		return nil, errors.New(name + " must be 32 random bytes, as 64 hex characters or base64 (try: openssl rand -hex 32)")
	}
	distinct := map[byte]bool{}
	for _, c := range key {
		distinct[c] = true
	}
	if len(distinct) < 8 {
		return nil, errors.New(name + " is not random (too few distinct bytes); generate one with: openssl rand -hex 32")
	}
	return key, nil
}

// KeyID names a SECRET_KEY without revealing it: the first 4 bytes of
// HMAC-SHA256(key, "wxlogin/secret-key-id"), in hex. Sealed values carry it,
// so the log and `wxlogin rekey` can say which key a value is under.
func KeyID(key []byte) string {
	id := keyID(key)
	return hex.EncodeToString(id[:])
}

const keyIDSize = 4

func keyID(key []byte) [keyIDSize]byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("wxlogin/secret-key-id"))
	var id [keyIDSize]byte
	copy(id[:], mac.Sum(nil))
	return id
}

// sealer encrypts values at rest with AES-256-GCM under SECRET_KEY, and
// opens those sealed under SECRET_KEY_PREVIOUS too. A sealed value is
//
//	version 2: 0x02 || key id(4) || nonce(12) || ciphertext+tag
//	version 1: 0x01 || nonce(12) || ciphertext+tag   (before key rotation)
//
// bound to what it is and where it belongs (its session id, its appid) as
// associated data, so a sealed value copied onto another row will not open;
// version 2 binds its header too. New values are always version 2 under
// the current key; a version 1 value is tried under every key, a version 2
// one only under the keys its id names.
type sealer struct {
	// keys are the current key first, then the previous ones.
	keys []sealKey
}

type sealKey struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

const (
	sealV1 = 1
	sealV2 = 2
	// sealHeader is version and key id: what says which key a value is under.
	sealHeader = 1 + keyIDSize
)

var errUnseal = errors.New("auth: sealed value does not open")

// newSealer seals under key and opens under key and previous. A previous
// key equal to key, or listed twice, is ignored.
func newSealer(key []byte, previous ...[]byte) (*sealer, error) {
	s := &sealer{}
	all := append([][]byte{key}, previous...)
	for i, k := range all {
		if i > 0 && len(k) != SecretKeySize {
			return nil, fmt.Errorf("auth: previous secret key %d must be %d bytes", i, SecretKeySize)
		}
		if slices.ContainsFunc(all[:i], func(p []byte) bool { return bytes.Equal(p, k) }) {
			continue
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, sealKey{id: keyID(k), aead: aead})
	}
	return s, nil
}

func (s *sealer) seal(plaintext []byte, sessionID string) []byte {
	return s.sealAD(plaintext, aad(sessionID))
}

func (s *sealer) open(sealed []byte, sessionID string) ([]byte, error) {
	return s.openAD(sealed, aad(sessionID))
}

// header is what every value sealed now starts with: version 2 and the
// current key's id. A value that does not start with it needs re-sealing.
func (s *sealer) header() []byte {
	return append([]byte{sealV2}, s.keys[0].id[:]...)
}

// current reports whether sealed is under the current key, in the current
// format (by its header alone: it may still not open).
func (s *sealer) current(sealed []byte) bool {
	return bytes.HasPrefix(sealed, s.header())
}

// sealAD seals plaintext bound to ad, which names what it is and where it
// belongs, so that a sealed value cannot be moved to another use or row.
func (s *sealer) sealAD(plaintext, ad []byte) []byte {
	k := s.keys[0]
	n := k.aead.NonceSize()
	out := make([]byte, sealHeader+n, sealHeader+n+len(plaintext)+k.aead.Overhead())
	out[0] = sealV2
	copy(out[1:], k.id[:])
	_, _ = rand.Read(out[sealHeader:])
	return k.aead.Seal(out, out[sealHeader:], plaintext, v2AD(out[:sealHeader], ad))
}

func (s *sealer) openAD(sealed, ad []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, errUnseal
	}
	switch sealed[0] {
	case sealV1:
		for _, k := range s.keys {
			n := k.aead.NonceSize()
			if len(sealed) < 1+n {
				return nil, errUnseal
			}
			if pt, err := k.aead.Open(nil, sealed[1:1+n], sealed[1+n:], ad); err == nil {
				return pt, nil
			}
		}
	case sealV2:
		for _, k := range s.keys {
			n := k.aead.NonceSize()
			if len(sealed) < sealHeader+n || !bytes.Equal(sealed[1:sealHeader], k.id[:]) {
				continue
			}
			// Two keys may share an id (one chance in 2³²): try each.
			if pt, err := k.aead.Open(nil, sealed[sealHeader:sealHeader+n], sealed[sealHeader+n:], v2AD(sealed[:sealHeader], ad)); err == nil {
				return pt, nil
			}
		}
	}
	return nil, errUnseal
}

// v2AD is a version 2 value's associated data: its header, then ad.
func v2AD(header, ad []byte) []byte {
	return append(append(make([]byte, 0, len(header)+len(ad)), header...), ad...)
}

// reseal returns sealed re-sealed under the current key, or errUnseal when
// it opens under no key.
func (s *sealer) reseal(sealed, ad []byte) ([]byte, error) {
	pt, err := s.openAD(sealed, ad)
	if err != nil {
		return nil, err
	}
	return s.sealAD(pt, ad), nil
}

func aad(sessionID string) []byte { return []byte("wxlogin/session_key/v1:" + sessionID) }
