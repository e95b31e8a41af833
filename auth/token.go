package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// tokenBytes is the entropy of a session token.
const tokenBytes = 32

// newToken returns a fresh bearer token and the SHA-256 that is stored in its
// place: a database leak then yields no usable token.
func newToken() (token string, hash []byte) {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b)
	token = strictEncoding.EncodeToString(b)
	return token, hashToken(b)
}

// strictEncoding is the one spelling of a token: without Strict, the last
// character's unused low bits are ignored and four strings decode to (and
// authenticate as) the same token.
var strictEncoding = base64.RawURLEncoding.Strict()

// parseToken decodes a bearer token and returns its hash, or false for
// anything that cannot be one of ours — without touching the database.
func parseToken(token string) ([]byte, bool) {
	if len(token) != strictEncoding.EncodedLen(tokenBytes) {
		return nil, false
	}
	b, err := strictEncoding.DecodeString(token)
	if err != nil || len(b) != tokenBytes {
		return nil, false
	}
	return hashToken(b), true
}

func hashToken(raw []byte) []byte {
	h := sha256.Sum256(raw)
	return h[:]
}
