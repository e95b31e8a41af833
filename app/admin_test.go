package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"wxlogin/store/storetest"
	"wxlogin/token"
	"wxlogin/wechat"
)

// adminCLI runs `wxlogin admin args…` with stdin against the package's database.
func adminCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := envOf(map[string]string{"DATABASE_URL": storetest.DSN(t)})
	err := Run(context.Background(), append([]string{"admin"}, args...), env, strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

func mustAdmin(t *testing.T, name, role string) string {
	t.Helper()
	pw := "correct horse battery " + name
	if out, err := adminCLI(t, pw+"\n", "create", name, "-role", role); err != nil {
		t.Fatalf("admin create %s: %v %s", name, err, out)
	}
	return pw
}

func (ts *testServer) adminLogin(t *testing.T, user, pw string) (string, *gqlResponse) {
	t.Helper()
	resp := ts.do(t, "", `mutation($u: String!, $p: String!) { adminLogin(username: $u, password: $p) { token expiresAt admin { id username role } } }`,
		map[string]any{"u": user, "p": pw})
	if len(resp.Errors) > 0 {
		return "", resp
	}
	var p struct{ Token string }
	if err := json.Unmarshal(resp.Data["adminLogin"], &p); err != nil {
		t.Fatal(err)
	}
	return p.Token, resp
}

func TestAdminCLI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
		usage bool
	}{
		{"short pw\n", []string{"create", "cli-short"}, "at least 12 characters", false},
		{"", []string{"create", "cli-empty"}, "one line on standard input", false},
		{"a long enough password\n", []string{"create"}, "want 1 argument", true},
		{"a long enough password\n", []string{"create", "cli-x", "-role", "god"}, "-role must be admin or viewer", true},
		{"", []string{"frob"}, "unknown subcommand", true},
		{"", []string{"passwd", "cli-nobody"}, "one line", false},
		{"", []string{"disable", "cli-nobody"}, "no admin named cli-nobody", false},
		{"a long enough password\n", []string{"create", "bad name!"}, "a username is", false},
	} {
		out, err := adminCLI(t, tc.stdin, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%v: err %v, out %q; want %q", tc.args, err, out, tc.want)
		}
		if _, isUsage := err.(UsageError); isUsage != tc.usage {
			t.Fatalf("%v: usage error = %v, want %v", tc.args, isUsage, tc.usage)
		}
	}
	if out, err := adminCLI(t, "a long enough password\r\n", "create", "-role", "viewer", "Cli-Carol"); err != nil || !strings.Contains(out, "created admin Cli-Carol (role viewer)") {
		t.Fatalf("create: %v %s", err, out)
	}
	if _, err := adminCLI(t, "another long password\n", "create", "cli-carol"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("a second cli-carol in another case: %v", err)
	}
	out, err := adminCLI(t, "", "list")
	if err != nil || !strings.Contains(out, "Cli-Carol") || !strings.Contains(out, "viewer") {
		t.Fatalf("list: %v %s", err, out)
	}
	for _, args := range [][]string{{"passwd", "cli-carol"}, {"disable", "CLI-CAROL"}, {"enable", "cli-carol"}} {
		if out, err := adminCLI(t, "a brand new password\n", args...); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	// Each change made from the command line is in the audit log, with the
	// admin as target and no password in it.
	var rows []struct {
		Action string         `bun:"action"`
		Detail map[string]any `bun:"detail"`
	}
	if err := storetest.Open(t).DB().NewSelect().TableExpr("audit_log AS al").Column("action", "detail").
		Join("JOIN admins AS a ON a.id::text = al.target").Where("lower(a.username) = 'cli-carol'").
		OrderExpr("al.at, al.id").Scan(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range rows {
		actions = append(actions, r.Action)
		if strings.Contains(fmt.Sprint(r.Detail), "password") {
			t.Fatalf("audit detail %v", r.Detail)
		}
	}
	if got := strings.Join(actions, " "); got != "admin.create admin.passwd admin.disable admin.enable" {
		t.Fatalf("audit trail: %s", got)
	}
}

func TestAdmin_LoginLogoutAndKinds(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	pw := mustAdmin(t, "kim-admin", "admin")

	for name, creds := range map[string][2]string{
		"WrongPassword":   {"kim-admin", "not the password at all"},
		"UnknownUsername": {"nobody-here", pw},
		"Empty":           {"", ""},
	} {
		if _, resp := ts.adminLogin(t, creds[0], creds[1]); resp.code() != "INVALID_CREDENTIALS" {
			t.Fatalf("%s: %s", name, resp.raw)
		}
	}
	tok, resp := ts.adminLogin(t, "KIM-ADMIN", pw)
	if tok == "" || !strings.HasPrefix(tok, "wxa_") || !strings.Contains(resp.raw, `"role":"ADMIN"`) {
		t.Fatalf("adminLogin = %s", resp.raw)
	}
	ts.mu.Lock()
	ts.tokens = append(ts.tokens, tok)
	ts.mu.Unlock()
	if me := ts.do(t, tok, `{ admin { username role } }`, nil); string(me.Data["admin"]) != `{"username":"kim-admin","role":"ADMIN"}` {
		t.Fatalf("admin = %s", me.raw)
	}
	// An admin token is never a user's, and a user's never an admin's.
	if me := ts.do(t, tok, `{ me { id } }`, nil); me.code() != "UNAUTHENTICATED" {
		t.Fatalf("me with an admin token = %s", me.raw)
	}
	user := mustLogin(t, ts, map[string]any{"code": ts.code(t, "kim-user")})
	if a := ts.do(t, user.Token, `{ admin { id } }`, nil); string(a.Data["admin"]) != "null" || len(a.Errors) > 0 {
		t.Fatalf("admin with a user token = %s", a.raw)
	}
	if out := ts.do(t, user.Token, `mutation { adminLogout }`, nil); out.code() != "UNAUTHENTICATED" {
		t.Fatalf("adminLogout with a user token = %s", out.raw)
	}
	if out := ts.do(t, tok, `mutation { adminLogout }`, nil); string(out.Data["adminLogout"]) != "true" {
		t.Fatalf("adminLogout = %s", out.raw)
	}
	if a := ts.do(t, tok, `{ admin { id } }`, nil); string(a.Data["admin"]) != "null" {
		t.Fatalf("admin after logout = %s", a.raw)
	}
	// Idle timeout: a session unused for longer than it ends, and only it.
	// Only tok2's row is aged: every test here shares the database, and
	// ageing all admin sessions signed out other tests' admins mid-run.
	tok2, _ := ts.adminLogin(t, "kim-admin", pw)
	tok3, _ := ts.adminLogin(t, "kim-admin", pw)
	hash2, _ := token.Parse(token.Admin, tok2)
	if res, err := ts.store.DB().ExecContext(context.Background(),
		"UPDATE admin_sessions SET last_seen_at = now() - interval '61 minutes' WHERE token_hash = ?", hash2); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("aged %d admin sessions, want 1", n)
	}
	if a := ts.do(t, tok2, `{ user(id: "00000000-0000-0000-0000-000000000000") { id } }`, nil); a.code() != "UNAUTHENTICATED" {
		t.Fatalf("an idle session = %s", a.raw)
	}
	if me := ts.do(t, tok3, `{ admin { username } }`, nil); string(me.Data["admin"]) != `{"username":"kim-admin"}` {
		t.Fatalf("another session of the same admin after one went idle = %s", me.raw)
	}
	var audit int
	if err := ts.store.DB().QueryRowContext(context.Background(),
		"SELECT count(*) FROM audit_log WHERE action IN ('admin.login', 'admin.logout', 'admin.login_failed')").Scan(&audit); err != nil || audit < 5 {
		t.Fatalf("audit rows: %d, %v", audit, err)
	}
}

