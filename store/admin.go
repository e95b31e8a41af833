package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"wxlogin/models"
)

// ErrConflict is returned when a row to be created exists already, such as
// an admin whose username differs from another's only in case.
var ErrConflict = errors.New("store: already exists")

// interval renders d for a ?::interval parameter, to the microsecond
// PostgreSQL keeps.
func interval(d time.Duration) string {
	return fmt.Sprintf("%d microseconds", d.Microseconds())
}

// isUniqueViolation reports whether err is a unique violation of the
// constraint or unique index named constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pgErr pgdriver.Error
	return errors.As(err, &pgErr) && pgErr.Field('C') == "23505" && pgErr.Field('n') == constraint
}

// Admin accounts.

// CreateAdmin inserts a, filling in its ID (when empty) and timestamps, and
// writes audit (when non-nil, its Target set to the new id) in the same
// transaction. Returns ErrConflict when an admin has the same username in
// any case, ErrTooManyAdmins when there are MaxAdmins already.
func (s *Store) CreateAdmin(ctx context.Context, a *models.Admin, audit *models.AuditEntry) error {
	if a.ID == "" {
		a.ID = NewID()
	}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// Counted under the lock, so that creations racing at the bound
		// cannot all pass it.
		if err := lockAdmins(ctx, tx); err != nil {
			return err
		}
		if n, err := tx.NewSelect().Model((*models.Admin)(nil)).Count(ctx); err != nil {
			return err
		} else if n >= MaxAdmins {
			return ErrTooManyAdmins
		}
		if _, err := tx.NewInsert().Model(a).Returning("created_at, updated_at").Exec(ctx); err != nil {
			return err
		}
		if audit != nil {
			audit.Target = &a.ID
			return writeAudit(ctx, tx, audit)
		}
		return nil
	})
	if isUniqueViolation(err, "admins_username_lower_key") {
		return ErrConflict
	} else if errors.Is(err, ErrTooManyAdmins) {
		return err
	} else if err != nil {
		return fmt.Errorf("store: creating admin: %w", err)
	}
	return nil
}

// AdminByUsername returns the admin named username in any case, disabled or
// not. ErrNotFound when there is none.
func (s *Store) AdminByUsername(ctx context.Context, username string) (*models.Admin, error) {
	a := new(models.Admin)
	// lower(…) on both sides, so that admins_username_lower_key serves it.
	err := s.db.NewSelect().Model(a).Where("lower(a.username) = lower(?)", username).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("store: finding admin: %w", err)
	}
	return a, nil
}

// ListAdmins returns every admin, ordered by username regardless of case.
func (s *Store) ListAdmins(ctx context.Context) ([]*models.Admin, error) {
	var admins []*models.Admin
	if err := s.db.NewSelect().Model(&admins).OrderExpr("lower(a.username), a.id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("store: listing admins: %w", err)
	}
	return admins, nil
}

// CountAdmins returns how many admins there are, disabled ones included.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	n, err := s.db.NewSelect().Model((*models.Admin)(nil)).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: counting admins: %w", err)
	}
	return int(n), nil
}

// SetAdminPassword replaces the password hash of the admin named username
// (in any case), as a password of their own (must_change_password
// cleared), and revokes all their sessions in the same transaction: a
// changed password must end whatever the old one opened. ErrNotFound when
// there is no such admin.
func (s *Store) SetAdminPassword(ctx context.Context, username, hash string, audit *models.AuditEntry) error {
	_, err := s.changeAdmin(ctx, "lower(a.username) = lower(?)", username, AdminChange{PasswordHash: hash, Audit: constAudit(audit)})
	return err
}

// SetAdminDisabled disables or enables the admin named username (in any
// case). Disabling revokes all their sessions in the same transaction, so
// that enabling them again does not bring the old sessions back; enabling
// clears disabled_at. ErrNotFound when there is no such admin;
// ErrLastAdmin, with nothing written, for the last enabled ADMIN.
func (s *Store) SetAdminDisabled(ctx context.Context, username string, disabled bool, audit *models.AuditEntry) error {
	_, err := s.changeAdmin(ctx, "lower(a.username) = lower(?)", username, AdminChange{Disabled: &disabled, Audit: constAudit(audit)})
	return err
}

