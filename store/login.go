package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"syscall"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"wxlogin/models"
)

// ErrUserDisabled is returned by Login when the user has been disabled.
var ErrUserDisabled = errors.New("store: user disabled")

// NewID returns a time-ordered UUIDv7, so ids index and paginate in creation order.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// LoginParams is what a successful WeChat exchange tells us, plus the new
// session to record.
type LoginParams struct {
	Provider string
	AppID    string
	OpenID   string
	// UnionID may be empty; once known it is kept and joins apps' identities.
	UnionID string
	// Profile, when set, overwrites the user's profile columns.
	Profile *models.Profile
	// Session is inserted as given; its UserID and IdentityID are filled in.
	Session *models.Session
}

// LoginResult is the user and identity a login resolved to.
type LoginResult struct {
	User     *models.User
	Identity *models.Identity
	// Created reports whether this login made the user.
	Created bool
	// MergedFrom lists the users this login merged into User (and deleted):
	// its unionid showed them to be the same person. Usually empty.
	MergedFrom []string
	// DeletionCancelled reports that the user's deletion was pending and
	// this login cancelled it (user.delete_cancelled is in the audit log).
	DeletionCancelled bool
}

// Login finds or creates the identity and user for p and records p.Session,
// all in one transaction: a failure leaves nothing behind, and any number of
// concurrent first logins of one openid make exactly one user. A user with
// the same unionid in another app of the same provider is reused.
// Returns ErrUserDisabled for a disabled user, recording no session (nor
// login time or profile); only the unionid the login carried is kept, and
// any merge it showed. A login of a user whose deletion is pending cancels
// it (LoginResult.DeletionCancelled) unless the user is disabled; one of
// an erased user's WeChat account makes a new user.
//
// When p.UnionID shows that users so far apart are one person (an identity
// learns the unionid another user's identity already has), they are merged
// into the oldest in the same transaction: see mergeUsers. Such a merge is
// kept even when the merged user turns out disabled and the login is refused.
//
// WeChat has already spent the login code by the time we get here, so a
// connection that turns out dead (the server restarted, or an operator
// terminated it) does not fail the login: the transaction runs once more on
// a connection known to answer.
func (s *Store) Login(ctx context.Context, p LoginParams) (*LoginResult, error) {
	// Most logins are a returning user's: one statement (relogin); most
	// others a first login (firstLogin: one statement after the unionid's
	// lock). Each writes nothing when it does not apply, and the general
	// transaction below runs instead.
	res, err := s.relogin(ctx, p)
	if errors.Is(err, errNotOneStatement) {
		res, err = s.firstLogin(ctx, p)
	}
	switch {
	case err == nil:
		return res, nil
	case connDied(err) && ctx.Err() == nil:
		// It may have committed: loginRetry finds the session if so.
		if res, err = s.loginRetry(ctx, p); err != nil && !errors.Is(err, ErrUserDisabled) {
			return nil, fmt.Errorf("store: login: %w", err)
		}
		return res, err
	case !s.fallsBack(err):
		return nil, fmt.Errorf("store: login: %w", err)
	}
	res, err = runLogin(ctx, s.db, p)
	// Logins lock rows in one order (identity, then users by id), so they
	// should not deadlock; a rare one with a writer that locks otherwise is
	// rolled back whole by PostgreSQL and can run again. So is one that
	// met a user erased since it looked the identity up: run again, it
	// finds no identity and makes a new user (see store/deletion.go).
	for i := 0; i < maxDeadlockRetries && err != nil && (isDeadlock(err) || errors.Is(err, errUserErased)) && ctx.Err() == nil; i++ {
		res, err = runLogin(ctx, s.db, p)
	}
	if err != nil && connDied(err) && ctx.Err() == nil {
		res, err = s.loginRetry(ctx, p)
	}
	if err != nil {
		if errors.Is(err, ErrUserDisabled) {
			return nil, err
		}
		return nil, fmt.Errorf("store: login: %w", err)
	}
	return res, nil
}

