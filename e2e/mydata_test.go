package e2e_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/models"
	"wxlogin/store"
)

// myData exports tok's user's data and decodes the document.
func myData(t *testing.T, ts *apptest.Server, tok string) (string, models.UserData) {
	t.Helper()
	r := ts.Do(t, tok, `{ myData }`, nil)
	var doc string
	var d models.UserData
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["myData"], &doc) != nil || json.Unmarshal([]byte(doc), &d) != nil {
		t.Fatalf("myData: %.500s", r.Raw)
	}
	return doc, d
}

// execSQL runs a statement on ts's database.
func execSQL(t *testing.T, ts *apptest.Server, q string, args ...any) {
	t.Helper()
	if _, err := ts.Store().DB().ExecContext(context.Background(), q, args...); err != nil {
		t.Fatal(err)
	}
}

// assertNoneIn fails when doc holds any of secrets (bytes, as PostgreSQL's
// hex, Go's hex and base64 would show them) or of others' strings.
func assertNoneIn(t *testing.T, doc string, secrets [][]byte, others ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, form := range []string{hex.EncodeToString(s), base64.StdEncoding.EncodeToString(s), base64.RawURLEncoding.EncodeToString(s)} {
			if strings.Contains(doc, form) {
				t.Fatalf("the export holds a secret (%.12s…)", form)
			}
		}
	}
	for _, o := range others {
		if o != "" && strings.Contains(doc, o) {
			t.Fatalf("the export holds another person's %q", o)
		}
	}
}

