package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"wxlogin/models"
)

// AuditQuery selects a page of the audit log, newest first.
type AuditQuery struct {
	// First is the page size, 1..100; the caller validates it.
	First int
	// After is the cursor of the last entry already seen; nil for the first page.
	After *AuditCursor
	// Before, instead of After, asks for the First entries just before this
	// cursor (newer ones): the previous page. Backward with Before nil asks
	// for the last (oldest) page.
	Before   *AuditCursor
	Backward bool
	// ActorID, Action and Target, when set, must match exactly.
	ActorID, Action, Target string
	// Since keeps entries at or after it, Until those before it.
	Since, Until *time.Time
	// AdminIDs and UserIDs, when not nil, keep the entries whose actor or
	// target is one of them (an empty list keeps none); both set, an entry
	// must involve one of each. Ids in their 36-character lowercase form;
	// at most MaxAuditParties of each, which bounds the page's cost (see
	// ListAudit).
	AdminIDs, UserIDs []string
	// WithTotal asks for TotalCount (a COUNT over every match).
	WithTotal bool
}

// MaxAuditParties is the most ids AuditQuery.AdminIDs or UserIDs may hold:
// a page reads at most twice this many index ranges.
const MaxAuditParties = 100

// AuditCursor is a position in the log: entries sort by (at, id), newest
// first, the order every audit_log index ends in.
type AuditCursor struct {
	At time.Time
	ID string
}

type auditCursorJSON struct {
	V  int       `json:"v"`
	At time.Time `json:"at"`
	ID string    `json:"id"`
}

// Encode returns the cursor's opaque form.
func (c AuditCursor) Encode() string {
	b, _ := json.Marshal(auditCursorJSON{V: 1, At: c.At, ID: c.ID})
	return cursorEncoding.EncodeToString(b)
}

// DecodeAuditCursor reads an encoded AuditCursor; ErrBadCursor for anything else.
func DecodeAuditCursor(s string) (*AuditCursor, error) {
	if len(s) > maxCursorLen {
		return nil, ErrBadCursor
	}
	b, err := cursorEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	var c auditCursorJSON
	if json.Unmarshal(b, &c) != nil || c.V != 1 || c.At.IsZero() || !cursorTimeInRange(c.At) {
		return nil, ErrBadCursor
	}
	// uuid.Parse also takes {…}, urn:uuid:… and other forms PostgreSQL
	// refuses; a cursor has Encode's spelling only.
	if id, err := uuid.Parse(c.ID); err != nil || id.String() != c.ID {
		return nil, ErrBadCursor
	}
	out := &AuditCursor{At: c.At, ID: c.ID}
	if out.Encode() != s {
		return nil, ErrBadCursor
	}
	// An offset PostgreSQL cannot take (+23:00) must not reach it.
	out.At = out.At.UTC()
	return out, nil
}