// txRunner is what runs a login transaction: the pool, or one connection.
type txRunner interface {
	RunInTx(ctx context.Context, opts *sql.TxOptions, fn func(ctx context.Context, tx bun.Tx) error) error
}

func runLogin(ctx context.Context, db txRunner, p LoginParams) (*LoginResult, error) {
	var res *LoginResult
	disabled := false
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		res, err = login(ctx, tx, p)
		if errors.Is(err, errRefusedKeep) {
			// Commit what the login learned, refuse the login.
			disabled = true
			return nil
		}
		return err
	})
	if err == nil && disabled {
		return nil, ErrUserDisabled
	}
	return res, err
}

// errRefusedKeep is login's ErrUserDisabled when the identity's unionid (and
// any merge it led to) is to be kept: that commits, the session does not.
var errRefusedKeep = errors.New("store: user disabled; keeping the unionid")

// maxDeadlockRetries bounds how often Login runs again after a deadlock.
const maxDeadlockRetries = 3

// isDeadlock reports whether PostgreSQL broke a deadlock by aborting err's
// transaction (40P01), which may then simply run again.
func isDeadlock(err error) bool {
	var pgErr pgdriver.Error
	return errors.As(err, &pgErr) && pgErr.Field('C') == "40P01"
}

// loginRetry runs the login transaction a second time, after the first
// attempt's connection died.
//
// The first attempt may have died during COMMIT after the server had
// committed. The session is inserted again with the same id and token hash,
// so that case shows up as a unique violation on the session, and the
// committed login is returned instead. A fresh session id would not do: the
// token hash is unique too, and the committed session's token is the one
// the caller is about to hand out.
func (s *Store) loginRetry(ctx context.Context, p LoginParams) (*LoginResult, error) {
	conn, err := s.liveConn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	res, err := runLogin(ctx, conn, p)
	if err != nil && isSessionConflict(err) {
		return recordedLogin(ctx, conn, p.Session)
	}
	return res, err
}

// liveConn returns a pooled connection that has just answered. database/sql
// hands out idle connections without checking them (pgdriver's IsValid
// and ResetSession only look at its own closed flag), and after a server
// restart every idle one is dead: each failed ping drops one, and once none
// is left the pool dials a new connection.
func (s *Store) liveConn(ctx context.Context) (bun.Conn, error) {
	for range s.maxConns + 1 {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return bun.Conn{}, err
		}
		err = conn.PingContext(ctx)
		if err == nil {
			return conn, nil
		}
		// pgdriver has marked the connection closed, so the pool discards it.
		_ = conn.Close()
		if !connDied(err) || ctx.Err() != nil {
			return bun.Conn{}, err
		}
	}
	return bun.Conn{}, errors.New("no live connection to the database")
}

// connDied reports whether err says the connection broke, so that nothing
// the statement did can have outlived it except through a COMMIT. A timeout
// is not one: the statement may still be running, and the caller's ctx is
// what ran out.
func connDied(err error) bool {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		switch pgErr.Field('C') {
		case "57P01", // admin_shutdown: terminated, or the server shutting down
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now: the server is starting or stopping
			"57P05": // idle_session_timeout: closed while idle in the pool
			return true
		}
		return false
	}
	return errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// isSessionConflict reports whether err is the session's insert hitting a
// session that already exists with its id or token hash.
func isSessionConflict(err error) bool {
	var pgErr pgdriver.Error
	if !errors.As(err, &pgErr) || pgErr.Field('C') != "23505" {
		return false
	}
	switch pgErr.Field('n') {
	case "sessions_pkey", "sessions_token_hash_key":
		return true
	}
	return false
}

