package e2e_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"wxlogin/app"
	"wxlogin/app/apptest"
)

// TestAdminAccounts_Hostile: what a VIEWER, an admin who must change a
// password another admin set, and an ADMIN trying the rules' edges get
// (issue 21 item 7, the hostile review).
func TestAdminAccounts_Hostile(t *testing.T) {
	t.Parallel()
	as := startAccounts(t)
	want := func(what, tok, query string, vars map[string]any, code string) {
		t.Helper()
		if c := as.code(t, tok, query, vars); c != code {
			t.Fatalf("%s: %s, want %s", what, c, code)
		}
	}
	var root adminRow
	as.must(t, as.root, myAccountQuery, "admin", nil, &root)

	// An admin whose password root set: nothing but their own account.
	_, pw := as.create(t, "fresh", "ADMIN", "")
	ftok := as.signIn(t, "fresh", pw)
	const usersPage = `{ users(first: 2) { edges { node { id phone } } } }`
	for _, q := range []struct{ what, query string }{
		{"the users page (its fast path)", usersPage},
		{"admins", anAdminOnlyQuery},
		{"stats", aViewerQuery},
		{"auditLog", `{ auditLog(first: 1) { edges { node { id } } } }`},
	} {
		want("a must-change admin's "+q.what, ftok, q.query, nil, "PASSWORD_CHANGE_REQUIRED")
	}
	want("a must-change admin ending root's sessions", ftok, endSessionsMut, map[string]any{"id": root.ID}, "PASSWORD_CHANGE_REQUIRED")
	want("a must-change admin demoting root", ftok, setRoleMut, map[string]any{"id": root.ID, "r": "VIEWER"}, "PASSWORD_CHANGE_REQUIRED")

	// A VIEWER: no account but their own, whatever the path.
	_, vtok := as.ready(t, "vera", "VIEWER")
	var vera adminRow
	as.must(t, vtok, myAccountQuery, "admin", nil, &vera)
	for _, m := range []struct {
		what, query string
		vars        map[string]any
	}{
		{"promoting herself", setRoleMut, map[string]any{"id": vera.ID, "r": "ADMIN"}},
		{"creating an ADMIN", createAdminMut, map[string]any{"u": "vera2", "r": "ADMIN"}},
		{"resetting root's password", resetPasswordMut, map[string]any{"id": root.ID}},
		{"ending root's sessions", endSessionsMut, map[string]any{"id": root.ID}},
		{"disabling root", disableAdminMut, map[string]any{"id": root.ID}},
		{"listing admins", anAdminOnlyQuery, nil},
	} {
		want("a VIEWER "+m.what, vtok, m.query, m.vars, "FORBIDDEN")
	}
	as.must(t, vtok, usersPage, "users", nil, nil)

	// Usernames: ASCII only, one account per name in any case, bounded.
	for _, u := range []string{"ｒoot", "Root", "ROOT", "root\n", "root ", " root", strings.Repeat("a", 65), "røot", "root\u200b", "-root", ""} {
		want("createAdmin "+u, as.root, createAdminMut, map[string]any{"u": u, "r": "VIEWER", "p": theirOwnPassword}, "BAD_USER_INPUT")
	}

	// Root's own id, as PostgreSQL would also read it: still root's.
	upper := strings.ToUpper(root.ID)
	want("root disabling root (upper case)", as.root, disableAdminMut, map[string]any{"id": upper}, "BAD_USER_INPUT")
	want("root resetting root's password (upper case)", as.root, resetPasswordMut, map[string]any{"id": upper}, "BAD_USER_INPUT")
	for _, id := range []string{"{" + root.ID + "}", strings.ReplaceAll(root.ID, "-", ""), " " + root.ID} {
		want("root disabling root as "+id, as.root, disableAdminMut, map[string]any{"id": id}, "BAD_USER_INPUT")
	}

	// Many password hashes in one request: refused before any runs.
	for _, q := range []string{
		`mutation { ...F } fragment F on Mutation { a: changeMyPassword(current: "x", new: "long enough password 1") { id } b: changeMyPassword(current: "y", new: "long enough password 2") { id } }`,
		`mutation { a: resetAdminPassword(id: "` + vera.ID + `") { generatedPassword } ... on Mutation { b: resetAdminPassword(id: "` + vera.ID + `") { generatedPassword } } }`,
		`mutation { a: createAdmin(username: "x1", role: VIEWER) { generatedPassword } b: createAdmin(username: "x2", role: VIEWER) @include(if: true) { generatedPassword } }`,
		`mutation { changeMyPassword(current: "x", new: "long enough password 1") { id } adminLogin(username: "root", password: "z") { token } }`,
	} {
		want("several hashes", as.root, q, nil, "QUERY_TOO_COMPLEX")
	}
	if n := as.CountRows(t, `SELECT count(*) FROM admins WHERE username IN ('x1', 'x2')`); n != 0 {
		t.Fatalf("%d admins made by a refused request", n)
	}
	// A batch (a JSON array) is refused as a whole.
	batch := `[{"query":"mutation { createAdmin(username: \"b1\", role: VIEWER) { generatedPassword } }"},{"query":"mutation { createAdmin(username: \"b2\", role: VIEWER) { generatedPassword } }"}]`
	resp, body := as.Fetch(t, "POST", "/graphql", batch, "Authorization", "Bearer "+as.root, "Content-Type", "application/json")
	if resp.StatusCode == 200 && strings.Contains(body, "generatedPassword") {
		t.Fatalf("a batch ran: %s", body)
	}
	if n := as.CountRows(t, `SELECT count(*) FROM admins WHERE username IN ('b1', 'b2')`); n != 0 {
		t.Fatalf("%d admins made by a batch", n)
	}

	// Stepping down ends this request's use of the ADMIN role: the next
	// field does not run as an ADMIN.
	_, btok := as.ready(t, "bea", "ADMIN")
	var bea adminRow
	as.must(t, btok, myAccountQuery, "admin", nil, &bea)
	r := as.Do(t, btok, `mutation($me: ID!, $v: ID!) { setAdminRole(id: $me, role: VIEWER) { role } disableAdmin(id: $v) { disabled } }`, map[string]any{"me": bea.ID, "v": vera.ID})
	if len(r.Errors) == 0 || strings.Contains(string(r.Data["disableAdmin"]), "true") {
		t.Fatalf("the field after stepping down ran as an ADMIN: %s", r.Raw)
	}
	if n := as.CountRows(t, `SELECT count(*) FROM admins WHERE username = 'vera' AND disabled_at IS NOT NULL`); n != 0 {
		t.Fatal("vera was disabled by an admin who had stepped down in the same request")
	}
}

