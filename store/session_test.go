package store_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"wxlogin/store"
	"wxlogin/store/storetest"
)

func TestStore_SessionKeySealed(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()

	t.Run("NotOnTheHotPath", func(t *testing.T) {
		sess := newSession()
		mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t), Session: sess})
		got, _, err := st.SessionByTokenHash(ctx, sess.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if got.SessionKeySealed != nil {
			t.Fatal("SessionByTokenHash read session_key_sealed")
		}
		sealed, err := st.SessionKeySealed(ctx, got.ID)
		if err != nil || !bytes.Equal(sealed, sess.SessionKeySealed) {
			t.Fatalf("SessionKeySealed = %q, %v; want %q", sealed, err, sess.SessionKeySealed)
		}
	})

	t.Run("NotActive", func(t *testing.T) {
		expired := newSession()
		expired.ExpiresAt = time.Now().Add(-time.Second)
		mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t), Session: expired})
		revoked := newSession()
		mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t), Session: revoked})
		if _, err := st.RevokeSession(ctx, revoked.ID, "", nil); err != nil {
			t.Fatal(err)
		}
		for name, id := range map[string]string{"expired": expired.ID, "revoked": revoked.ID, "unknown": store.NewID()} {
			if _, err := st.SessionKeySealed(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", name, err)
			}
		}
	})
}

func TestStore_PurgeSessions(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	// Far outside anything other tests in this database make.
	const grace = 1000 * time.Hour
	old, recent := "2000 hours", "500 hours"

	mk := func(set string, arg string) string {
		t.Helper()
		sess := newSession()
		mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t), Session: sess})
		if set != "" {
			if _, err := st.DB().ExecContext(ctx, "UPDATE sessions SET "+set+" WHERE id = ?", arg, sess.ID); err != nil {
				t.Fatal(err)
			}
		}
		return sess.ID
	}
	const expire, revoke = "expires_at = now() - ?::interval", "revoked_at = now() - ?::interval"
	keep := map[string]string{
		"active":           mk("", ""),
		"expired recently": mk(expire, recent),
		"revoked recently": mk(revoke, recent),
	}
	purge := map[string]string{"revoked long ago": mk(revoke, old)}
	for _, name := range []string{"expired long ago 1", "expired long ago 2", "expired long ago 3", "expired long ago 4", "expired long ago 5"} {
		purge[name] = mk(expire, old)
	}

	n, err := st.PurgeSessions(ctx, grace, 2) // several batches of each kind
	if err != nil {
		t.Fatal(err)
	}
	if n != len(purge) {
		t.Errorf("purged %d, want %d", n, len(purge))
	}
	exists := func(id string) bool { return count(t, st, "SELECT count(*) FROM sessions WHERE id = ?", id) == 1 }
	for name, id := range keep {
		if !exists(id) {
			t.Errorf("%s session purged", name)
		}
	}
	for name, id := range purge {
		if exists(id) {
			t.Errorf("%s session kept", name)
		}
	}
	if n, err := st.PurgeSessions(ctx, grace, 2); err != nil || n != 0 {
		t.Errorf("second purge = %d, %v; want 0", n, err)
	}

	t.Run("BadArguments", func(t *testing.T) {
		for _, tc := range []struct {
			grace time.Duration
			batch int
		}{{-time.Hour, 10}, {time.Hour, 0}} {
			if _, err := st.PurgeSessions(ctx, tc.grace, tc.batch); err == nil {
				t.Errorf("grace %v batch %d: want an error", tc.grace, tc.batch)
			}
		}
	})

	t.Run("CanceledCtx", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := st.PurgeSessions(cctx, grace, 2); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// Each purge statement can walk an index instead of the whole table.
func TestStore_PurgeSessions_UsesIndexes(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	for column, index := range map[string]string{"expires_at": "sessions_expires_at_idx", "revoked_at": "sessions_revoked_at_idx"} {
		conn, err := st.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		rows, err := tx.QueryContext(ctx, "EXPLAIN DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE "+column+
			" < now() - '1 hour'::interval ORDER BY "+column+" LIMIT 1000 FOR UPDATE SKIP LOCKED)")
		if err != nil {
			t.Fatal(err)
		}
		var plan strings.Builder
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(line + "\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		_ = rows.Close()
		_ = tx.Rollback()
		_ = conn.Close()
		// "Index Scan using idx" on a big table, "Bitmap Index Scan on idx" on a small one.
		if p := plan.String(); !strings.Contains(p, "using "+index+" ") && !strings.Contains(p, "on "+index+" ") {
			t.Errorf("purging by %s does not walk %s:\n%s", column, index, plan.String())
		}
	}
}
