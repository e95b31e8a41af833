package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/store/storetest"
)

// accountsServer is a server with the admin session cache on, over a
// database of its own (the last-ADMIN rule counts every admin in it), with
// one ADMIN, "root", made by the command line and signed in.
type accountsServer struct {
	*apptest.Server
	dsn  string
	root string // root's token
}

func startAccounts(t *testing.T) *accountsServer {
	t.Helper()
	dsn, _ := storetest.FreshDatabase(t)
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) {
		c.DatabaseURL, c.SessionCacheTTL, c.SessionCacheSize = dsn, time.Minute, 1000
	}))
	apptest.WaitFor(t, "the session cache to come up", 5*time.Second, ts.AdminSessionCache.Up)
	as := &accountsServer{Server: ts, dsn: dsn}
	var out bytes.Buffer
	if err := app.Run(context.Background(), []string{"admin", "create", "root", "-role", "admin"}, apptest.Env(map[string]string{"DATABASE_URL": dsn}),
		strings.NewReader("root's own long password\n"), &out, &out); err != nil {
		t.Fatal(err, out.String())
	}
	as.root = as.signIn(t, "root", "root's own long password")
	return as
}

// signIn signs in and fails t unless it works.
func (as *accountsServer) signIn(t *testing.T, user, pw string) string {
	t.Helper()
	tok, resp := as.AdminLogin(t, user, pw)
	if tok == "" {
		t.Fatalf("sign-in of %s: %s", user, resp.Raw)
	}
	as.AddToken(tok)
	return tok
}

// must runs an operation that must succeed and decodes field's answer into out.
func (as *accountsServer) must(t *testing.T, tok, query, field string, vars map[string]any, out any) {
	t.Helper()
	r := as.Do(t, tok, query, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %s", field, r.Raw)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data[field], out); err != nil {
			t.Fatal(err)
		}
	}
}

// code runs an operation that must fail and returns its code.
func (as *accountsServer) code(t *testing.T, tok, query string, vars map[string]any) string {
	t.Helper()
	r := as.Do(t, tok, query, vars)
	if len(r.Errors) == 0 {
		t.Fatalf("succeeded: %s", r.Raw)
	}
	return r.Code()
}

type adminRow struct {
	ID                 string     `json:"id"`
	Username           string     `json:"username"`
	Role               string     `json:"role"`
	Disabled           bool       `json:"disabled"`
	DisabledAt         *time.Time `json:"disabledAt"`
	CreatedAt          time.Time  `json:"createdAt"`
	LastLoginAt        *time.Time `json:"lastLoginAt"`
	MustChangePassword bool       `json:"mustChangePassword"`
}

type passwordPayload struct {
	Admin             adminRow `json:"admin"`
	GeneratedPassword *string  `json:"generatedPassword"`
}

const (
	adminFields       = `id username role disabled disabledAt createdAt lastLoginAt mustChangePassword`
	createAdminMut    = `mutation($u: String!, $r: Role!, $p: String) { createAdmin(username: $u, role: $r, password: $p) { admin { ` + adminFields + ` } generatedPassword } }`
	resetPasswordMut  = `mutation($id: ID!, $p: String) { resetAdminPassword(id: $id, password: $p) { admin { ` + adminFields + ` } generatedPassword } }`
	setRoleMut        = `mutation($id: ID!, $r: Role!) { setAdminRole(id: $id, role: $r) { ` + adminFields + ` } }`
	disableAdminMut   = `mutation($id: ID!) { disableAdmin(id: $id) { ` + adminFields + ` } }`
	enableAdminMut    = `mutation($id: ID!) { enableAdmin(id: $id) { ` + adminFields + ` } }`
	endSessionsMut    = `mutation($id: ID!) { endAdminSessions(id: $id) }`
	changeMyPassMut   = `mutation($c: String!, $n: String!) { changeMyPassword(current: $c, new: $n) { ` + adminFields + ` } }`
	adminsQuery       = `{ admins { ` + adminFields + ` } }`
	anAdminOnlyQuery  = `{ admins { id } }`
	aViewerQuery      = `{ stats { totalUsers } }`
	myAccountQuery    = `{ admin { ` + adminFields + ` } }`
	theirOwnPassword  = "a password of my very own"
	anotherOwnPasswrd = "yet another password of mine"
)

