package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// OwnSession is a live session as its own user's "devices" screen shows it:
// nothing that opens anything (no token hash, no sealed session_key).
type OwnSession struct {
	ID string `bun:"id"`
	// AppID is the mini program the session signed in from.
	AppID      string    `bun:"appid"`
	CreatedAt  time.Time `bun:"created_at"`
	LastSeenAt time.Time `bun:"last_seen_at"`
	ExpiresAt  time.Time `bun:"expires_at"`
	// IP and UserAgent are the login request's, as stored.
	IP        *string `bun:"ip"`
	UserAgent *string `bun:"user_agent"`
}

// LiveSessionsOfUser returns up to limit live (not revoked, not expired)
// sessions of the user: currentID's first when it is among them, then the
// most recently used. A user's sessions are few (the index on user_id finds
// them all, and the sort is over those), so no cursor is offered.
func (s *Store) LiveSessionsOfUser(ctx context.Context, userID, currentID string, limit int) ([]*OwnSession, error) {
	out := []*OwnSession{}
	if limit <= 0 {
		return out, nil
	}
	q := s.db.NewSelect().TableExpr("sessions AS s").
		Join("JOIN identities AS i ON i.id = s.identity_id").
		ColumnExpr("s.id, i.appid, s.created_at, s.last_seen_at, s.expires_at, host(s.ip) AS ip, s.user_agent").
		Where("s.user_id = ?", userID).
		Where("s.revoked_at IS NULL AND s.expires_at > now()")
	if currentID != "" {
		q = q.OrderExpr("s.id = ? DESC", currentID)
	}
	err := q.OrderExpr("s.last_seen_at DESC, s.created_at DESC, s.id DESC").Limit(int64(limit)).Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("store: sessions of a user: %w", err)
	}
	return out, nil
}

// RevokeOwnSession ends the live session id of the user userID and writes
// audit (when non-nil) in the same transaction. Returns ErrNotFound when
// the user has no live session with that id — another user's session
// included, so that the answer says nothing about sessions not theirs.
func (s *Store) RevokeOwnSession(ctx context.Context, userID, id string, audit *models.AuditEntry) error {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*models.Session)(nil)).
			Set("revoked_at = now()").
			Where("id = ? AND user_id = ?", id, userID).
			Where("revoked_at IS NULL AND expires_at > now()").
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("revoking session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if audit != nil {
			return writeAudit(ctx, tx, audit)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: %w", err)
	}
	return err
}

// RevokeSessionsOfUserExcept ends every live session of the user but keepID
// ("" keeps none) and writes audit (when non-nil, with the count in its
// detail) in the same transaction. It returns how many it ended; expired
// sessions are not counted, they had ended already. When none ended,
// nothing is written: a user repeating the call cannot fill the audit log,
// whose entries are then bounded by the logins that made the sessions.
func (s *Store) RevokeSessionsOfUserExcept(ctx context.Context, userID, keepID string, audit *models.AuditEntry) (int, error) {
	var n int64
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
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
	if err != nil {
		return 0, fmt.Errorf("store: revoking user sessions: %w", err)
	}
	return int(n), nil
}
