package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/store/storetest"
)

// TestFastUsers_PagesReadOnlyTheirColumns: a users page without filters
// whose selection graph.FastUsers plans reads only the columns of the
// fields it selects (store.PageColumns). Each such page must answer what
// the same selection answers with every column read: the same nodes in a
// fragment, which is never planned. On a database of its own, so that the
// unfiltered pages hold only this test's users, each with something in
// every column; both orders, both directions, paged by cursor.
func TestFastUsers_PagesReadOnlyTheirColumns(t *testing.T) {
	t.Parallel()
	dsn, _ := storetest.FreshDatabase(t)
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) {
		c.DatabaseURL, c.PublicURL, c.MetricsToken = dsn, "https://wx.example.com", fastMetricsToken
	}))
	ctx := context.Background()
	for i := range 7 {
		p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, fmt.Sprintf("cols-%d", i))})
		// Every column set, and different in each user; the last login
		// times out of the creation order, one never (NULL).
		q := `UPDATE users SET nickname = ?, avatar_url = ?, gender = ?, language = 'zh_CN', city = ?, province = ?,
			country = ?, phone = ?, phone_country_code = '86', last_login_at = now() - ? * interval '1 hour'`
		args := []any{fmt.Sprintf("<n%d> & \"x\"", i), fmt.Sprintf("/avatars/%064d.jpg", i), i % 3, fmt.Sprintf("city %d", i),
			fmt.Sprintf("province %d", i), fmt.Sprintf("C%d", i), fmt.Sprintf("+86138001380%02d", i), (i * 5) % 7}
		switch i {
		case 2:
			q += `, disabled_at = now(), disabled_reason = 'spam'`
		case 3:
			q += `, deletion_requested_at = now(), erase_at = now() + interval '30 days'`
		case 4:
			q = strings.Replace(q, "last_login_at = now() - ? * interval '1 hour'", "last_login_at = NULL", 1)
			args = args[:len(args)-1]
		}
		if _, err := ts.Store().DB().ExecContext(ctx, q+` WHERE id = ?`, append(args, p.User.ID)...); err != nil {
			t.Fatal(err)
		}
	}
	pw := "correct horse battery cols-admin"
	var out bytes.Buffer
	if err := app.Run(ctx, []string{"admin", "create", "cols-admin", "-role", "viewer"}, apptest.Env(map[string]string{"DATABASE_URL": dsn}),
		strings.NewReader(pw+"\n"), &out, &out); err != nil {
		t.Fatal(err, out.String())
	}
	tok, resp := ts.AdminLogin(t, "cols-admin", pw)
	if tok == "" {
		t.Fatal(resp.Raw)
	}
	post := func(query string, vars map[string]any) string {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		_, got := ts.Fetch(t, "POST", "/graphql", string(body), "Authorization", "Bearer "+tok)
		if !strings.Contains(got, `"edges"`) || strings.Contains(got, `"errors"`) {
			t.Fatalf("%s: %s", query, got)
		}
		return got
	}
	fast := func() float64 {
		return apptest.Metric(apptest.Scrape(t, ts.MetricsURL(), fastMetricsToken), "graphql_fast_path_total")
	}

	for _, nodes := range []string{
		"id",
		"id nickname avatarUrl city createdAt", // make bench-admin's
		"id nickname avatarUrl phone createdAt lastLoginAt disabled erasesAt deletedAt", // the dashboard's
		"__typename id nickname avatarUrl gender city province country language phone createdAt lastLoginAt disabled disabledAt disabledReason deletionRequestedAt erasesAt deletedAt",
		"lastLoginAt", "gender", "language", "province", "country", "disabled", "disabledAt disabledReason",
		"deletionRequestedAt", "erasesAt", "deletedAt", "createdAt",
	} {
		for _, order := range []string{"CREATED_AT", "LAST_LOGIN_AT"} {
			for _, dir := range []string{"ASC", "DESC"} {
				vars := map[string]any{"order": map[string]any{"field": order, "direction": dir}}
				planned := `query($after: String, $order: UserOrder) { users(first: 3, after: $after, orderBy: $order) {
					edges { cursor node { ` + nodes + ` } } pageInfo { hasNextPage endCursor } } }`
				whole := `query($after: String, $order: UserOrder) { users(first: 3, after: $after, orderBy: $order) {
					edges { cursor node { ...N } } pageInfo { hasNextPage endCursor } } } fragment N on User { ` + nodes + ` }`
				for page := 0; ; page++ {
					f0 := fast()
					got := post(planned, vars)
					if fast() == f0 {
						t.Fatalf("%s %s %s: the fast path did not answer %s", nodes, order, dir, got)
					}
					if want := post(whole, vars); got != want {
						t.Fatalf("%s %s %s page %d: reading its columns only\n%s\nreading every column\n%s", nodes, order, dir, page, got, want)
					}
					var p struct {
						Data struct {
							Users struct {
								PageInfo struct {
									HasNextPage bool
									EndCursor   string
								}
							}
						}
					}
					if err := json.Unmarshal([]byte(got), &p); err != nil {
						t.Fatal(err)
					}
					if !p.Data.Users.PageInfo.HasNextPage {
						if page != 2 {
							t.Fatalf("%s %s %s: %d pages of 7 users, want 3", nodes, order, dir, page+1)
						}
						break
					}
					vars["after"] = p.Data.Users.PageInfo.EndCursor
				}
			}
		}
	}
}
