package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"wxlogin/models"
)

// reloginSQL records a returning user's login in one statement, and so in
// one round trip and one implicit transaction: the identity's and the
// user's login times, the session and the audit row. It is the whole of
// the common login — an identity that exists, whose user is enabled, that
// learns nothing new — and writes nothing at all otherwise: no row comes
// back then, and Login runs the general transaction, which handles first
// logins, unionids learned, merges and refusals.
//
// Rows are locked in the general path's order, the identity and then its
// user, or the two would deadlock. The identity is only locked (FOR UPDATE)
// until the user row has been updated: a user disabled a moment ago (the
// UPDATE re-reads a row changed since the statement's snapshot) stops
// everything that follows, the identity's login time included. With a
// unionid, the identity must already hold it and no other user may hold it
// too: otherwise the general path must take the unionid's lock and may
// have to merge. A user whose deletion is pending (the general path
// cancels it) or who is erased is the general path's too.
//
// Columns are named, never *: a prepared statement's result type must not
// change under it when a migration adds a column.
const reloginSQL = `WITH found AS (
    SELECT i.id, i.user_id FROM identities i JOIN users u ON u.id = i.user_id
    WHERE i.provider = $1 AND i.appid = $2 AND i.openid = $3 AND u.disabled_at IS NULL
      AND u.erase_at IS NULL AND u.deleted_at IS NULL
      AND ($4::text IS NULL OR (i.unionid = $4 AND NOT EXISTS (
          SELECT 1 FROM identities o WHERE o.provider = $1 AND o.unionid = $4 AND o.user_id <> i.user_id)))
    FOR UPDATE OF i
), usr AS (
    UPDATE users u SET last_login_at = now()
    FROM found WHERE u.id = found.user_id AND u.disabled_at IS NULL AND u.erase_at IS NULL AND u.deleted_at IS NULL
    RETURNING ` + userColumns + `, found.id AS identity_id
), ident AS (
    UPDATE identities i SET updated_at = now(), last_login_at = now()
    FROM usr WHERE i.id = usr.identity_id AND i.user_id = usr.id
    RETURNING i.id, i.user_id, i.provider, i.appid, i.openid, i.unionid, i.created_at, i.updated_at, i.last_login_at
), sess AS (
    INSERT INTO sessions (id, token_hash, user_id, identity_id, session_key_sealed, expires_at, ip, user_agent)
    SELECT $5::uuid, $6::bytea, ident.user_id, ident.id, $7::bytea, $8::timestamptz, $9::inet, $10::text FROM ident
    RETURNING created_at, last_seen_at
), audit AS (
    INSERT INTO audit_log (id, actor_kind, actor_id, action, target, ip, detail)
    SELECT $11::uuid, 'user', ident.user_id, 'user.login', ident.user_id::text, $9::inet, $12::jsonb FROM ident
)
SELECT ` + loginColumns + `
FROM usr JOIN ident ON ident.user_id = usr.id CROSS JOIN sess`

// errNotOneStatement: reloginSQL or firstLoginSQL did not apply (no row came
// back and nothing was written); the general login transaction must run.
var errNotOneStatement = errors.New("store: not a one-statement login")

