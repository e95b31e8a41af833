package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// ErrLastAdmin is returned, with nothing written, by a change that would
// leave no enabled admin with the ADMIN role: nobody could then manage
// accounts from the page.
var ErrLastAdmin = errors.New("store: the last enabled ADMIN")

// ErrStale is returned, with nothing written, by a change made on the
// condition that the admin's password hash is still the one read before
// (AdminChange.IfPasswordHash) when it has been replaced meanwhile.
var ErrStale = errors.New("store: the admin changed meanwhile")

// ErrTooManyAdmins is returned by CreateAdmin when there are MaxAdmins
// accounts already.
var ErrTooManyAdmins = errors.New("store: too many admin accounts")

// MaxAdmins bounds the admin accounts (disabled ones included), so that
// listing them all (ListAdmins, the admins query) stays one small answer.
const MaxAdmins = 1000

// adminsLock is the key of the transaction-scoped advisory lock that every
// change able to take an enabled ADMIN away (a disable, a demotion) and
// every creation holds: two admins disabling each other at once take
// turns, and the second sees the first's change before it counts who is
// left. Changes that only add (enable, promote) need not wait for it.
const adminsLock = "admins"

// lockAdmins takes adminsLock until tx ends.
func lockAdmins(ctx context.Context, tx bun.Tx) error {
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended(?, 30))", adminsLock); err != nil {
		return fmt.Errorf("locking admins: %w", err)
	}
	return nil
}

// AdminByID returns the admin with id, disabled or not, password hash
// included. ErrNotFound when there is none.
func (s *Store) AdminByID(ctx context.Context, id string) (*models.Admin, error) {
	a := new(models.Admin)
	err := s.db.NewSelect().Model(a).Where("a.id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("store: finding admin: %w", err)
	}
	return a, nil
}

// AdminChange is a change to one admin account, which ChangeAdmin applies
// in one transaction. Zero fields change nothing.
type AdminChange struct {
	// Role, when not empty, becomes the admin's role.
	Role models.Role
	// Disabled, when set, disables (keeping the first disabled_at, and
	// ending every session) or enables the admin.
	Disabled *bool
	// PasswordHash, when not empty, replaces the password hash, and
	// MustChangePassword is stored with it; every session but KeepSession
	// ends.
	PasswordHash       string
	MustChangePassword bool
	// IfPasswordHash, when not empty, is the hash the caller checked a
	// password against: ErrStale if it has been replaced since.
	IfPasswordHash string
	// EndSessions ends every live session of the admin but KeepSession.
	EndSessions bool
	// KeepSession is the id of a session left alive ("" for none): the
	// one changing its own password.
	KeepSession string
	// Audit, when set, returns the entry that records the change, given
	// the admin as it was and how many sessions ended; nil writes none.
	// Its Target is set to the admin's id.
	Audit func(before *models.Admin, ended int) *models.AuditEntry
}

// takesAdmin reports whether ch would take an enabled ADMIN away from
// before (before nil: whether it might, for any admin).
func (ch AdminChange) takesAdmin(before *models.Admin) bool {
	removes := ch.Disabled != nil && *ch.Disabled || ch.Role != "" && ch.Role != models.RoleAdmin
	if before == nil {
		return removes
	}
	return removes && before.Role == models.RoleAdmin && before.DisabledAt == nil
}

// AdminChanged is what ChangeAdmin did.
type AdminChanged struct {
	// Before and After are the admin as it was and as it is now.
	Before, After *models.Admin
	// SessionsEnded is how many live sessions the change ended.
	SessionsEnded int
}

// ChangeAdmin applies ch to the admin with id, ends their sessions as ch
// says and writes ch.Audit's entry, all in one transaction. The admin's row
// is locked first, so that an AdminLogin either commits before (and its
// session is ended here) or waits and sees the change. ErrNotFound when
// there is no such admin; ErrLastAdmin when ch would leave no enabled
// ADMIN; ErrStale (see AdminChange.IfPasswordHash).
func (s *Store) ChangeAdmin(ctx context.Context, id string, ch AdminChange) (*AdminChanged, error) {
	return s.changeAdmin(ctx, "a.id = ?", id, ch)
}

// changeAdmin is ChangeAdmin for the admin that where (with arg) selects,
// by id or by username.
func (s *Store) changeAdmin(ctx context.Context, where string, arg any, ch AdminChange) (*AdminChanged, error) {
	var out AdminChanged
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// The advisory lock before the row's, always in this order, so
		// that two changes never hold one each and wait for the other.
		if ch.takesAdmin(nil) {
			if err := lockAdmins(ctx, tx); err != nil {
				return err
			}
		}
		before := new(models.Admin)
		err := tx.NewSelect().Model(before).Where(where, arg).For("UPDATE").Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return fmt.Errorf("finding admin: %w", err)
		}
		if ch.IfPasswordHash != "" && before.PasswordHash != ch.IfPasswordHash {
			return ErrStale
		}
		if ch.takesAdmin(before) {
			// This statement's snapshot is taken after the lock: it sees
			// every disable and demotion that committed before.
			others, err := tx.NewSelect().Model((*models.Admin)(nil)).
				Where("a.role = ? AND a.disabled_at IS NULL AND a.id <> ?", models.RoleAdmin, before.ID).
				Count(ctx)
			if err != nil {
				return fmt.Errorf("counting admins: %w", err)
			}
			if others == 0 {
				return ErrLastAdmin
			}
		}
		q := tx.NewUpdate().Model((*models.Admin)(nil)).Set("updated_at = now()").Where("a.id = ?", before.ID)
		if ch.Role != "" {
			q = q.Set("role = ?", ch.Role)
		}
		if ch.Disabled != nil {
			if *ch.Disabled {
				// Keep the first disabled_at: it says since when.
				q = q.Set("disabled_at = COALESCE(a.disabled_at, now())")
			} else {
				q = q.Set("disabled_at = NULL")
			}
		}
		if ch.PasswordHash != "" {
			q = q.Set("password_hash = ?", ch.PasswordHash).Set("must_change_password = ?", ch.MustChangePassword)
		}
		after := new(models.Admin)
		if err := q.Returning("*").Scan(ctx, after); err != nil {
			// err never quotes the hash: pgdriver's message leaves out the row.
			return fmt.Errorf("updating admin: %w", err)
		}
		ended := 0
		if ch.EndSessions || ch.PasswordHash != "" || ch.Disabled != nil && *ch.Disabled {
			if ended, err = endAdminSessions(ctx, tx, before.ID, ch.KeepSession); err != nil {
				return err
			}
		}
		out = AdminChanged{Before: before, After: after, SessionsEnded: ended}
		if ch.Audit != nil {
			if e := ch.Audit(before, ended); e != nil {
				e.Target = &before.ID
				return writeAudit(ctx, tx, e)
			}
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrLastAdmin) || errors.Is(err, ErrStale) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("store: changing admin: %w", err)
	}
	return &out, nil
}

// endAdminSessions revokes every live session of the admin with id but
// keep ("" for none) and returns how many. Expired sessions are left as
// they are: they ended already.
func endAdminSessions(ctx context.Context, db bun.IDB, adminID, keep string) (int, error) {
	q := db.NewUpdate().Model((*models.AdminSession)(nil)).
		Set("revoked_at = now()").
		Where("admin_id = ? AND revoked_at IS NULL AND expires_at > now()", adminID)
	if keep != "" {
		q = q.Where("id <> ?", keep)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("revoking admin sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
