package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"wxlogin/admin"
	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/edge"
	"wxlogin/ratelimit"
	"wxlogin/store"
	"wxlogin/store/storetest"
	"wxlogin/token"
	"wxlogin/wechat"
)

// adminCLI runs `wxlogin admin args…` with stdin against the package's database.
func adminCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := apptest.Env(map[string]string{"DATABASE_URL": storetest.DSN(t)})
	err := app.Run(context.Background(), append([]string{"admin"}, args...), env, strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String() + stderr.String(), err
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
		if _, isUsage := err.(app.UsageError); isUsage != tc.usage {
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
	ts := apptest.Start(t)
	pw := apptest.CreateAdmin(t, "kim-admin", "admin")

	for name, creds := range map[string][2]string{
		"WrongPassword":   {"kim-admin", "not the password at all"},
		"UnknownUsername": {"nobody-here", pw},
		"Empty":           {"", ""},
	} {
		if _, resp := ts.AdminLogin(t, creds[0], creds[1]); resp.Code() != "INVALID_CREDENTIALS" {
			t.Fatalf("%s: %s", name, resp.Raw)
		}
	}
	tok, resp := ts.AdminLogin(t, "KIM-ADMIN", pw)
	if tok == "" || !strings.HasPrefix(tok, "wxa_") || !strings.Contains(resp.Raw, `"role":"ADMIN"`) {
		t.Fatalf("adminLogin = %s", resp.Raw)
	}
	ts.AddToken(tok)
	if me := ts.Do(t, tok, `{ admin { username role } }`, nil); string(me.Data["admin"]) != `{"username":"kim-admin","role":"ADMIN"}` {
		t.Fatalf("admin = %s", me.Raw)
	}
	// An admin token is never a user's, and a user's never an admin's.
	if me := ts.Do(t, tok, `{ me { id } }`, nil); me.Code() != "UNAUTHENTICATED" {
		t.Fatalf("me with an admin token = %s", me.Raw)
	}
	user := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "kim-user")})
	if a := ts.Do(t, user.Token, `{ admin { id } }`, nil); string(a.Data["admin"]) != "null" || len(a.Errors) > 0 {
		t.Fatalf("admin with a user token = %s", a.Raw)
	}
	if out := ts.Do(t, user.Token, `mutation { adminLogout }`, nil); out.Code() != "UNAUTHENTICATED" {
		t.Fatalf("adminLogout with a user token = %s", out.Raw)
	}
	if out := ts.Do(t, tok, `mutation { adminLogout }`, nil); string(out.Data["adminLogout"]) != "true" {
		t.Fatalf("adminLogout = %s", out.Raw)
	}
	if a := ts.Do(t, tok, `{ admin { id } }`, nil); string(a.Data["admin"]) != "null" {
		t.Fatalf("admin after logout = %s", a.Raw)
	}
	// Idle timeout: a session unused for longer than it ends, and only it.
	// Only tok2's row is aged: every test here shares the database, and
	// ageing all admin sessions signed out other tests' admins mid-run.
	tok2, _ := ts.AdminLogin(t, "kim-admin", pw)
	tok3, _ := ts.AdminLogin(t, "kim-admin", pw)
	hash2, _ := token.Parse(token.Admin, tok2)
	if res, err := ts.Store().DB().ExecContext(context.Background(),
		"UPDATE admin_sessions SET last_seen_at = now() - interval '61 minutes' WHERE token_hash = ?", hash2); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("aged %d admin sessions, want 1", n)
	}
	if a := ts.Do(t, tok2, `{ user(id: "00000000-0000-0000-0000-000000000000") { id } }`, nil); a.Code() != "UNAUTHENTICATED" {
		t.Fatalf("an idle session = %s", a.Raw)
	}
	if me := ts.Do(t, tok3, `{ admin { username } }`, nil); string(me.Data["admin"]) != `{"username":"kim-admin"}` {
		t.Fatalf("another session of the same admin after one went idle = %s", me.Raw)
	}
	var audit int
	if err := ts.Store().DB().QueryRowContext(context.Background(),
		"SELECT count(*) FROM audit_log WHERE action IN ('admin.login', 'admin.logout', 'admin.login_failed')").Scan(&audit); err != nil || audit < 5 {
		t.Fatalf("audit rows: %d, %v", audit, err)
	}
}

