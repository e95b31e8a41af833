package store

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
)

// seedNames mix Chinese and Latin, as real WeChat nicknames do.
var seedNames = []string{"张三", "李四", "王五", "小明", "阿花", "Band", "Lucy", "Kevin", "微信用户", "星星", "Tom", "小红", "Amy", "大伟", "Jack"}

// Seed fills the database with n realistic users for load tests and
// benchmarks: nicknames, a mini-program identity each (openid, and a
// unionid for most), created over the last two years, most having logged
// in, one in a thousand disabled, a live session for every tenth user, and
// a login audit row for every fifth. It streams the rows with COPY, so a
// million users take about a minute. appID names the identities' app.
func (s *Store) Seed(ctx context.Context, n int, appID string) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: seed: %w", err)
	}
	defer conn.Close()
	// One transaction on one connection (COPY needs the raw connection): a
	// user is never seen without its identity, and a failed seed leaves nothing.
	if _, err := conn.ExecContext(ctx, "BEGIN; SET LOCAL statement_timeout = 0"); err != nil {
		return fmt.Errorf("store: seed: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	now := time.Now().UTC()
	rnd := rand.New(rand.NewPCG(uint64(now.UnixNano()), 42))
	// Each run's openids carry a tag of their own, so a second run adds
	// users instead of colliding with the first's.
	tag := fmt.Sprintf("seed%x", rnd.Uint32())
	ts := func(t time.Time) string { return t.Format("2006-01-02 15:04:05.999999Z07:00") }
	type table struct {
		copy string
		row  func(w *bufio.Writer, i int, uid string)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = NewID()
	}
	created := make([]time.Time, n)
	for i := range created {
		// UUIDv7 ids and creation times both ascend with i, as in production.
		created[i] = now.Add(-2 * 365 * 24 * time.Hour).Add(time.Duration(float64(2*365*24*time.Hour) * float64(i) / float64(n)))
	}
	tables := []table{
		{"COPY users (id, nickname, gender, city, created_at, updated_at, last_login_at, disabled_at) FROM STDIN", func(w *bufio.Writer, i int, uid string) {
			last, disabled := `\N`, `\N`
			if rnd.IntN(10) < 8 {
				last = ts(created[i].Add(time.Duration(rnd.Int64N(int64(now.Sub(created[i]) + 1)))))
			}
			if i%1000 == 999 {
				disabled = ts(now)
			}
			name := fmt.Sprintf("%s%d", seedNames[rnd.IntN(len(seedNames))], rnd.IntN(100000))
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", uid, name, rnd.IntN(3), "Guangzhou", ts(created[i]), ts(created[i]), last, disabled)
		}},
		{"COPY identities (id, user_id, provider, appid, openid, unionid, created_at, updated_at, last_login_at) FROM STDIN", func(w *bufio.Writer, i int, uid string) {
			union := `\N`
			if i%4 != 0 {
				union = fmt.Sprintf("%s-union-%d", tag, i)
			}
			fmt.Fprintf(w, "%s\t%s\twechat_miniprogram\t%s\t%s-%d\t%s\t%s\t%s\t%s\n", NewID(), uid, appID, tag, i, union, ts(created[i]), ts(created[i]), ts(created[i]))
		}},
	}
	for _, t := range tables {
		if err := s.copyRows(ctx, conn, t.copy, n, func(w *bufio.Writer, i int) { t.row(w, i, ids[i]) }); err != nil {
			return err
		}
	}
	// Sessions and audit rows for a share of the users, found by their
	// identities (the session needs its identity id).
	for _, q := range []string{
		`INSERT INTO sessions (id, token_hash, user_id, identity_id, session_key_sealed, created_at, last_seen_at, expires_at)
		 SELECT gen_random_uuid(), sha256(convert_to(i.id::text, 'UTF8')), i.user_id, i.id, '\x00', now(), now(), now() + interval '30 days'
		 FROM identities i WHERE i.openid LIKE ? || '-%' AND split_part(i.openid, '-', 2)::int % 10 = 0`,
		`INSERT INTO audit_log (id, at, actor_kind, actor_id, action, target, detail)
		 SELECT gen_random_uuid(), u.last_login_at, 'user', u.id, 'user.login', u.id::text, '{"seed": true}'
		 FROM users u JOIN identities i ON i.user_id = u.id
		 WHERE i.openid LIKE ? || '-%' AND u.last_login_at IS NOT NULL AND split_part(i.openid, '-', 2)::int % 5 = 0`,
		`COMMIT`,
		`ANALYZE users; ANALYZE identities; ANALYZE sessions; ANALYZE audit_log`,
	} {
		var args []any
		if strings.Contains(q, "?") {
			args = append(args, tag)
		}
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("store: seed: %w", err)
		}
		committed = committed || q == "COMMIT"
	}
	return nil
}

// copyRows streams n rows written by row into the COPY statement copy.
func (s *Store) copyRows(ctx context.Context, conn bun.Conn, copy string, n int, row func(w *bufio.Writer, i int)) error {
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 1<<16)
		for i := range n {
			row(w, i)
		}
		_ = pw.CloseWithError(w.Flush())
	}()
	if _, err := pgdriver.CopyFrom(ctx, conn, pr, copy); err != nil {
		_ = pr.CloseWithError(err)
		return fmt.Errorf("store: seed: %s: %w", strings.Fields(copy)[1], err)
	}
	return nil
}
