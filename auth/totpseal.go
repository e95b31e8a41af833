package auth

import "fmt"

// TOTPSealer seals admins' TOTP secrets under SECRET_KEY as session_keys
// are (AES-256-GCM, the key id in the header), bound to the admin's id so
// that a sealed secret copied onto another admin's row does not open.
// `wxlogin rekey` re-seals them with the rest (store.AdminTOTPSecrets).
type TOTPSealer struct{ s *sealer }

// NewTOTPSealer seals under key and opens under key and previous.
func NewTOTPSealer(key []byte, previous ...[]byte) (*TOTPSealer, error) {
	if len(key) != SecretKeySize {
		return nil, fmt.Errorf("auth: secret key must be %d bytes", SecretKeySize)
	}
	s, err := newSealer(key, previous...)
	if err != nil {
		return nil, err
	}
	return &TOTPSealer{s: s}, nil
}

// Seal returns secret sealed for the admin with adminID.
func (t *TOTPSealer) Seal(secret []byte, adminID string) []byte {
	return t.s.sealAD(secret, totpAD(adminID))
}

// Open returns the secret sealed for the admin with adminID, or an error
// (which never quotes it) when it opens under no key.
func (t *TOTPSealer) Open(sealed []byte, adminID string) ([]byte, error) {
	return t.s.openAD(sealed, totpAD(adminID))
}

// totpAD is the associated data of an admin's sealed TOTP secret.
func totpAD(adminID string) []byte { return []byte("wxlogin/admin_totp/v1:" + adminID) }
