package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

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
	// Since keeps entries at or after it.
	Since *time.Time
	// WithTotal asks for TotalCount (a COUNT over every match).
	WithTotal bool
}

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
func (s *Store) ListAudit(ctx context.Context, q AuditQuery) (*models.Page[*models.AuditEntry], error) {
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
		return sel
	}
	if q.Before != nil {
		q.Backward = true
	}
	if q.After != nil && q.Backward {
		return nil, fmt.Errorf("store: listing the audit log: both after and before")
	}
	var entries []*models.AuditEntry
	sel := filter(s.db.NewSelect().Model(&entries))
	order := "al.at DESC, al.id DESC"
	if q.After != nil {
		sel = sel.Where("(al.at, al.id) < (?, ?)", q.After.At, q.After.ID)
	}
	if q.Backward {
		// Read oldest-first from the cursor, then turn the page round.
		order = "al.at ASC, al.id ASC"
		if q.Before != nil {
			sel = sel.Where("(al.at, al.id) > (?, ?)", q.Before.At, q.Before.ID)
		}
	}
	if err := sel.OrderExpr(order).Limit(int64(q.First) + 1).Scan(ctx); err != nil {
		return nil, fmt.Errorf("store: listing the audit log: %w", err)
	}
	more := len(entries) > q.First
	if more {
		entries = entries[:q.First]
	}
	page := &models.Page[*models.AuditEntry]{Items: entries}
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
		n, err := filter(s.db.NewSelect().Model((*models.AuditEntry)(nil))).Count(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: counting the audit log: %w", err)
		}
		page.TotalCount = int(n)
	}
	return page, nil
}
