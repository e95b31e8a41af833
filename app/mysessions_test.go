package app

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
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
func (ts *testServer) mySessions(t *testing.T, tok string, first int) []mySession {
	t.Helper()
	vars := map[string]any{}
	if first != 0 {
		vars["first"] = first
	}
	r := ts.do(t, tok, mySessionsQuery, vars)
	var out []mySession
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["mySessions"], &out) != nil {
		t.Fatalf("mySessions: %s", r.raw)
	}
	for _, tok := range ts.tokens {
		if strings.Contains(r.raw, tok) {
			t.Fatalf("mySessions shows a token: %s", r.raw)
		}
	}
	return out
}

// revokeMine revokes session id with tok and returns the answer.
func (ts *testServer) revokeMine(t *testing.T, tok, id string) *gqlResponse {
	t.Helper()
	return ts.do(t, tok, `mutation($id: ID!) { revokeMySession(id: $id) }`, map[string]any{"id": id})
}

// logoutEverywhere ends tok's user's sessions and returns how many.
func (ts *testServer) logoutEverywhere(t *testing.T, tok string, keepCurrent bool) int {
	t.Helper()
	r := ts.do(t, tok, `mutation($k: Boolean) { logoutEverywhere(keepCurrent: $k) }`, map[string]any{"k": keepCurrent})
	var n int
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["logoutEverywhere"], &n) != nil {
		t.Fatalf("logoutEverywhere: %s", r.raw)
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
	ts := startServer(t, nil)
	user := "devices-" + t.Name()
	a := mustLogin(t, ts, map[string]any{"code": ts.code(t, user)})
	b := mustLogin(t, ts, map[string]any{"code": ts.code(t, user)})
	c := mustLogin(t, ts, map[string]any{"code": ts.code(t, user)})
	d := mustLogin(t, ts, map[string]any{"code": ts.code(t, "someone-else-"+t.Name())})
	meOK := func(tok string) bool {
		r := ts.do(t, tok, `{ me { id } }`, nil)
		if len(r.Errors) > 0 && r.code() != "UNAUTHENTICATED" {
			t.Fatalf("me: %s", r.raw)
		}
		return len(r.Errors) == 0
	}

	list := ts.mySessions(t, a.Token, 0)
	if len(list) != 3 {
		t.Fatalf("%d sessions, want 3: %+v", len(list), list)
	}
	cur := currentOf(t, list)
	if cur.AppID != e2eAppID || cur.IP == nil || *cur.IP != "127.0.0.0/24" || cur.UserAgent == nil || *cur.UserAgent != "e2e-test/1.0" ||
		cur.CreatedAt.IsZero() || cur.LastSeenAt.Before(cur.CreatedAt) || !cur.ExpiresAt.Equal(a.ExpiresAt) {
		t.Fatalf("current session %+v (login expiresAt %v)", cur, a.ExpiresAt)
	}
	idOf := func(tok string) string { return currentOf(t, ts.mySessions(t, tok, 0)).ID }
	aID, bID, cID, dID := cur.ID, idOf(b.Token), idOf(c.Token), idOf(d.Token)
	if ids := []string{list[1].ID, list[2].ID}; !(ids[0] == bID && ids[1] == cID || ids[0] == cID && ids[1] == bID) {
		t.Fatalf("the others are %v, want %s and %s", ids, bID, cID)
	}
	if got := ts.mySessions(t, a.Token, 1); len(got) != 1 || got[0].ID != aID {
		t.Fatalf("first: 1 = %+v, want the current session only", got)
	}

	// Bad input and no session.
	for _, first := range []int{-1, 51, 1 << 30} {
		if r := ts.do(t, a.Token, mySessionsQuery, map[string]any{"first": first}); r.code() != "BAD_USER_INPUT" {
			t.Errorf("first: %d = %s, want BAD_USER_INPUT", first, r.raw)
		}
	}
	for _, q := range []string{`{ mySessions { id } }`, `mutation { revokeMySession(id: "` + bID + `") }`, `mutation { logoutEverywhere }`} {
		if r := ts.do(t, "", q, nil); r.code() != "UNAUTHENTICATED" {
			t.Errorf("%s without a token = %s", q, r.raw)
		}
	}

	// Another user's session is answered as an unknown one, and stays.
	want := ts.revokeMine(t, a.Token, "00000000-0000-7000-8000-000000000000")
	if want.code() != "BAD_USER_INPUT" {
		t.Fatalf("an unknown id: %s", want.raw)
	}
	for _, id := range []string{dID, strings.ToUpper(dID), "{" + dID + "}", "not-a-uuid", "", strings.Repeat("x", 5000)} {
		r := ts.revokeMine(t, a.Token, id)
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Message != want.Errors[0].Message || strings.Contains(r.raw, "xxxxx") {
			t.Errorf("revokeMySession(%.40q) = %.300s, want %s", id, r.raw, want.raw)
		}
	}
	if !meOK(d.Token) {
		t.Fatal("another user's session was revoked")
	}

	// One of the others: refused at once, the rest go on.
	if r := ts.revokeMine(t, a.Token, bID); string(r.Data["revokeMySession"]) != "true" {
		t.Fatalf("revoking b: %s", r.raw)
	}
	if meOK(b.Token) || !meOK(a.Token) || !meOK(c.Token) {
		t.Fatal("after revoking b: want b refused, a and c accepted")
	}
	if r := ts.revokeMine(t, a.Token, bID); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("revoking b twice: %s", r.raw)
	}
	if got := ts.mySessions(t, a.Token, 0); len(got) != 2 {
		t.Fatalf("after revoking b: %+v", got)
	}

	// Log out the other devices, then everywhere.
	if n := ts.logoutEverywhere(t, a.Token, true); n != 1 {
		t.Fatalf("logoutEverywhere(keepCurrent) ended %d, want 1 (c)", n)
	}
	if meOK(c.Token) || !meOK(a.Token) {
		t.Fatal("after logging out the other devices: want c refused, a accepted")
	}
	// Again, with nothing to end: 0, and no audit row (see below).
	if n := ts.logoutEverywhere(t, a.Token, true); n != 0 {
		t.Fatalf("logoutEverywhere(keepCurrent) again ended %d, want 0", n)
	}
	e := mustLogin(t, ts, map[string]any{"code": ts.code(t, user)})
	if n := ts.logoutEverywhere(t, a.Token, false); n != 2 {
		t.Fatalf("logoutEverywhere ended %d, want 2 (a and e)", n)
	}
	if meOK(a.Token) || meOK(e.Token) || !meOK(d.Token) {
		t.Fatal("after logoutEverywhere: want a and e refused, d (another user) accepted")
	}

	// Revoking the current session is a logout.
	f := mustLogin(t, ts, map[string]any{"code": ts.code(t, user)})
	fID := idOf(f.Token)
	if r := ts.revokeMine(t, f.Token, fID); string(r.Data["revokeMySession"]) != "true" {
		t.Fatalf("revoking the current session: %s", r.raw)
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
	if err := ts.store.DB().NewSelect().TableExpr("audit_log").ColumnExpr("action, target, detail::text AS detail").
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
	ts := startServer(t, func(c *Config) { c.SessionCacheTTL, c.SessionCacheSize = 30*time.Second, 1000 })
	waitFor(t, "the session cache to come up", 5*time.Second, ts.SessionCache.Up)
	for i := range 20 {
		user := fmt.Sprintf("cache-own-%d", i)
		keep := mustLogin(t, ts, map[string]any{"code": ts.code(t, user)})
		gone := mustLogin(t, ts, map[string]any{"code": ts.code(t, user)})
		me := func(tok string) *gqlResponse { return ts.do(t, tok, `{ me { id } }`, nil) }
		me(gone.Token) // now cached
		if i%2 == 0 {
			var id string
			for _, s := range ts.mySessions(t, keep.Token, 0) {
				if !s.Current {
					id = s.ID
				}
			}
			if r := ts.revokeMine(t, keep.Token, id); len(r.Errors) > 0 {
				t.Fatal(r.raw)
			}
		} else if n := ts.logoutEverywhere(t, keep.Token, true); n != 1 {
			t.Fatalf("logoutEverywhere ended %d, want 1", n)
		}
		if r := me(gone.Token); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("round %d: me right after the revoke = %s", i, r.raw)
		}
		if r := me(keep.Token); len(r.Errors) > 0 {
			t.Fatalf("round %d: the kept session = %s", i, r.raw)
		}
	}
}