// create makes an admin through createAdmin and returns it and its
// password (the generated one when pw is "").
func (as *accountsServer) create(t *testing.T, name, role, pw string) (adminRow, string) {
	t.Helper()
	vars := map[string]any{"u": name, "r": role}
	if pw != "" {
		vars["p"] = pw
	}
	var p passwordPayload
	as.must(t, as.root, createAdminMut, "createAdmin", vars, &p)
	if (pw == "") != (p.GeneratedPassword != nil) {
		t.Fatalf("createAdmin with password %q: generatedPassword %v", pw, p.GeneratedPassword)
	}
	if pw == "" {
		pw = *p.GeneratedPassword
		as.AddToken(pw) // never in the log
	}
	return p.Admin, pw
}

// ready creates an admin, signs them in and has them choose their own
// password, and returns them and their token.
func (as *accountsServer) ready(t *testing.T, name, role string) (adminRow, string) {
	t.Helper()
	a, pw := as.create(t, name, role, "")
	tok := as.signIn(t, name, pw)
	as.must(t, tok, changeMyPassMut, "changeMyPassword", map[string]any{"c": pw, "n": theirOwnPassword}, nil)
	return a, tok
}

// TestAdminAccounts_CreateAndFirstSignIn: an ADMIN creates accounts, with
// a generated password shown once or one they chose; the new admin signs
// in with it and can do nothing but change it; a VIEWER sees no accounts.
func TestAdminAccounts_CreateAndFirstSignIn(t *testing.T) {
	t.Parallel()
	as := startAccounts(t)

	v, pw := as.create(t, "Vera", "VIEWER", "")
	if v.ID == "" || v.Role != "VIEWER" || v.Disabled || !v.MustChangePassword || v.LastLoginAt != nil {
		t.Fatalf("created %+v", v)
	}
	if len(pw) != 24 || strings.Count(pw, "-") != 4 {
		t.Fatalf("generated password %q: want xxxx-xxxx-xxxx-xxxx-xxxx", pw)
	}
	tok := as.signIn(t, "vera", pw)
	var me adminRow
	as.must(t, tok, myAccountQuery, "admin", nil, &me)
	if !me.MustChangePassword || me.LastLoginAt == nil {
		t.Fatalf("the new admin sees %+v", me)
	}
	if c := as.code(t, tok, aViewerQuery, nil); c != "PASSWORD_CHANGE_REQUIRED" {
		t.Fatalf("stats before changing the password: %s", c)
	}
	for name, tc := range map[string]struct{ cur, next, want string }{
		"WrongCurrent": {"not my password at all", theirOwnPassword, "INVALID_CREDENTIALS"},
		"Weak":         {pw, "short", "BAD_USER_INPUT"},
		"Same":         {pw, pw, "BAD_USER_INPUT"},
	} {
		if c := as.code(t, tok, changeMyPassMut, map[string]any{"c": tc.cur, "n": tc.next}); c != tc.want {
			t.Errorf("%s: %s, want %s", name, c, tc.want)
		}
	}
	as.must(t, tok, changeMyPassMut, "changeMyPassword", map[string]any{"c": pw, "n": theirOwnPassword}, &me)
	if me.MustChangePassword {
		t.Fatal("mustChangePassword still set after changeMyPassword")
	}
	as.must(t, tok, aViewerQuery, "stats", nil, nil)
	if c := as.code(t, tok, anAdminOnlyQuery, nil); c != "FORBIDDEN" {
		t.Fatalf("a VIEWER listing admins: %s", c)
	}
	if c := as.code(t, tok, createAdminMut, map[string]any{"u": "sneaky", "r": "ADMIN"}); c != "FORBIDDEN" {
		t.Fatalf("a VIEWER creating an admin: %s", c)
	}
	if _, resp := as.AdminLogin(t, "vera", pw); resp.Code() != "INVALID_CREDENTIALS" {
		t.Fatalf("the generated password still signs in: %s", resp.Raw)
	}

	// A password the creator chose works the same way, and the rules are
	// the command line's.
	if _, pw := as.create(t, "ada", "ADMIN", "the creator's choice here"); pw != "the creator's choice here" {
		t.Fatal(pw)
	}
	for name, vars := range map[string]map[string]any{
		"Taken":       {"u": "ADA", "r": "VIEWER"},
		"BadUsername": {"u": "bad name!", "r": "VIEWER"},
		"Weak":        {"u": "weakling", "r": "VIEWER", "p": "short"},
		"WhiteSpace":  {"u": "spacey", "r": "VIEWER", "p": " padded password "},
	} {
		if c := as.code(t, as.root, createAdminMut, vars); c != "BAD_USER_INPUT" {
			t.Errorf("%s: %s", name, c)
		}
	}

	// Each hashes a password: one a request, however it is spelled.
	if c := as.code(t, as.root, `mutation { a: createAdmin(username: "twin-a", role: VIEWER) { generatedPassword } b: createAdmin(username: "twin-b", role: VIEWER) { generatedPassword } }`, nil); c != "QUERY_TOO_COMPLEX" {
		t.Fatalf("two createAdmins in one request: %s", c)
	}
	if c := as.code(t, tok, changeMyPassMut, map[string]any{"c": strings.Repeat("x", 2000), "n": theirOwnPassword + "!"}); c != "INVALID_CREDENTIALS" {
		t.Fatalf("an oversize current password: %s", c)
	}
	if c := as.code(t, as.root, createAdminMut, map[string]any{"u": "huge", "r": "VIEWER", "p": strings.Repeat("x", 2000)}); c != "BAD_USER_INPUT" {
		t.Fatalf("an oversize password: %s", c)
	}

	var list []adminRow
	as.must(t, as.root, adminsQuery, "admins", nil, &list)
	var names []string
	for _, a := range list {
		names = append(names, a.Username+":"+a.Role)
	}
	if got := strings.Join(names, " "); got != "ada:ADMIN root:ADMIN Vera:VIEWER" {
		t.Fatalf("admins = %s", got)
	}

	// The audit trail names the actor, and holds no password.
	rows := auditOf(t, as, "Vera")
	if got := strings.Join(rows.actions, " "); got != "admin.create admin.login admin.change_password_failed admin.change_password admin.login_failed" {
		t.Fatalf("audit trail of Vera: %s", got)
	}
	if rows.actors[0] != "root" || !strings.Contains(rows.details[0], `"generated": true`) {
		t.Fatalf("admin.create row: actor %s, detail %s", rows.actors[0], rows.details[0])
	}
	all := strings.Join(rows.details, " ")
	if strings.Contains(all, pw) || strings.Contains(all, theirOwnPassword) || strings.Contains(strings.ToLower(all), "password\":") {
		t.Fatalf("a password in the audit log: %s", all)
	}
}

