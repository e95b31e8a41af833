package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// statements counts the statements a store runs, through its query hooks.
type statements struct {
	mu   sync.Mutex
	seen []string
}

func (s *statements) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (s *statements) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	word, _, _ := strings.Cut(strings.TrimSpace(e.Query), " ")
	s.seen = append(s.seen, word)
}

func (s *statements) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.seen
	s.seen = nil
	return out
}

// TestStore_Relogin: a returning user's login is one statement — prepared,
// or not with NoPrepare — and records exactly what the general
// transaction records: the user's and the identity's login times, the
// session, the audit row. Logins it must leave to the transaction (a first
// login, a unionid learned, a disabled user, a profile to save) run the
// transaction, and a refused one changes nothing.
func TestStore_Relogin(t *testing.T) {
	t.Parallel()
	for _, noPrepare := range []bool{false, true} {
		st, err := store.Open(context.Background(), storetest.DSN(t), store.Options{MaxConns: 4, NoPrepare: noPrepare})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		var seen statements
		st.AddQueryHook(&seen)

		openid, union := uniqueOpenID(t), "u"+store.NewID()
		first := mustLogin(t, st, store.LoginParams{OpenID: openid, UnionID: union})
		if got := seen.take(); len(got) < 4 {
			t.Fatalf("first login ran %v: want the general transaction", got)
		}
		ip := "203.0.113.7"
		sess := newSession()
		sess.IP = &ip
		again := mustLogin(t, st, store.LoginParams{OpenID: openid, UnionID: union, Session: sess})
		if got := seen.take(); len(got) != 1 || got[0] != "WITH" {
			t.Fatalf("noPrepare=%v: returning login ran %v, want one statement", noPrepare, got)
		}
		if again.Created || len(again.MergedFrom) > 0 || again.User.ID != first.User.ID || again.Identity.ID != first.Identity.ID ||
			*again.Identity.UnionID != union || again.Identity.OpenID != openid || again.Identity.AppID != "wxapp1" {
			t.Fatalf("returning login = %+v / %+v", again, again.Identity)
		}
		// What came back is what is stored, and the login times moved.
		var user models.User
		if err := st.DB().NewSelect().Model(&user).Where("id = ?", first.User.ID).Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !user.LastLoginAt.Equal(*again.User.LastLoginAt) || !user.LastLoginAt.After(*first.User.LastLoginAt) ||
			!user.CreatedAt.Equal(again.User.CreatedAt) || !user.UpdatedAt.Equal(again.User.UpdatedAt) {
			t.Fatalf("user row %+v, login returned %+v", user, again.User)
		}
		var ident models.Identity
		if err := st.DB().NewSelect().Model(&ident).Where("id = ?", first.Identity.ID).Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !ident.LastLoginAt.Equal(again.Identity.LastLoginAt) || !ident.LastLoginAt.After(first.Identity.LastLoginAt) {
			t.Fatalf("identity row %+v, login returned %+v", ident, again.Identity)
		}
		var stored models.Session
		if err := st.DB().NewSelect().Model(&stored).Where("id = ?", sess.ID).Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
		if stored.UserID != first.User.ID || stored.IdentityID != first.Identity.ID || sess.UserID != stored.UserID ||
			!sess.CreatedAt.Equal(stored.CreatedAt) || !sess.LastSeenAt.Equal(stored.LastSeenAt) || *stored.IP != ip ||
			string(stored.TokenHash) != string(sess.TokenHash) || !stored.ExpiresAt.Equal(sess.ExpiresAt.Truncate(time.Microsecond)) {
			t.Fatalf("session row %+v, login's %+v", stored, sess)
		}
		var detail string
		if err := st.DB().QueryRowContext(context.Background(),
			"SELECT detail::text FROM audit_log WHERE action = 'user.login' AND actor_id = ? AND target = ? AND host(ip) = ? AND detail->>'session' = ?",
			first.User.ID, first.User.ID, ip, sess.ID).Scan(&detail); err != nil {
			t.Fatalf("the login's audit row: %v", err)
		}
		var d map[string]string
		if json.Unmarshal([]byte(detail), &d) != nil || d["appid"] != "wxapp1" || len(d) != 2 {
			t.Fatalf("audit detail %s", detail)
		}

		// Left to the transaction.
		other := uniqueOpenID(t)
		mustLogin(t, st, store.LoginParams{OpenID: other})
		seen.take()
		mustLogin(t, st, store.LoginParams{OpenID: other, UnionID: "u" + store.NewID()}) // learns a unionid
		if got := seen.take(); len(got) < 4 {
			t.Fatalf("a login learning a unionid ran %v", got)
		}
		mustLogin(t, st, store.LoginParams{OpenID: other, Profile: &models.Profile{Nickname: "N"}})
		if got := seen.take(); len(got) < 4 {
			t.Fatalf("a login with a profile ran %v", got)
		}
		if _, err := st.DB().ExecContext(context.Background(), "UPDATE users SET disabled_at = now() WHERE id = ?", first.User.ID); err != nil {
			t.Fatal(err)
		}
		seen.take()
		before := count(t, st, "SELECT count(*) FROM sessions WHERE user_id = ?", first.User.ID)
		_, err = st.Login(context.Background(), store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: "wxapp1",
			OpenID: openid, UnionID: union, Session: newSession()})
		if !errors.Is(err, store.ErrUserDisabled) {
			t.Fatalf("disabled user's login: %v", err)
		}
		if got := seen.take(); len(got) < 3 {
			t.Fatalf("a disabled user's login ran %v", got)
		}
		var after models.Identity
		if err := st.DB().NewSelect().Model(&after).Where("id = ?", first.Identity.ID).Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count(t, st, "SELECT count(*) FROM sessions WHERE user_id = ?", first.User.ID); n != before || !after.LastLoginAt.Equal(ident.LastLoginAt) {
			t.Fatalf("a refused login left %d sessions (had %d), identity login time %v (was %v)", n, before, after.LastLoginAt, ident.LastLoginAt)
		}
	}
}