// recordedLogin returns the committed login that recorded sess, filling in
// sess as the insert would have. Created is read off the timestamps: a user
// made in the session's own transaction has the same now() as the session.
func recordedLogin(ctx context.Context, db bun.IDB, sess *models.Session) (*LoginResult, error) {
	got := new(models.Session)
	err := db.NewSelect().Model(got).
		Column("s.id", "s.user_id", "s.identity_id", "s.created_at", "s.last_seen_at").
		Relation("User").
		Where("s.id = ? AND s.token_hash = ?", sess.ID, sess.TokenHash).
		Scan(ctx)
	if err != nil {
		// Not ours: the id or token hash collides with another session.
		return nil, fmt.Errorf("finding the session recorded before the connection died: %w", err)
	}
	ident := &models.Identity{ID: got.IdentityID}
	if err := db.NewSelect().Model(ident).WherePK().Scan(ctx); err != nil {
		return nil, fmt.Errorf("finding the identity of the recorded session: %w", err)
	}
	sess.UserID, sess.IdentityID = got.UserID, got.IdentityID
	sess.CreatedAt, sess.LastSeenAt = got.CreatedAt, got.LastSeenAt
	return &LoginResult{User: got.User, Identity: ident, Created: got.User.CreatedAt.Equal(got.CreatedAt)}, nil
}

func login(ctx context.Context, tx bun.Tx, p LoginParams) (*LoginResult, error) {
	proposed := NewID()
	var holders []string
	if p.UnionID != "" {
		var err error
		if holders, err = usersByUnionID(ctx, tx, p.Provider, p.UnionID); err != nil {
			return nil, err
		}
		if len(holders) > 0 {
			proposed = holders[0]
		}
	}
	linked := len(holders) > 0
	ident, err := upsertIdentity(ctx, tx, &models.Identity{
		ID: NewID(), UserID: proposed, Provider: p.Provider, AppID: p.AppID,
		OpenID: p.OpenID, UnionID: nullable(p.UnionID),
	})
	if err != nil {
		return nil, err
	}
	// The identity row is the serialization point: whoever inserted it with
	// their proposed user id creates that user; everyone else finds it.
	created := ident.UserID == proposed && !linked
	var merged []string
	if group := appendNew(holders, ident.UserID); len(group) > 1 {
		// The unionid is held by another user than this identity's (it
		// just learned it), or by several (split before merging existed).
		into, from, err := mergeUsers(ctx, tx, group, p.AppID, p.Session.IP)
		if err != nil {
			return nil, err
		}
		ident.UserID, merged = into, from
	}
	var user *models.User
	if created {
		user, err = insertUser(ctx, tx, proposed, p.Profile)
	} else {
		user, err = touchUser(ctx, tx, ident.UserID, p.Profile)
	}
	if err != nil {
		return nil, err
	}
	if user.DeletedAt != nil {
		return nil, errUserErased
	}
	if user.DisabledAt != nil {
		// A pending deletion stays: a disabled user's login is refused,
		// and cancels nothing.
		if p.UnionID != "" {
			// Keep what the refused login taught: the identity's unionid
			// and any merge, so that the person cannot go on as another,
			// enabled user through an app where the link shows later.
			return nil, errRefusedKeep
		}
		return nil, ErrUserDisabled
	}
	cancelled := false
	if user.ErasesAt != nil {
		// The cooling-off period: signing in again keeps the account.
		if err := cancelDeletion(ctx, tx, user, p); err != nil {
			return nil, err
		}
		cancelled = true
	}
	p.Session.UserID, p.Session.IdentityID = user.ID, ident.ID
	if _, err := tx.NewInsert().Model(p.Session).Returning("created_at, last_seen_at").Exec(ctx); err != nil {
		return nil, fmt.Errorf("inserting session: %w", err)
	}
	// The audit trail commits with the login it records, or not at all.
	actions := []string{"user.login"}
	if created {
		actions = []string{"user.create", "user.login"}
	}
	for _, action := range actions {
		if err := writeAudit(ctx, tx, &models.AuditEntry{
			ActorKind: "user", ActorID: &user.ID, Action: action, Target: &user.ID, IP: p.Session.IP,
			Detail: map[string]any{"appid": p.AppID, "session": p.Session.ID},
		}); err != nil {
			return nil, err
		}
	}
	return &LoginResult{User: user, Identity: ident, Created: created, MergedFrom: merged, DeletionCancelled: cancelled}, nil
}

