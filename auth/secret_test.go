package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func TestParseSecretKey(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	for name, in := range map[string]string{
		"Hex":       hex.EncodeToString(key),
		"HexUpper":  strings.ToUpper(hex.EncodeToString(key)),
		"Base64":    base64.StdEncoding.EncodeToString(key),
		"Base64Raw": base64.RawStdEncoding.EncodeToString(key),
		"Base64URL": base64.RawURLEncoding.EncodeToString(key),
		"Spaces":    "  " + hex.EncodeToString(key) + "\n",
	} {
		got, err := ParseSecretKey(in)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("%s: got %x, %v", name, got, err)
		}
	}
	for name, in := range map[string]string{
		"Empty":      "",
		"Short":      hex.EncodeToString(key[:16]),
		"Long":       hex.EncodeToString(append(key, 1)),
		"Password":   "correct horse battery staple",
		"AllZero":    hex.EncodeToString(make([]byte, 32)),
		"Repetitive": hex.EncodeToString(bytes.Repeat([]byte{1, 2}, 16)),
	} {
		if _, err := ParseSecretKey(in); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), in) && in != "" {
			t.Errorf("%s: the error quotes the key", name)
		}
	}
}

func TestSealer(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s, err := newSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("tiihtNczf5v6AKRyjwEUhQ==")
	sealed := s.seal(msg, "session-1")
	if bytes.Contains(sealed, msg) {
		t.Fatal("sealed value contains the plaintext")
	}
	if again := s.seal(msg, "session-1"); bytes.Equal(again, sealed) {
		t.Fatal("sealing is deterministic; nonces must be fresh")
	}
	if got, err := s.open(sealed, "session-1"); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := s.open(sealed, "session-2"); err == nil {
		t.Fatal("opened under another session id")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := s.open(tampered, "session-1"); err == nil {
		t.Fatal("opened a tampered value")
	}
	other, _ := newSealer(bytes.Repeat([]byte{9}, 32))
	if _, err := other.open(sealed, "session-1"); err == nil {
		t.Fatal("opened under another key")
	}
	for _, bad := range [][]byte{nil, {1}, {2, 0, 0}} {
		if _, err := s.open(bad, "session-1"); err == nil {
			t.Fatalf("opened %x", bad)
		}
	}
}
