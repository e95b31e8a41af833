package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/store"
)

// These tests run two instances on one database with the session cache on
// and a TTL far longer than the test: anything they see change on the
// second instance, the LISTEN/NOTIFY path delivered. They are not
// parallel: TestSessionCache_ListenerLoss kills every listener connection
// of the package's database.

// revocationCeiling is the tests' bound on cross-instance revocation. The
// requirement is 100 ms; a test on a loaded CI machine allows ten times
// that, and TestSessionCache_RevocationLatency logs the distribution that
// BENCHMARKS.md reports against the 100 ms.
const revocationCeiling = time.Second

func startCached(t testing.TB, dsn string) *apptest.Server {
	t.Helper()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) {
		c.SessionCacheTTL = time.Minute
		c.SessionCacheSize = 1000
		if dsn != "" {
			c.DatabaseURL = dsn
		}
	}))
	apptest.WaitFor(t, "the session cache to come up", 5*time.Second, ts.SessionCache.Up)
	return ts
}

const meQuery = `{ me { id nickname } }`

// meOK reports whether ts accepts tok, and the nickname it answers.
func meOK(t *testing.T, ts *apptest.Server, tok string) (bool, string) {
	t.Helper()
	r := ts.Do(t, tok, meQuery, nil)
	if len(r.Errors) > 0 {
		if r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("me: %s", r.Raw)
		}
		return false, ""
	}
	var u struct{ Nickname *string }
	_ = json.Unmarshal(r.Data["me"], &u)
	if u.Nickname == nil {
		return true, ""
	}
	return true, *u.Nickname
}

// mustBeCached asks b twice and checks the second answer came from its cache.
func mustBeCached(t *testing.T, b *apptest.Server, tok string) {
	t.Helper()
	if ok, _ := meOK(t, b, tok); !ok {
		t.Fatal("a fresh token was refused")
	}
	hits := b.SessionCache.Stats().Hits
	if ok, _ := meOK(t, b, tok); !ok {
		t.Fatal("a fresh token was refused")
	}
	if b.SessionCache.Stats().Hits == hits {
		t.Fatal("the second me was not answered from the cache")
	}
}