// TestAdmin_Roles walks every admin field with no token, a user token, a
// viewer and an admin.
func TestAdmin_Roles(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	viewerPW, adminPW := mustAdmin(t, "role-viewer", "viewer"), mustAdmin(t, "role-admin", "admin")
	viewer, _ := ts.adminLogin(t, "role-viewer", viewerPW)
	adm, _ := ts.adminLogin(t, "role-admin", adminPW)
	victim := mustLogin(t, ts, map[string]any{"code": ts.code(t, "role-victim")})
	user := mustLogin(t, ts, map[string]any{"code": ts.code(t, "role-user")})
	id := victim.User.ID

	fields := []struct {
		query string
		min   string
	}{
		// An admin gets past the role check and is told the session is unknown.
		{`mutation { revokeSession(id: "00000000-0000-7000-8000-000000000000") }`, "ADMIN"},
		{fmt.Sprintf(`{ user(id: %q) { id } }`, id), "VIEWER"},
		{`{ stats { totalUsers newUsers(days: 7) activeUsers(days: 30) loginsPerDay(days: 3) { day count } } }`, "VIEWER"},
		{fmt.Sprintf(`{ user(id: %q) { disabled } }`, id), "VIEWER"},
		{fmt.Sprintf(`{ user(id: %q) { disabledAt } }`, id), "VIEWER"},
		{fmt.Sprintf(`{ user(id: %q) { disabledReason } }`, id), "VIEWER"},
		{fmt.Sprintf(`{ user(id: %q) { identities { appId openId } } }`, id), "VIEWER"},
		{fmt.Sprintf(`{ user(id: %q) { sessions { id ip } } }`, id), "VIEWER"},
		{`{ auditLog(first: 1) { edges { cursor } } }`, "VIEWER"},
		{`{ users(first: 1) { edges { node { id } } } }`, "VIEWER"},
		{fmt.Sprintf(`mutation { enableUser(id: %q) { id } }`, id), "ADMIN"},
		{fmt.Sprintf(`mutation { revokeUserSessions(userId: %q) }`, id), "ADMIN"},
		{fmt.Sprintf(`mutation { disableUser(id: %q, reason: "roles test") { id } }`, id), "ADMIN"},
		{fmt.Sprintf(`mutation { enableUser(id: %q) { id } }`, id), "ADMIN"},
	}
	for _, f := range fields {
		for _, who := range []struct{ name, token, want string }{
			{"nobody", "", "UNAUTHENTICATED"},
			{"user", user.Token, "FORBIDDEN"},
			{"viewer", viewer, map[string]string{"VIEWER": "", "ADMIN": "FORBIDDEN"}[f.min]},
			{"admin", adm, ""},
		} {
			if who.name == "admin" && strings.Contains(f.query, "revokeSession(") {
				who.want = "BAD_USER_INPUT"
			}
			if got := ts.do(t, who.token, f.query, nil); got.code() != who.want {
				t.Errorf("%s as %s: %s, want %q", f.query, who.name, got.raw, who.want)
			}
		}
	}
	for _, days := range []int{0, -1, 367} {
		if got := ts.do(t, viewer, fmt.Sprintf(`{ stats { newUsers(days: %d) } }`, days), nil); got.code() != "BAD_USER_INPUT" {
			t.Errorf("stats for %d days: %s", days, got.raw)
		}
	}
	if got := ts.do(t, viewer, `{ stats { a: totalUsers b: totalUsers c: totalUsers d: totalUsers e: totalUsers } }`, nil); got.code() != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("five statistics in one request: %s", got.raw)
	}
	if got := ts.do(t, viewer, `{ stats { totalUsers loginsPerDay(days: 2) { day count } } }`, nil); len(got.Errors) > 0 ||
		!strings.Contains(got.raw, time.Now().UTC().Format(time.DateOnly)) {
		t.Errorf("stats: %s", got.raw)
	}
	// A user asking for an admin-only field of their own gets FORBIDDEN there.
	for _, f := range []string{"disabled", "identities { openId }", "sessions { id }"} {
		if me := ts.do(t, user.Token, `{ me { `+f+` } }`, nil); me.code() != "FORBIDDEN" {
			t.Fatalf("me { %s } as a user = %s", f, me.raw)
		}
	}
}

