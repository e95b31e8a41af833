package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// TestStore_FirstLogin: a first login is BEGIN, the unionid's lock (when
// there is a unionid), one statement, COMMIT — and records what the
// general transaction records: the identity, a new user (or the one
// another app's identity with the unionid names), the session, and
// user.create then user.login in the audit log. A unionid whose user is
// disabled goes the general way: refused, the identity kept.
func TestStore_FirstLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, noPrepare := range []bool{false, true} {
		st, err := store.Open(ctx, storetest.DSN(t), store.Options{MaxConns: 2, NoPrepare: noPrepare})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		var seen statements
		st.AddQueryHook(&seen)
		// Statements between BEGIN and COMMIT: relogin's WITH comes first.
		want := func(what string, got []string, tail ...string) {
			t.Helper()
			if len(got) == 0 || got[0] != "WITH" || !slices.Equal(got[1:], tail) {
				t.Fatalf("noPrepare=%v: %s ran %v, want WITH then %v", noPrepare, what, got, tail)
			}
		}

		plain := mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t)})
		want("a first login", seen.take(), "BEGIN", "WITH", "COMMIT")
		union := "u" + store.NewID()
		a := mustLogin(t, st, store.LoginParams{AppID: "wxappA", OpenID: uniqueOpenID(t), UnionID: union})
		want("a first login with a unionid", seen.take(), "BEGIN", "SELECT", "WITH", "COMMIT")
		b := mustLogin(t, st, store.LoginParams{AppID: "wxappB", OpenID: uniqueOpenID(t), UnionID: union})
		want("a first login in another app", seen.take(), "BEGIN", "SELECT", "WITH", "COMMIT")
		if !plain.Created || !a.Created || b.Created || b.User.ID != a.User.ID || b.Identity.ID == a.Identity.ID ||
			*b.Identity.UnionID != union || b.Identity.AppID != "wxappB" || b.Identity.UserID != a.User.ID {
			t.Fatalf("created %v %v %v; users %s %s; identity %+v", plain.Created, a.Created, b.Created, a.User.ID, b.User.ID, b.Identity)
		}
		for _, r := range []*store.LoginResult{plain, a, b} {
			var u models.User
			if err := st.DB().NewSelect().Model(&u).Where("id = ?", r.User.ID).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			// a's user has logged in again since, as b.
			if !u.CreatedAt.Equal(r.User.CreatedAt) || r != a && !u.LastLoginAt.Equal(*r.User.LastLoginAt) || u.DisabledAt != nil {
				t.Fatalf("user row %+v, login returned %+v", u, r.User)
			}
			var actions []string
			err := st.DB().NewSelect().Table("audit_log").Column("action").
				Where("actor_id = ? AND detail->>'session' = (SELECT id::text FROM sessions WHERE identity_id = ? ORDER BY created_at DESC LIMIT 1)", r.User.ID, r.Identity.ID).
				OrderExpr("id").Scan(ctx, &actions)
			if err != nil {
				t.Fatal(err)
			}
			wantActions := []string{"user.login"}
			if r.Created {
				wantActions = []string{"user.create", "user.login"}
			}
			if !slices.Equal(actions, wantActions) {
				t.Fatalf("audit %v, want %v", actions, wantActions)
			}
		}

		// The user the unionid names is disabled: refused, the third
		// app's identity kept with its unionid, no session.
		if _, err := st.DB().ExecContext(ctx, "UPDATE users SET disabled_at = now() WHERE id = ?", a.User.ID); err != nil {
			t.Fatal(err)
		}
		sessions := count(t, st, "SELECT count(*) FROM sessions WHERE user_id = ?", a.User.ID)
		openid := uniqueOpenID(t)
		_, err = st.Login(ctx, store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: "wxappC", OpenID: openid,
			UnionID: union, Session: newSession()})
		if !errors.Is(err, store.ErrUserDisabled) {
			t.Fatalf("a disabled user's first login in a third app: %v", err)
		}
		if n := count(t, st, "SELECT count(*) FROM identities WHERE openid = ? AND unionid = ? AND user_id = ?", openid, union, a.User.ID); n != 1 {
			t.Fatalf("the refused login's identity: %d rows", n)
		}
		if n := count(t, st, "SELECT count(*) FROM sessions WHERE user_id = ?", a.User.ID); n != sessions {
			t.Fatalf("a refused login made a session")
		}
	}
}
