package store

import (
	"context"
	"fmt"
	"time"
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