// TestStore_Relogin_StaleStatement: a prepared login that PostgreSQL
// refuses — a migration changed a column it returns (0A000), or the
// connection lost it (26000, DEALLOCATE ALL) — does not fail logins: they
// run the general transaction, and the statement is prepared afresh.
// Not parallel: it alters a table of the package's database, and puts it
// back before the parallel tests run.
func TestStore_Relogin_StaleStatement(t *testing.T) {
	ctx := context.Background()
	admin := storetest.Open(t)
	for _, c := range []struct {
		name    string
		breakIt func(st *store.Store) (undo string)
	}{
		{"ColumnTypeChanged", func(*store.Store) string {
			if _, err := admin.DB().ExecContext(ctx, "ALTER TABLE identities ALTER COLUMN unionid TYPE varchar(512)"); err != nil {
				t.Fatal(err)
			}
			// ANALYZE: the type change dropped the column's statistics, which
			// the plans other tests EXPLAIN depend on.
			return "ALTER TABLE identities ALTER COLUMN unionid TYPE text; ANALYZE identities"
		}},
		{"Deallocated", func(st *store.Store) string {
			if _, err := st.DB().ExecContext(ctx, "DEALLOCATE ALL"); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := store.Open(ctx, storetest.DSN(t), store.Options{MaxConns: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var seen statements
			st.AddQueryHook(&seen)
			openid := uniqueOpenID(t)
			mustLogin(t, st, store.LoginParams{OpenID: openid})
			mustLogin(t, st, store.LoginParams{OpenID: openid}) // prepared on the one connection
			if undo := c.breakIt(st); undo != "" {
				defer func() {
					if _, err := admin.DB().ExecContext(ctx, undo); err != nil {
						t.Error(err)
					}
				}()
			}
			seen.take()
			mustLogin(t, st, store.LoginParams{OpenID: openid})
			mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t)})
			seen.take()
			mustLogin(t, st, store.LoginParams{OpenID: openid})
			if got := seen.take(); len(got) != 1 {
				t.Fatalf("the login after: %v, want the one statement prepared again", got)
			}
		})
	}
}