type auditRows struct{ actions, actors, details []string }

// auditOf returns the audit rows whose target is the admin named name, oldest first.
func auditOf(t *testing.T, as *accountsServer, name string) auditRows {
	t.Helper()
	rs, err := as.Store().DB().QueryContext(context.Background(), `SELECT al.action, coalesce(al.actor_name, ''), al.detail::text FROM audit_log al
		JOIN admins a ON a.id::text = al.target WHERE a.username = ? ORDER BY al.at, al.id`, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out auditRows
	for rs.Next() {
		var action, actor, detail string
		if err := rs.Scan(&action, &actor, &detail); err != nil {
			t.Fatal(err)
		}
		out.actions, out.actors, out.details = append(out.actions, action), append(out.actors, actor), append(out.details, detail)
	}
	return out
}

// TestAdminAccounts_AtOnce: with admin sessions cached, ending an admin's
// sessions, disabling them or resetting their password makes their very
// next request UNAUTHENTICATED, and a demoted ADMIN's next ADMIN mutation
// FORBIDDEN — on this instance at once, on another within the bound.
func TestAdminAccounts_AtOnce(t *testing.T) {
	t.Parallel()
	as := startAccounts(t)
	other := startCached(t, as.dsn)
	warm := func(tok string) {
		t.Helper()
		adminMustBeCached(t, as.Server, tok)
		adminMustBeCached(t, other, tok)
	}
	refused := func(tok, what string) {
		t.Helper()
		if c := as.code(t, tok, aViewerQuery, nil); c != "UNAUTHENTICATED" {
			t.Fatalf("the very next request after %s: %s, want UNAUTHENTICATED", what, c)
		}
		apptest.WaitFor(t, "the other instance to refuse after "+what, revocationCeiling, func() bool { return adminRole(t, other, tok) == "" })
	}

	b, _ := as.ready(t, "bea", "ADMIN")
	for _, step := range []struct {
		what string
		do   func()
	}{
		{"endAdminSessions", func() {
			var n int
			as.must(t, as.root, endSessionsMut, "endAdminSessions", map[string]any{"id": b.ID}, &n)
			if n != 2 { // this one and ready's
				t.Fatalf("endAdminSessions ended %d sessions, want 2", n)
			}
		}},
		{"disableAdmin", func() {
			as.must(t, as.root, disableAdminMut, "disableAdmin", map[string]any{"id": b.ID}, nil)
		}},
		{"resetAdminPassword", func() {
			as.must(t, as.root, resetPasswordMut, "resetAdminPassword", map[string]any{"id": b.ID, "p": "root chose this one"}, nil)
		}},
	} {
		tok := as.signIn(t, "bea", theirOwnPassword)
		as.must(t, tok, aViewerQuery, "stats", nil, nil)
		warm(tok)
		step.do()
		refused(tok, step.what)
		switch step.what {
		case "disableAdmin":
			if _, resp := as.AdminLogin(t, "bea", theirOwnPassword); resp.Code() != "INVALID_CREDENTIALS" {
				t.Fatalf("a disabled admin signs in: %s", resp.Raw)
			}
			as.must(t, as.root, enableAdminMut, "enableAdmin", map[string]any{"id": b.ID}, nil)
		case "resetAdminPassword":
			tok := as.signIn(t, "bea", "root chose this one")
			if c := as.code(t, tok, aViewerQuery, nil); c != "PASSWORD_CHANGE_REQUIRED" {
				t.Fatalf("after a reset: %s", c)
			}
			as.must(t, tok, changeMyPassMut, "changeMyPassword", map[string]any{"c": "root chose this one", "n": theirOwnPassword}, nil)
		}
	}

	// Demoted while cached: the next ADMIN mutation is FORBIDDEN, here and there.
	tok := as.signIn(t, "bea", theirOwnPassword)
	v, _ := as.create(t, "victor", "VIEWER", "")
	as.must(t, tok, enableAdminMut, "enableAdmin", map[string]any{"id": v.ID}, nil)
	warm(tok)
	as.must(t, as.root, setRoleMut, "setAdminRole", map[string]any{"id": b.ID, "r": "VIEWER"}, nil)
	if c := as.code(t, tok, enableAdminMut, map[string]any{"id": v.ID}); c != "FORBIDDEN" {
		t.Fatalf("a demoted ADMIN's next ADMIN mutation: %s, want FORBIDDEN", c)
	}
	apptest.WaitFor(t, "the other instance to see the demotion", revocationCeiling, func() bool { return adminRole(t, other, tok) == "VIEWER" })
	if r := other.Do(t, tok, enableAdminMut, map[string]any{"id": v.ID}); r.Code() != "FORBIDDEN" {
		t.Fatalf("a demoted ADMIN's ADMIN mutation on the other instance: %s", r.Raw)
	}

	rows := auditOf(t, as, "bea")
	want := "admin.create admin.login admin.change_password admin.login admin.revoke_sessions admin.login admin.disable admin.login_failed admin.enable admin.login admin.passwd admin.login admin.change_password admin.login admin.role"
	if got := strings.Join(rows.actions, " "); got != want {
		t.Fatalf("audit trail of bea:\n got %s\nwant %s", got, want)
	}
}

// TestAdminAccounts_LastAdmin: nobody disables or demotes the last
// enabled ADMIN, not even two ADMINs doing it to each other at once; an
// admin may step down but not disable themselves.
func TestAdminAccounts_LastAdmin(t *testing.T) {
	t.Parallel()
	as := startAccounts(t)
	var root adminRow
	as.must(t, as.root, myAccountQuery, "admin", nil, &root)

	if c := as.code(t, as.root, disableAdminMut, map[string]any{"id": root.ID}); c != "BAD_USER_INPUT" {
		t.Fatalf("disabling oneself: %s", c)
	}
	if c := as.code(t, as.root, setRoleMut, map[string]any{"id": root.ID, "r": "VIEWER"}); c != "LAST_ADMIN" {
		t.Fatalf("the last ADMIN stepping down: %s", c)
	}
	if c := as.code(t, as.root, resetPasswordMut, map[string]any{"id": root.ID}); c != "BAD_USER_INPUT" {
		t.Fatalf("resetting one's own password: %s", c)
	}
	// The command line keeps the rule too.
	if err := app.Run(context.Background(), []string{"admin", "disable", "root"}, apptest.Env(map[string]string{"DATABASE_URL": as.dsn}), nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "last enabled ADMIN") {
		t.Fatalf("CLI disable of the last ADMIN: %v", err)
	}
	for name, vars := range map[string]map[string]any{"Junk": {"id": "root"}, "Unknown": {"id": "00000000-0000-7000-8000-000000000000"}} {
		if c := as.code(t, as.root, disableAdminMut, vars); c != "BAD_USER_INPUT" {
			t.Errorf("%s id: %s", name, c)
		}
	}

	// Two ADMINs at once, many times: root and a new ADMIN each disable
	// (or demote) the other; one stays.
	for round := range 6 {
		other, otherTok := as.ready(t, "rival"+string(rune('a'+round)), "ADMIN")
		mut := disableAdminMut
		if round%2 == 1 {
			mut = `mutation($id: ID!) { setAdminRole(id: $id, role: VIEWER) { id } }`
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		codes := make([]string, 2)
		for i, pair := range [][2]string{{as.root, other.ID}, {otherTok, root.ID}} {
			wg.Go(func() {
				<-start
				r := as.Post(pair[0], mut, map[string]any{"id": pair[1]})
				codes[i] = r.Resp.Code()
			})
		}
		close(start)
		wg.Wait()
		enabled := as.CountRows(t, "SELECT count(*) FROM admins WHERE role = 'ADMIN' AND disabled_at IS NULL")
		if enabled != 1 || codes[0] != "" && codes[1] != "" || codes[0] == codes[1] {
			t.Fatalf("round %d: codes %q, %d enabled ADMINs; want one success and 1", round, codes, enabled)
		}
		if codes[0] != "" {
			// The rival won: put root back as the only ADMIN.
			for _, q := range []string{"UPDATE admins SET role = 'ADMIN', disabled_at = NULL WHERE username = 'root'", "UPDATE admins SET role = 'VIEWER' WHERE username LIKE 'rival%'"} {
				if _, err := as.Store().DB().ExecContext(context.Background(), q); err != nil {
					t.Fatal(err)
				}
			}
			as.root = as.signIn(t, "root", "root's own long password")
		}
		t.Logf("round %d: %q", round, codes)
	}
}

// TestAdminAccounts_ChangeMyPassword: this session stays, the others end;
// a wrong current password counts with the sign-in limits.
func TestAdminAccounts_ChangeMyPassword(t *testing.T) {
	t.Parallel()
	as := startAccounts(t)
	_, tok := as.ready(t, "casey", "VIEWER")
	second := as.signIn(t, "casey", theirOwnPassword)
	adminMustBeCached(t, as.Server, second)
	as.must(t, tok, changeMyPassMut, "changeMyPassword", map[string]any{"c": theirOwnPassword, "n": anotherOwnPasswrd}, nil)
	as.must(t, tok, aViewerQuery, "stats", nil, nil)
	if c := as.code(t, second, aViewerQuery, nil); c != "UNAUTHENTICATED" {
		t.Fatalf("the other session right after changeMyPassword: %s", c)
	}
	if _, resp := as.AdminLogin(t, "casey", theirOwnPassword); resp.Code() != "INVALID_CREDENTIALS" {
		t.Fatalf("the old password: %s", resp.Raw)
	}

	// With the failed sign-in above, 10 failures (MaxPerUsername) are
	// answered; the 11th attempt is refused unchecked, the right current
	// password included, and so is the sign-in form for that username.
	for i := range 9 {
		if c := as.code(t, tok, changeMyPassMut, map[string]any{"c": "wrong guess number " + string(rune('a'+i)), "n": "whatever new password"}); c != "INVALID_CREDENTIALS" {
			t.Fatalf("guess %d: %s", i+1, c)
		}
	}
	r := as.Do(t, tok, changeMyPassMut, map[string]any{"c": anotherOwnPasswrd, "n": "whatever new password"})
	if r.Code() != "RATE_LIMITED" || r.Errors[0].Extensions["retryAfter"] == nil {
		t.Fatalf("the 11th attempt: %s", r.Raw)
	}
	if _, resp := as.AdminLogin(t, "casey", anotherOwnPasswrd); resp.Code() != "RATE_LIMITED" {
		t.Fatalf("sign-in after 11 wrong current passwords: %s", resp.Raw)
	}
}