func TestAdmin_DisableUserMidSession(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	adm, _ := ts.adminLogin(t, "dis-admin", mustAdmin(t, "dis-admin", "admin"))
	victim := mustLogin(t, ts, map[string]any{"code": ts.code(t, "dis-victim")})
	second := mustLogin(t, ts, map[string]any{"code": ts.code(t, "dis-victim")})

	resp := ts.do(t, adm, `mutation($id: ID!) { disableUser(id: $id, reason: "spam") { id disabled disabledReason disabledAt } }`, map[string]any{"id": victim.User.ID})
	if len(resp.Errors) > 0 || !strings.Contains(resp.raw, `"disabled":true,"disabledReason":"spam"`) {
		t.Fatalf("disableUser = %s", resp.raw)
	}
	for _, tok := range []string{victim.Token, second.Token} {
		if me := ts.do(t, tok, `{ me { id } }`, nil); me.code() != "UNAUTHENTICATED" {
			t.Fatalf("a disabled user's token = %s", me.raw)
		}
	}
	if _, login := ts.login(t, map[string]any{"code": ts.code(t, "dis-victim")}); login.code() != "USER_DISABLED" {
		t.Fatalf("a disabled user's login = %s", login.raw)
	}
	var live, audit int
	db := ts.store.DB()
	_ = db.QueryRowContext(context.Background(), "SELECT count(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL", victim.User.ID).Scan(&live)
	_ = db.QueryRowContext(context.Background(), "SELECT count(*) FROM audit_log WHERE action = 'user.disable' AND target = ?", victim.User.ID).Scan(&audit)
	if live != 0 || audit != 1 {
		t.Fatalf("%d live sessions, %d audit rows", live, audit)
	}
	if r := ts.do(t, adm, `mutation { disableUser(id: "not-a-uuid") { id } }`, nil); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("disableUser of junk = %s", r.raw)
	}
	if r := ts.do(t, adm, `mutation($id: ID!) { enableUser(id: $id) { disabled } }`, map[string]any{"id": victim.User.ID}); !strings.Contains(r.raw, `"disabled":false`) {
		t.Fatalf("enableUser = %s", r.raw)
	}
	mustLogin(t, ts, map[string]any{"code": ts.code(t, "dis-victim")})
}

