package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// UserByID returns the user with id, disabled or not. ErrNotFound when none.
func (s *Store) UserByID(ctx context.Context, id string) (*models.User, error) {
	u := &models.User{ID: id}
	err := s.db.NewSelect().Model(u).WherePK().Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("store: finding user: %w", err)
	}
	return u, nil
}

// SetUserDisabled disables (with reason, by the admin adminID) or enables
// the user with id, and writes audit, in one transaction: the user's
// disabled_at, disabled_reason and disabled_by (when, why, who) change
// with the audit row that tells the same, or not at all. Disabling a
// disabled user keeps when it began and records the new reason and admin.
// Enabling clears all three. Disabling also revokes every live session of
// the user, so no token of theirs works on the next request (the session
// lookup checks disabled_at too, but a revoked session stays revoked if
// the user is enabled again). adminID "" records no admin (a disable no
// admin made). ErrNotFound when there is no such user.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool, reason, adminID string, audit *models.AuditEntry) (*models.User, error) {
	u := &models.User{ID: id}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Model(u).WherePK().Where("deleted_at IS NULL").Set("updated_at = now()").Returning("*")
		if disabled {
			q = q.Set("disabled_at = COALESCE(disabled_at, now())").Set("disabled_reason = ?", nullable(reason)).
				Set("disabled_by = ?::uuid", nullable(adminID))
		} else {
			q = q.Set("disabled_at = NULL").Set("disabled_reason = NULL").Set("disabled_by = NULL")
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return fmt.Errorf("updating user: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if disabled {
			revoked, err := tx.NewUpdate().Model((*models.Session)(nil)).
				Set("revoked_at = now()").
				Where("user_id = ? AND revoked_at IS NULL", id).
				Exec(ctx)
			if err != nil {
				return fmt.Errorf("revoking sessions: %w", err)
			}
			if audit != nil {
				n, _ := revoked.RowsAffected()
				if audit.Detail == nil {
					audit.Detail = map[string]any{}
				}
				audit.Detail["sessionsRevoked"] = n
			}
		}
		if audit != nil {
			return s.WriteAudit(ctx, tx, audit)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("store: setting user disabled: %w", err)
	}
	return u, nil
}

// RevokeUserSessions ends every live session of the user but keepID ("" keeps
// none: keepID is the caller's own session when a user logs out their other
// devices) and writes audit (when non-nil, with the count in its detail) in
// the same transaction. It returns how many it ended; expired sessions are
// not counted, they had ended already. When none ended, nothing is written:
// a user repeating the call cannot fill the audit log, whose entries are
// then bounded by the logins that made the sessions. ErrNotFound when there
// is no such user.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, keepID string, audit *models.AuditEntry) (int, error) {
	var n int64
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		exists, err := tx.NewSelect().Model((*models.User)(nil)).Where("id = ?", userID).Exists(ctx)
		if err != nil {
			return fmt.Errorf("finding user: %w", err)
		}
		if !exists {
			return ErrNotFound
		}
		q := tx.NewUpdate().Model((*models.Session)(nil)).
			Set("revoked_at = now()").
			Where("user_id = ?", userID).
			Where("revoked_at IS NULL AND expires_at > now()")
		if keepID != "" {
			q = q.Where("id <> ?", keepID)
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return fmt.Errorf("revoking sessions: %w", err)
		}
		n, _ = res.RowsAffected()
		if audit != nil && n > 0 {
			if audit.Detail == nil {
				audit.Detail = map[string]any{}
			}
			audit.Detail["sessionsRevoked"] = n
			return writeAudit(ctx, tx, audit)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return 0, err
	} else if err != nil {
		return 0, fmt.Errorf("store: revoking user sessions: %w", err)
	}
	return int(n), nil
}

// IdentitiesOfUsers returns the identities of the users in ids, oldest first
// — one query for a whole page of users.
func (s *Store) IdentitiesOfUsers(ctx context.Context, ids []string) ([]*models.Identity, error) {
	var out []*models.Identity
	err := s.db.NewSelect().Model(&out).Where("i.user_id IN (?)", bun.List(ids)).OrderExpr("i.created_at, i.id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: identities of users: %w", err)
	}
	return out, nil
}

// LiveSessionsOfUsers returns the live (not revoked, not expired) sessions
// of the users in ids, newest first — one query for a whole page of users.
// Token hashes and sealed session_keys are not read.
func (s *Store) LiveSessionsOfUsers(ctx context.Context, ids []string) ([]*models.Session, error) {
	var out []*models.Session
	err := s.db.NewSelect().Model(&out).
		Column("s.id", "s.user_id", "s.identity_id", "s.created_at", "s.last_seen_at", "s.expires_at", "s.ip", "s.user_agent").
		Where("s.user_id IN (?)", bun.List(ids)).
		Where("s.revoked_at IS NULL AND s.expires_at > now()").
		OrderExpr("s.created_at DESC, s.id DESC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: sessions of users: %w", err)
	}
	return out, nil
}

// DisabledByOf returns, for each of userIDs that is disabled by an admin
// whose row exists, that admin: who disabled the users of a page, in one
// statement. Users enabled, unknown or disabled by no admin are absent.
func (s *Store) DisabledByOf(ctx context.Context, userIDs []string) (map[string]*models.Admin, error) {
	out := make(map[string]*models.Admin, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	// Named columns, not a.*: the password hash (and whatever else admins
	// gain) stays in the database.
	var rows []struct {
		UserID   string      `bun:"user_id"`
		ID       string      `bun:"id"`
		Username string      `bun:"username"`
		Role     models.Role `bun:"role"`
	}
	err := s.db.NewSelect().TableExpr("users AS u").Join("JOIN admins AS a ON a.id = u.disabled_by").
		ColumnExpr("u.id AS user_id, a.id, a.username, a.role").
		Where("u.id IN (?) AND u.disabled_at IS NOT NULL", bun.List(userIDs)).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("store: finding who disabled users: %w", err)
	}
	for _, r := range rows {
		out[r.UserID] = &models.Admin{ID: r.ID, Username: r.Username, Role: r.Role}
	}
	return out, nil
}
