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

func randomKey(t testing.TB) []byte {
	t.Helper()
	key := make([]byte, SecretKeySize)
	_, _ = rand.Read(key)
	return key
}

// sealVersion1 seals as the server did before keys had ids: version 1, no key id,
// the header not bound.
func sealVersion1(t testing.TB, key, plaintext, ad []byte) []byte {
	t.Helper()
	s, err := newSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	aead := s.keys[0].aead
	out := make([]byte, 1+aead.NonceSize())
	out[0] = sealV1
	_, _ = rand.Read(out[1:])
	return aead.Seal(out, out[1:], plaintext, ad)
}

// TestSealer_Rotation: the sealed format through a SECRET_KEY rotation.
// Values sealed before (version 1, no key id) and under a previous key
// keep opening; new ones are sealed under the current key alone.
func TestSealer_Rotation(t *testing.T) {
	t.Parallel()
	k1, k2, k3 := randomKey(t), randomKey(t), randomKey(t)
	old, _ := newSealer(k1)
	rotated, err := newSealer(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	alone, _ := newSealer(k2)
	msg := []byte("tiihtNczf5v6AKRyjwEUhQ==")
	open := func(s *sealer, sealed []byte, sessionID string) bool {
		got, err := s.open(sealed, sessionID)
		if err == nil && !bytes.Equal(got, msg) {
			t.Fatalf("opened to %q", got)
		}
		return err == nil
	}

	t.Run("NewValuesAreVersion2UnderTheCurrentKey", func(t *testing.T) {
		sealed := rotated.seal(msg, "s")
		id := keyID(k2)
		if sealed[0] != sealV2 || !bytes.Equal(sealed[1:5], id[:]) || !rotated.current(sealed) {
			t.Fatalf("header %x, want 02%x", sealed[:5], id)
		}
		if KeyID(k2) != hex.EncodeToString(id[:]) || KeyID(k1) == KeyID(k2) {
			t.Fatal("KeyID disagrees with the header")
		}
		if !open(alone, sealed, "s") || open(old, sealed, "s") {
			t.Fatal("a value sealed by the rotated sealer must open under k2 alone, not k1")
		}
	})
	t.Run("Version1OpensUnderAnyKey", func(t *testing.T) {
		v1k1 := sealVersion1(t, k1, msg, aad("s"))
		v1k2 := sealVersion1(t, k2, msg, aad("s"))
		if !open(old, v1k1, "s") || !open(rotated, v1k1, "s") || !open(rotated, v1k2, "s") || !open(alone, v1k2, "s") {
			t.Fatal("a version 1 value does not open under its key")
		}
		if open(alone, v1k1, "s") || open(rotated, v1k1, "other") {
			t.Fatal("a version 1 value opened under another key or session")
		}
		if rotated.current(v1k2) {
			t.Fatal("a version 1 value counts as current")
		}
	})
	t.Run("Version2OpensWithAPreviousKey", func(t *testing.T) {
		sealed := old.seal(msg, "s")
		if !open(rotated, sealed, "s") || open(alone, sealed, "s") || rotated.current(sealed) {
			t.Fatal("a value under k1 must open where k1 is previous, and only there")
		}
		if three, _ := newSealer(k3, k2, k1); !open(three, sealed, "s") {
			t.Fatal("the second previous key is not tried")
		}
	})
	t.Run("WrongKeyFails", func(t *testing.T) {
		sealed := old.seal(msg, "s")
		if other, _ := newSealer(k3, k2); open(other, sealed, "s") {
			t.Fatal("opened under keys it was not sealed with")
		}
	})
	t.Run("KeyIDMismatch", func(t *testing.T) {
		// The id says k2, the value is under k1: the header is bound, so
		// not even k1 opens it, and k2 is the only key tried.
		sealed := old.seal(msg, "s")
		forged := bytes.Clone(sealed)
		id := keyID(k2)
		copy(forged[1:5], id[:])
		if open(rotated, forged, "s") {
			t.Fatal("opened a value whose key id was changed")
		}
		// An id no key has.
		copy(forged[1:5], []byte{0, 0, 0, 0})
		if open(rotated, forged, "s") {
			t.Fatal("opened a value under an unknown key id")
		}
		// Relabelled as version 1, the ciphertext must not open either.
		v1 := append([]byte{sealV1}, sealed[5:]...)
		if open(rotated, v1, "s") {
			t.Fatal("a version 2 value relabelled version 1 opened")
		}
	})
	t.Run("Reseal", func(t *testing.T) {
		sealed := old.seal(msg, "s")
		next, err := rotated.reseal(sealed, aad("s"))
		if err != nil || !rotated.current(next) || !open(alone, next, "s") {
			t.Fatalf("reseal: %v", err)
		}
		if _, err := rotated.reseal([]byte{2, 1, 2, 3, 4}, aad("s")); err == nil {
			t.Fatal("resealed garbage")
		}
	})
	t.Run("DuplicateKeysIgnored", func(t *testing.T) {
		s, err := newSealer(k2, k2, k1, k1)
		if err != nil || len(s.keys) != 2 {
			t.Fatalf("%d keys, %v", len(s.keys), err)
		}
		if _, err := newSealer(k2, k1[:16]); err == nil {
			t.Fatal("a short previous key was accepted")
		}
	})
}

func TestParsePreviousSecretKeys(t *testing.T) {
	t.Parallel()
	k1, k2 := randomKey(t), randomKey(t)
	got, err := ParsePreviousSecretKeys(" " + hex.EncodeToString(k1) + " ,\n" + base64.StdEncoding.EncodeToString(k2))
	if err != nil || len(got) != 2 || !bytes.Equal(got[0], k1) || !bytes.Equal(got[1], k2) {
		t.Fatalf("got %d keys, %v", len(got), err)
	}
	if got, err := ParsePreviousSecretKeys("  "); err != nil || got != nil {
		t.Fatalf("empty: %v, %v", got, err)
	}
	weak := hex.EncodeToString(bytes.Repeat([]byte{1, 2}, 16))
	for in, want := range map[string]string{
		hex.EncodeToString(k1) + ",":        "SECRET_KEY_PREVIOUS entry 2 must be 32 random bytes",
		hex.EncodeToString(k1) + "," + weak: "SECRET_KEY_PREVIOUS entry 2 is not random",
		"hunter2hunter2":                    "SECRET_KEY_PREVIOUS entry 1 must be",
		strings.Repeat(hex.EncodeToString(k1)+",", 8) + hex.EncodeToString(k2): "at most 8",
	} {
		_, err := ParsePreviousSecretKeys(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%q: err = %v, want %q", in, err, want)
		}
		if strings.Contains(err.Error(), hex.EncodeToString(k1)) || strings.Contains(err.Error(), weak) || strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("the error quotes a key: %v", err)
		}
	}
}