// TestAdmin_BruteForce: 60 parallel wrong guesses get at most 10 password
// checks; past the limit even the right password is RATE_LIMITED. Not
// parallel: it exhausts 127.0.0.1's budget, which every test here shares.
func TestAdmin_BruteForce(t *testing.T) {
	ts := startServer(t, nil)
	pw := mustAdmin(t, "brute", "admin")
	defer func() {
		_, _ = ts.store.DB().ExecContext(context.Background(), "DELETE FROM login_attempts")
	}()
	var wg sync.WaitGroup
	codes := make(chan string, 60)
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, resp := ts.adminLogin(t, "brute", "wrong password, sorry")
			if resp.code() == "RATE_LIMITED" {
				if ra, _ := resp.Errors[0].Extensions["retryAfter"].(float64); ra <= 0 || ra > 900 {
					t.Errorf("retryAfter %v", resp.Errors[0].Extensions["retryAfter"])
				}
			}
			codes <- resp.code()
		}()
	}
	wg.Wait()
	close(codes)
	got := map[string]int{}
	for c := range codes {
		got[c]++
	}
	if got["INVALID_CREDENTIALS"] != 10 || got["RATE_LIMITED"] != 50 {
		t.Fatalf("60 parallel wrong guesses: %v, want 10 checked and 50 refused", got)
	}
	// One row for the burst (one admin, one network, one window), counting
	// the 10 checked.
	var rows, failed int
	_ = ts.store.DB().QueryRowContext(context.Background(), `SELECT count(*), coalesce(sum((detail->>'count')::int), 0) FROM audit_log
		WHERE action = 'admin.login_failed' AND target = (SELECT id::text FROM admins WHERE username = 'brute')`).Scan(&rows, &failed)
	if rows != 1 || failed != 10 {
		t.Fatalf("%d audit rows counting %d failed sign-ins, want 1 counting the 10 checked", rows, failed)
	}
	if _, resp := ts.adminLogin(t, "brute", pw); resp.code() != "RATE_LIMITED" {
		t.Fatalf("the right password past the limit = %s", resp.raw)
	}
	// The window ends: the right password works again.
	if _, err := ts.store.DB().ExecContext(context.Background(), "UPDATE login_attempts SET window_start = now() - interval '16 minutes'"); err != nil {
		t.Fatal(err)
	}
	if tok, resp := ts.adminLogin(t, "brute", pw); tok == "" {
		t.Fatalf("after the window = %s", resp.raw)
	}
}