func TestSessionCache_CrossInstanceRevocation(t *testing.T) {
	a := startCached(t, "")
	b := startCached(t, a.Config.DatabaseURL)
	ctx := context.Background()

	// Logout on A: B refuses the token it has cached.
	p := a.MustLogin(t, map[string]any{"code": a.Code(t, "cache-logout")})
	mustBeCached(t, b, p.Token)
	mustBeCached(t, a, p.Token)
	if r := a.Do(t, p.Token, `mutation { logout }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	// A refuses it at once: the instance that logged out does not wait.
	if ok, _ := meOK(t, a, p.Token); ok {
		t.Fatal("A still accepts the token it logged out")
	}
	d := apptest.WaitFor(t, "B to refuse a token logged out on A", revocationCeiling, func() bool { ok, _ := meOK(t, b, p.Token); return !ok })
	t.Logf("logout reached B in %v", d)

	// An operator disables the user (straight in the store, as the admin
	// API and CLI do): every session of theirs is refused on B.
	p1 := a.MustLogin(t, map[string]any{"code": a.Code(t, "cache-disable")})
	p2 := a.MustLogin(t, map[string]any{"code": a.Code(t, "cache-disable")})
	mustBeCached(t, b, p1.Token)
	mustBeCached(t, b, p2.Token)
	if _, err := a.Store().SetUserDisabled(ctx, p1.User.ID, true, "test", "", nil); err != nil {
		t.Fatal(err)
	}
	d = apptest.WaitFor(t, "B to refuse a disabled user's tokens", revocationCeiling, func() bool {
		ok1, _ := meOK(t, b, p1.Token)
		ok2, _ := meOK(t, b, p2.Token)
		return !ok1 && !ok2
	})
	t.Logf("disable reached B in %v", d)

	// Revoke all sessions of a user, without disabling them.
	p = a.MustLogin(t, map[string]any{"code": a.Code(t, "cache-revoke-all")})
	mustBeCached(t, b, p.Token)
	if _, err := a.Store().RevokeUserSessions(ctx, p.User.ID, "", nil); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, "B to refuse a token of a user whose sessions were revoked", revocationCeiling, func() bool { ok, _ := meOK(t, b, p.Token); return !ok })

	// A profile change on A shows on B at once, not after the TTL.
	p = a.MustLogin(t, map[string]any{"code": a.Code(t, "cache-profile")})
	mustBeCached(t, b, p.Token)
	if r := a.Do(t, p.Token, `mutation { updateProfile(input: {nickname: "新名字"}) { nickname } }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	apptest.WaitFor(t, "B to show the new nickname", revocationCeiling, func() bool { _, n := meOK(t, b, p.Token); return n == "新名字" })

	// So does a hand-written UPDATE of any column `me` shows, updated_at
	// left alone (city was once missing from the trigger).
	mustBeCached(t, b, p.Token)
	if _, err := a.Store().DB().ExecContext(ctx, "UPDATE users SET city = 'SQL city', gender = 2 WHERE id = ?", meID(a, t, p.Token)); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, "B to show a city changed by hand", revocationCeiling, func() bool {
		r := b.Do(t, p.Token, `{ me { city gender } }`, nil)
		return strings.Contains(r.Raw, `"city":"SQL city","gender":"FEMALE"`)
	})

	// A session moved to another user by a merge: B must not go on
	// answering it as the old user. (The merge itself is store.Login's;
	// here the same UPDATE it makes.)
	p1 = a.MustLogin(t, map[string]any{"code": a.Code(t, "cache-merge-from")})
	p2 = a.MustLogin(t, map[string]any{"code": a.Code(t, "cache-merge-into")})
	mustBeCached(t, b, p1.Token)
	if _, err := a.Store().DB().ExecContext(ctx, "UPDATE sessions SET user_id = ? WHERE user_id = ?", p2.User.ID, p1.User.ID); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, "B to answer a merged session as its new user", revocationCeiling, func() bool {
		r := b.Do(t, p1.Token, `{ me { id } }`, nil)
		var u struct{ ID string }
		_ = json.Unmarshal(r.Data["me"], &u)
		return u.ID == p2.User.ID
	})
}