func TestE2E_MyData(t *testing.T) {
	t.Parallel()
	ts := startTwoApps(t)
	bindApps(ts)
	ts.Config.PolicyVersion = "" // set below through a second server
	user, other := "export-"+t.Name(), "export-other-"+t.Name()
	a := ts.MustLogin(t, map[string]any{"code": codeIn(ts, t, apptest.AppID, user), "appId": apptest.AppID})
	a2 := ts.MustLogin(t, map[string]any{"code": codeIn(ts, t, e2eAppID2, user), "appId": e2eAppID2})
	ended := ts.MustLogin(t, map[string]any{"code": codeIn(ts, t, apptest.AppID, user)})
	b := ts.MustLogin(t, map[string]any{"code": codeIn(ts, t, apptest.AppID, other)})
	if a2.User.ID != a.User.ID || b.User.ID == a.User.ID {
		t.Fatalf("users %s %s %s: want the first two one user", a.User.ID, a2.User.ID, b.User.ID)
	}
	if r := ts.Do(t, ended.Token, `mutation { logout }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if r := ts.Do(t, a.Token, `mutation { updateProfile(input: {nickname: "导出测试", city: "Hangzhou"}) { id } }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if r := ts.Do(t, b.Token, `mutation { updateProfile(input: {nickname: "别人的名字"}) { id } }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	execSQL(t, ts, `UPDATE users SET phone = '+8613800135701', phone_country_code = '86' WHERE id = ?`, a.User.ID)
	execSQL(t, ts, `UPDATE users SET phone = '+8613900135702', phone_country_code = '86' WHERE id = ?`, b.User.ID)
	// Consent, through a server that tracks a policy version.
	ps := apptest.Start(t, withPolicy("2026-11"), apptest.WithSimulator(ts.Sim, apptest.AppID, ts.Config.WechatAPIBase))
	if r := acceptPolicy(t, ps, a.Token, "2026-11"); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	// An audit row about a that names b (user.unbind_phone's keptBy), and
	// one by an admin.
	execSQL(t, ts, `INSERT INTO audit_log (id, actor_kind, actor_name, action, target, detail)
		VALUES (?, 'system', 'migration', 'user.unbind_phone', ?, jsonb_build_object('keptBy', ?::text, 'phone', '+86138****8000'))`,
		store.NewID(), a.User.ID, b.User.ID)
	adminPW := apptest.CreateAdmin(t, "export-admin", "admin")
	adm, _ := ts.AdminLogin(t, "export-admin", adminPW)
	if r := ts.Do(t, adm, `mutation($id: ID!) { revokeUserSessions(userId: $id) }`, map[string]any{"id": b.User.ID}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	b = ts.MustLogin(t, map[string]any{"code": codeIn(ts, t, apptest.AppID, other)})

	doc, d := myData(t, ts, a.Token)
	if d.Version != 1 || time.Since(d.ExportedAt) > time.Minute || d.User.ID != a.User.ID ||
		d.User.Nickname == nil || *d.User.Nickname != "导出测试" || d.User.City == nil || *d.User.City != "Hangzhou" ||
		d.User.Phone == nil || *d.User.Phone != "+8613800135701" || d.User.PhoneCountryCode == nil || *d.User.PhoneCountryCode != "86" {
		t.Fatalf("profile: %+v", d.User)
	}
	if len(d.Identities) != 2 || d.Identities[0].AppID != apptest.AppID || d.Identities[1].AppID != e2eAppID2 ||
		d.Identities[0].OpenID != ts.Sim.OpenID(apptest.AppID, user) || d.Identities[1].OpenID != ts.Sim.OpenID(e2eAppID2, user) ||
		d.Identities[0].UnionID == nil || *d.Identities[0].UnionID != ts.Sim.UnionID(user) || d.Identities[0].CreatedAt.IsZero() || d.Identities[0].LastLoginAt.IsZero() {
		t.Fatalf("identities: %+v", d.Identities)
	}
	if d.Sessions.Total != 3 || d.Sessions.Truncated || len(d.Sessions.Items) != 3 {
		t.Fatalf("sessions: %+v", d.Sessions)
	}
	revoked := 0
	for _, s := range d.Sessions.Items {
		if s.RevokedAt != nil {
			revoked++
		}
		if s.UserAgent == nil || *s.UserAgent != "e2e-test/1.0" || s.IP == nil || *s.IP != "127.0.0.1" || s.AppID == "" || s.CreatedAt.IsZero() {
			t.Fatalf("session %+v", s)
		}
	}
	if revoked != 1 {
		t.Fatalf("%d ended sessions, want 1: %+v", revoked, d.Sessions.Items)
	}
	if d.Consents.Total != 1 || len(d.Consents.Items) != 1 || d.Consents.Items[0].Version != "2026-11" || d.Consents.Items[0].IP == nil {
		t.Fatalf("consents: %+v", d.Consents)
	}
	actions := map[string]models.UserDataAuditRow{}
	for _, e := range d.Audit.Items {
		actions[e.Action] = e
	}
	for _, want := range []string{"user.login", "user.logout", "user.accept_policy", "user.unbind_phone"} {
		if _, ok := actions[want]; !ok {
			t.Errorf("no %s audit entry in %v", want, actions)
		}
	}
	if e := actions["user.accept_policy"]; !e.Self || e.ActorKind != "user" {
		t.Errorf("accept_policy entry %+v: want by the user", e)
	}
	if e := actions["user.unbind_phone"]; e.Self || e.ActorName == nil || *e.ActorName != "migration" || e.Detail["keptBy"] != nil || e.Detail["phone"] != "+86138****8000" {
		t.Errorf("unbind_phone entry %+v: want the system by name, no keptBy", e)
	}
	if d.Audit.Total != len(d.Audit.Items) || d.Audit.Truncated {
		t.Errorf("audit: total %d, %d items, truncated %v", d.Audit.Total, len(d.Audit.Items), d.Audit.Truncated)
	}

	// Nothing secret, nothing of b's.
	var secrets [][]byte
	rows, err := ts.Store().DB().QueryContext(context.Background(), `SELECT token_hash, session_key_sealed FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var h, k []byte
		if err := rows.Scan(&h, &k); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, h, k)
	}
	rows.Close()
	if len(secrets) < 8 {
		t.Fatalf("%d secrets read", len(secrets))
	}
	ts.AssertNoSecretsIn(t, doc, "the export")
	assertNoneIn(t, doc, secrets, b.User.ID, "别人的名字", "13900135702", ts.Sim.OpenID(apptest.AppID, other), ts.Sim.UnionID(other),
		"export-admin", "token_hash", "session_key", "sealed")
	for _, k := range []string{`"tokenHash"`, `"sessionKey`} {
		if strings.Contains(doc, k) {
			t.Fatalf("the export has %s", k)
		}
	}

	// b's export holds the admin's revocation, by name.
	_, db := myData(t, ts, b.Token)
	var found bool
	for _, e := range db.Audit.Items {
		if e.Action == "user.revoke_sessions" && e.ActorKind == "admin" && e.ActorName != nil && *e.ActorName == "export-admin" {
			found = true
		}
	}
	if !found || db.User.ID != b.User.ID || strings.Contains(fmt.Sprint(db), a.User.ID) {
		t.Fatalf("b's export: %+v", db.Audit.Items)
	}

	if r := ts.Do(t, "", `{ myData }`, nil); r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("myData without a token: %s", r.Raw)
	}
	if r := ts.Do(t, ended.Token, `{ myData }`, nil); r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("myData with an ended session: %s", r.Raw)
	}
}

