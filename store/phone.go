package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// SessionIdentity returns the identity (app and openid) an active session
// signed in with, which a server-side check of its session_key names.
// Returns ErrNotFound when the session is not active.
func (s *Store) SessionIdentity(ctx context.Context, sessionID string) (*models.Identity, error) {
	id := new(models.Identity)
	err := s.db.NewSelect().Model(id).
		Where("i.id = (SELECT identity_id FROM sessions WHERE id = ? AND revoked_at IS NULL AND expires_at > now())", sessionID).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: reading a session's identity: %w", err)
	}
	return id, nil
}

// ErrPhoneInUse is returned by SetPhone when another user has the number.
var ErrPhoneInUse = errors.New("store: phone number bound to another user")

// phoneUniqueIndex is the unique index that keeps a number on one user.
const phoneUniqueIndex = "users_phone_key"

// SetPhone stores a verified phone number on the user with userID — e164
// like "+8613800138000", countryCode like "86" — and writes audit in the
// same transaction. It returns the user as it now is; ErrNotFound when there
// is no such user; ErrPhoneInUse when another user has the number, nothing
// changed. The unique index decides, so of two binds of one number at once
// exactly one wins. The audit entry must not hold the full number.
func (s *Store) SetPhone(ctx context.Context, userID, e164, countryCode string, audit *models.AuditEntry) (*models.User, error) {
	u := &models.User{ID: userID}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		err := tx.NewUpdate().Model(u).WherePK().Where("deleted_at IS NULL"). // never into a tombstone
											Set("phone = ?", e164).
											Set("phone_country_code = ?", countryCode).
											Set("updated_at = now()").
											Returning("*").
											Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if isUniqueViolation(err, phoneUniqueIndex) {
			return ErrPhoneInUse
		} else if err != nil {
			return fmt.Errorf("storing the phone number: %w", err)
		}
		return writeAudit(ctx, tx, audit)
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrPhoneInUse) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return u, nil
}