// TestAdmin_Roles walks every admin field with no token, a user token, a
// viewer and an admin.
func TestAdmin_Roles(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	viewerPW, adminPW := apptest.CreateAdmin(t, "role-viewer", "viewer"), apptest.CreateAdmin(t, "role-admin", "admin")
	viewer, _ := ts.AdminLogin(t, "role-viewer", viewerPW)
	adm, _ := ts.AdminLogin(t, "role-admin", adminPW)
	victim := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "role-victim")})
	user := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "role-user")})
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
			if got := ts.Do(t, who.token, f.query, nil); got.Code() != who.want {
				t.Errorf("%s as %s: %s, want %q", f.query, who.name, got.Raw, who.want)
			}
		}
	}
	for _, days := range []int{0, -1, 367} {
		if got := ts.Do(t, viewer, fmt.Sprintf(`{ stats { newUsers(days: %d) } }`, days), nil); got.Code() != "BAD_USER_INPUT" {
			t.Errorf("stats for %d days: %s", days, got.Raw)
		}
	}
	if got := ts.Do(t, viewer, `{ stats { a: totalUsers b: totalUsers c: totalUsers d: totalUsers e: totalUsers } }`, nil); got.Code() != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("five statistics in one request: %s", got.Raw)
	}
	// Days are STATS_TIME_ZONE's (Asia/Shanghai by default): the last bar is
	// today there, which is tomorrow in UTC from 16:00Z.
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	if got := ts.Do(t, viewer, `{ stats { timeZone totalUsers loginsPerDay(days: 1) { day count } } }`, nil); len(got.Errors) > 0 ||
		!strings.Contains(got.Raw, `"timeZone":"Asia/Shanghai"`) || !strings.Contains(got.Raw, `"day":"`+time.Now().In(shanghai).Format(time.DateOnly)+`"`) {
		t.Errorf("stats: %s", got.Raw)
	}
	// A user asking for an admin-only field of their own gets FORBIDDEN there.
	for _, f := range []string{"disabled", "identities { openId }", "sessions { id }"} {
		if me := ts.Do(t, user.Token, `{ me { `+f+` } }`, nil); me.Code() != "FORBIDDEN" {
			t.Fatalf("me { %s } as a user = %s", f, me.Raw)
		}
	}
}

func TestAdmin_DisableUserMidSession(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	adm, _ := ts.AdminLogin(t, "dis-admin", apptest.CreateAdmin(t, "dis-admin", "admin"))
	victim := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "dis-victim")})
	second := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "dis-victim")})

	resp := ts.Do(t, adm, `mutation($id: ID!) { disableUser(id: $id, reason: "spam") { id disabled disabledReason disabledAt } }`, map[string]any{"id": victim.User.ID})
	if len(resp.Errors) > 0 || !strings.Contains(resp.Raw, `"disabled":true,"disabledReason":"spam"`) {
		t.Fatalf("disableUser = %s", resp.Raw)
	}
	for _, tok := range []string{victim.Token, second.Token} {
		if me := ts.Do(t, tok, `{ me { id } }`, nil); me.Code() != "UNAUTHENTICATED" {
			t.Fatalf("a disabled user's token = %s", me.Raw)
		}
	}
	if _, login := ts.Login(t, map[string]any{"code": ts.Code(t, "dis-victim")}); login.Code() != "USER_DISABLED" {
		t.Fatalf("a disabled user's login = %s", login.Raw)
	}
	var live, audit int
	db := ts.Store().DB()
	_ = db.QueryRowContext(context.Background(), "SELECT count(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL", victim.User.ID).Scan(&live)
	_ = db.QueryRowContext(context.Background(), "SELECT count(*) FROM audit_log WHERE action = 'user.disable' AND target = ?", victim.User.ID).Scan(&audit)
	if live != 0 || audit != 1 {
		t.Fatalf("%d live sessions, %d audit rows", live, audit)
	}
	if r := ts.Do(t, adm, `mutation { disableUser(id: "not-a-uuid", reason: "junk") { id } }`, nil); r.Code() != "BAD_USER_INPUT" {
		t.Fatalf("disableUser of junk = %s", r.Raw)
	}
	if r := ts.Do(t, adm, `mutation($id: ID!) { enableUser(id: $id) { disabled } }`, map[string]any{"id": victim.User.ID}); !strings.Contains(r.Raw, `"disabled":false`) {
		t.Fatalf("enableUser = %s", r.Raw)
	}
	ts.MustLogin(t, map[string]any{"code": ts.Code(t, "dis-victim")})
}

