package store

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// WriteAudit appends e to the audit log through db, which is the pool
// (s.DB()) or the transaction whose change e records, so that the entry
// commits or rolls back with it. It fills in e.ID (a UUIDv7, when empty) and
// e.At (the transaction's now(), when zero). Keep secrets out of e: see
// models.AuditEntry.
func (s *Store) WriteAudit(ctx context.Context, db bun.IDB, e *models.AuditEntry) error {
	if err := writeAudit(ctx, db, e); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// writeAudit is WriteAudit without the package prefix, for the store's own
// transactions, whose errors get it once at the end.
func writeAudit(ctx context.Context, db bun.IDB, e *models.AuditEntry) error {
	if e.ID == "" {
		e.ID = NewID()
	}
	if _, err := db.NewInsert().Model(e).Returning("at").Exec(ctx); err != nil {
		return fmt.Errorf("writing audit entry: %w", err)
	}
	return nil
}