// relogin runs reloginSQL for p. A profile (legacy wx.getUserInfo data)
// to save is the general path's, and so is everything reloginSQL leaves
// alone.
func (s *Store) relogin(ctx context.Context, p LoginParams) (*LoginResult, error) {
	if p.Profile != nil {
		return nil, errNotOneStatement
	}
	sess := p.Session
	args, err := loginArgs(p)
	if err != nil {
		return nil, err
	}

	res := &LoginResult{User: new(models.User), Identity: new(models.Identity)}
	err = s.query(ctx, nil, reloginSQL, args, func(rows *sql.Rows) error {
		return scanLogin(rows, res, sess)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotOneStatement
	}
	if err != nil {
		return nil, err
	}
	sess.UserID, sess.IdentityID = res.User.ID, res.Identity.ID
	return res, nil
}

// loginArgs are $1 to $12 of reloginSQL and firstLoginSQL: the login, its
// session, and the id and detail of its user.login audit row; more follow.
func loginArgs(p LoginParams, more ...any) ([]any, error) {
	sess := p.Session
	audit, err := json.Marshal(map[string]any{"appid": p.AppID, "session": sess.ID})
	if err != nil {
		return nil, err
	}
	return append([]any{p.Provider, p.AppID, p.OpenID, nullable(p.UnionID),
		sess.ID, sess.TokenHash, sess.SessionKeySealed, sess.ExpiresAt, sess.IP, sess.UserAgent,
		NewID(), string(audit)}, more...), nil
}

// loginColumns are what reloginSQL and firstLoginSQL return: the user, the
// identity and the session's times (scanLogin reads them in this order).
const loginColumns = `usr.id, usr.nickname, usr.avatar_url, usr.gender, usr.language, usr.city, usr.province, usr.country,
    usr.phone, usr.phone_country_code, usr.disabled_at, usr.disabled_reason, usr.created_at, usr.updated_at,
    usr.last_login_at,
    ident.id, ident.user_id, ident.provider, ident.appid, ident.openid, ident.unionid, ident.created_at,
    ident.updated_at, ident.last_login_at,
    sess.created_at, sess.last_seen_at`

// userColumns is what the CTEs named usr return, from users aliased u.
const userColumns = `u.id, u.nickname, u.avatar_url, u.gender, u.language, u.city, u.province, u.country,
        u.phone, u.phone_country_code, u.disabled_at, u.disabled_reason, u.created_at, u.updated_at,
        u.last_login_at`

// scanLogin reads loginColumns (and then into more) from the one row rows
// holds; sql.ErrNoRows when there is none.
func scanLogin(rows *sql.Rows, res *LoginResult, sess *models.Session, more ...any) error {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	u, i := res.User, res.Identity
	dest := append([]any{&u.ID, &u.Nickname, &u.AvatarURL, &u.Gender, &u.Language, &u.City, &u.Province, &u.Country,
		&u.Phone, &u.PhoneCountryCode, &u.DisabledAt, &u.DisabledReason, &u.CreatedAt, &u.UpdatedAt, &u.LastLoginAt,
		&i.ID, &i.UserID, &i.Provider, &i.AppID, &i.OpenID, &i.UnionID, &i.CreatedAt, &i.UpdatedAt, &i.LastLoginAt,
		&sess.CreatedAt, &sess.LastSeenAt}, more...)
	if err := rows.Scan(dest...); err != nil {
		return fmt.Errorf("reading the login: %w", err)
	}
	return rows.Close()
}

// query runs one of the store's own statements with args — on tx unless
// nil — prepared unless Options.NoPrepare, through the query hooks, and
// hands its rows to scan. On a transaction it only uses a statement
// already prepared (call prepared before BEGIN): preparing takes a pooled
// connection, and waiting for one while holding one can wait forever.
func (s *Store) query(ctx context.Context, tx *sql.Tx, query string, args []any, scan func(*sql.Rows) error) error {
	ctx, event := s.hooks.before(ctx, s.db, query)
	var rows *sql.Rows
	var stmt *sql.Stmt
	var err error
	if tx == nil {
		stmt, err = s.prepared(ctx, query)
	} else if m := s.stmts.Load(); m != nil {
		stmt = (*m)[query]
	}
	if afterLookup != nil {
		afterLookup(query)
	}
	switch {
	case err != nil:
	case stmt == nil && tx == nil:
		rows, err = s.db.DB.QueryContext(ctx, query, args...)
	case stmt == nil:
		rows, err = tx.QueryContext(ctx, query, args...)
	case tx == nil:
		rows, err = stmt.QueryContext(ctx, args...)
		if err != nil && err.Error() == "sql: statement is closed" {
			// forgetStatement closed it a minute after dropping it: this
			// caller held it all that time. Once more, unprepared.
			rows, err = s.db.DB.QueryContext(ctx, query, args...)
		}
	default:
		// Closed with the transaction; prepared again on its connection if
		// need be (a closed *sql.Stmt included).
		rows, err = tx.StmtContext(ctx, stmt).QueryContext(ctx, args...)
	}
	if err == nil {
		err = scan(rows)
	}
	s.hooks.after(ctx, event, err)
	return err
}

// afterLookup, when set (tests only), runs between looking a prepared
// statement up and running it.
var afterLookup func(query string)

// prepared returns query prepared on the pool (database/sql prepares it
// again on each connection that runs it), or nil when the store must not
// prepare statements (Options.NoPrepare: PgBouncer in transaction mode,
// say). A failure to prepare is retried next time.
//
// No lock is held while anything waits: readers load the map of prepared
// statements atomically, and a new one is prepared first and added after
// (copy on write); two callers racing to prepare the same query keep one.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if s.noPrepare {
		return nil, nil
	}
	if m := s.stmts.Load(); m != nil && (*m)[query] != nil {
		return (*m)[query], nil
	}
	stmt, err := s.db.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	old := s.stmts.Load()
	if old != nil && (*old)[query] != nil {
		go stmt.Close() // another caller's won; Close may wait for a busy connection
		return (*old)[query], nil
	}
	m := make(map[string]*sql.Stmt, 2)
	if old != nil {
		maps.Copy(m, *old)
	}
	m[query] = stmt
	s.stmts.Store(&m)
	return stmt, nil
}