// TestE2E_MyDataCapped: a user with more audit entries and sessions than
// the cap gets the newest UserDataCap of each, counted and flagged; the
// answer stays bounded, and the cost lets one export in a request.
func TestE2E_MyDataCapped(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	a := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "export-"+t.Name())})
	execSQL(t, ts, `INSERT INTO audit_log (id, at, actor_kind, actor_id, action, target, detail)
		SELECT gen_random_uuid(), now() - n * interval '1 second', 'user', ?, 'test.bulk', ?, jsonb_build_object('n', n)
		FROM generate_series(1, 2500) n`, a.User.ID, a.User.ID)
	execSQL(t, ts, `INSERT INTO sessions (id, token_hash, user_id, identity_id, session_key_sealed, created_at, expires_at, revoked_at)
		SELECT gen_random_uuid(), sha256(n::text::bytea), s.user_id, s.identity_id, s.session_key_sealed,
		       now() - n * interval '1 minute', now() - interval '1 second', now() - interval '1 second'
		FROM sessions s, generate_series(1, 1200) n WHERE s.user_id = ?`, a.User.ID)
	own := ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE action <> 'test.bulk' AND (actor_id = ? OR target = ?)`, a.User.ID, a.User.ID)
	doc, d := myData(t, ts, a.Token)
	if own == 0 || d.Audit.Total != 2500+own || !d.Audit.Truncated || len(d.Audit.Items) != store.UserDataCap ||
		d.Audit.Items[own-1].Action == "test.bulk" || d.Audit.Items[own].Detail["n"] != float64(1) {
		t.Fatalf("audit: total %d, truncated %v, %d items, first %+v", d.Audit.Total, d.Audit.Truncated, len(d.Audit.Items), d.Audit.Items[0])
	}
	if d.Sessions.Total != 1201 || !d.Sessions.Truncated || len(d.Sessions.Items) != store.UserDataCap || d.Sessions.Items[0].RevokedAt != nil {
		t.Fatalf("sessions: total %d, truncated %v, %d items", d.Sessions.Total, d.Sessions.Truncated, len(d.Sessions.Items))
	}
	if len(doc) > 1<<20 {
		t.Fatalf("the capped export is %d bytes", len(doc))
	}
	if r := ts.Do(t, a.Token, `{ a: myData b: myData }`, nil); r.Code() != "COMPLEXITY_LIMIT_EXCEEDED" && !strings.Contains(r.Raw, "complexity") {
		t.Fatalf("two exports in one request: %.300s", r.Raw)
	}
}

func TestE2E_UserData(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) {}))
	a := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "export-"+t.Name())})
	viewer, _ := ts.AdminLogin(t, "export-viewer", apptest.CreateAdmin(t, "export-viewer", "viewer"))
	const q = `query($id: ID!) { userData(id: $id) }`

	r := ts.Do(t, viewer, q, map[string]any{"id": a.User.ID})
	var doc string
	var d models.UserData
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["userData"], &doc) != nil || json.Unmarshal([]byte(doc), &d) != nil {
		t.Fatalf("userData: %.500s", r.Raw)
	}
	if d.Version != 1 || d.User.ID != a.User.ID || len(d.Identities) != 1 || d.Sessions.Total != 1 {
		t.Fatalf("userData: %+v", d)
	}
	ts.AssertNoSecretsIn(t, doc, "userData")
	if n := ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE action = 'admin.user_data' AND actor_kind = 'admin' AND actor_name = 'export-viewer' AND target = ?`, a.User.ID); n != 1 {
		t.Fatalf("%d admin.user_data audit rows, want 1", n)
	}
	// The user sees that an operator exported their data.
	_, mine := myData(t, ts, a.Token)
	var seen bool
	for _, e := range mine.Audit.Items {
		seen = seen || e.Action == "admin.user_data" && e.ActorName != nil && *e.ActorName == "export-viewer"
	}
	if !seen {
		t.Fatalf("the user's export lacks the admin's export: %+v", mine.Audit.Items)
	}

	for _, id := range []string{store.NewID(), "not-an-id"} {
		if r := ts.Do(t, viewer, q, map[string]any{"id": id}); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("userData of %s: %s", id, r.Raw)
		}
	}
	if r := ts.Do(t, a.Token, q, map[string]any{"id": a.User.ID}); r.Code() != "FORBIDDEN" && r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("userData as a user: %s", r.Raw)
	}
	if r := ts.Do(t, "", q, map[string]any{"id": a.User.ID}); r.Code() != "UNAUTHENTICATED" && r.Code() != "FORBIDDEN" {
		t.Fatalf("userData without a token: %s", r.Raw)
	}
	// The package's tests share a database (the admin browser test exports
	// too): only this test's viewer and user count.
	if n := ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE action = 'admin.user_data' AND (actor_name = 'export-viewer' OR target = ?)`, a.User.ID); n != 1 {
		t.Fatalf("%d admin.user_data rows after refusals, want 1", n)
	}
}
