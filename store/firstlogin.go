package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// firstLoginSQL records a first login in one statement: the identity, a
// new user (or, with a unionid one other user already holds, that user's
// login time), the session and the audit rows. Like reloginSQL it is the
// whole of the common case and yields no row otherwise — the identity
// exists already (ON CONFLICT DO NOTHING: a concurrent first login of the
// same openid got there first), several users hold the unionid (a merge),
// or the user it links to is disabled, pending deletion or erased — and the transaction it runs in is
// then rolled back for the general one. With a unionid it runs after the
// unionid's advisory lock, in its own statement's snapshot, as the
// general path's lookup does.
const firstLoginSQL = `WITH holders AS (
    SELECT u.id FROM users u
    WHERE $4::text IS NOT NULL AND u.id IN (SELECT user_id FROM identities WHERE provider = $1 AND unionid = $4)
), chosen AS (
    SELECT COALESCE((SELECT id FROM holders LIMIT 1), $13::uuid) AS user_id, EXISTS (SELECT 1 FROM holders) AS linked
    WHERE (SELECT count(*) FROM holders) <= 1
), ident AS (
    INSERT INTO identities (id, user_id, provider, appid, openid, unionid)
    SELECT $14::uuid, chosen.user_id, $1, $2, $3, $4 FROM chosen
    ON CONFLICT (provider, appid, openid) DO NOTHING
    RETURNING id, user_id, provider, appid, openid, unionid, created_at, updated_at, last_login_at
), created AS (
    INSERT INTO users AS u (id, last_login_at)
    SELECT ident.user_id, now() FROM ident CROSS JOIN chosen WHERE NOT chosen.linked
    RETURNING ` + userColumns + `
), touched AS (
    UPDATE users u SET last_login_at = now()
    FROM ident CROSS JOIN chosen
    WHERE chosen.linked AND u.id = ident.user_id AND u.disabled_at IS NULL
      AND u.erase_at IS NULL AND u.deleted_at IS NULL
    RETURNING ` + userColumns + `
), usr AS (
    SELECT * FROM created UNION ALL SELECT * FROM touched
), sess AS (
    INSERT INTO sessions (id, token_hash, user_id, identity_id, session_key_sealed, expires_at, ip, user_agent)
    SELECT $5::uuid, $6::bytea, usr.id, ident.id, $7::bytea, $8::timestamptz, $9::inet, $10::text FROM usr CROSS JOIN ident
    RETURNING created_at, last_seen_at
), audit AS (
    INSERT INTO audit_log (id, actor_kind, actor_id, action, target, ip, detail)
    SELECT a.id, 'user', usr.id, a.action, usr.id::text, $9::inet, $12::jsonb
    FROM usr CROSS JOIN chosen CROSS JOIN (VALUES ($15::uuid, 'user.create'), ($11::uuid, 'user.login')) AS a (id, action)
    WHERE a.action = 'user.login' OR NOT chosen.linked
)
SELECT ` + loginColumns + `, NOT chosen.linked
FROM usr CROSS JOIN ident CROSS JOIN sess CROSS JOIN chosen`

// firstLogin runs firstLoginSQL for p in a transaction (BEGIN, the
// unionid's lock when there is one, the statement, COMMIT: four round
// trips where the general path takes eight or nine), or returns
// errNotOneStatement having written nothing. A profile to save is the general
// path's.
func (s *Store) firstLogin(ctx context.Context, p LoginParams) (*LoginResult, error) {
	if p.Profile != nil {
		return nil, errNotOneStatement
	}
	sess := p.Session
	createID := NewID() // before the login's: UUIDv7s sort by time
	args, err := loginArgs(p, NewID(), NewID(), createID)
	if err != nil {
		return nil, err
	}
	res := &LoginResult{User: new(models.User), Identity: new(models.Identity)}
	// Prepared now, while no connection is held (see query).
	if _, err := s.prepared(ctx, firstLoginSQL); err != nil && !s.fallsBack(err) {
		return nil, err
	}
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if p.UnionID != "" {
			if err := lockUnionID(ctx, tx, p.Provider, p.UnionID); err != nil {
				return err
			}
		}
		err := s.query(ctx, tx.Tx, firstLoginSQL, args, func(rows *sql.Rows) error {
			return scanLogin(rows, res, sess, &res.Created)
		})
		if errors.Is(err, sql.ErrNoRows) {
			return errNotOneStatement // rolls back whatever the statement wrote
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sess.UserID, sess.IdentityID = res.User.ID, res.Identity.ID
	return res, nil
}

// lockUnionID takes the transaction-scoped advisory lock on a unionid
// (see usersByUnionID).
func lockUnionID(ctx context.Context, tx bun.IDB, provider, unionID string) error {
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", provider+"/"+unionID); err != nil {
		return fmt.Errorf("locking unionid: %w", err)
	}
	return nil
}
