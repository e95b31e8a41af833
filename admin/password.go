package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's 19 MiB, 2 passes, 1 lane. A check costs
// about 20–30 ms of one core and 19 MiB, which is why checks are counted
// (rate limits) and run a few at a time (see Service.hashSlots).
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// Password length bounds: 12 is the floor an operator is told about;
// 1024 keeps a hash request from being a way to feed us megabytes.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// CheckPasswordStrength refuses passwords an admin account must not have,
// with a one-line reason.
func CheckPasswordStrength(pw string) error {
	switch {
	case len([]rune(pw)) < MinPasswordLen:
		return fmt.Errorf("the password must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("the password must be at most %d bytes", MaxPasswordLen)
	case strings.TrimSpace(pw) != pw:
		return errors.New("the password must not start or end with white space")
	}
	return nil
}

// HashPassword returns pw's argon2id hash as a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(pw string) string {
	salt := make([]byte, argonSaltLen)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemoryKiB, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// errBadHash means a stored hash is not one HashPassword could have made.
var errBadHash = errors.New("admin: password hash is not an argon2id PHC string")

// VerifyPassword reports whether pw matches the PHC string hash, in
// constant time. It honours the parameters stored in the hash, so they can
// be raised later without invalidating existing passwords.
func VerifyPassword(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errBadHash
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return false, errBadHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