// TestAdminAccounts_CommandLineReachesCaches: an admin disabled, or given
// a new password, at the command line (another process, no cache of its
// own to clear) is refused by every instance that has their session
// cached, within the revocation ceiling.
func TestAdminAccounts_CommandLineReachesCaches(t *testing.T) {
	t.Parallel()
	as := startAccounts(t)
	other := startCached(t, as.dsn)
	as.ready(t, "bea", "ADMIN")
	cli := func(args ...string) {
		t.Helper()
		var out bytes.Buffer
		if err := app.Run(context.Background(), append([]string{"admin"}, args...), apptest.Env(map[string]string{"DATABASE_URL": as.dsn}),
			strings.NewReader("a password the shell chose\n"), &out, &out); err != nil {
			t.Fatal(err, out.String())
		}
	}
	for _, step := range [][]string{{"disable", "BEA"}, {"passwd", "bea"}} {
		pw := theirOwnPassword
		if step[0] == "passwd" {
			cli("enable", "bea")
		}
		tok := as.signIn(t, "bea", pw)
		adminMustBeCached(t, as.Server, tok)
		adminMustBeCached(t, other, tok)
		cli(step...)
		for _, ts := range []*apptest.Server{as.Server, other} {
			apptest.WaitFor(t, "an instance to refuse after the command line's "+step[0], revocationCeiling, func() bool { return adminRole(t, ts, tok) == "" })
		}
	}
}