// constAudit is an AdminChange.Audit that writes audit (nil: none) as it is.
func constAudit(audit *models.AuditEntry) func(*models.Admin, int) *models.AuditEntry {
	return func(*models.Admin, int) *models.AuditEntry { return audit }
}

// Brute-force counters.

// AttemptCount is one key's sign-in attempts in its current window.
type AttemptCount struct {
	Key string
	// Count includes the attempt just counted.
	Count int
	// RetryAfter is how long until the window ends (by the database's
	// clock), when the count starts again at zero; never negative.
	RetryAfter time.Duration
}

// loginAttempt is a row of login_attempts.
type loginAttempt struct {
	bun.BaseModel `bun:"table:login_attempts,alias:la"`

	Key string `bun:"key,pk"`
	// WindowStart is set by the database's clock on insert.
	WindowStart time.Time `bun:"window_start"`
	Count       int       `bun:"count"`
	// RetryAfterUS is computed by CountLoginAttempt's RETURNING.
	RetryAfterUS int64 `bun:"retry_after_us,scanonly"`
}

// sortedKeys returns keys sorted bytewise (COLLATE "C" order) without
// duplicates. Statements that lock several counters lock them in this order,
// so that two sign-ins sharing keys never deadlock; and one upsert may not
// touch a row twice.
func sortedKeys(keys []string) []string {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	return slices.Compact(sorted)
}

// CountLoginAttempt counts one sign-in attempt against every key and returns
// each key's count in its current window, in the order of keys. A window
// starts at a key's first attempt and lasts window; the first attempt after
// it starts a new window at 1.
//
// It is one statement (an upsert of every key), so concurrent attempts are
// counted exactly: 60 at once for one key get the counts 1 to 60, each once,
// and no check-then-act gap lets a burst of guesses all see a low count.
func (s *Store) CountLoginAttempt(ctx context.Context, keys []string, window time.Duration) ([]AttemptCount, error) {
	if window <= 0 {
		return nil, fmt.Errorf("store: counting login attempt: window %v must be positive", window)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	sorted := sortedKeys(keys)
	rows := make([]loginAttempt, len(sorted))
	for i, k := range sorted {
		rows[i] = loginAttempt{Key: k, Count: 1}
	}
	iv := interval(window)
	// In ON CONFLICT's SET, la is the row as it was, so both columns decide
	// on the old window_start. now() is this statement's transaction start;
	// one that waited for the row lock behind a window restart sees the new
	// window_start, which is later than its now(), and simply counts on.
	_, err := s.db.NewInsert().Model(&rows).
		Value("window_start", "now()").
		On("CONFLICT (key) DO UPDATE").
		Set("window_start = CASE WHEN la.window_start <= now() - ?::interval THEN now() ELSE la.window_start END", iv).
		Set("count = CASE WHEN la.window_start <= now() - ?::interval THEN 1 ELSE la.count + 1 END", iv).
		Returning("la.key, la.count, (extract(epoch FROM greatest(la.window_start + ?::interval - now(), interval '0')) * 1000000)::bigint AS retry_after_us", iv).
		Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: counting login attempt: %w", err)
	}
	// RETURNING's order is not promised, so results are matched by key.
	byKey := make(map[string]loginAttempt, len(rows))
	for _, r := range rows {
		byKey[r.Key] = r
	}
	counts := make([]AttemptCount, len(keys))
	for i, k := range keys {
		r, ok := byKey[k]
		if !ok {
			// A missing count would read as 0, "not limited": fail closed.
			return nil, fmt.Errorf("store: counting login attempt: no count came back for a key")
		}
		counts[i] = AttemptCount{Key: k, Count: r.Count, RetryAfter: time.Duration(r.RetryAfterUS) * time.Microsecond}
	}
	return counts, nil
}

// UndoLoginAttempt takes back one attempt from each key (never below zero),
// for a sign-in that turned out to succeed, so that successes do not count
// as failures. It decrements rather than resets, so other clients' attempts
// in the window stay counted: a correct password does not wipe out a burst
// of guesses that ran beside it. Keys without a counter are skipped.
func (s *Store) UndoLoginAttempt(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	// The subquery locks the rows in CountLoginAttempt's order (see sortedKeys).
	_, err := s.db.NewUpdate().Model((*loginAttempt)(nil)).
		Set("count = greatest(la.count - 1, 0)").
		Where(`la.key IN (SELECT key FROM login_attempts WHERE key IN (?) ORDER BY key COLLATE "C" FOR UPDATE)`, bun.List(sortedKeys(keys))).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("store: undoing login attempt: %w", err)
	}
	return nil
}

