// Package token makes and reads the bearer tokens of users and admins:
// 32 random bytes in strict unpadded base64url behind a kind prefix. Only a
// token's SHA-256 is ever stored, so a database leak yields no usable token.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Bytes is the entropy of a token.
const Bytes = 32

// Kind prefixes keep the two kinds of token apart at a glance, and let a
// server tell which table to look in without a query.
const (
	// User marks a mini-program user's token (no prefix, as issued since the start).
	User = ""
	// Admin marks an admin dashboard token.
	Admin = "wxa_"
)

// Malformed stands, in place of a token, for an Authorization header that
// is not "Bearer <token>". It is no token of either kind (Parse refuses it),
// but it tells a caller who sent a header apart from one who sent none, so
// each can be told what is wrong.
const Malformed = "\x00malformed"

// encoding is the one spelling of a token: without Strict, the last
// character's unused low bits are ignored and four strings decode to (and
// authenticate as) the same token.
var encoding = base64.RawURLEncoding.Strict()

// New returns a fresh token of the kind prefix and the hash to store in its place.
func New(prefix string) (tok string, hash []byte) {
	b := make([]byte, Bytes)
	_, _ = rand.Read(b)
	return prefix + encoding.EncodeToString(b), hashOf(b)
}

// Parse returns the hash of tok, or false for anything that cannot be a
// token of the kind prefix — without touching the database.
func Parse(prefix, tok string) ([]byte, bool) {
	rest, ok := strings.CutPrefix(tok, prefix)
	if !ok || len(rest) != encoding.EncodedLen(Bytes) {
		return nil, false
	}
	b, err := encoding.DecodeString(rest)
	if err != nil || len(b) != Bytes {
		return nil, false
	}
	return hashOf(b), true
}

func hashOf(raw []byte) []byte {
	h := sha256.Sum256(raw)
	return h[:]
}
