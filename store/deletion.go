package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"

	"wxlogin/models"
)

// Account deletion (deleteAccount, deleteUser, the erasure job).
//
// Lock order. A login locks its identity row and then its user row; a
// merge the merged-away identities and then the user rows. An erasure
// locks the user row first (the job picks its users with SKIP LOCKED),
// and then the user's identities with NOWAIT: when a login holds one, the
// erasure gives up on that user for now instead of waiting for a login
// that waits for it (a deadlock PostgreSQL would break only after
// deadlock_timeout). The login then goes first — and cancels a pending
// deletion — and the erasure tries again later. A login that found an
// identity (or a unionid) just before an erasure deleted it, and then
// meets the erased user, rolls back and runs again: it becomes a first
// login and makes a new user (errUserErased). So no login ever lands in a
// half-erased account, and every erasure is one transaction.

// The deletion states of UserQuery.Deletion (the GraphQL DeletionState).
const (
	DeletionNone    = "NONE"
	DeletionPending = "PENDING"
	DeletionErased  = "ERASED"
)

// errUserErased: a login reached a user that an erasure committed since
// the login's lookups; Login runs the login again from the start.
var errUserErased = errors.New("store: the user was erased during the login")

// ErrErasureBusy is EraseUser's answer when a login of the user kept its
// identities locked through every attempt: try again shortly.
var ErrErasureBusy = errors.New("store: a login of the user is in progress; erase later")

// AvatarPrefix is how an uploaded avatar's stored URL starts
// (profile.AvatarPath): the rest is its blob key.
const AvatarPrefix = "/avatars/"

// Erasure is what erasing one user did.
type Erasure struct {
	// User is the tombstone: id, created_at and deleted_at.
	User *models.User
	// Identities and Sessions count the rows deleted.
	Identities, Sessions int
	// AvatarKeys are the blob keys of uploaded avatars that no user
	// references any more: the caller deletes the files (after the commit,
	// which the store cannot do for it).
	AvatarKeys []string
}

// RequestDeletion schedules the erasure of user id at now+grace and, in
// the same transaction, revokes every live session of the user (the
// sessions trigger tells every instance's session cache) and writes
// audit (user.delete_requested, with erasesAt and sessionsRevoked added
// to its detail). A second call while the deletion is pending keeps the
// first schedule and writes no audit row. A disabled user may ask too.
// ErrNotFound when there is no such user, or it is erased.
func (s *Store) RequestDeletion(ctx context.Context, id string, grace time.Duration, audit *models.AuditEntry) (*models.User, error) {
	u := &models.User{ID: id}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		err := tx.NewSelect().Model(u).WherePK().Where("u.deleted_at IS NULL").For("UPDATE").Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return fmt.Errorf("locking user: %w", err)
		}
		return requestDeletionLocked(ctx, tx, u, grace, audit)
	})
	if errors.Is(err, ErrNotFound) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("store: requesting deletion: %w", err)
	}
	return u, nil
}

// requestDeletionLocked is RequestDeletion of u, whose row tx holds locked.
func requestDeletionLocked(ctx context.Context, tx bun.Tx, u *models.User, grace time.Duration, audit *models.AuditEntry) error {
	first := u.ErasesAt == nil
	if first {
		_, err := tx.NewUpdate().Model(u).WherePK().
			Set("deletion_requested_at = now()").
			Set("erase_at = now() + ?::interval", interval(grace)).
			Returning("*").Exec(ctx)
		if err != nil {
			return fmt.Errorf("scheduling erasure: %w", err)
		}
	}
	// Every time, not only the first: a session that somehow began
	// since (none should) ends too.
	res, err := tx.NewUpdate().Model((*models.Session)(nil)).Set("revoked_at = now()").
		Where("user_id = ? AND revoked_at IS NULL", u.ID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("revoking sessions: %w", err)
	}
	if !first || audit == nil {
		return nil
	}
	n, _ := res.RowsAffected()
	if audit.Detail == nil {
		audit.Detail = map[string]any{}
	}
	audit.Detail["erasesAt"] = u.ErasesAt.UTC().Format(time.RFC3339)
	audit.Detail["sessionsRevoked"] = n
	return writeAudit(ctx, tx, audit)
}