// fallsBack reports whether a failed reloginSQL or firstLoginSQL leaves
// the login to the general transaction: it did not apply; or it was rolled back whole
// because a row it wanted changed under it (a merge moved the identity's
// user away: a foreign key fails) or PostgreSQL broke a deadlock with it;
// or the prepared statement is gone or stale (see forgetStatement).
func (s *Store) fallsBack(err error) bool {
	if errors.Is(err, errNotOneStatement) {
		return true
	}
	var pgErr pgdriver.Error
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Field('C') {
	case "23503", "40P01":
		return true
	case "0A000", "26000":
		s.forgetStatement()
		return true
	}
	return false
}

// forgetStatement drops the prepared statements, to be prepared afresh on
// next use. PostgreSQL refuses a prepared statement whose result
// types a migration changed (0A000, "cached plan must not change result
// type"), and a connection may have lost it (26000: DEALLOCATE ALL, a
// pooler handing out another server connection); database/sql would go on
// using it on that connection until the connection is recycled.
//
// The dropped statements are closed a minute later, not now: Close waits
// for every connection running them, and a login still holding one (it
// read the map a moment ago) must be able to finish with it.
func (s *Store) forgetStatement() {
	if old := s.stmts.Swap(nil); old != nil {
		time.AfterFunc(time.Minute, func() { closeAll(*old) })
	}
}

func closeAll(stmts map[string]*sql.Stmt) {
	for _, stmt := range stmts {
		_ = stmt.Close()
	}
}

// queryHooks are the bun.QueryHooks added with AddQueryHook, for the
// statements that do not go through bun's query builders (a prepared
// statement is plain database/sql), so that they are timed and traced too.
type queryHooks struct {
	mu    sync.RWMutex
	hooks []bun.QueryHook
}

// AddQueryHook adds h to the store's bun.DB and to its own statements.
func (s *Store) AddQueryHook(h bun.QueryHook) {
	s.db.AddQueryHook(h) //lint:ignore SA1019 WithQueryHook would return a copy the store does not use
	s.hooks.mu.Lock()
	s.hooks.hooks = append(s.hooks.hooks, h)
	s.hooks.mu.Unlock()
}

func (q *queryHooks) before(ctx context.Context, db *bun.DB, query string) (context.Context, *bun.QueryEvent) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if len(q.hooks) == 0 {
		return ctx, nil
	}
	e := &bun.QueryEvent{DB: db, Query: query, QueryTemplate: query, StartTime: time.Now()}
	for _, h := range q.hooks {
		ctx = h.BeforeQuery(ctx, e)
	}
	return ctx, e
}

func (q *queryHooks) after(ctx context.Context, e *bun.QueryEvent, err error) {
	if e == nil {
		return
	}
	e.Err = err
	q.mu.RLock()
	defer q.mu.RUnlock()
	for i := len(q.hooks) - 1; i >= 0; i-- {
		q.hooks[i].AfterQuery(ctx, e)
	}
}
