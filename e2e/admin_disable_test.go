package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"wxlogin/app/apptest"
)

// Issue 21, item 5: a disable needs a reason, and the user shows who
// disabled them, when and why, until an enable clears it.
func TestAdmin_DisableNeedsReasonAndShowsWhoWhenWhy(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	adm, _ := ts.AdminLogin(t, "why-admin", apptest.CreateAdmin(t, "why-admin", "admin"))
	viewer, _ := ts.AdminLogin(t, "why-viewer", apptest.CreateAdmin(t, "why-viewer", "viewer"))
	victim := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "why-victim")})
	id := victim.User.ID
	const disable = `mutation($id: ID!, $r: String!) { disableUser(id: $id, reason: $r) { id disabled } }`

	// No reason at all is refused by the schema; a blank or overlong one by
	// the server; nothing changes.
	if r := ts.Do(t, adm, `mutation($id: ID!) { disableUser(id: $id) { id } }`, map[string]any{"id": id}); r.Code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Fatalf("disableUser without a reason = %s", r.Raw)
	}
	for name, reason := range map[string]string{"empty": "", "spaces": " \n\t ", "501 characters": strings.Repeat("封", 501)} {
		if r := ts.Do(t, adm, disable, map[string]any{"id": id, "r": reason}); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("disableUser with a reason %s = %s", name, r.Raw)
		}
	}
	if me := ts.Do(t, victim.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
		t.Fatalf("a refused disable signed the user out: %s", me.Raw)
	}

	// 500 Chinese characters are 1,500 bytes: the limit counts characters.
	reason := strings.Repeat("封", 499) + "号"
	if r := ts.Do(t, adm, disable, map[string]any{"id": id, "r": "  " + reason + "  "}); len(r.Errors) > 0 {
		t.Fatalf("disableUser with 500 characters = %s", r.Raw)
	}
	const who = `query($id: ID!) { user(id: $id) { disabled disabledAt disabledReason disabledBy { id username role } } }`
	for _, tok := range []string{adm, viewer} {
		r := ts.Do(t, tok, who, map[string]any{"id": id})
		u := obj(t, r, "user")
		by, _ := u["disabledBy"].(map[string]any)
		if len(r.Errors) > 0 || u["disabled"] != true || u["disabledAt"] == nil || u["disabledReason"] != reason ||
			by["username"] != "why-admin" || by["role"] != "ADMIN" {
			t.Fatalf("who, when, why = %s", r.Raw)
		}
	}
	var auditReason string
	if err := ts.Store().DB().QueryRowContext(context.Background(),
		"SELECT detail->>'reason' FROM audit_log WHERE action = 'user.disable' AND target = ?", id).Scan(&auditReason); err != nil || auditReason != reason {
		t.Fatalf("audited reason %q (%v)", auditReason, err)
	}

	// Disabling again records the new reason and admin, and keeps when.
	first := obj(t, ts.Do(t, adm, who, map[string]any{"id": id}), "user")["disabledAt"]
	adm2, _ := ts.AdminLogin(t, "why-admin2", apptest.CreateAdmin(t, "why-admin2", "admin"))
	if r := ts.Do(t, adm2, disable, map[string]any{"id": id, "r": "again"}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	u := obj(t, ts.Do(t, adm, who, map[string]any{"id": id}), "user")
	if u["disabledAt"] != first || u["disabledReason"] != "again" || u["disabledBy"].(map[string]any)["username"] != "why-admin2" {
		t.Fatalf("after a second disable: %v (first at %v)", u, first)
	}

	// Enabling clears all three, in the row too.
	if r := ts.Do(t, adm, `mutation($id: ID!) { enableUser(id: $id) { disabled disabledAt disabledReason disabledBy { id } } }`, map[string]any{"id": id}); r.Raw == "" ||
		!strings.Contains(r.Raw, `{"disabled":false,"disabledAt":null,"disabledReason":null,"disabledBy":null}`) {
		t.Fatalf("enableUser = %s", r.Raw)
	}
	var by *string
	if err := ts.Store().DB().QueryRowContext(context.Background(), "SELECT disabled_by::text FROM users WHERE id = ?", id).Scan(&by); err != nil || by != nil {
		t.Fatalf("disabled_by after enable: %v (%v)", by, err)
	}
	// A user never sees who.
	again := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "why-victim")})
	if r := ts.Do(t, again.Token, `{ me { disabledBy { id } } }`, nil); r.Code() != "FORBIDDEN" {
		t.Fatalf("a user's own disabledBy = %s", r.Raw)
	}

	// Erasure forgets why and by whom (the audit log keeps its own row).
	if r := ts.Do(t, adm, disable, map[string]any{"id": id, "r": "before erasure 13800138000"}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if r := ts.Do(t, adm, `mutation($id: ID!) { deleteUser(id: $id, reason: "asked") { disabledAt disabledReason disabledBy { id } } }`, map[string]any{"id": id}); !strings.Contains(r.Raw, `"disabledAt":null,"disabledReason":null,"disabledBy":null`) {
		t.Fatalf("deleteUser = %s", r.Raw)
	}
	var reasonLeft *string
	if err := ts.Store().DB().QueryRowContext(context.Background(), "SELECT disabled_by::text, disabled_reason FROM users WHERE id = ?", id).Scan(&by, &reasonLeft); err != nil || by != nil || reasonLeft != nil {
		t.Fatalf("after erasure disabled_by %v, disabled_reason %v (%v)", by, reasonLeft, err)
	}
}