// appendNew returns ids with id appended unless it is there already.
func appendNew(ids []string, id string) []string {
	if slices.Contains(ids, id) {
		return ids
	}
	return append(slices.Clip(ids), id)
}

// usersByUnionID returns the users holding unionID, oldest first (by
// created_at, then id: the one a merge keeps). There is one, or none, unless
// a login is about to merge them. It first takes a transaction-scoped
// advisory lock on the unionid, so that logins of one person take turns:
// first logins from two apps at once make one user, and two logins that
// each reveal the same link do not both merge. The lock must be its own
// statement: the lookup's snapshot has to be taken after the lock is held.
func usersByUnionID(ctx context.Context, tx bun.IDB, provider, unionID string) ([]string, error) {
	if err := lockUnionID(ctx, tx, provider, unionID); err != nil {
		return nil, err
	}
	var ids []string
	err := tx.NewSelect().Model((*models.User)(nil)).Column("u.id").
		Where("u.id IN (SELECT user_id FROM identities WHERE provider = ? AND unionid = ?)", provider, unionID).
		OrderExpr("u.created_at, u.id").Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("finding unionid: %w", err)
	}
	return ids, nil
}

// upsertIdentity inserts ident or, when its (provider, appid, openid) exists,
// updates that row's unionid and login time; either way it returns the row.
func upsertIdentity(ctx context.Context, tx bun.IDB, ident *models.Identity) (*models.Identity, error) {
	_, err := tx.NewInsert().Model(ident).
		On("CONFLICT (provider, appid, openid) DO UPDATE").
		Set("unionid = COALESCE(EXCLUDED.unionid, i.unionid)").
		Set("updated_at = now()").
		// A disabled user's login is refused but may still commit (the
		// unionid it taught is kept): it must not show as a login.
		Set("last_login_at = CASE WHEN (SELECT disabled_at FROM users WHERE id = i.user_id) IS NULL THEN now() ELSE i.last_login_at END").
		Returning("*").
		Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("upserting identity: %w", err)
	}
	return ident, nil
}

func insertUser(ctx context.Context, tx bun.IDB, id string, p *models.Profile) (*models.User, error) {
	u := &models.User{ID: id}
	if p != nil {
		applyProfile(u, p)
	}
	_, err := tx.NewInsert().Model(u).Value("last_login_at", "now()").Returning("*").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("inserting user: %w", err)
	}
	return u, nil
}

// touchUser records a login of user id, with its profile when p is set. A
// disabled user is left as it is, and returned.
func touchUser(ctx context.Context, tx bun.IDB, id string, p *models.Profile) (*models.User, error) {
	u := &models.User{ID: id}
	q := tx.NewUpdate().Model(u).Set("last_login_at = now()").WherePK().Where("disabled_at IS NULL")
	if p != nil {
		applyProfile(u, p)
		q = q.Set("updated_at = now()").
			Column("nickname", "avatar_url", "gender", "language", "city", "province", "country")
	}
	res, err := q.Returning("*").Exec(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("updating user: %w", err)
	}
	if n, _ := res.RowsAffected(); err != nil || n == 0 {
		*u = models.User{ID: id}
		if err := tx.NewSelect().Model(u).WherePK().Scan(ctx); err != nil {
			return nil, fmt.Errorf("finding user: %w", err)
		}
	}
	return u, nil
}

func applyProfile(u *models.User, p *models.Profile) {
	g := p.Gender
	u.Nickname, u.AvatarURL, u.Gender = nullable(p.Nickname), nullable(p.AvatarURL), &g
	u.Language, u.City, u.Province, u.Country = nullable(p.Language), nullable(p.City), nullable(p.Province), nullable(p.Country)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