// RecordLoginFailure counts a failed sign-in in its group, named by key,
// and keeps one audit_log row per group and window of length window: the
// window's first failure inserts e (filling in its ID and At, with
// detail.count 1), and each later one sets that row's detail.count to the
// group's count so far and detail.lastAt to now. So a flood writes as many
// rows as it has groups, not failures. It returns the group's count.
//
// The counter is a login_attempts row, which window's purge removes like
// the others. Its row lock is held to the commit, so one group's failures
// take turns: the one that opens a window has committed its audit row
// before the next one reads audit_id and updates that row.
func (s *Store) RecordLoginFailure(ctx context.Context, key string, window time.Duration, e *models.AuditEntry) (int, error) {
	if window <= 0 {
		return 0, fmt.Errorf("store: recording login failure: window %v must be positive", window)
	}
	if e.ID == "" {
		e.ID = NewID()
	}
	iv := interval(window)
	var count int
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var auditID string
		// A row without audit_id (none is written so, but be sure) opens a
		// window too: its failures would otherwise be counted on no row.
		err := tx.NewRaw(`INSERT INTO login_attempts AS la (key, window_start, count, audit_id) VALUES (?0, now(), 1, ?1)
			ON CONFLICT (key) DO UPDATE SET
				window_start = CASE WHEN la.window_start <= now() - ?2::interval OR la.audit_id IS NULL THEN now() ELSE la.window_start END,
				count = CASE WHEN la.window_start <= now() - ?2::interval OR la.audit_id IS NULL THEN 1 ELSE la.count + 1 END,
				audit_id = CASE WHEN la.window_start <= now() - ?2::interval OR la.audit_id IS NULL THEN excluded.audit_id ELSE la.audit_id END
			RETURNING la.count, la.audit_id`, key, e.ID, iv).Scan(ctx, &count, &auditID)
		if err != nil {
			return err
		}
		if auditID != e.ID {
			res, err := tx.NewRaw(`UPDATE audit_log SET detail = detail || jsonb_build_object('count', ?::int, 'lastAt', now()) WHERE id = ?`,
				count, auditID).Exec(ctx)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				return err
			}
			// The window's row is gone (deleted by hand): write it again.
			e.ID = auditID
		}
		if e.Detail == nil {
			e.Detail = map[string]any{}
		}
		e.Detail["count"] = count
		return writeAudit(ctx, tx, e)
	})
	if err != nil {
		return 0, fmt.Errorf("store: recording login failure: %w", err)
	}
	return count, nil
}

// purgeAttemptsBatch is how many counters one PurgeLoginAttempts statement
// deletes at most, so that no statement holds many row locks or runs long.
const purgeAttemptsBatch = 1000

// PurgeLoginAttempts deletes the counters whose window (of length window)
// has ended, which count nothing any more, and returns how many, also
// alongside an error. A counter whose key attempts again meanwhile is kept:
// the delete re-checks a row another statement changed, and skips rows
// another purge is deleting.
func (s *Store) PurgeLoginAttempts(ctx context.Context, window time.Duration) (int, error) {
	if window <= 0 {
		return 0, fmt.Errorf("store: purging login attempts: window %v must be positive", window)
	}
	iv := interval(window)
	total := 0
	for {
		res, err := s.db.NewDelete().Model((*loginAttempt)(nil)).
			Where("la.key IN (SELECT key FROM login_attempts WHERE window_start <= now() - ?::interval LIMIT ? FOR UPDATE SKIP LOCKED)", iv, purgeAttemptsBatch).
			Where("la.window_start <= now() - ?::interval", iv).
			Exec(ctx)
		if err != nil {
			return total, fmt.Errorf("store: purging login attempts: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: purging login attempts: %w", err)
		}
		total += int(n)
		if n < purgeAttemptsBatch {
			return total, nil
		}
	}
}

// Admin sessions.

