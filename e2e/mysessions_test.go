package e2e_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
)

const mySessionsQuery = `query($first: Int) { mySessions(first: $first) { id appId createdAt lastSeenAt expiresAt current ip userAgent } }`

type mySession struct {
	ID         string    `json:"id"`
	AppID      string    `json:"appId"`
	CreatedAt  time.Time `json:"createdAt"`
	LastSeenAt time.Time `json:"lastSeenAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	Current    bool      `json:"current"`
	IP         *string   `json:"ip"`
	UserAgent  *string   `json:"userAgent"`
}

// mySessions lists tok's user's sessions (first: 0 leaves the default).
func mySessions(ts *apptest.Server, t *testing.T, tok string, first int) []mySession {
	t.Helper()
	vars := map[string]any{}
	if first != 0 {
		vars["first"] = first
	}
	r := ts.Do(t, tok, mySessionsQuery, vars)
	var out []mySession
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["mySessions"], &out) != nil {
		t.Fatalf("mySessions: %s", r.Raw)
	}
	for _, tok := range ts.Tokens() {
		if strings.Contains(r.Raw, tok) {
			t.Fatalf("mySessions shows a token: %s", r.Raw)
		}
	}
	return out
}

// revokeMine revokes session id with tok and returns the answer.
func revokeMine(ts *apptest.Server, t *testing.T, tok, id string) *apptest.Response {
	t.Helper()
	return ts.Do(t, tok, `mutation($id: ID!) { revokeMySession(id: $id) }`, map[string]any{"id": id})
}

// logoutEverywhere ends tok's user's sessions and returns how many.
func logoutEverywhere(ts *apptest.Server, t *testing.T, tok string, keepCurrent bool) int {
	t.Helper()
	r := ts.Do(t, tok, `mutation($k: Boolean) { logoutEverywhere(keepCurrent: $k) }`, map[string]any{"k": keepCurrent})
	var n int
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["logoutEverywhere"], &n) != nil {
		t.Fatalf("logoutEverywhere: %s", r.Raw)
	}
	return n
}

func currentOf(t *testing.T, list []mySession) mySession {
	t.Helper()
	if len(list) == 0 || !list[0].Current {
		t.Fatalf("the current session is not first: %+v", list)
	}
	for _, s := range list[1:] {
		if s.Current {
			t.Fatalf("two current sessions: %+v", list)
		}
	}
	return list[0]
}

func TestE2E_MySessions(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	user := "devices-" + t.Name()
	a := ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)})
	b := ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)})
	c := ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)})
	d := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "someone-else-"+t.Name())})
	meOK := func(tok string) bool {
		r := ts.Do(t, tok, `{ me { id } }`, nil)
		if len(r.Errors) > 0 && r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("me: %s", r.Raw)
		}
		return len(r.Errors) == 0
	}

	list := mySessions(ts, t, a.Token, 0)
	if len(list) != 3 {
		t.Fatalf("%d sessions, want 3: %+v", len(list), list)
	}
	cur := currentOf(t, list)
	if cur.AppID != apptest.AppID || cur.IP == nil || *cur.IP != "127.0.0.0/24" || cur.UserAgent == nil || *cur.UserAgent != "e2e-test/1.0" ||
		cur.CreatedAt.IsZero() || cur.LastSeenAt.Before(cur.CreatedAt) || !cur.ExpiresAt.Equal(a.ExpiresAt) {
		t.Fatalf("current session %+v (login expiresAt %v)", cur, a.ExpiresAt)
	}
	idOf := func(tok string) string { return currentOf(t, mySessions(ts, t, tok, 0)).ID }
	aID, bID, cID, dID := cur.ID, idOf(b.Token), idOf(c.Token), idOf(d.Token)
	if ids := []string{list[1].ID, list[2].ID}; !(ids[0] == bID && ids[1] == cID || ids[0] == cID && ids[1] == bID) {
		t.Fatalf("the others are %v, want %s and %s", ids, bID, cID)
	}
	if got := mySessions(ts, t, a.Token, 1); len(got) != 1 || got[0].ID != aID {
		t.Fatalf("first: 1 = %+v, want the current session only", got)
	}

	// Bad input and no session.
	for _, first := range []int{-1, 51, 1 << 30} {
		if r := ts.Do(t, a.Token, mySessionsQuery, map[string]any{"first": first}); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("first: %d = %s, want BAD_USER_INPUT", first, r.Raw)
		}
	}
	for _, q := range []string{`{ mySessions { id } }`, `mutation { revokeMySession(id: "` + bID + `") }`, `mutation { logoutEverywhere }`} {
		if r := ts.Do(t, "", q, nil); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("%s without a token = %s", q, r.Raw)
		}
	}

	// Another user's session is answered as an unknown one, and stays.
	want := revokeMine(ts, t, a.Token, "00000000-0000-7000-8000-000000000000")
	if want.Code() != "BAD_USER_INPUT" {
		t.Fatalf("an unknown id: %s", want.Raw)
	}
	for _, id := range []string{dID, strings.ToUpper(dID), "{" + dID + "}", "not-a-uuid", "", strings.Repeat("x", 5000)} {
		r := revokeMine(ts, t, a.Token, id)
		if r.Code() != "BAD_USER_INPUT" || r.Errors[0].Message != want.Errors[0].Message || strings.Contains(r.Raw, "xxxxx") {
			t.Errorf("revokeMySession(%.40q) = %.300s, want %s", id, r.Raw, want.Raw)
		}
	}
	if !meOK(d.Token) {
		t.Fatal("another user's session was revoked")
	}

	// One of the others: refused at once, the rest go on.
	if r := revokeMine(ts, t, a.Token, bID); string(r.Data["revokeMySession"]) != "true" {
		t.Fatalf("revoking b: %s", r.Raw)
	}
	if meOK(b.Token) || !meOK(a.Token) || !meOK(c.Token) {
		t.Fatal("after revoking b: want b refused, a and c accepted")
	}
	if r := revokeMine(ts, t, a.Token, bID); r.Code() != "BAD_USER_INPUT" {
		t.Fatalf("revoking b twice: %s", r.Raw)
	}
	if got := mySessions(ts, t, a.Token, 0); len(got) != 2 {
		t.Fatalf("after revoking b: %+v", got)
	}

	// Log out the other devices, then everywhere.
	if n := logoutEverywhere(ts, t, a.Token, true); n != 1 {
		t.Fatalf("logoutEverywhere(keepCurrent) ended %d, want 1 (c)", n)
	}
	if meOK(c.Token) || !meOK(a.Token) {
		t.Fatal("after logging out the other devices: want c refused, a accepted")
	}
	// Again, with nothing to end: 0, and no audit row (see below).
	if n := logoutEverywhere(ts, t, a.Token, true); n != 0 {
		t.Fatalf("logoutEverywhere(keepCurrent) again ended %d, want 0", n)
	}
	e := ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)})
	if n := logoutEverywhere(ts, t, a.Token, false); n != 2 {
		t.Fatalf("logoutEverywhere ended %d, want 2 (a and e)", n)
	}
	if meOK(a.Token) || meOK(e.Token) || !meOK(d.Token) {
		t.Fatal("after logoutEverywhere: want a and e refused, d (another user) accepted")
	}

	// Revoking the current session is a logout.
	f := ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)})
	fID := idOf(f.Token)
	if r := revokeMine(ts, t, f.Token, fID); string(r.Data["revokeMySession"]) != "true" {
		t.Fatalf("revoking the current session: %s", r.Raw)
	}
	if meOK(f.Token) {
		t.Fatal("the current session revoked by itself still works")
	}

	// Each is in the audit log, as the user's doing.
	type row struct {
		Action, Target string
		Detail         string
	}
	var rows []row
	if err := ts.Store().DB().NewSelect().TableExpr("audit_log").ColumnExpr("action, target, detail::text AS detail").
		Where("actor_kind = 'user' AND actor_id = ?", a.User.ID).Where("action IN ('session.revoke', 'user.revoke_sessions')").
		OrderExpr("id").Scan(t.Context(), &rows); err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(rows))
	for i, r := range rows {
		got[i] = r.Action + " " + r.Target + " " + r.Detail
	}
	wantRows := []string{
		"session.revoke " + bID + ` {"current": false}`,
		"user.revoke_sessions " + a.User.ID + fmt.Sprintf(` {"session": %q, "keepCurrent": true, "sessionsRevoked": 1}`, aID),
		"user.revoke_sessions " + a.User.ID + fmt.Sprintf(` {"session": %q, "keepCurrent": false, "sessionsRevoked": 2}`, aID),
		"session.revoke " + fID + ` {"current": true}`,
	}
	if strings.Join(got, "\n") != strings.Join(wantRows, "\n") {
		t.Fatalf("audit rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRows, "\n"))
	}
}

// TestSessionCache_OwnRevocationsAtOnce: with the session cache on, a
// session the user ends from another of their sessions is refused on this
// instance's very next request, without waiting for the NOTIFY.
func TestSessionCache_OwnRevocationsAtOnce(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.SessionCacheTTL, c.SessionCacheSize = 30*time.Second, 1000 }))
	apptest.WaitFor(t, "the session cache to come up", 5*time.Second, ts.SessionCache.Up)
	for i := range 20 {
		user := fmt.Sprintf("cache-own-%d", i)
		keep := ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)})
		gone := ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)})
		me := func(tok string) *apptest.Response { return ts.Do(t, tok, `{ me { id } }`, nil) }
		me(gone.Token) // now cached
		if i%2 == 0 {
			var id string
			for _, s := range mySessions(ts, t, keep.Token, 0) {
				if !s.Current {
					id = s.ID
				}
			}
			if r := revokeMine(ts, t, keep.Token, id); len(r.Errors) > 0 {
				t.Fatal(r.Raw)
			}
		} else if n := logoutEverywhere(ts, t, keep.Token, true); n != 1 {
			t.Fatalf("logoutEverywhere ended %d, want 1", n)
		}
		if r := me(gone.Token); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("round %d: me right after the revoke = %s", i, r.Raw)
		}
		if r := me(keep.Token); len(r.Errors) > 0 {
			t.Fatalf("round %d: the kept session = %s", i, r.Raw)
		}
	}
}
