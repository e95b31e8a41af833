package e2e_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/store"
)

// TestFastUsers_SameAnswer: the users page that graph.FastUsers writes
// without the per-field executor is byte for byte what the executor
// writes. Two servers on one database: A as production runs it, B with
// tracing on (which turns the fast path off). Every request goes to both,
// and A must have taken the fast path (graphql_fast_path_total) for each
// request that qualifies, and only for those.
func TestFastUsers_SameAnswer(t *testing.T) {
	t.Parallel()
	pub := func(c *app.Config) { c.PublicURL = "https://wx.example.com"; c.MetricsToken = fastMetricsToken }
	a := apptest.Start(t, apptest.WithConfig(pub))
	b := apptest.Start(t, apptest.WithTraceExporter(tracetest.NewInMemoryExporter()), apptest.WithConfig(pub),
		apptest.WithConfig(func(c *app.Config) { c.DatabaseURL = a.Config.DatabaseURL }))
	ctx := context.Background()

	// Users a search finds apart from every other test's: odd text in
	// every field JSON escapes, nulls, an uploaded avatar that PUBLIC_URL
	// makes absolute, one disabled with a reason.
	tag := "fu" + strings.ReplaceAll(store.NewID()[24:], "-", "")
	odd := "<b>\"Tom\" & \\Jerry</b>\u2028\u2029\x7f\x01 你好 😀"
	for i := range 5 {
		p := a.MustLogin(t, map[string]any{"code": a.Code(t, tag+"-"+string(rune('a'+i)))})
		q := `UPDATE users SET nickname = ? WHERE id = ?`
		args := []any{tag + "-" + string(rune('a'+i)), p.User.ID}
		switch i {
		case 1:
			q = `UPDATE users SET nickname = ?, city = ?, province = NULL, country = 'CN', language = 'zh_CN', gender = 2,
				phone = '+8613800199217', avatar_url = '/avatars/` + strings.Repeat("cd", 32) + `.jpg' WHERE id = ?`
			args = []any{tag + odd, "a\tb\nc", p.User.ID}
		case 2:
			q = `UPDATE users SET nickname = ?, avatar_url = 'https://thirdwx.qlogo.cn/x?a=1&b=<2>', gender = 1,
				disabled_at = now(), disabled_reason = ? WHERE id = ?`
			args = []any{tag + "-c", "spam & <abuse>", p.User.ID}
		}
		if _, err := a.Store().DB().ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	tok, resp := a.AdminLogin(t, "fast-users-"+tag, apptest.CreateAdmin(t, "fast-users-"+tag, "viewer"))
	if tok == "" {
		t.Fatal(resp.Raw)
	}
	user := a.MustLogin(t, map[string]any{"code": a.Code(t, tag+"-user")})

	post := func(ts *apptest.Server, token, query string, vars map[string]any) string {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		var hdr []string
		if token != "" {
			hdr = append(hdr, "Authorization", "Bearer "+token)
		}
		_, out := ts.Fetch(t, "POST", "/graphql", string(body), hdr...)
		return out
	}
	// same sends the request to both and returns A's answer, failing if
	// B's differs or if A's path is not the one wanted.
	same := func(name, token, query string, vars map[string]any, fast bool) string {
		t.Helper()
		fast0 := apptest.Metric(apptest.Scrape(t, a.MetricsURL(), fastMetricsToken), "graphql_fast_path_total")
		got := post(a, token, query, vars)
		took := apptest.Metric(apptest.Scrape(t, a.MetricsURL(), fastMetricsToken), "graphql_fast_path_total") > fast0
		want := post(b, token, query, vars)
		if got != want {
			t.Fatalf("%s: the fast path answered\n%s\nthe executor\n%s", name, got, want)
		}
		if took != fast {
			t.Fatalf("%s: fast path taken %v, want %v: %s", name, took, fast, got)
		}
		return got
	}

	const fields = `edges { node { id nickname avatarUrl phone createdAt lastLoginAt disabled } }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`
	forward := `query Users($n: Int!, $cursor: String, $filter: UserFilter, $orderBy: UserOrder) {
		users(first: $n, after: $cursor, filter: $filter, orderBy: $orderBy) { ` + fields + ` } }`
	backward := `query UsersBack($n: Int!, $cursor: String, $filter: UserFilter, $orderBy: UserOrder) {
		users(last: $n, before: $cursor, filter: $filter, orderBy: $orderBy) { ` + fields + ` } }`
	filter := map[string]any{"search": tag}
	first := same("first page", tok, forward, map[string]any{"n": 2, "filter": filter}, true)
	var page struct {
		Data struct {
			Users struct {
				Edges    []json.RawMessage
				PageInfo struct{ EndCursor, StartCursor string }
			}
		}
	}
	if err := json.Unmarshal([]byte(first), &page); err != nil || len(page.Data.Users.Edges) != 2 {
		t.Fatalf("first page: %v %s", err, first)
	}
	second := same("second page", tok, forward, map[string]any{"n": 2, "filter": filter, "cursor": page.Data.Users.PageInfo.EndCursor}, true)
	if err := json.Unmarshal([]byte(second), &page); err != nil || len(page.Data.Users.Edges) != 2 {
		t.Fatalf("second page: %v %s", err, second)
	}
	same("back", tok, backward, map[string]any{"n": 2, "filter": filter, "cursor": page.Data.Users.PageInfo.StartCursor}, true)
	same("last page", tok, backward, map[string]any{"n": 3, "filter": filter}, true)
	same("ascending by last login", tok, forward, map[string]any{"n": 5, "filter": filter, "orderBy": map[string]any{"field": "LAST_LOGIN_AT", "direction": "ASC"}}, true)
	same("every field, aliases, __typename", tok, `{ t: __typename u: users(first: 10, filter: {search: "`+tag+`"}) {
		__typename n: totalCount totalCount
		pageInfo { __typename e: endCursor hasNextPage startCursor hasPreviousPage }
		edges { c: cursor __typename node { __typename id nickname avatarUrl gender city province country language phone
			createdAt lastLoginAt disabled disabledAt disabledReason i: id } } } }`, nil, true)
	same("nothing found", tok, `{ users(first: 3, filter: {search: "`+tag+`-none"}) { edges { node { id } } pageInfo { endCursor } } }`, nil, true)

	// Not planned: the executor answers on both.
	same("a fragment", tok, `{ users(first: 2, filter: {search: "`+tag+`"}) { edges { node { ...F } } } } fragment F on User { id nickname }`, nil, false)
	same("a directive", tok, `{ users(first: 2, filter: {search: "`+tag+`"}) { edges { node { id nickname @include(if: true) } } } }`, nil, false)
	same("a list field", tok, `{ users(first: 2, filter: {search: "`+tag+`"}) { edges { node { id identities { appId } } } } }`, nil, false)
	same("a field twice", tok, `{ users(first: 2, filter: {search: "`+tag+`"}) { edges { node { id } } edges { cursor } } }`, nil, false)
	// One object field under two response keys: each keeps its own selection.
	same("edges under two aliases", tok, `{ users(first: 2, filter: {search: "`+tag+`"}) { edges { node { id phone disabledReason } } e2: edges { cursor } } }`, nil, false)
	same("node under two aliases", tok, `{ users(first: 2, filter: {search: "`+tag+`"}) { edges { node { nickname phone } n2: node { id } } } }`, nil, false)
	same("users twice, other columns", tok, `{ a: users(first: 2, filter: {search: "`+tag+`"}) { edges { node { id } } } b: users(first: 2, filter: {search: "`+tag+`"}) { edges { node { nickname phone city disabledReason } } } }`, nil, true)
	same("pageInfo under two aliases", tok, `{ users(first: 2, filter: {search: "`+tag+`"}) { pageInfo { endCursor } p2: pageInfo { hasNextPage } } }`, nil, false)
	// Errors are the executor's, whoever asks.
	same("a bad cursor", tok, forward, map[string]any{"n": 2, "cursor": "nope"}, false)
	same("too many", tok, forward, map[string]any{"n": 101}, false)
	same("a user's token", user.Token, forward, map[string]any{"n": 2}, false)
	same("no token", "", forward, map[string]any{"n": 2}, false)
	same("a bad variable", tok, forward, map[string]any{"n": "two"}, false)
	if _, err := a.Store().DB().ExecContext(ctx, `UPDATE admin_sessions SET revoked_at = now() WHERE admin_id = (SELECT id FROM admins WHERE username = ?)`, "fast-users-"+tag); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the session cache's notification, when it is on
	same("a revoked session", tok, forward, map[string]any{"n": 2}, false)
}
