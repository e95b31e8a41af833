package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// AcceptPolicy records that the user with userID accepted the policy of
// version c.Version (c.UserID is set here), with audit, in one transaction,
// and reports whether it recorded anything: a user whose newest acceptance
// is already that version gets no new row and no audit entry, so repeating
// the call cannot grow the table. The user's row is locked meanwhile, so
// two accepts at once record one row. ErrNotFound when there is no such
// user.
func (s *Store) AcceptPolicy(ctx context.Context, userID string, c *models.Consent, audit *models.AuditEntry) (bool, error) {
	recorded := false
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var id string
		err := tx.NewSelect().Table("users").Column("id").Where("id = ? AND deleted_at IS NULL", userID).For("NO KEY UPDATE").Scan(ctx, &id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return fmt.Errorf("locking user: %w", err)
		}
		var last string
		err = tx.NewSelect().Model((*models.Consent)(nil)).Column("version").Where("user_id = ?", userID).
			OrderExpr("accepted_at DESC, id DESC").Limit(1).Scan(ctx, &last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("reading consent: %w", err)
		}
		if last == c.Version {
			return nil
		}
		c.ID, c.UserID = NewID(), userID
		if _, err := tx.NewInsert().Model(c).Returning("accepted_at").Exec(ctx); err != nil {
			return fmt.Errorf("recording consent: %w", err)
		}
		if audit != nil {
			if err := writeAudit(ctx, tx, audit); err != nil {
				return err
			}
		}
		recorded = true
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return false, err
	} else if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	return recorded, nil
}

// PolicyVersionsOfUsers returns the newest accepted policy version of each
// user in ids that accepted one — one query for a whole page of users.
func (s *Store) PolicyVersionsOfUsers(ctx context.Context, ids []string) (map[string]string, error) {
	var rows []models.Consent
	err := s.db.NewSelect().Model(&rows).DistinctOn("c.user_id").Column("c.user_id", "c.version").
		Where("c.user_id IN (?)", bun.List(ids)).
		OrderExpr("c.user_id, c.accepted_at DESC, c.id DESC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: policy versions of users: %w", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.UserID] = r.Version
	}
	return out, nil
}

// ConsentsOfUser returns every consent of the user, oldest first, at most
// limit of them (the newest), and how many there are.
func (s *Store) ConsentsOfUser(ctx context.Context, userID string, limit int) ([]*models.Consent, int, error) {
	var out []*models.Consent
	n, err := s.db.NewSelect().Model(&out).Where("c.user_id = ?", userID).
		OrderExpr("c.accepted_at DESC, c.id DESC").Limit(int64(limit)).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("store: consents of user: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, int(n), nil
}