// WechatUser is a WeChat user as code2session named them: the openid in
// one mini program and, when the app is bound to an open platform
// account, the unionid.
type WechatUser struct {
	Provider, AppID, OpenID string
	// UnionID may be empty.
	UnionID string
}

// requestDeletionAttempts bounds RequestDeletionOf's runs when a merge or
// an erasure moved the WeChat user's identity between its lookup and its
// lock: each takes milliseconds, and the next run sees where it went.
const requestDeletionAttempts = 3

// RequestDeletionOf is RequestDeletion for a caller without a session
// (deleteAccount with a wx.login() code, which a disabled user can still
// get): the accounts are the user holding w's identity and every user
// holding w's unionid, which a login would merge into one (they are the
// same person's). Each is scheduled, its live sessions revoked and a copy
// of audit written (with its ActorID and Target set to the user), as
// RequestDeletion does; the first of the answer is the identity's user
// (else the oldest unionid holder). Nothing else changes: no identity is
// made or learns the unionid, no users are merged, no login is recorded,
// a disabled user stays disabled. It takes the unionid's lock as a login
// does, so the person's logins take turns with it. ErrNotFound when no
// account that is not erased has w's identity or unionid.
func (s *Store) RequestDeletionOf(ctx context.Context, w WechatUser, grace time.Duration, audit models.AuditEntry) ([]*models.User, error) {
	var users []*models.User
	for range requestDeletionAttempts {
		moved := false
		err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			var ids []string
			if w.UnionID != "" {
				var err error
				if ids, err = usersByUnionID(ctx, tx, w.Provider, w.UnionID); err != nil {
					return err
				}
			}
			var owner []string
			if err := tx.NewSelect().Model((*models.Identity)(nil)).Column("i.user_id").
				Where("i.provider = ? AND i.appid = ? AND i.openid = ?", w.Provider, w.AppID, w.OpenID).
				Scan(ctx, &owner); err != nil {
				return fmt.Errorf("finding identity: %w", err)
			}
			// The identity's user first: the account this mini program
			// signs in to.
			for _, id := range owner {
				ids = append([]string{id}, slices.DeleteFunc(ids, func(x string) bool { return x == id })...)
			}
			if len(ids) == 0 {
				return ErrNotFound
			}
			users = nil
			if err := tx.NewSelect().Model(&users).Where("u.id IN (?) AND u.deleted_at IS NULL", bun.List(ids)).
				OrderExpr("u.id").For("UPDATE").Scan(ctx); err != nil {
				return fmt.Errorf("locking users: %w", err)
			}
			if len(users) != len(ids) {
				// Merged away or erased since the lookup (users are locked
				// after it): look again.
				moved = true
				return nil
			}
			slices.SortFunc(users, func(a, b *models.User) int {
				return slices.Index(ids, a.ID) - slices.Index(ids, b.ID)
			})
			for _, u := range users {
				a := audit
				a.ID, a.ActorID, a.Target, a.Detail = "", &u.ID, &u.ID, maps.Clone(audit.Detail)
				if err := requestDeletionLocked(ctx, tx, u, grace, &a); err != nil {
					return err
				}
			}
			return nil
		})
		switch {
		case errors.Is(err, ErrNotFound):
			return nil, err
		case err != nil:
			return nil, fmt.Errorf("store: requesting deletion: %w", err)
		case !moved:
			return users, nil
		}
	}
	return nil, fmt.Errorf("store: requesting deletion: the WeChat user's accounts kept changing")
}

