package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// SessionByTokenHash returns the active session with tokenHash and its user.
// Returns ErrNotFound when there is none, or it is expired or revoked, or
// its user is disabled. It runs on every authenticated request, so it leaves
// out SessionKeySealed, which only a server-side decrypt needs: use
// SessionKeySealed for that.
func (s *Store) SessionByTokenHash(ctx context.Context, tokenHash []byte) (*models.Session, *models.User, error) {
	sess, user, err := s.sessionByTokenHash(ctx, tokenHash)
	// A read is safe to repeat: after a PostgreSQL restart every pooled
	// connection is dead, and each failed try drops one of them.
	for range s.maxConns {
		if err == nil || !connDied(err) || ctx.Err() != nil {
			break
		}
		sess, user, err = s.sessionByTokenHash(ctx, tokenHash)
	}
	return sess, user, err
}

func (s *Store) sessionByTokenHash(ctx context.Context, tokenHash []byte) (*models.Session, *models.User, error) {
	sess := new(models.Session)
	err := s.db.NewSelect().
		Model(sess).
		Column("s.id", "s.user_id", "s.identity_id", "s.created_at", "s.last_seen_at", "s.expires_at").
		Relation("User").
		Where("s.token_hash = ?", tokenHash).
		Where("s.revoked_at IS NULL").
		Where("s.expires_at > now()").
		Where(`"user"."disabled_at" IS NULL`).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("store: session lookup: %w", err)
	}
	return sess, sess.User, nil
}

// TouchSession records that the session was used, at most once per interval
// so that reads do not turn every request into a write.
func (s *Store) TouchSession(ctx context.Context, id string, every time.Duration) error {
	_, err := s.db.NewUpdate().Model((*models.Session)(nil)).
		Set("last_seen_at = now()").
		Where("id = ?", id).
		Where("last_seen_at < now() - ?::interval", fmt.Sprintf("%d milliseconds", every.Milliseconds())).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("store: touching session: %w", err)
	}
	return nil
}

// RevokeSession ends the live (not revoked, not expired) session id and
// writes audit (when non-nil) in the same transaction, returning the
// session's user. userID, when not "", limits it to that user's sessions:
// a user's own "log out that device", for which another user's session is
// ErrNotFound like an unknown one, so that the answer says nothing about
// sessions not theirs. Returns ErrNotFound when no live session matched; an
// expired one had ended already.
func (s *Store) RevokeSession(ctx context.Context, id, userID string, audit *models.AuditEntry) (string, error) {
	var owner string
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Model((*models.Session)(nil)).
			Set("revoked_at = now()").
			Where("id = ?", id).
			Where("revoked_at IS NULL AND expires_at > now()")
		if userID != "" {
			q = q.Where("user_id = ?", userID)
		}
		err := q.Returning("user_id").Scan(ctx, &owner)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return fmt.Errorf("revoking session: %w", err)
		}
		if audit != nil {
			return writeAudit(ctx, tx, audit)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("store: %w", err)
	}
	return owner, err
}

// SessionKeySealed returns the sealed session_key of an active (not expired,
// not revoked) session, for the rare server-side decrypt after login.
// Returns ErrNotFound when the session is not active.
func (s *Store) SessionKeySealed(ctx context.Context, sessionID string) ([]byte, error) {
	var sealed []byte
	err := s.db.NewSelect().Model((*models.Session)(nil)).
		Column("session_key_sealed").
		Where("id = ?", sessionID).
		Where("revoked_at IS NULL").
		Where("expires_at > now()").
		Scan(ctx, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: reading session key: %w", err)
	}
	return sealed, nil
}

// PurgeSessions deletes sessions that expired or were revoked more than grace
// ago, batch rows per statement so that no statement holds many row locks or
// runs long, until a batch comes back short or ctx ends. It returns how many
// it deleted, also alongside an error. Several instances may run it at once:
// each skips the rows another is deleting.
//
// Expired and revoked sessions are purged by separate statements so that
// each walks its own index (sessions_expires_at_idx, sessions_revoked_at_idx)
// in order and stops after batch rows; one statement with OR would build a
// bitmap of every purgeable row for every batch.
func (s *Store) PurgeSessions(ctx context.Context, grace time.Duration, batch int) (int, error) {
	if grace < 0 || batch <= 0 {
		return 0, fmt.Errorf("store: purging sessions: grace %v and batch %d must not be negative and positive", grace, batch)
	}
	cutoff := fmt.Sprintf("%d microseconds", grace.Microseconds())
	total := 0
	for _, column := range []string{"expires_at", "revoked_at"} {
		for {
			// A done ctx fails the next statement (database/sql checks it
			// before taking a connection), which ends the loop.
			res, err := s.db.NewDelete().Model((*models.Session)(nil)).
				Where("id IN (SELECT id FROM sessions WHERE ? < now() - ?::interval ORDER BY ? LIMIT ? FOR UPDATE SKIP LOCKED)",
					bun.Ident(column), cutoff, bun.Ident(column), batch).
				Exec(ctx)
			if err != nil {
				return total, fmt.Errorf("store: purging sessions: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return total, fmt.Errorf("store: purging sessions: %w", err)
			}
			total += int(n)
			if int(n) < batch {
				break
			}
		}
	}
	return total, nil
}