// TestSessionCache_ListenerLoss loses a revocation's notification while the
// listener connection is down and checks the cache is dropped, not trusted,
// and comes back once the listener is.
func TestSessionCache_ListenerLoss(t *testing.T) {
	a := startCached(t, "")
	b := startCached(t, a.Config.DatabaseURL)
	ctx := context.Background()

	p := a.MustLogin(t, map[string]any{"code": a.Code(t, "cache-loss")})
	mustBeCached(t, b, p.Token)

	// A revocation whose notification is lost, as one committed while the
	// listener was reconnecting would be: triggers off for this transaction.
	tx, err := a.Store().DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE sessions SET revoked_at = now() WHERE user_id = ?", p.User.ID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// Without the notification B goes on trusting its entry: that is what
	// the test is about, so make sure the setup really lost it.
	time.Sleep(100 * time.Millisecond)
	if ok, _ := meOK(t, b, p.Token); !ok {
		t.Fatal("setup: the silent revocation reached B anyway")
	}

	// Now the listener connections die.
	var killed []int
	if err := a.Store().DB().NewRaw("SELECT pg_terminate_backend(pid)::int FROM pg_stat_activity WHERE application_name = ? AND datname = current_database()",
		store.ListenerAppName).Scan(ctx, &killed); err != nil {
		t.Fatal(err)
	}
	if len(killed) < 2 {
		t.Fatalf("terminated %d listener connections, want both instances'", len(killed))
	}
	// B drops its cache when it notices, and never serves the revoked token again.
	d := apptest.WaitFor(t, "B to drop its cache after losing its listener", revocationCeiling, func() bool { ok, _ := meOK(t, b, p.Token); return !ok })
	t.Logf("B refused the silently revoked token %v after its listener was killed", d)
	for range 20 {
		if ok, _ := meOK(t, b, p.Token); ok {
			t.Fatal("B served the revoked token again")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// The listener comes back and the cache with it.
	t.Logf("back after %v", apptest.WaitFor(t, "B's cache to come back", 10*time.Second, b.SessionCache.Up))
	p = a.MustLogin(t, map[string]any{"code": a.Code(t, "cache-loss-after")})
	mustBeCached(t, b, p.Token)
	if r := a.Do(t, p.Token, `mutation { logout }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	apptest.WaitFor(t, "B to refuse a token logged out after the reconnect", revocationCeiling, func() bool { ok, _ := meOK(t, b, p.Token); return !ok })
}

// TestSessionCache_RevocationLatency logs out revocationRounds cached
// tokens on one instance and times how long until the other refuses each.
// It asserts only the test's ceiling; the distribution it logs ("revocation
// latency: ...") is what make bench reports against the 100 ms target.
func TestSessionCache_RevocationLatency(t *testing.T) {
	a := startCached(t, "")
	b := startCached(t, a.Config.DatabaseURL)
	var ds []time.Duration
	for range revocationRounds {
		p := a.MustLogin(t, map[string]any{"code": a.Code(t, "latency")})
		mustBeCached(t, b, p.Token)
		if r := a.Do(t, p.Token, `mutation { logout }`, nil); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		ds = append(ds, apptest.WaitFor(t, "B to refuse the token", revocationCeiling, func() bool { ok, _ := meOK(t, b, p.Token); return !ok }))
	}
	slices.Sort(ds)
	t.Logf("revocation latency: n=%d p50=%v p99=%v max=%v", len(ds), ds[len(ds)/2], ds[len(ds)*99/100], ds[len(ds)-1])
}

const revocationRounds = 50

// TestSessionCache_LocalChangesAtOnce: with the cache on, a change made
// through this instance is seen by this instance's very next request —
// the NOTIFY that tells the other instances arrives a few milliseconds
// later, and the cache must not answer from the old entry meanwhile.
func TestSessionCache_LocalChangesAtOnce(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.SessionCacheTTL, c.SessionCacheSize = 30*time.Second, 1000 }))
	adm, _ := ts.AdminLogin(t, "cache-admin", apptest.CreateAdmin(t, "cache-admin", "admin"))
	for i := range 20 {
		p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, fmt.Sprintf("cache-local-%d", i))})
		me := func() *apptest.Response { return ts.Do(t, p.Token, `{ me { id nickname } }`, nil) }
		me() // now cached
		nick := fmt.Sprintf("Nick %d", i)
		if r := ts.Do(t, p.Token, `mutation($n: String) { updateProfile(input: {nickname: $n}) { id } }`, map[string]any{"n": nick}); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		if r := me(); !strings.Contains(r.Raw, nick) {
			t.Fatalf("round %d: me right after updateProfile = %s", i, r.Raw)
		}
		switch i % 2 {
		case 0:
			r := ts.Do(t, adm, `mutation($id: ID!) { disableUser(id: $id, reason: "cache test") { id } }`, map[string]any{"id": p.User.ID})
			if len(r.Errors) > 0 {
				t.Fatal(r.Raw)
			}
		default:
			r := ts.Do(t, adm, `mutation($id: ID!) { revokeUserSessions(userId: $id) }`, map[string]any{"id": p.User.ID})
			if len(r.Errors) > 0 {
				t.Fatal(r.Raw)
			}
		}
		if r := me(); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("round %d: me right after the admin's change = %s", i, r.Raw)
		}
	}
}

// adminRole returns the role B answers for tok, "" when it refuses tok.
func adminRole(t *testing.T, ts *apptest.Server, tok string) string {
	t.Helper()
	r := ts.Do(t, tok, `{ admin { role } }`, nil)
	if len(r.Errors) > 0 {
		if r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("admin: %s", r.Raw)
		}
		return ""
	}
	var a *struct{ Role string }
	_ = json.Unmarshal(r.Data["admin"], &a)
	if a == nil {
		return ""
	}
	return a.Role
}

// adminMustBeCached asks b twice and checks the second answer came from
// its admin session cache.
func adminMustBeCached(t *testing.T, b *apptest.Server, tok string) {
	t.Helper()
	if adminRole(t, b, tok) == "" {
		t.Fatal("a fresh admin token was refused")
	}
	hits := b.AdminSessionCache.Stats().Hits
	if adminRole(t, b, tok) == "" {
		t.Fatal("a fresh admin token was refused")
	}
	if b.AdminSessionCache.Stats().Hits == hits {
		t.Fatal("the second admin query was not answered from the cache")
	}
}

// TestSessionCache_AdminCrossInstance: admin sessions are cached as users'
// are, and every change that ends one or alters its admin — a sign-out on
// another instance, the CLI's disable, hand-written SQL on the admins row —
// reaches the other instance within the bound, not after the TTL.
func TestSessionCache_AdminCrossInstance(t *testing.T) {
	a := startCached(t, "")
	b := startCached(t, a.Config.DatabaseURL)
	ctx := context.Background()
	db := a.Store().DB()
	login := func(name string) string {
		tok, resp := a.AdminLogin(t, name, apptest.CreateAdmin(t, name, "admin"))
		if tok == "" {
			t.Fatal(resp.Raw)
		}
		adminMustBeCached(t, b, tok)
		adminMustBeCached(t, a, tok)
		return tok
	}

	// Sign-out on A: A refuses at once, B within the bound.
	tok := login("cache-adm-logout")
	if r := a.Do(t, tok, `mutation { adminLogout }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if adminRole(t, a, tok) != "" {
		t.Fatal("A still accepts the admin token it signed out")
	}
	d := apptest.WaitFor(t, "B to refuse an admin token signed out on A", revocationCeiling, func() bool { return adminRole(t, b, tok) == "" })
	t.Logf("admin sign-out reached B in %v", d)

	// The CLI disables the admin (another process: only the database knows).
	tok = login("cache-adm-disable")
	if out, err := adminCLI(t, "", "disable", "cache-adm-disable"); err != nil {
		t.Fatal(out, err)
	}
	apptest.WaitFor(t, "A and B to refuse a disabled admin's token", revocationCeiling, func() bool {
		return adminRole(t, a, tok) == "" && adminRole(t, b, tok) == ""
	})

	// Hand-written SQL on the admins row alone, sessions untouched: a role
	// change shows, and so does a disable.
	tok = login("cache-adm-sql")
	if _, err := db.ExecContext(ctx, `UPDATE admins SET role = 'VIEWER' WHERE username = 'cache-adm-sql'`); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, "B to see a role changed in SQL", revocationCeiling, func() bool { return adminRole(t, b, tok) == "VIEWER" })
	adminMustBeCached(t, b, tok)
	if _, err := db.ExecContext(ctx, `UPDATE admins SET disabled_at = now() WHERE username = 'cache-adm-sql'`); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, "B to refuse an admin disabled in SQL", revocationCeiling, func() bool { return adminRole(t, b, tok) == "" })

	// A session revoked in SQL.
	tok = login("cache-adm-revoke")
	if _, err := db.ExecContext(ctx, `UPDATE admin_sessions SET revoked_at = now() WHERE admin_id = (SELECT id FROM admins WHERE username = 'cache-adm-revoke')`); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, "B to refuse an admin session revoked in SQL", revocationCeiling, func() bool { return adminRole(t, b, tok) == "" })
}