// TestAdmin_BruteForce: 60 parallel wrong guesses get at most 10 password
// checks; past the limit even the right password is RATE_LIMITED. Not
// parallel: it exhausts 127.0.0.1's budget, which every test here shares.
func TestAdmin_BruteForce(t *testing.T) {
	ts := apptest.Start(t)
	pw := apptest.CreateAdmin(t, "brute", "admin")
	defer func() {
		_, _ = ts.Store().DB().ExecContext(context.Background(), "DELETE FROM login_attempts")
	}()
	var wg sync.WaitGroup
	codes := make(chan string, 60)
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, resp := ts.AdminLogin(t, "brute", "wrong password, sorry")
			if resp.Code() == "RATE_LIMITED" {
				if ra, _ := resp.Errors[0].Extensions["retryAfter"].(float64); ra <= 0 || ra > 900 {
					t.Errorf("retryAfter %v", resp.Errors[0].Extensions["retryAfter"])
				}
			}
			codes <- resp.Code()
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
	_ = ts.Store().DB().QueryRowContext(context.Background(), `SELECT count(*), coalesce(sum((detail->>'count')::int), 0) FROM audit_log
		WHERE action = 'admin.login_failed' AND target = (SELECT id::text FROM admins WHERE username = 'brute')`).Scan(&rows, &failed)
	if rows != 1 || failed != 10 {
		t.Fatalf("%d audit rows counting %d failed sign-ins, want 1 counting the 10 checked", rows, failed)
	}
	if _, resp := ts.AdminLogin(t, "brute", pw); resp.Code() != "RATE_LIMITED" {
		t.Fatalf("the right password past the limit = %s", resp.Raw)
	}
	// The window ends: the right password works again.
	if _, err := ts.Store().DB().ExecContext(context.Background(), "UPDATE login_attempts SET window_start = now() - interval '16 minutes'"); err != nil {
		t.Fatal(err)
	}
	if tok, resp := ts.AdminLogin(t, "brute", pw); tok == "" {
		t.Fatalf("after the window = %s", resp.Raw)
	}
}

func TestAdmin_RevokeSessions(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	adm, _ := ts.AdminLogin(t, "rev-admin", apptest.CreateAdmin(t, "rev-admin", "admin"))
	a := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "rev-user")})
	b := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "rev-user")})
	c := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "rev-user")})
	var sessionID string
	if err := ts.Store().DB().QueryRowContext(context.Background(),
		"SELECT id FROM sessions WHERE user_id = ? ORDER BY created_at LIMIT 1", a.User.ID).Scan(&sessionID); err != nil {
		t.Fatal(err)
	}
	revoke := `mutation($id: ID!) { revokeSession(id: $id) }`
	if r := ts.Do(t, adm, revoke, map[string]any{"id": sessionID}); string(r.Data["revokeSession"]) != "true" {
		t.Fatalf("revokeSession = %s", r.Raw)
	}
	if me := ts.Do(t, a.Token, `{ me { id } }`, nil); me.Code() != "UNAUTHENTICATED" {
		t.Fatalf("a revoked session = %s", me.Raw)
	}
	if r := ts.Do(t, adm, revoke, map[string]any{"id": sessionID}); r.Code() != "BAD_USER_INPUT" {
		t.Fatalf("revoking it again = %s", r.Raw)
	}
	if r := ts.Do(t, adm, `mutation($id: ID!) { revokeUserSessions(userId: $id) }`, map[string]any{"id": a.User.ID}); string(r.Data["revokeUserSessions"]) != "2" {
		t.Fatalf("revokeUserSessions = %s", r.Raw)
	}
	for _, tok := range []string{b.Token, c.Token} {
		if me := ts.Do(t, tok, `{ me { id } }`, nil); me.Code() != "UNAUTHENTICATED" {
			t.Fatalf("after revokeUserSessions = %s", me.Raw)
		}
	}
	var audit int
	_ = ts.Store().DB().QueryRowContext(context.Background(),
		"SELECT count(*) FROM audit_log WHERE action IN ('session.revoke', 'user.revoke_sessions') AND actor_name = 'rev-admin'").Scan(&audit)
	if audit != 2 {
		t.Fatalf("%d audit rows, want 2", audit)
	}
}