// cancelDeletion clears u's pending deletion inside a login's
// transaction, auditing user.delete_cancelled with the login.
func cancelDeletion(ctx context.Context, tx bun.Tx, u *models.User, p LoginParams) error {
	// bun scans NULL into a non-nil pointer as the zero time.
	u.DeletionRequestedAt, u.ErasesAt = nil, nil
	_, err := tx.NewUpdate().Model(u).WherePK().
		Set("deletion_requested_at = NULL").Set("erase_at = NULL").Set("updated_at = now()").
		Returning("*").Exec(ctx)
	if err != nil {
		return fmt.Errorf("cancelling deletion: %w", err)
	}
	return writeAudit(ctx, tx, &models.AuditEntry{ActorKind: "user", ActorID: &u.ID, Action: "user.delete_cancelled",
		Target: &u.ID, IP: p.Session.IP, Detail: map[string]any{"appid": p.AppID, "session": p.Session.ID}})
}

// eraseAttempts and eraseRetryWait bound EraseUser's waiting for a login
// of the user to finish: a login transaction takes milliseconds.
const (
	eraseAttempts  = 50
	eraseRetryWait = 20 * time.Millisecond
)

// EraseUser erases user id at once, pending deletion or not (deleteUser,
// a grace of 0, and WeChat's own account-deletion notice): its personal
// columns, identities, sessions and consents go, and its audit entries
// lose their IP and personal detail, in one transaction that also writes
// audit (action user.erase; identities and sessions are added to its
// detail; an actor of kind "user" is written without an IP, which would
// be the erased user's). ErrNotFound when there is no such user or it is
// erased already; ErrErasureBusy when logins of the user kept it busy.
func (s *Store) EraseUser(ctx context.Context, id string, audit *models.AuditEntry) (*Erasure, error) {
	for range eraseAttempts {
		var out []*Erasure
		err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			var users []*models.User
			err := tx.NewSelect().Model(&users).Where("u.id = ? AND u.deleted_at IS NULL", id).For("UPDATE").Scan(ctx)
			if err != nil {
				return fmt.Errorf("locking user: %w", err)
			}
			if len(users) == 0 {
				return ErrNotFound
			}
			out, err = eraseLocked(ctx, tx, users, audit)
			return err
		})
		switch {
		case err == nil:
			return out[0], nil
		case errors.Is(err, ErrNotFound):
			return nil, err
		case !isLockBusy(err):
			return nil, fmt.Errorf("store: erasing user: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("store: erasing user: %w", ctx.Err())
		case <-time.After(eraseRetryWait):
		}
	}
	return nil, ErrErasureBusy
}

// EraseDue erases up to batch users whose cooling-off period has ended,
// oldest due first, in one transaction, and returns what it erased. Users
// another transaction holds (another instance's job, a login, an admin)
// are skipped, not waited for: several instances may run it at once, and
// each erasure commits once or not at all, so a crash or a database
// restart loses nothing but the batch's transaction, which the next run
// does again. audit is the template of each user.erase entry (its Target
// and Detail are filled per user). When a login holds an identity of one
// of the batch's users, the batch is done again one user at a time and
// that user is left for the next run.
func (s *Store) EraseDue(ctx context.Context, batch int, audit models.AuditEntry) ([]*Erasure, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("store: erasing due users: batch %d must be positive", batch)
	}
	var out []*Erasure
	var ids []string
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		users, err := dueUsers(ctx, tx, batch, nil)
		if err != nil || len(users) == 0 {
			return err
		}
		for _, u := range users {
			ids = append(ids, u.ID)
		}
		out, err = eraseLocked(ctx, tx, users, &audit)
		return err
	})
	if err == nil {
		return out, nil
	}
	if len(ids) == 0 { // the batch could not even be picked
		return nil, fmt.Errorf("store: erasing due users: %w", err)
	}
	// Any error — a login holding an identity, a statement timeout, a
	// broken row — and the batch is done again one user at a time, so one
	// user cannot keep everybody due after them from being erased.
	out = nil
	var errs []error
	for _, id := range ids {
		var one []*Erasure
		err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			users, err := dueUsers(ctx, tx, 1, &id)
			if err != nil || len(users) == 0 {
				return err
			}
			one, err = eraseLocked(ctx, tx, users, &audit)
			return err
		})
		if isLockBusy(err) {
			continue // a login of the user is running: it may cancel; next run otherwise
		} else if err != nil {
			// Pushed back, so that the next runs, which pick the oldest
			// due first, get to the others; it is tried again later.
			_, perr := s.db.NewUpdate().Model((*models.User)(nil)).
				Set("erase_at = now() + ?::interval", interval(eraseRetryLater)).
				Where("id = ? AND erase_at IS NOT NULL AND deleted_at IS NULL", id).Exec(ctx)
			slog.Warn("erasure of a due user failed; retrying later", "user", id, "retryIn", eraseRetryLater.String(),
				"err", err, "postponeErr", perr)
			errs = append(errs, fmt.Errorf("user %s: %w", id, err))
			continue
		}
		out = append(out, one...)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("store: erasing due users: %w", errors.Join(errs...))
	}
	return out, nil
}