func TestAdmin_RevokeSessions(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	adm, _ := ts.adminLogin(t, "rev-admin", mustAdmin(t, "rev-admin", "admin"))
	a := mustLogin(t, ts, map[string]any{"code": ts.code(t, "rev-user")})
	b := mustLogin(t, ts, map[string]any{"code": ts.code(t, "rev-user")})
	c := mustLogin(t, ts, map[string]any{"code": ts.code(t, "rev-user")})
	var sessionID string
	if err := ts.store.DB().QueryRowContext(context.Background(),
		"SELECT id FROM sessions WHERE user_id = ? ORDER BY created_at LIMIT 1", a.User.ID).Scan(&sessionID); err != nil {
		t.Fatal(err)
	}
	revoke := `mutation($id: ID!) { revokeSession(id: $id) }`
	if r := ts.do(t, adm, revoke, map[string]any{"id": sessionID}); string(r.Data["revokeSession"]) != "true" {
		t.Fatalf("revokeSession = %s", r.raw)
	}
	if me := ts.do(t, a.Token, `{ me { id } }`, nil); me.code() != "UNAUTHENTICATED" {
		t.Fatalf("a revoked session = %s", me.raw)
	}
	if r := ts.do(t, adm, revoke, map[string]any{"id": sessionID}); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("revoking it again = %s", r.raw)
	}
	if r := ts.do(t, adm, `mutation($id: ID!) { revokeUserSessions(userId: $id) }`, map[string]any{"id": a.User.ID}); string(r.Data["revokeUserSessions"]) != "2" {
		t.Fatalf("revokeUserSessions = %s", r.raw)
	}
	for _, tok := range []string{b.Token, c.Token} {
		if me := ts.do(t, tok, `{ me { id } }`, nil); me.code() != "UNAUTHENTICATED" {
			t.Fatalf("after revokeUserSessions = %s", me.raw)
		}
	}
	var audit int
	_ = ts.store.DB().QueryRowContext(context.Background(),
		"SELECT count(*) FROM audit_log WHERE action IN ('session.revoke', 'user.revoke_sessions') AND actor_name = 'rev-admin'").Scan(&audit)
	if audit != 2 {
		t.Fatalf("%d audit rows, want 2", audit)
	}
}

