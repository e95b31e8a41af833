package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// EachUserPage calls fn with the users q's filters and search match
// (ListUsers' users; q's page and cursor fields are ignored), in q's order,
// at most batch at a time and limit in all, until fn returns an error,
// which it returns. It is for exports of a whole listing (admin CSV).
//
// Each page is a statement of its own, a keyset page that starts after the
// last user of the one before, as ListUsers' pages do: no statement and no
// transaction lasts as long as the export, so the connection's
// statement_timeout bounds each page, not the whole, and no snapshot is
// held open for minutes (which would keep VACUUM from the users table). A
// user added or changed during the export may or may not be in it; none
// appears twice and none that stayed is skipped. Only one page is held in
// memory at a time.
func (s *Store) EachUserPage(ctx context.Context, q UserQuery, limit, batch int, fn func([]*models.User) error) error {
	if q.Order == "" {
		q.Order = OrderCreatedAt
	}
	key, ok := q.Order.keyExpr()
	if !ok {
		return fmt.Errorf("store: exporting users: unknown order %q", q.Order)
	}
	if err := q.checkOrder(); err != nil {
		return err
	}
	if batch < 1 {
		return fmt.Errorf("store: exporting users: batch %d", batch)
	}
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	wide := s.probeTrigram(ctx)
	var after *Cursor
	for read := 0; read < limit; {
		var users []*models.User
		sel := s.db.NewSelect().Model(&users)
		filterUsers(sel, q, wide)
		if after != nil {
			var k any = bun.Safe("'-infinity'")
			if after.Key != nil {
				k = *after.Key
			}
			sel.Where(fmt.Sprintf("(%s, u.id) %s (?::timestamptz, ?::uuid)", key, cmp), k, after.ID)
		}
		n := min(batch, limit-read)
		sel.OrderExpr(fmt.Sprintf("%s %s, u.id %s", key, dir, dir)).Limit(int64(n))
		if err := sel.Scan(ctx); err != nil {
			return fmt.Errorf("store: exporting users: %w", err)
		}
		if len(users) == 0 {
			return nil
		}
		if err := fn(users); err != nil {
			return err
		}
		read += len(users)
		if len(users) < n {
			return nil
		}
		last := users[len(users)-1]
		after = &Cursor{ID: last.ID, Key: q.Order.keyOf(last)}
	}
	return nil
}

// SetAuditDetail merges detail into the audit entry id's: for an entry
// written when something began (an export) and completed when it ended, so
// that one cut off midway still shows it began.
func (s *Store) SetAuditDetail(ctx context.Context, id string, detail map[string]any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("store: completing audit entry: %w", err)
	}
	if _, err := s.db.NewRaw("UPDATE audit_log SET detail = detail || ?::jsonb WHERE id = ?", string(b), id).Exec(ctx); err != nil {
		return fmt.Errorf("store: completing audit entry: %w", err)
	}
	return nil
}