// Issue 21, item 5: disabled users sort by when they were disabled, keyset
// paginated both ways like the other orders; the order needs the filter.
func TestAdmin_UsersByDisableDate(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	adm, _ := ts.AdminLogin(t, "order-admin", apptest.CreateAdmin(t, "order-admin", "admin"))
	mk := marker(t)
	ids := make([]string, 5)
	for i := range ids {
		ids[i] = seedUser(t, ts, fmt.Sprintf("bydate-%s-%d", mk, i), fmt.Sprintf("%s user %d", mk, i))
	}
	// Disabled in another order than created; one left enabled.
	var want []string
	for _, i := range []int{3, 1, 4, 0} {
		if r := ts.Do(t, adm, `mutation($id: ID!) { disableUser(id: $id, reason: "order") { id } }`, map[string]any{"id": ids[i]}); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		want = append(want, ids[i])
	}
	const q = `query($f: UserFilter, $o: UserOrder, $first: Int, $after: String, $last: Int, $before: String) {
		users(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
			edges { cursor node { id disabledAt } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	filter := map[string]any{"search": mk, "disabled": true}
	page := func(dir string, vars map[string]any) ([]string, map[string]any) {
		t.Helper()
		vars["f"], vars["o"] = filter, map[string]any{"field": "DISABLED_AT", "direction": dir}
		r := ts.Do(t, adm, q, vars)
		if len(r.Errors) > 0 {
			t.Fatalf("users by DISABLED_AT %s %v = %s", dir, vars, r.Raw)
		}
		conn := obj(t, r, "users")
		var got []string
		for _, e := range conn["edges"].([]any) {
			got = append(got, e.(map[string]any)["node"].(map[string]any)["id"].(string))
		}
		return got, conn["pageInfo"].(map[string]any)
	}
	for _, dir := range []string{"ASC", "DESC"} {
		exp := slices.Clone(want)
		if dir == "DESC" {
			slices.Reverse(exp)
		}
		// Forward in pages of 3, then back from the end.
		var got []string
		vars := map[string]any{"first": 3}
		for pages := 1; ; pages++ {
			if pages > 4 {
				t.Fatalf("%s: still paging after %v", dir, got)
			}
			ids, pi := page(dir, vars)
			got = append(got, ids...)
			if pi["hasNextPage"] != true {
				break
			}
			vars = map[string]any{"first": 3, "after": pi["endCursor"]}
		}
		if !slices.Equal(got, exp) {
			t.Fatalf("%s forward: %v, want %v", dir, got, exp)
		}
		last, pi := page(dir, map[string]any{"last": 3})
		before, _ := page(dir, map[string]any{"last": 3, "before": pi["startCursor"]})
		if !slices.Equal(last, exp[1:]) || !slices.Equal(before, exp[:1]) {
			t.Fatalf("%s backward: %v then %v, want %v", dir, last, before, exp)
		}
	}

	// Without disabled: true there is no disable date to sort by.
	for _, f := range []map[string]any{{"search": mk}, {"search": mk, "disabled": false}} {
		r := ts.Do(t, adm, q, map[string]any{"f": f, "o": map[string]any{"field": "DISABLED_AT"}})
		if r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("DISABLED_AT with %v = %s", f, r.Raw)
		}
	}
	// A cursor of another order is refused.
	_, pi := page("ASC", map[string]any{"first": 1})
	r := ts.Do(t, adm, q, map[string]any{"f": filter, "after": pi["endCursor"], "first": 1})
	if r.Code() != "BAD_USER_INPUT" {
		t.Fatalf("a DISABLED_AT cursor in CREATED_AT = %s", r.Raw)
	}
	// The export sorts the same way, and names who disabled each.
	resp, body := export(t, ts, adm, map[string][]string{"search": {mk}, "disabled": {"true"}, "order": {"DISABLED_AT"}, "direction": {"ASC"}})
	recs := parseCSV(t, body)
	if resp.StatusCode != 200 || len(recs) != 5 {
		t.Fatalf("export by DISABLED_AT: HTTP %d\n%s", resp.StatusCode, body)
	}
	for i, rec := range recs[1:] {
		if rec[0] != want[i] || rec[12] != "order-admin" || rec[11] != "order" {
			t.Fatalf("export row %d %q, want %s by order-admin", i, rec, want[i])
		}
	}
	if resp, _ := export(t, ts, adm, map[string][]string{"search": {mk}, "order": {"DISABLED_AT"}}); resp.StatusCode != 400 {
		t.Fatalf("export by DISABLED_AT of every user: HTTP %d", resp.StatusCode)
	}
}

// obj is the answer's root field name as a JSON object; nil when null.
func obj(t *testing.T, r *apptest.Response, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Data[name], &m); err != nil {
		t.Fatalf("%s: %v in %s", name, err, r.Raw)
	}
	return m
}
