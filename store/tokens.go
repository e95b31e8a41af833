package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// AccessTokenRow is a mini program's WeChat access token as stored. The
// store knows no crypto: TokenSealed is sealed and opened by the caller
// (auth.TokenStore), and the other fields are plain so that any instance can
// tell when the token is due whatever it can open.
type AccessTokenRow struct {
	bun.BaseModel `bun:"table:wechat_access_tokens,alias:wat"`

	AppID       string    `bun:"appid,pk"`
	TokenSealed []byte    `bun:"token_sealed"`
	ExpiresAt   time.Time `bun:"expires_at,nullzero"`
	ForcedAt    time.Time `bun:"forced_at,nullzero"`
	UpdatedAt   time.Time `bun:"updated_at,nullzero,notnull,default:current_timestamp"`
}

// AccessToken returns appID's stored token row; the zero row (with AppID
// set) when there is none yet. It takes no lock: readers never wait for a
// renewal in progress, they use the token until it is due.
func (s *Store) AccessToken(ctx context.Context, appID string) (AccessTokenRow, error) {
	row := AccessTokenRow{AppID: appID}
	err := s.db.NewSelect().Model(&row).WherePK().Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return AccessTokenRow{AppID: appID}, nil
	}
	if err != nil {
		return AccessTokenRow{}, fmt.Errorf("store: reading the access token: %w", err)
	}
	return row, nil
}

// RenewAccessToken runs fn while holding appID's row lock, in one
// transaction: the row is created if missing (INSERT … ON CONFLICT DO
// NOTHING, so concurrent first renewals do not fail) and then locked with
// SELECT … FOR UPDATE. So across every instance on this database exactly one
// fn runs at a time per app; the others wait and then see what it stored.
// fn gets the latest row and returns the row to store. When fn fails nothing
// is stored and its error is returned unchanged.
//
// The transaction stays open while fn calls WeChat, so ctx should carry a
// deadline: a lock wait that outlives it fails with an error matching ctx's
// (context.DeadlineExceeded), which callers treat like a slow WeChat.
func (s *Store) RenewAccessToken(ctx context.Context, appID string, fn func(cur AccessTokenRow) (AccessTokenRow, error)) (AccessTokenRow, error) {
	var (
		out   AccessTokenRow
		fnErr error
	)
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if deadline, ok := ctx.Deadline(); ok {
			// Waiting for the lock counts against statement_timeout; let
			// the caller's deadline bound it instead, with a second to
			// spare so that the client's deadline is the one that fires.
			// The transaction also sits idle while fn asks WeChat, which
			// may outlast the server's idle-in-transaction limit (30 s):
			// the caller's deadline bounds that wait too.
			ms := max(time.Until(deadline).Milliseconds(), 0) + 1000
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d; SET LOCAL idle_in_transaction_session_timeout = %d", ms, ms)); err != nil {
				return fmt.Errorf("setting the lock wait: %w", err)
			}
		}
		if _, err := tx.NewInsert().Model(&AccessTokenRow{AppID: appID}).On("CONFLICT (appid) DO NOTHING").Exec(ctx); err != nil {
			return fmt.Errorf("creating the access token row: %w", err)
		}
		cur := AccessTokenRow{AppID: appID}
		if err := tx.NewSelect().Model(&cur).WherePK().For("UPDATE").Scan(ctx); err != nil {
			return fmt.Errorf("locking the access token row: %w", err)
		}
		next, err := fn(cur)
		if err != nil {
			fnErr = err
			return err
		}
		next.AppID = appID
		_, err = tx.NewUpdate().Model(&next).WherePK().
			Column("token_sealed", "expires_at", "forced_at").
			Set("updated_at = now()").
			Returning("updated_at").
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("storing the access token: %w", err)
		}
		out = next
		return nil
	})
	switch {
	case err == nil:
		return out, nil
	case fnErr != nil && errors.Is(err, fnErr):
		return AccessTokenRow{}, fnErr
	case ctx.Err() != nil || pastDeadline(ctx):
		// pgdriver reports a deadline as a network error, sometimes a
		// moment before ctx itself notices; say what happened in a form
		// callers can test.
		cause := ctx.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		return AccessTokenRow{}, fmt.Errorf("store: renewing the access token: %w (%v)", cause, err)
	}
	return AccessTokenRow{}, fmt.Errorf("store: renewing the access token: %w", err)
}

// pastDeadline reports whether ctx's deadline has passed.
func pastDeadline(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