func TestAdmin_UsersPaging(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	viewer, _ := ts.AdminLogin(t, "page-viewer", apptest.CreateAdmin(t, "page-viewer", "viewer"))
	want := map[string]bool{}
	for i := range 25 {
		user := fmt.Sprintf("pager%02d", i)
		code := ts.Code(t, user)
		ui, _ := ts.Sim.UserInfo("", user, wechat.Profile{NickName: fmt.Sprintf("Pager_%02d 张三", i)})
		p := ts.MustLogin(t, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature})
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
			resp := ts.Do(t, viewer, q, vars)
			var p page
			if len(resp.Errors) > 0 || json.Unmarshal(resp.Data["users"], &p) != nil {
				t.Fatalf("%v: %s", order, resp.Raw)
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
	first := ts.Do(t, viewer, `{ users(first: 1) { pageInfo { endCursor } } }`, nil)
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
		if r := ts.Do(t, viewer, `{ users(`+args+`) { edges { cursor } } }`, nil); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("%s: %s", name, r.Raw)
		}
	}
}

func TestAdmin_AuditLog(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	viewer, _ := ts.AdminLogin(t, "audit-viewer", apptest.CreateAdmin(t, "audit-viewer", "viewer"))
	var userID string
	for range 3 {
		userID = ts.MustLogin(t, map[string]any{"code": ts.Code(t, "audited")}).User.ID
	}
	const q = `query($after: String, $target: String) {
	  auditLog(first: 3, after: $after, filter: {target: $target}) {
	    totalCount edges { cursor node { id at action actor { kind id name } target ip detail } } pageInfo { hasNextPage endCursor } } }`
	var actions []string
	var after any
	for range 3 {
		resp := ts.Do(t, viewer, q, map[string]any{"after": after, "target": userID})
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
			t.Fatalf("auditLog = %s", resp.Raw)
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
		if r := ts.Do(t, viewer, bq, c.vars); len(r.Errors) > 0 || json.Unmarshal(r.Data["auditLog"], c.into) != nil {
			t.Fatalf("auditLog %v = %s", c.vars, r.Raw)
		}
	}
	if r := ts.Do(t, viewer, bq, map[string]any{"target": userID, "last": 2, "before": all.Edges[3].Cursor}); len(r.Errors) > 0 || json.Unmarshal(r.Data["auditLog"], &back) != nil {
		t.Fatalf("auditLog before = %s", r.Raw)
	}
	if len(back.Edges) != 2 || back.Edges[0].Node.ID != all.Edges[1].Node.ID || back.Edges[1].Node.ID != all.Edges[2].Node.ID ||
		!back.PageInfo.HasPreviousPage || !back.PageInfo.HasNextPage {
		t.Fatalf("last 2 before the oldest = %+v, want entries 2 and 3 of %+v", back, all)
	}
	if len(oldest.Edges) != 2 || oldest.Edges[1].Node.ID != all.Edges[3].Node.ID || oldest.PageInfo.HasNextPage || !oldest.PageInfo.HasPreviousPage {
		t.Fatalf("last 2 = %+v, want the oldest two of %+v", oldest, all)
	}
	if r := ts.Do(t, viewer, `{ auditLog(after: "garbage") { edges { cursor } } }`, nil); r.Code() != "BAD_USER_INPUT" {
		t.Fatalf("a bad cursor: %s", r.Raw)
	}
	user := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "audit-peeker")})
	if r := ts.Do(t, user.Token, `{ auditLog { edges { cursor } } }`, nil); r.Code() != "FORBIDDEN" {
		t.Fatalf("a user reading the audit log: %s", r.Raw)
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
	ts := apptest.Start(t)
	viewer, _ := ts.AdminLogin(t, "batch-viewer", apptest.CreateAdmin(t, "batch-viewer", "viewer"))
	for i := range 12 {
		user := fmt.Sprintf("batcher%02d", i)
		code := ts.Code(t, user)
		ui, _ := ts.Sim.UserInfo("", user, wechat.Profile{NickName: fmt.Sprintf("Batcher %02d", i)})
		ts.MustLogin(t, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature})
		ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)})
	}
	counter := &statementCounter{counts: map[string]int{}}
	ts.AdminStore().DB().AddQueryHook(counter) //lint:ignore SA1019 the server holds this *bun.DB; WithQueryHook would return a copy it never uses
	resp := ts.Do(t, viewer, `{ users(first: 20, filter: {search: "Batcher"}) { edges { node { id
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
		t.Fatalf("users = %.500s", resp.Raw)
	}
	for _, e := range p.Users.Edges {
		if len(e.Node.Identities) != 1 || e.Node.Identities[0].AppID != apptest.AppID || len(e.Node.Sessions) != 2 {
			t.Fatalf("node %+v", e.Node)
		}
	}
	counter.mu.Lock()
	defer counter.mu.Unlock()
	if counter.counts[`FROM "identities" AS "i"`] != 1 || counter.counts[`FROM "sessions" AS "s"`] != 1 {
		t.Fatalf("statements: %v, want one for identities and one for sessions", counter.counts)
	}
	if strings.Contains(resp.Raw, "token") || strings.Contains(resp.Raw, "session_key") {
		t.Fatal("an answer names a token or session_key")
	}

	// The dashboard asks for the count apart from the page: that costs the
	// count alone, not a page as well.
	counter.counts = map[string]int{}
	counter.mu.Unlock()
	resp = ts.Do(t, viewer, `{ users(filter: {search: "Batcher"}) { totalCount } }`, nil)
	counter.mu.Lock()
	if !strings.Contains(resp.Raw, `"totalCount":12`) || counter.counts[`FROM "users" AS "u"`] != 1 {
		t.Fatalf("count only: %s, statements %v, want one", resp.Raw, counter.counts)
	}
}

// postFrom posts a GraphQL operation with extra headers (X-Forwarded-For,
// Cookie …) and returns the answer and the admin device cookie it set.
func postFrom(ts *apptest.Server, t *testing.T, query string, vars map[string]any, hdr ...string) (*apptest.Response, *http.Cookie) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, raw := ts.Fetch(t, "POST", "/graphql", string(body), hdr...)
	out := &apptest.Response{Raw: raw}
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		t.Fatalf("HTTP %d, body %s: %v", resp.StatusCode, raw, err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == admin.DeviceCookieName || c.Name == admin.HostDeviceCookieName {
			return out, c
		}
	}
	return out, nil
}

const adminLoginMutation = `mutation($u: String!, $p: String!) { adminLogin(username: $u, password: $p) { token } }`

// adminLoginFrom signs in with extra headers; see postFrom.
func adminLoginFrom(ts *apptest.Server, t *testing.T, user, pw string, hdr ...string) (*apptest.Response, *http.Cookie) {
	t.Helper()
	return postFrom(ts, t, adminLoginMutation, map[string]any{"u": user, "p": pw}, hdr...)
}

// Ten wrong passwords for an admin from ten strangers' addresses used to
// lock the admin out. Over HTTP: the browser they signed in with holds a
// device cookie (HttpOnly, SameSite=Strict; over https __Host-, Secure and
// Path=/, over plain http /graphql only) and gets in; strangers, with the
// right password or a made-up cookie, stay RATE_LIMITED.
func TestAdmin_StrangersCannotLockOutTheAdmin(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.TrustedProxies, _ = edge.ParseProxies("127.0.0.1") }))
	pw := apptest.CreateAdmin(t, "lockout-boss", "admin")
	const home = "198.18.16.1"

	out, ck := adminLoginFrom(ts, t, "lockout-boss", pw, "X-Forwarded-For", home, "X-Forwarded-Proto", "https")
	if out.Code() != "" || ck == nil {
		t.Fatalf("first sign-in: %s, cookie %v", out.Raw, ck)
	}
	if ck.Name != admin.HostDeviceCookieName || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Domain != "" ||
		ck.MaxAge != int(admin.DeviceTTL/time.Second) {
		t.Fatalf("device cookie over https: %s", ck.Raw)
	}
	_, plain := adminLoginFrom(ts, t, "lockout-boss", pw, "X-Forwarded-For", home)
	if plain == nil || plain.Secure || plain.Name != admin.DeviceCookieName || plain.Path != "/graphql" {
		t.Fatalf("device cookie over plain http: %v (a Secure or __Host- one would not be kept)", plain)
	}

	for i := range admin.MaxPerUsername {
		if out, _ := adminLoginFrom(ts, t, "lockout-boss", "a stranger's guess", "X-Forwarded-For", fmt.Sprintf("198.18.17.%d", i+1)); out.Code() != "INVALID_CREDENTIALS" {
			t.Fatalf("stranger %d: %s", i+1, out.Raw)
		}
	}
	off := []byte(ck.Value)
	off[10] = map[bool]byte{true: 'B', false: 'A'}[off[10] == 'A']
	for name, hdr := range map[string][]string{
		"a stranger, right password":         {"X-Forwarded-For", "198.18.17.100"},
		"a stranger with a made-up cookie":   {"X-Forwarded-For", "198.18.17.101", "Cookie", admin.DeviceCookieName + "=made-up"},
		"the admin on a browser without it":  {"X-Forwarded-For", home},
		"the cookie sent under another name": {"X-Forwarded-For", home, "Cookie", "device=" + ck.Value},
		"the cookie one character off":       {"X-Forwarded-For", home, "Cookie", admin.DeviceCookieName + "=" + string(off)},
	} {
		if out, set := adminLoginFrom(ts, t, "lockout-boss", pw, hdr...); out.Code() != "RATE_LIMITED" || set != nil {
			t.Errorf("%s: %s (cookie %v), want RATE_LIMITED", name, out.Raw, set)
		}
	}

	// A plain-named cookie planted from plain http or a sibling subdomain
	// comes first in the header; the __Host- one is tried all the same.
	planted := admin.DeviceCookieName + "=junk; " + ck.Name + "=" + ck.Value
	out, fresh := adminLoginFrom(ts, t, "lockout-boss", pw, "X-Forwarded-For", home, "X-Forwarded-Proto", "https", "Cookie", planted)
	if out.Code() != "" || fresh == nil || fresh.Value == ck.Value || fresh.Name != admin.HostDeviceCookieName {
		t.Fatalf("the admin with their device cookie: %s, cookie %v; want signed in with a fresh __Host- cookie", out.Raw, fresh)
	}
	// The plain-http cookie counts too, as do those issued before the prefix.
	if out, _ := adminLoginFrom(ts, t, "lockout-boss", pw, "X-Forwarded-For", home, "Cookie", plain.Name+"="+plain.Value); out.Code() != "" {
		t.Fatalf("the admin with their plain-http cookie: %s, want signed in", out.Raw)
	}
}

// A stranger on the admin's network — behind the same IPv4 NAT, in the same
// IPv6 /64, or any client when a proxy is missing from TRUSTED_PROXIES —
// used to lock the admin out even on the browser with the device cookie:
// 50 failures at made-up usernames spent the network's budget, which was
// checked before the cookie helped. A sign-in carrying the admin's device
// cookie now has the device's budget instead; without it the network's
// limit still holds.
func TestAdmin_NetworkCannotLockOutTheAdmin(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.TrustedProxies, _ = edge.ParseProxies("127.0.0.1") }))
	pw := apptest.CreateAdmin(t, "netlock-boss", "admin")
	const home = "198.18.20.1"
	out, ck := adminLoginFrom(ts, t, "netlock-boss", pw, "X-Forwarded-For", home)
	if out.Code() != "" || ck == nil {
		t.Fatalf("first sign-in: %s, cookie %v", out.Raw, ck)
	}
	for i := range admin.MaxPerIP {
		if out, _ := adminLoginFrom(ts, t, fmt.Sprintf("netlock-stranger-%d", i), "guess", "X-Forwarded-For", home); out.Code() != "INVALID_CREDENTIALS" {
			t.Fatalf("stranger's guess %d: %s", i+1, out.Raw)
		}
	}
	if out, _ := adminLoginFrom(ts, t, "netlock-boss", pw, "X-Forwarded-For", home); out.Code() != "RATE_LIMITED" {
		t.Fatalf("the admin without the cookie from the spent network: %s, want RATE_LIMITED", out.Raw)
	}
	out, fresh := adminLoginFrom(ts, t, "netlock-boss", pw, "X-Forwarded-For", home, "Cookie", ck.Name+"="+ck.Value)
	if out.Code() != "" || fresh == nil {
		t.Fatalf("the admin with their device cookie from the spent network: %s, want signed in", out.Raw)
	}
}

// Only the first cookie named wxlogin_admin_device used to be read, so one
// planted ahead of the real one (from another port, a sibling subdomain or
// plain http, which may all set cookies for this host) hid the device.
// Every cookie of the name is tried now.
func TestAdmin_PlantedCookieDoesNotHideTheDevice(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.TrustedProxies, _ = edge.ParseProxies("127.0.0.1") }))
	pw := apptest.CreateAdmin(t, "planted-boss", "admin")
	const home = "198.18.21.1"
	out, ck := adminLoginFrom(ts, t, "planted-boss", pw, "X-Forwarded-For", home)
	if out.Code() != "" || ck == nil {
		t.Fatalf("first sign-in: %s, cookie %v", out.Raw, ck)
	}
	for i := range admin.MaxPerUsername {
		if out, _ := adminLoginFrom(ts, t, "planted-boss", "a stranger's guess", "X-Forwarded-For", fmt.Sprintf("198.18.22.%d", i+1)); out.Code() != "INVALID_CREDENTIALS" {
			t.Fatalf("stranger %d: %s", i+1, out.Raw)
		}
	}
	junkFirst := admin.DeviceCookieName + "=junk; " + admin.DeviceCookieName + "=" + ck.Value
	if out, fresh := adminLoginFrom(ts, t, "planted-boss", pw, "X-Forwarded-For", home, "Cookie", junkFirst); out.Code() != "" || fresh == nil {
		t.Fatalf("a planted cookie ahead of the device's: %s, want signed in", out.Raw)
	}
}

// Every limiter groups addresses alike (ratelimit.ClientNet): IPv4 by
// address, IPv6 by /64. Addresses of one /64, through a trusted proxy,
// share one budget in the user login limiter and in adminLogin's.
func TestLimits_IPv6NetworkIsOneClientEverywhere(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) {
		c.TrustedProxies, _ = edge.ParseProxies("127.0.0.1")
		c.RateLimits.LoginPerIP = ratelimit.Limit{N: 3, Window: time.Minute}
	}))
	const net = "2001:db8:6464:1:"
	login := func(user, ip string) string {
		out, _ := postFrom(ts, t, apptest.LoginMutation, map[string]any{"in": map[string]any{"code": ts.Code(t, user)}}, "X-Forwarded-For", ip)
		return out.Code()
	}
	for i := range 3 {
		if c := login(fmt.Sprintf("v6-%d", i), fmt.Sprintf("%s%x::1", net, i)); c != "" {
			t.Fatalf("login %d: %s", i+1, c)
		}
	}
	if c := login("v6-3", net+"ffff::1"); c != "RATE_LIMITED" {
		t.Fatalf("a 4th address of the /64: login %s, want RATE_LIMITED", c)
	}
	if c := login("v6-4", "2001:db8:6464:2::1"); c != "" {
		t.Fatalf("the next /64: login %s", c)
	}

	checked := 0
	for i := range 70 {
		out, _ := adminLoginFrom(ts, t, fmt.Sprintf("v6-spray-%d", i), "guess", "X-Forwarded-For", fmt.Sprintf("%s%x::%x", net, i, i+1))
		switch out.Code() {
		case "INVALID_CREDENTIALS":
			checked++
		case "RATE_LIMITED":
		default:
			t.Fatalf("adminLogin %d: %s", i+1, out.Raw)
		}
	}
	if checked != admin.MaxPerIP {
		t.Fatalf("70 addresses of one /64 got %d password checks, want %d (one address's)", checked, admin.MaxPerIP)
	}
	if out, _ := adminLoginFrom(ts, t, "v6-spray-next", "guess", "X-Forwarded-For", "2001:db8:6464:2::2"); out.Code() != "INVALID_CREDENTIALS" {
		t.Fatalf("the next /64: adminLogin %s", out.Raw)
	}
}

// lockWaiters counts this database's connections whose statement touches
// users and waits for a lock, those of application appName only when it is
// not empty.
func lockWaiters(t *testing.T, st *store.Store, appName string) int {
	t.Helper()
	var n int
	err := st.DB().QueryRowContext(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE "users"%'
		  AND (? = '' OR application_name = ?)`, appName, appName).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Admin work that holds every connection of the admin pool (here admin
// requests blocked on a row lock inside PostgreSQL, as 40 slow searches
// would be busy) takes none of the users' pool: a login and a me answer
// while every admin request is still waiting, and the admin requests finish
// once the lock goes. With the admin service on the users' pool, the
// blocked admin requests take all of its connections and the login waits.
func TestAdminPool_BusyAdminWorkLeavesUsersAlone(t *testing.T) {
	t.Parallel()
	const adminConns, userConns = 2, 3
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) {
		c.DBMaxConns, c.AdminDBMaxConns, c.AdminStatementTimeout = userConns, adminConns, 10*time.Second
	}))
	adm, resp := ts.AdminLogin(t, "pool-admin", apptest.CreateAdmin(t, "pool-admin", "admin"))
	if adm == "" {
		t.Fatalf("adminLogin = %s", resp.Raw)
	}
	victim := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "pool-victim")})

	// The test's own connection holds the victim's row, so that every
	// disableUser of it waits inside PostgreSQL, holding its connection.
	ctx := context.Background()
	held := storetest.Open(t)
	tx, err := held.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM users WHERE id = ? FOR UPDATE", victim.User.ID); err != nil {
		t.Fatal(err)
	}

	// More admin requests than either pool has connections.
	const n = 2 * userConns
	done := make(chan apptest.Result, n)
	client := &http.Client{Timeout: 30 * time.Second}
	for range n {
		go func() {
			done <- ts.Using(client).Post(adm, `mutation($id: ID!) { disableUser(id: $id, reason: "pool test") { id } }`, map[string]any{"id": victim.User.ID})
		}()
	}
	apptest.WaitFor(t, "admin requests waiting on the lock", 20*time.Second, func() bool { return lockWaiters(t, held, "") >= adminConns })

	// A user logs in and asks who they are while the admin requests wait.
	user := ts.Using(client).Post("", apptest.LoginMutation, map[string]any{"in": map[string]any{"code": ts.Code(t, "pool-user")}})
	if user.Err != nil || len(user.Resp.Errors) > 0 {
		t.Fatalf("login while admin work holds its connections: %v %s", user.Err, user.Resp.Raw)
	}
	var p apptest.LoginPayload
	if err := json.Unmarshal(user.Resp.Data["login"], &p); err != nil {
		t.Fatal(err)
	}
	if me := ts.Using(client).Post(p.Token, `{ me { id } }`, nil); me.Err != nil || len(me.Resp.Errors) > 0 {
		t.Fatalf("me while admin work holds its connections: %v %s", me.Err, me.Resp.Raw)
	}
	select {
	case r := <-done:
		t.Fatalf("an admin request finished (%s) while the lock was held: the user's requests waited for admin work", r.Resp.Raw)
	default:
	}
	// Exactly the admin pool's connections are busy with them; the rest
	// of the admin requests wait for one in the admin pool.
	if got := lockWaiters(t, held, app.AdminAppName); got != adminConns {
		t.Fatalf("%d admin connections wait on the lock, want all %d of the admin pool", got, adminConns)
	}
	if got := lockWaiters(t, held, ""); got != adminConns {
		t.Fatalf("%d connections wait on the lock, want only the admin pool's %d", got, adminConns)
	}

	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range n {
		if r := <-done; r.Err != nil || len(r.Resp.Errors) > 0 {
			t.Fatalf("disableUser after the lock went: %v %s", r.Err, r.Resp.Raw)
		}
	}
}