// eraseRetryLater is how far EraseDue pushes back the erase_at of a user
// whose erasure failed on its own.
const eraseRetryLater = time.Hour

// dueUsers locks up to n users due for erasure (only id when set),
// skipping those locked elsewhere.
func dueUsers(ctx context.Context, tx bun.Tx, n int, id *string) ([]*models.User, error) {
	var users []*models.User
	q := tx.NewSelect().Model(&users).
		Where("u.erase_at <= now() AND u.deleted_at IS NULL").
		OrderExpr("u.erase_at, u.id").Limit(int64(n)).For("UPDATE SKIP LOCKED")
	if id != nil {
		q = q.Where("u.id = ?", *id)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("locking due users: %w", err)
	}
	return users, nil
}

// isLockBusy reports whether err is a NOWAIT lock that another
// transaction held (55P03), or a deadlock PostgreSQL broke (40P01).
func isLockBusy(err error) bool {
	var pgErr pgdriver.Error
	if !errors.As(err, &pgErr) {
		return false
	}
	c := pgErr.Field('C')
	return c == "55P03" || c == "40P01"
}

// eraseLocked erases users, whose rows tx holds locked, and writes a
// user.erase entry per user from the template audit.
func eraseLocked(ctx context.Context, tx bun.Tx, users []*models.User, audit *models.AuditEntry) ([]*Erasure, error) {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	// NOWAIT: see the lock order above.
	var identities []struct {
		UserID string `bun:"user_id"`
		OpenID string `bun:"openid"`
	}
	if err := tx.NewSelect().Model((*models.Identity)(nil)).Column("i.user_id", "i.openid").
		Where("i.user_id IN (?)", bun.List(ids)).OrderExpr("i.id").For("UPDATE NOWAIT").Scan(ctx, &identities); err != nil {
		return nil, fmt.Errorf("locking identities: %w", err)
	}
	nIdent := map[string]int{}
	var openIDs []string
	for _, i := range identities {
		nIdent[i.UserID]++
		openIDs = append(openIDs, i.OpenID)
	}
	var sessions []string
	if err := tx.NewDelete().Model((*models.Session)(nil)).Where("user_id IN (?)", bun.List(ids)).
		Returning("user_id").Scan(ctx, &sessions); err != nil {
		return nil, fmt.Errorf("deleting sessions: %w", err)
	}
	nSess := map[string]int{}
	for _, id := range sessions {
		nSess[id]++
	}
	if _, err := tx.NewDelete().Model((*models.Identity)(nil)).Where("user_id IN (?)", bun.List(ids)).Exec(ctx); err != nil {
		return nil, fmt.Errorf("deleting identities: %w", err)
	}
	if _, err := tx.NewDelete().Model((*models.Consent)(nil)).Where("user_id IN (?)", bun.List(ids)).Exec(ctx); err != nil {
		return nil, fmt.Errorf("deleting consents: %w", err)
	}
	// Content security: the nickname, avatar URL and trace ids checked.
	for _, table := range []string{"user_moderation", "media_checks"} {
		if _, err := tx.NewDelete().TableExpr(table).Where("user_id IN (?)", bun.List(ids)).Exec(ctx); err != nil {
			return nil, fmt.Errorf("deleting %s: %w", table, err)
		}
	}
	// The pushes WeChat sent about the users keep that they came (their
	// key answers WeChat's retries) but not whose openid they named nor
	// their detail (a revokeInfo, what was removed).
	pushQ := tx.NewUpdate().TableExpr("wechat_pushes").Set("openid = NULL, user_id = NULL, detail = '{}'").
		Where("user_id IN (?)", bun.List(ids))
	if len(openIDs) > 0 {
		pushQ = pushQ.WhereOr("openid IN (?)", bun.List(openIDs))
	}
	if _, err := pushQ.Exec(ctx); err != nil {
		return nil, fmt.Errorf("scrubbing pushes: %w", err)
	}
	scrub, err := mergedAway(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	if err := scrubAudit(ctx, tx, scrub); err != nil {
		return nil, err
	}
	avatars := map[string]bool{}
	for _, u := range users {
		if u.AvatarURL != nil && strings.HasPrefix(*u.AvatarURL, AvatarPrefix) {
			avatars[*u.AvatarURL] = true
		}
	}
	var tombs []*models.User
	if err := tx.NewUpdate().Model(&tombs).
		Set("nickname = NULL, avatar_url = NULL, gender = NULL, language = NULL, city = NULL, province = NULL, country = NULL").
		Set("phone = NULL, phone_country_code = NULL, disabled_at = NULL, disabled_reason = NULL, disabled_by = NULL, last_login_at = NULL").
		Set("deletion_requested_at = NULL, erase_at = NULL, deleted_at = now(), updated_at = now()").
		Where("u.id IN (?) AND u.deleted_at IS NULL", bun.List(ids)).Returning("*").Scan(ctx); err != nil {
		return nil, fmt.Errorf("erasing users: %w", err)
	}
	// An avatar is content-addressed: another user with the same picture
	// has the same file, which stays.
	var shared []string
	if len(avatars) > 0 {
		if err := tx.NewSelect().Model((*models.User)(nil)).ColumnExpr("DISTINCT u.avatar_url").
			Where("u.avatar_url IN (?)", bun.List(slices.Collect(maps.Keys(avatars)))).Scan(ctx, &shared); err != nil {
			return nil, fmt.Errorf("finding shared avatars: %w", err)
		}
	}
	for _, url := range shared {
		delete(avatars, url)
	}
	byID := map[string]*models.User{}
	for _, u := range users {
		byID[u.ID] = u
	}
	out := make([]*Erasure, 0, len(tombs))
	var entries []*models.AuditEntry
	for _, t := range tombs {
		e := &Erasure{User: t, Identities: nIdent[t.ID], Sessions: nSess[t.ID]}
		if old := byID[t.ID]; old.AvatarURL != nil && avatars[*old.AvatarURL] {
			e.AvatarKeys = []string{strings.TrimPrefix(*old.AvatarURL, AvatarPrefix)}
		}
		out = append(out, e)
		if audit == nil {
			continue
		}
		a := *audit
		a.ID, a.Target = NewID(), &t.ID
		a.Detail = maps.Clone(audit.Detail)
		if a.Detail == nil {
			a.Detail = map[string]any{}
		}
		a.Detail["identities"], a.Detail["sessions"] = e.Identities, e.Sessions
		if a.ActorKind == "user" {
			a.IP = nil // the erased user's own address
		}
		entries = append(entries, &a)
	}
	if len(entries) > 0 {
		// One statement for the batch.
		if _, err := tx.NewInsert().Model(&entries).Exec(ctx); err != nil {
			return nil, fmt.Errorf("writing audit entries: %w", err)
		}
	}
	slices.SortFunc(out, func(a, b *Erasure) int { return strings.Compare(a.User.ID, b.User.ID) })
	return out, nil
}

// scrubbedDetailKeys are the audit detail keys that hold personal data:
// bindPhoneNumber's masked number and country code, a user agent.
var scrubbedDetailKeys = []string{"phone", "countryCode", "userAgent", "openid"}

// mergedAway returns ids and, recursively, the users merged into them
// (user.merge audit rows: target the survivor, detail "from" the merged
// away): one account, whose audit rows are scrubbed together.
func mergedAway(ctx context.Context, tx bun.Tx, ids []string) ([]string, error) {
	seen := map[string]bool{}
	all := slices.Clone(ids)
	for _, id := range ids {
		seen[id] = true
	}
	for next := ids; len(next) > 0; {
		var from []string
		if err := tx.NewSelect().Model((*models.AuditEntry)(nil)).ColumnExpr("DISTINCT al.detail->>'from'").
			Where("al.action = 'user.merge' AND al.target IN (?) AND al.detail->>'from' IS NOT NULL", bun.List(next)).
			Scan(ctx, &from); err != nil {
			return nil, fmt.Errorf("finding merged-away users: %w", err)
		}
		next = nil
		for _, f := range from {
			if f != "" && !seen[f] {
				seen[f] = true
				next = append(next, f)
				all = append(all, f)
			}
		}
	}
	return all, nil
}

// scrubChunk bounds one statement of scrubAudit: a user with tens of
// thousands of audit rows is scrubbed in many short statements (each well
// under the admin pool's statement_timeout) instead of one that times out.
const scrubChunk = 1000

// scrubAudit removes the personal data from the audit rows by or about
// the users ids, in chunks. The audit log keeps what happened, not who the
// person was: the rows keep their action, time and ids and lose the
// detail keys holding personal data (scrubbedDetailKeys). Only the rows
// the users wrote themselves (actor_kind user: their logins, their own
// requests) lose their IP; an admin's row about the user keeps the
// admin's IP, which is the admin's data, not the user's.
func scrubAudit(ctx context.Context, tx bun.Tx, ids []string) error {
	keys := pgdialect.Array(scrubbedDetailKeys)
	own := bun.SafeQuery("al.actor_kind = 'user' AND al.actor_id IN (?)", bun.List(ids))
	for _, col := range []string{"actor_id", "target"} {
		for {
			res, err := tx.NewUpdate().Model((*models.AuditEntry)(nil)).
				Set("ip = CASE WHEN ? THEN NULL ELSE al.ip END", own).
				Set("detail = al.detail - ?::text[]", keys).
				Where("al.id IN (SELECT a.id FROM audit_log a WHERE ? IN (?) AND ((a.actor_kind = 'user' AND a.actor_id IN (?) AND a.ip IS NOT NULL) OR a.detail <> a.detail - ?::text[]) LIMIT ?)",
					bun.Ident("a."+col), bun.List(ids), bun.List(ids), keys, scrubChunk).
				Exec(ctx)
			if err != nil {
				return fmt.Errorf("scrubbing audit entries: %w", err)
			}
			if n, _ := res.RowsAffected(); n < scrubChunk {
				break
			}
		}
	}
	return nil
}

// CountPendingDeletion counts users whose deletion is pending.
func (s *Store) CountPendingDeletion(ctx context.Context) (int, error) {
	n, err := s.db.NewSelect().TableExpr("users").Where("erase_at IS NOT NULL AND deleted_at IS NULL").Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: counting pending deletions: %w", err)
	}
	return int(n), nil
}

// CountErasedUsers counts erased users (tombstones).
func (s *Store) CountErasedUsers(ctx context.Context) (int, error) {
	n, err := s.db.NewSelect().TableExpr("users").Where("deleted_at IS NOT NULL").Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: counting erased users: %w", err)
	}
	return int(n), nil
}