// AdminLogin records a successful sign-in in one transaction: it inserts
// sess (filling in CreatedAt and LastSeenAt), sets the admin's
// last_login_at, and inserts audit when it is not nil (filling in its ID and
// At). Returns ErrNotFound, having written nothing, when the admin no longer
// exists or is disabled.
//
// When sess.Admin is set, it must be the admin as read before checking the
// password; the sign-in then also fails with ErrNotFound if that password
// hash has been replaced since, so that a password checked just before a
// change cannot open a session after it. On success sess.Admin is the admin
// as now stored.
func (s *Store) AdminLogin(ctx context.Context, sess *models.AdminSession, audit *models.AuditEntry) error {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// First, so that the admin's row is locked: a concurrent
		// SetAdminDisabled or SetAdminPassword either committed before
		// (and this sees it) or waits for this commit (and revokes sess).
		a := new(models.Admin)
		err := tx.NewUpdate().Model(a).
			Set("last_login_at = now()").
			Where("a.id = ? AND a.disabled_at IS NULL", sess.AdminID).
			Returning("*").
			Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return fmt.Errorf("updating admin: %w", err)
		}
		if sess.Admin != nil && sess.Admin.PasswordHash != a.PasswordHash {
			return ErrNotFound
		}
		if _, err := tx.NewInsert().Model(sess).Returning("created_at, last_seen_at").Exec(ctx); err != nil {
			return fmt.Errorf("inserting admin session: %w", err)
		}
		if audit != nil {
			if err := writeAudit(ctx, tx, audit); err != nil {
				return err
			}
		}
		sess.Admin = a
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return err
	} else if err != nil {
		return fmt.Errorf("store: admin login: %w", err)
	}
	return nil
}

// AdminSessionByTokenHash returns the active admin session with tokenHash
// and its admin: not revoked, not expired, used within idle (idle <= 0: no
// idle limit), its admin not disabled. ErrNotFound otherwise. It runs on
// every admin request, so the admin comes without PasswordHash and
// TOTPSecretSealed, which only signing in and TOTP changes need.
func (s *Store) AdminSessionByTokenHash(ctx context.Context, tokenHash []byte, idle time.Duration) (*models.AdminSession, *models.Admin, error) {
	sess := new(models.AdminSession)
	q := s.db.NewSelect().Model(sess).
		Relation("Admin", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.ExcludeColumn("password_hash", "totp_secret_sealed")
		}).
		Where("?TableAlias.token_hash = ?", tokenHash).
		Where("?TableAlias.revoked_at IS NULL").
		Where("?TableAlias.expires_at > now()").
		Where(`"admin"."disabled_at" IS NULL`)
	if idle > 0 {
		q = q.Where("?TableAlias.last_seen_at > now() - ?::interval", interval(idle))
	}
	err := q.Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrNotFound
	} else if err != nil {
		return nil, nil, fmt.Errorf("store: admin session lookup: %w", err)
	}
	return sess, sess.Admin, nil
}

// TouchAdminSession records that the admin session was used, at most once
// per interval so that reads do not turn every request into a write. The
// idle limit of AdminSessionByTokenHash counts from this.
func (s *Store) TouchAdminSession(ctx context.Context, id string, every time.Duration) error {
	_, err := s.db.NewUpdate().Model((*models.AdminSession)(nil)).
		Set("last_seen_at = now()").
		Where("?TableAlias.id = ?", id).
		Where("?TableAlias.last_seen_at < now() - ?::interval", interval(every)).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("store: touching admin session: %w", err)
	}
	return nil
}

// RevokeAdminSession ends one admin session and writes audit (when not nil)
// in the same transaction, so that the log never shows a sign-out that did
// not happen or misses one that did. ErrNotFound, with nothing written, when
// the session is not active (revoked already, expired, or unknown).
func (s *Store) RevokeAdminSession(ctx context.Context, id string, audit *models.AuditEntry) error {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*models.AdminSession)(nil)).
			Set("revoked_at = now()").
			Where("?TableAlias.id = ?", id).
			Where("?TableAlias.revoked_at IS NULL").
			Where("?TableAlias.expires_at > now()").
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("revoking admin session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if audit != nil {
			return writeAudit(ctx, tx, audit)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return err
	} else if err != nil {
		return fmt.Errorf("store: revoking admin session: %w", err)
	}
	return nil
}