func TestAdmin_UsersPaging(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	viewer, _ := ts.adminLogin(t, "page-viewer", mustAdmin(t, "page-viewer", "viewer"))
	want := map[string]bool{}
	for i := range 25 {
		user := fmt.Sprintf("pager%02d", i)
		code := ts.code(t, user)
		ui, _ := ts.sim.UserInfo("", user, wechat.Profile{NickName: fmt.Sprintf("Pager_%02d 张三", i)})
		p := mustLogin(t, ts, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature})
		want[p.User.ID] = true
	}
	const q = `query($after: String, $before: String, $first: Int, $last: Int, $order: UserOrderField!, $dir: OrderDirection!) {
	  users(first: $first, after: $after, last: $last, before: $before, filter: {search: "pager_"}, orderBy: {field: $order, direction: $dir}) {
	    totalCount edges { cursor node { id nickname } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	type page struct {
		TotalCount int
		Edges      []struct{ Node struct{ ID string } }
		PageInfo   struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       *string
		}
	}
	ids := func(p page) string {
		var s []string
		for _, e := range p.Edges {
			s = append(s, e.Node.ID)
		}
		return strings.Join(s, ",")
	}
	for _, order := range [][2]string{{"CREATED_AT", "DESC"}, {"CREATED_AT", "ASC"}, {"LAST_LOGIN_AT", "DESC"}} {
		seen := map[string]bool{}
		var after any
		var sizes []int
		var pages []page
		fetch := func(vars map[string]any) page {
			t.Helper()
			vars["order"], vars["dir"] = order[0], order[1]
			resp := ts.do(t, viewer, q, vars)
			var p page
			if len(resp.Errors) > 0 || json.Unmarshal(resp.Data["users"], &p) != nil {
				t.Fatalf("%v: %s", order, resp.raw)
			}
			return p
		}
		for range 5 {
			p := fetch(map[string]any{"first": 10, "after": after})
			pages = append(pages, p)
			if p.PageInfo.HasPreviousPage != (after != nil) {
				t.Fatalf("%v: page %d hasPreviousPage %v", order, len(pages), p.PageInfo.HasPreviousPage)
			}
			if p.TotalCount != 25 {
				t.Fatalf("%v: totalCount %d", order, p.TotalCount)
			}
			sizes = append(sizes, len(p.Edges))
			for _, e := range p.Edges {
				if seen[e.Node.ID] || !want[e.Node.ID] {
					t.Fatalf("%v: %s twice or unexpected", order, e.Node.ID)
				}
				seen[e.Node.ID] = true
			}
			if !p.PageInfo.HasNextPage {
				break
			}
			after = *p.PageInfo.EndCursor
		}
		if fmt.Sprint(sizes) != "[10 10 5]" || len(seen) != 25 {
			t.Fatalf("%v: pages %v, %d users", order, sizes, len(seen))
		}
		// Back from the last page by its startCursor: the same pages, in
		// the same order, and no previous page before the first.
		for i := len(pages) - 1; i > 0; i-- {
			back := fetch(map[string]any{"last": 10, "before": *pages[i].PageInfo.StartCursor})
			if ids(back) != ids(pages[i-1]) || !back.PageInfo.HasNextPage || back.PageInfo.HasPreviousPage != (i > 1) {
				t.Fatalf("%v: back from page %d = %s %+v, want page %d %s", order, i+1, ids(back), back.PageInfo, i, ids(pages[i-1]))
			}
		}
		if last := fetch(map[string]any{"last": 5}); ids(last) != ids(pages[2]) || last.PageInfo.HasNextPage || !last.PageInfo.HasPreviousPage {
			t.Fatalf("%v: last: 5 = %s %+v, want the last page %s", order, ids(last), last.PageInfo, ids(pages[2]))
		}
	}
	first := ts.do(t, viewer, `{ users(first: 1) { pageInfo { endCursor } } }`, nil)
	var p struct{ Users page }
	_ = json.Unmarshal([]byte(fmt.Sprintf(`{"users":%s}`, first.Data["users"])), &p)
	for name, args := range map[string]string{
		"FirstZero":    `first: 0`,
		"FirstTooBig":  `first: 101`,
		"Garbage":      `after: "!!not a cursor"`,
		"OtherOrder":   fmt.Sprintf(`after: %q, orderBy: {field: LAST_LOGIN_AT}`, *p.Users.PageInfo.EndCursor),
		"FirstAndLast": `first: 2, last: 2`,
		"AfterBefore":  fmt.Sprintf(`after: %q, before: %q`, *p.Users.PageInfo.EndCursor, *p.Users.PageInfo.EndCursor),
		"LastAfter":    fmt.Sprintf(`last: 2, after: %q`, *p.Users.PageInfo.EndCursor),
		"LastTooBig":   `last: 101`,
		"BadBefore":    `before: "nope"`,
		"TimeNumber":   `filter: {createdAfter: 5}`,
		"TimeYear0":    `filter: {createdAfter: "0000-01-01T00:00:00Z"}`,
		"TimeNoZone":   `filter: {createdBefore: "2026-01-01T00:00:00"}`,
	} {
		if r := ts.do(t, viewer, `{ users(`+args+`) { edges { cursor } } }`, nil); r.code() != "BAD_USER_INPUT" {
			t.Errorf("%s: %s", name, r.raw)
		}
	}
}

func TestAdmin_AuditLog(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	viewer, _ := ts.adminLogin(t, "audit-viewer", mustAdmin(t, "audit-viewer", "viewer"))
	var userID string
	for range 3 {
		userID = mustLogin(t, ts, map[string]any{"code": ts.code(t, "audited")}).User.ID
	}
	const q = `query($after: String, $target: String) {
	  auditLog(first: 3, after: $after, filter: {target: $target}) {
	    totalCount edges { cursor node { id at action actor { kind id name } target ip detail } } pageInfo { hasNextPage endCursor } } }`
	var actions []string
	var after any
	for range 3 {
		resp := ts.do(t, viewer, q, map[string]any{"after": after, "target": userID})
		var p struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					Action string
					Actor  struct{ Kind, ID string }
					Detail map[string]any
				}
			}
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
		if len(resp.Errors) > 0 || json.Unmarshal(resp.Data["auditLog"], &p) != nil || p.TotalCount != 4 {
			t.Fatalf("auditLog = %s", resp.raw)
		}
		for _, e := range p.Edges {
			if e.Node.Actor.Kind != "user" || e.Node.Actor.ID != userID || e.Node.Detail["session"] == nil {
				t.Fatalf("entry %+v", e.Node)
			}
			actions = append(actions, e.Node.Action)
		}
		if !p.PageInfo.HasNextPage {
			break
		}
		after = p.PageInfo.EndCursor
	}
	if got := strings.Join(actions, " "); got != "user.login user.login user.login user.create" && got != "user.login user.login user.create user.login" {
		t.Fatalf("newest first: %s", got)
	}
	// Backward: the newest two before the oldest entry, then the oldest
	// page, as last without before gives it.
	var all, back, oldest struct {
		Edges []struct {
			Cursor string
			Node   struct{ ID string }
		}
		PageInfo struct{ HasNextPage, HasPreviousPage bool }
	}
	const bq = `query($target: String, $first: Int, $last: Int, $before: String) {
	  auditLog(first: $first, last: $last, before: $before, filter: {target: $target}) {
	    edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage } } }`
	for _, c := range []struct {
		vars map[string]any
		into any
	}{
		{map[string]any{"target": userID, "first": 4}, &all},
		{map[string]any{"target": userID, "last": 2}, &oldest},
	} {
		if r := ts.do(t, viewer, bq, c.vars); len(r.Errors) > 0 || json.Unmarshal(r.Data["auditLog"], c.into) != nil {
			t.Fatalf("auditLog %v = %s", c.vars, r.raw)
		}
	}
	if r := ts.do(t, viewer, bq, map[string]any{"target": userID, "last": 2, "before": all.Edges[3].Cursor}); len(r.Errors) > 0 || json.Unmarshal(r.Data["auditLog"], &back) != nil {
		t.Fatalf("auditLog before = %s", r.raw)
	}
	if len(back.Edges) != 2 || back.Edges[0].Node.ID != all.Edges[1].Node.ID || back.Edges[1].Node.ID != all.Edges[2].Node.ID ||
		!back.PageInfo.HasPreviousPage || !back.PageInfo.HasNextPage {
		t.Fatalf("last 2 before the oldest = %+v, want entries 2 and 3 of %+v", back, all)
	}
	if len(oldest.Edges) != 2 || oldest.Edges[1].Node.ID != all.Edges[3].Node.ID || oldest.PageInfo.HasNextPage || !oldest.PageInfo.HasPreviousPage {
		t.Fatalf("last 2 = %+v, want the oldest two of %+v", oldest, all)
	}
	if r := ts.do(t, viewer, `{ auditLog(after: "garbage") { edges { cursor } } }`, nil); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("a bad cursor: %s", r.raw)
	}
	user := mustLogin(t, ts, map[string]any{"code": ts.code(t, "audit-peeker")})
	if r := ts.do(t, user.Token, `{ auditLog { edges { cursor } } }`, nil); r.code() != "FORBIDDEN" {
		t.Fatalf("a user reading the audit log: %s", r.raw)
	}
}

// statementCounter counts the statements a store runs that contain a marker.
type statementCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *statementCounter) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	return ctx
}

func (c *statementCounter) AfterQuery(ctx context.Context, e *bun.QueryEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, marker := range []string{`FROM "identities" AS "i"`, `FROM "sessions" AS "s"`, `FROM "users" AS "u"`} {
		if strings.Contains(e.Query, marker) {
			c.counts[marker]++
		}
	}
}

func TestAdmin_NestedFieldsBatched(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	viewer, _ := ts.adminLogin(t, "batch-viewer", mustAdmin(t, "batch-viewer", "viewer"))
	for i := range 12 {
		user := fmt.Sprintf("batcher%02d", i)
		code := ts.code(t, user)
		ui, _ := ts.sim.UserInfo("", user, wechat.Profile{NickName: fmt.Sprintf("Batcher %02d", i)})
		mustLogin(t, ts, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature})
		mustLogin(t, ts, map[string]any{"code": ts.code(t, user)})
	}
	counter := &statementCounter{counts: map[string]int{}}
	ts.adminStore.DB().AddQueryHook(counter) //lint:ignore SA1019 the server holds this *bun.DB; WithQueryHook would return a copy it never uses
	resp := ts.do(t, viewer, `{ users(first: 20, filter: {search: "Batcher"}) { edges { node { id
	  identities { appId openId unionId createdAt lastLoginAt } sessions { id createdAt lastSeenAt expiresAt ip userAgent } } } } }`, nil)
	var p struct {
		Users struct {
			Edges []struct {
				Node struct {
					Identities []struct{ AppID string }
					Sessions   []struct{ ID string }
				}
			}
		}
	}
	if len(resp.Errors) > 0 || json.Unmarshal([]byte(`{"users":`+string(resp.Data["users"])+`}`), &p) != nil || len(p.Users.Edges) != 12 {
		t.Fatalf("users = %.500s", resp.raw)
	}
	for _, e := range p.Users.Edges {
		if len(e.Node.Identities) != 1 || e.Node.Identities[0].AppID != e2eAppID || len(e.Node.Sessions) != 2 {
			t.Fatalf("node %+v", e.Node)
		}
	}
	counter.mu.Lock()
	defer counter.mu.Unlock()
	if counter.counts[`FROM "identities" AS "i"`] != 1 || counter.counts[`FROM "sessions" AS "s"`] != 1 {
		t.Fatalf("statements: %v, want one for identities and one for sessions", counter.counts)
	}
	if strings.Contains(resp.raw, "token") || strings.Contains(resp.raw, "session_key") {
		t.Fatal("an answer names a token or session_key")
	}

	// The dashboard asks for the count apart from the page: that costs the
	// count alone, not a page as well.
	counter.counts = map[string]int{}
	counter.mu.Unlock()
	resp = ts.do(t, viewer, `{ users(filter: {search: "Batcher"}) { totalCount } }`, nil)
	counter.mu.Lock()
	if !strings.Contains(resp.raw, `"totalCount":12`) || counter.counts[`FROM "users" AS "u"`] != 1 {
		t.Fatalf("count only: %s, statements %v, want one", resp.raw, counter.counts)
	}
}