// ListAudit returns a page of the audit log, newest first, by keyset
// pagination on (at, id) so that a deep page costs what the first does.
//
// Without AdminIDs or UserIDs one statement walks the index that fits the
// filters (audit_log_at_idx, or the actor's, action's or target's). With
// them, one list drives (the users', when both are given): for each of its ids, the id's entries as
// actor and as target are read on their own indexes, newest first from the
// cursor and at most First+1 of each (a LATERAL subquery per id), and the
// newest First+1 of those make the page. So a page costs at most
// 2×len(ids) short index ranges, however many entries the parties have;
// the other list and the other filters are conditions on those ranges.
func (s *Store) ListAudit(ctx context.Context, q AuditQuery) (*models.Page[*models.AuditEntry], error) {
	// The users drive when both are given: a user's history is their own
	// entries, an admin's is everything they did to every user, so the
	// users' ranges are the short ones (on a million entries, 100 users
	// with 20 admins read 94,000 buffers driven by the admins).
	drive, other := q.UserIDs, q.AdminIDs
	if drive == nil {
		drive, other = other, nil
	}
	if len(drive) > MaxAuditParties || len(other) > MaxAuditParties {
		return nil, fmt.Errorf("store: listing the audit log: more than %d ids", MaxAuditParties)
	}
	filter := func(sel *bun.SelectQuery) *bun.SelectQuery {
		if q.ActorID != "" {
			// Only the 36-character form: uuid.Parse also takes
			// urn:uuid:… and {…}, which PostgreSQL refuses (INTERNAL).
			if _, err := uuid.Parse(q.ActorID); err != nil || len(q.ActorID) != 36 {
				return sel.Where("false")
			}
			sel = sel.Where("al.actor_id = ?", q.ActorID)
		}
		if q.Action != "" {
			sel = sel.Where("al.action = ?", q.Action)
		}
		if q.Target != "" {
			sel = sel.Where("al.target = ?", q.Target)
		}
		if q.Since != nil {
			sel = sel.Where("al.at >= ?", *q.Since)
		}
		if q.Until != nil {
			sel = sel.Where("al.at < ?", *q.Until)
		}
		if other != nil {
			sel = sel.Where("(al.actor_id = ANY(?::uuid[]) OR al.target = ANY(?::text[]))", pgdialect.Array(other), pgdialect.Array(other))
		}
		return sel
	}
	if q.Before != nil {
		q.Backward = true
	}
	if q.After != nil && q.Backward {
		return nil, fmt.Errorf("store: listing the audit log: both after and before")
	}
	order := "al.at DESC, al.id DESC"
	if q.Backward {
		// Read oldest-first from the cursor, then turn the page round.
		order = "al.at ASC, al.id ASC"
	}
	// keyset puts the cursor and the order on sel, and takes one more
	// entry than the page, which tells whether another page follows.
	keyset := func(sel *bun.SelectQuery) *bun.SelectQuery {
		if q.After != nil {
			sel = sel.Where("(al.at, al.id) < (?, ?)", q.After.At, q.After.ID)
		}
		if q.Before != nil {
			sel = sel.Where("(al.at, al.id) > (?, ?)", q.Before.At, q.Before.ID)
		}
		return sel.OrderExpr(order).Limit(int64(q.First) + 1)
	}
	var entries []*models.AuditEntry
	page := &models.Page[*models.AuditEntry]{}
	switch {
	case drive == nil:
		if err := keyset(filter(s.db.NewSelect().Model(&entries))).Scan(ctx); err != nil {
			return nil, fmt.Errorf("store: listing the audit log: %w", err)
		}
	case len(drive) == 0:
		// A name or search that matched nobody: nothing to list or count.
		return page, nil
	default:
		branch := func(col, typ string) *bun.SelectQuery {
			inner := keyset(filter(s.db.NewSelect().TableExpr("audit_log AS al").ColumnExpr("al.*").Where(col + " = k.id")))
			return s.db.NewSelect().TableExpr("unnest(?::"+typ+"[]) AS k (id)", pgdialect.Array(drive)).
				Join("CROSS JOIN LATERAL (?) AS al", inner).ColumnExpr("al.*")
		}
		// UNION, not UNION ALL: a user's own login is theirs as actor and
		// as target, and is one entry.
		both := branch("al.actor_id", "uuid").Union(branch("al.target", "text"))
		if err := s.db.NewSelect().Model(&entries).ModelTableExpr("(?) AS al", both).
			OrderExpr(order).Limit(int64(q.First) + 1).Scan(ctx); err != nil {
			return nil, fmt.Errorf("store: listing the audit log: %w", err)
		}
	}
	more := len(entries) > q.First
	if more {
		entries = entries[:q.First]
	}
	page.Items = entries
	if q.Backward {
		slices.Reverse(page.Items)
		page.HasPreviousPage, page.HasNextPage = more, q.Before != nil
	} else {
		page.HasNextPage, page.HasPreviousPage = more, q.After != nil
	}
	for _, e := range page.Items {
		page.Cursors = append(page.Cursors, AuditCursor{At: e.At, ID: e.ID}.Encode())
	}
	if q.WithTotal {
		count := filter(s.db.NewSelect().Model((*models.AuditEntry)(nil)))
		if drive != nil {
			ids := func(col, typ string) *bun.SelectQuery {
				return filter(s.db.NewSelect().TableExpr("audit_log AS al").Column("al.id").
					Where(col+" = ANY(?::"+typ+"[])", pgdialect.Array(drive)))
			}
			count = s.db.NewSelect().TableExpr("(?) AS al", ids("al.actor_id", "uuid").Union(ids("al.target", "text")))
		}
		n, err := count.Count(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: counting the audit log: %w", err)
		}
		page.TotalCount = int(n)
	}
	return page, nil
}

// AuditName is what AuditNames found for an id: a user's nickname (nil for
// none) and whether the user is erased, or an admin's username.
type AuditName struct {
	Kind   string // models.AuditTargetUser or models.AuditTargetAdmin
	Name   *string
	Erased bool
}

// AuditNames looks up the users and admins among ids (each in its
// 36-character form), in one statement: the names of a page of audit
// entries. An id of neither is absent from the map.
func (s *Store) AuditNames(ctx context.Context, ids []string) (map[string]AuditName, error) {
	out := make(map[string]AuditName, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID     string
		Kind   string
		Name   *string
		Erased bool
	}
	arr := pgdialect.Array(ids)
	err := s.db.NewRaw(`SELECT u.id, 'user' AS kind, u.nickname AS name, u.deleted_at IS NOT NULL AS erased FROM users AS u WHERE u.id = ANY(?::uuid[])
		UNION ALL
		SELECT a.id, 'admin', a.username, false FROM admins AS a WHERE a.id = ANY(?::uuid[])`, arr, arr).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("store: naming audit entries' parties: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = AuditName{Kind: r.Kind, Name: r.Name, Erased: r.Erased}
	}
	return out, nil
}

// AdminIDsNamed returns the ids of the admins whose username starts with
// prefix, whatever its case (an exact name is its own prefix), at most
// limit of them, by username.
func (s *Store) AdminIDsNamed(ctx context.Context, prefix string, limit int) ([]string, error) {
	var ids []string
	err := s.db.NewSelect().Model((*models.Admin)(nil)).Column("a.id").
		Where("lower(a.username) LIKE lower(?)", likeEscaper.Replace(prefix)+"%").
		OrderExpr("lower(a.username)").Limit(int64(limit)).Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("store: finding admins by name: %w", err)
	}
	return ids, nil
}
