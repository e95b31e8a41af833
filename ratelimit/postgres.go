package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Postgres keeps counters in the rate_limits table (an UNLOGGED table the
// store's migrations create), shared by every instance on the database.
type Postgres struct {
	db bun.IDB
}

// NewPostgres returns a Limiter over db, which must be migrated.
func NewPostgres(db bun.IDB) *Postgres { return &Postgres{db: db} }

// One statement: a new key starts a window at 1; a key whose window has
// ended starts a new one at 1; else the count goes up by one. ON CONFLICT
// DO UPDATE locks the row, so concurrent hits are counted one after the
// other and each gets its own count; a hit that waited behind a window's
// restart sees the new row and counts on. now() is the database's clock.
const allowSQL = `INSERT INTO rate_limits AS rl (key, n, reset_at)
VALUES (?, 1, now() + ?::bigint * interval '1 microsecond')
ON CONFLICT (key) DO UPDATE SET
  n        = CASE WHEN rl.reset_at <= now() THEN 1 ELSE rl.n + 1 END,
  reset_at = CASE WHEN rl.reset_at <= now() THEN EXCLUDED.reset_at ELSE rl.reset_at END
RETURNING n, (extract(epoch FROM rl.reset_at - now()) * 1000000)::bigint`

// Allow counts one hit of key and decides it against limit.
func (p *Postgres) Allow(ctx context.Context, key string, limit Limit) (Decision, error) {
	if limit.Off() {
		return Decision{Allowed: true}, nil
	}
	var n, leftUS int64
	if err := p.db.NewRaw(allowSQL, key, limit.Window.Microseconds()).Scan(ctx, &n, &leftUS); err != nil {
		return Decision{}, fmt.Errorf("ratelimit: postgres: %w", err)
	}
	return decide(limit, n, time.Duration(leftUS)*time.Microsecond), nil
}

// purgeBatch bounds the rows one purge statement deletes.
const purgeBatch = 1000

// Purge deletes counters whose window has ended, in batches that skip rows
// a concurrent hit holds, and returns how many, also alongside an error.
func (p *Postgres) Purge(ctx context.Context) (int, error) {
	total := 0
	for {
		res, err := p.db.NewRaw(`DELETE FROM rate_limits WHERE key IN
  (SELECT key FROM rate_limits WHERE reset_at <= now() LIMIT ? FOR UPDATE SKIP LOCKED)
  AND reset_at <= now()`, purgeBatch).Exec(ctx)
		if err != nil {
			return total, fmt.Errorf("ratelimit: purging: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("ratelimit: purging: %w", err)
		}
		total += int(n)
		if n < purgeBatch {
			return total, nil
		}
	}
}
