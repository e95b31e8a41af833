package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"wxlogin/admin"
	"wxlogin/app/apptest"
)

// auditNode is an audit entry as these tests read it.
type auditNode struct {
	ID     string
	At     time.Time
	Action string
	Actor  struct {
		Kind  string
		ID    *string
		Name  *string
		State string
	}
	Target      *string
	TargetParty *struct {
		Kind    string
		ID      string
		Name    *string
		State   string
		IsActor bool
	}
}

const auditQuery = `query($f: AuditFilter, $n: Int) { auditLog(first: $n, filter: $f) { totalCount edges { node {
	id at action actor { kind id name state } target targetParty { kind id name state isActor } } } } }`

// auditPage lists the entries filter keeps (at most 100), failing t on an error.
func auditPage(t *testing.T, ts *apptest.Server, token string, filter map[string]any) []auditNode {
	t.Helper()
	r := ts.Do(t, token, auditQuery, map[string]any{"f": filter, "n": 100})
	var p struct {
		TotalCount int
		Edges      []struct{ Node auditNode }
	}
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["auditLog"], &p) != nil {
		t.Fatalf("auditLog %v = %s", filter, r.Raw)
	}
	if p.TotalCount != len(p.Edges) {
		t.Fatalf("auditLog %v: totalCount %d beside %d entries", filter, p.TotalCount, len(p.Edges))
	}
	out := make([]auditNode, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Node
	}
	return out
}

// actions are the entries' actions, newest first.
func actions(es []auditNode) string {
	var a []string
	for _, e := range es {
		a = append(a, e.Action)
	}
	return strings.Join(a, " ")
}

// TestAuditLog_Names: every entry's actor and target come named — an
// admin by username, a user by nickname, a user without one, an erased
// user, a session — and a user's own login names the user once (target
// isActor).
func TestAuditLog_Names(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	alice, _ := ts.AdminLogin(t, "names-alice", apptest.CreateAdmin(t, "names-alice", "admin"))
	named := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "names-named")})
	bare := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "names-bare")})
	gone := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "names-gone")})
	if r := ts.Do(t, named.Token, `mutation { updateProfile(input: {nickname: "审计小明"}) { id } }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	for _, m := range []string{
		fmt.Sprintf(`mutation { disableUser(id: %q, reason: "spam") { id } }`, named.User.ID),
		fmt.Sprintf(`mutation { revokeUserSessions(userId: %q) }`, bare.User.ID),
		fmt.Sprintf(`mutation { deleteUser(id: %q, reason: "asked by phone") { id } }`, gone.User.ID),
	} {
		if r := ts.Do(t, alice, m, nil); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
	}

	es := auditPage(t, ts, alice, map[string]any{"user": named.User.ID})
	if got := actions(es); got != "user.disable user.login user.create" {
		t.Fatalf("the named user's entries: %s", got)
	}
	dis, login := es[0], es[1]
	if dis.Actor.Kind != "admin" || str(dis.Actor.Name) != "names-alice" || dis.Actor.State != "NAMED" ||
		dis.TargetParty == nil || dis.TargetParty.Kind != "user" || str(dis.TargetParty.Name) != "审计小明" ||
		dis.TargetParty.State != "NAMED" || dis.TargetParty.IsActor || dis.TargetParty.ID != named.User.ID {
		t.Fatalf("user.disable: %+v, target %+v", dis.Actor, dis.TargetParty)
	}
	if login.Actor.Kind != "user" || str(login.Actor.ID) != named.User.ID || str(login.Actor.Name) != "审计小明" ||
		login.TargetParty == nil || !login.TargetParty.IsActor || str(login.Target) != named.User.ID {
		t.Fatalf("user.login: %+v, target %+v", login.Actor, login.TargetParty)
	}

	es = auditPage(t, ts, alice, map[string]any{"user": bare.User.ID})
	if got := actions(es); got != "user.revoke_sessions user.login user.create" {
		t.Fatalf("the bare user's entries: %s", got)
	}
	if p := es[0].TargetParty; p == nil || p.State != "NO_NAME" || p.Name != nil || p.Kind != "user" {
		t.Fatalf("a user without a nickname: %+v", p)
	}
	if a := es[1].Actor; a.State != "NO_NAME" || a.Name != nil {
		t.Fatalf("a user without a nickname as actor: %+v", a)
	}

	// Erased: found by id only, named as erased, as actor and as target.
	es = auditPage(t, ts, alice, map[string]any{"user": gone.User.ID})
	if got := actions(es); got != "user.erase user.login user.create" {
		t.Fatalf("the erased user's entries: %s", got)
	}
	if p := es[0].TargetParty; p == nil || p.State != "ERASED" || p.Name != nil || p.Kind != "user" || str(es[0].Actor.Name) != "names-alice" {
		t.Fatalf("user.erase: %+v, target %+v", es[0].Actor, p)
	}
	if a := es[1].Actor; a.State != "ERASED" || a.Name != nil || a.Kind != "user" {
		t.Fatalf("an erased user as actor: %+v", a)
	}

	// The admin's own sign-in: actor and target are the admin.
	es = auditPage(t, ts, alice, map[string]any{"admin": "names-alice", "action": "admin.login"})
	if len(es) != 1 || str(es[0].Actor.Name) != "names-alice" || es[0].TargetParty == nil || !es[0].TargetParty.IsActor ||
		es[0].TargetParty.Kind != "admin" || str(es[0].TargetParty.Name) != "names-alice" {
		t.Fatalf("admin.login: %+v", es)
	}

	// A session has no name; the system's command line has its own.
	ts.MustLogin(t, map[string]any{"code": ts.Code(t, "names-bare")}) // a live session again
	var s struct {
		User struct{ Sessions []struct{ ID string } }
	}
	r := ts.Do(t, alice, `query($id: ID!) { user(id: $id) { sessions { id } } }`, map[string]any{"id": bare.User.ID})
	if json.Unmarshal([]byte(fmt.Sprintf(`{"user":%s}`, r.Data["user"])), &s) != nil || len(s.User.Sessions) != 1 {
		t.Fatalf("sessions: %s", r.Raw)
	}
	sid := s.User.Sessions[0].ID
	if r := ts.Do(t, alice, `mutation($id: ID!) { revokeSession(id: $id) }`, map[string]any{"id": sid}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	es = auditPage(t, ts, alice, map[string]any{"target": sid})
	if len(es) != 1 || es[0].Action != "session.revoke" || es[0].TargetParty == nil || es[0].TargetParty.Kind != "session" ||
		es[0].TargetParty.State != "NO_NAME" || es[0].TargetParty.IsActor {
		t.Fatalf("session.revoke: %+v", es)
	}
	es = auditPage(t, ts, alice, map[string]any{"action": "admin.create"})
	if len(es) == 0 || es[0].Actor.Kind != "system" || str(es[0].Actor.Name) != "command line" || es[0].Actor.State != "NAMED" ||
		es[0].TargetParty == nil || es[0].TargetParty.Kind != "admin" || es[0].TargetParty.State != "NAMED" || es[0].TargetParty.IsActor {
		t.Fatalf("admin.create: %+v", es)
	}
}

// TestAuditLog_Filters: by admin name (exact in any case, or its start),
// by user (id, or the users search), by action and by date range, each
// alone and combined.
func TestAuditLog_Filters(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	alice, _ := ts.AdminLogin(t, "filt-alice", apptest.CreateAdmin(t, "filt-alice", "admin"))
	alina, _ := ts.AdminLogin(t, "filt-alina", apptest.CreateAdmin(t, "filt-alina", "admin"))
	u1 := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "filt-one")})
	u2 := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "filt-two")})
	for u, nick := range map[string]string{u1.Token: "过滤一号", u2.Token: "过滤二号"} {
		if r := ts.Do(t, u, `mutation($n: String!) { updateProfile(input: {nickname: $n}) { id } }`, map[string]any{"n": nick}); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
	}
	do := func(token, m, id string) auditNode {
		t.Helper()
		if r := ts.Do(t, token, m, map[string]any{"id": id}); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		es := auditPage(t, ts, alice, map[string]any{"user": id})
		return es[0]
	}
	const disable = `mutation($id: ID!) { disableUser(id: $id, reason: "filters") { id } }`
	const enable = `mutation($id: ID!) { enableUser(id: $id) { id } }`
	d1 := do(alice, disable, u1.User.ID) // alice disables u1
	e1 := do(alina, enable, u1.User.ID)  // alina enables u1
	d2 := do(alina, disable, u2.User.ID) // alina disables u2

	ids := func(es []auditNode) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	for _, c := range []struct {
		name   string
		filter map[string]any
		want   []string // entry ids, newest first; nil: check actions instead
		acts   string
	}{
		{"AdminExact", map[string]any{"admin": "filt-alice", "action": "user.disable"}, []string{d1.ID}, ""},
		{"AdminAnyCase", map[string]any{"admin": "FILT-ALINA", "action": "user.disable"}, []string{d2.ID}, ""},
		{"AdminPrefix", map[string]any{"admin": "filt-al", "action": "user.disable"}, []string{d2.ID, d1.ID}, ""},
		{"AdminEveryAction", map[string]any{"admin": "filt-alice"}, nil, "user.disable admin.login admin.create"},
		{"AdminNobody", map[string]any{"admin": "filt-zed"}, []string{}, ""},
		{"AdminLikeIsLiteral", map[string]any{"admin": "filt_al%"}, []string{}, ""},
		{"UserID", map[string]any{"user": u1.User.ID}, nil, "user.enable user.disable user.login user.create"},
		{"UserIDUpperCase", map[string]any{"user": strings.ToUpper(u1.User.ID)}, nil, "user.enable user.disable user.login user.create"},
		{"UserNickname", map[string]any{"user": "过滤一号", "action": "user.enable"}, []string{e1.ID}, ""},
		{"UserNicknameStart", map[string]any{"user": "过滤", "action": "user.disable"}, []string{d2.ID, d1.ID}, ""},
		{"UserNobody", map[string]any{"user": "没有这个人"}, []string{}, ""},
		{"Action", map[string]any{"action": "user.enable", "user": "过滤"}, []string{e1.ID}, ""},
		{"AdminAndUser", map[string]any{"admin": "filt-alina", "user": u1.User.ID}, []string{e1.ID}, ""},
		{"AdminAndUserSearch", map[string]any{"admin": "filt-al", "user": "过滤二号"}, []string{d2.ID}, ""},
		{"AdminUserAction", map[string]any{"admin": "filt-al", "user": "过滤", "action": "user.enable"}, []string{e1.ID}, ""},
		{"Since", map[string]any{"user": "过滤", "since": e1.At.Format(time.RFC3339Nano)}, []string{d2.ID, e1.ID}, ""},
		{"Until", map[string]any{"user": "过滤", "action": "user.disable", "until": e1.At.Format(time.RFC3339Nano)}, []string{d1.ID}, ""},
		{"Range", map[string]any{"admin": "filt-al", "since": e1.At.Format(time.RFC3339Nano), "until": d2.At.Format(time.RFC3339Nano)}, []string{e1.ID}, ""},
		{"RangeNoParty", map[string]any{"action": "user.enable", "target": u1.User.ID, "since": d1.At.Format(time.RFC3339Nano), "until": d2.At.Add(time.Microsecond).Format(time.RFC3339Nano)}, []string{e1.ID}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			es := auditPage(t, ts, alice, c.filter)
			if c.want != nil {
				if got := ids(es); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
					t.Fatalf("%v: entries %v (%s), want %v", c.filter, got, actions(es), c.want)
				}
				return
			}
			if got := actions(es); got != c.acts {
				t.Fatalf("%v: %s, want %s", c.filter, got, c.acts)
			}
		})
	}

	// Paging through a user filter: a page of one at a time, forward,
	// meets every entry once.
	var seen []string
	var after any
	for range 10 {
		r := ts.Do(t, alice, `query($a: String) { auditLog(first: 1, after: $a, filter: {user: "过滤"}) {
			edges { node { id } } pageInfo { hasNextPage endCursor } } }`, map[string]any{"a": after})
		var p struct {
			Edges    []struct{ Node struct{ ID string } }
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
		if len(r.Errors) > 0 || json.Unmarshal(r.Data["auditLog"], &p) != nil || len(p.Edges) != 1 {
			t.Fatalf("page: %s", r.Raw)
		}
		seen = append(seen, p.Edges[0].Node.ID)
		if !p.PageInfo.HasNextPage {
			break
		}
		after = p.PageInfo.EndCursor
	}
	all := ids(auditPage(t, ts, alice, map[string]any{"user": "过滤"}))
	if !slices.Equal(seen, all) || len(all) != 7 {
		t.Fatalf("paged one at a time: %v, in one page: %v (want 7: two creates, two logins, three changes)", seen, all)
	}
}

// TestAuditLog_BadFilters: a filter that is a mistake is BAD_USER_INPUT,
// said before any work and without echoing the value; so is a user search
// more than 100 users match.
func TestAuditLog_BadFilters(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	viewer, _ := ts.AdminLogin(t, "bad-viewer", apptest.CreateAdmin(t, "bad-viewer", "viewer"))
	now := time.Now().UTC()
	// 101 users whose nicknames start alike.
	if _, err := ts.Store().DB().ExecContext(context.Background(),
		`INSERT INTO users (id, nickname) SELECT gen_random_uuid(), '同名用户' || i FROM generate_series(1, 101) i`); err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("长", 4_000)
	for name, f := range map[string]map[string]any{
		"SinceAfterUntil":  {"since": now.Format(time.RFC3339), "until": now.Add(-time.Hour).Format(time.RFC3339)},
		"SinceIsUntil":     {"since": now.Format(time.RFC3339), "until": now.Format(time.RFC3339)},
		"HugeUser":         {"user": huge},
		"LongUser":         {"user": strings.Repeat("a", 101)},
		"HugeAdmin":        {"admin": huge},
		"LongAdmin":        {"admin": strings.Repeat("a", 65)},
		"HugeAction":       {"action": huge},
		"ActionShape":      {"action": "User Login"},
		"HugeTarget":       {"target": huge},
		"ActorNotAnID":     {"actorId": "alice"},
		"TooManyUsers":     {"user": "同名用户"},
		"UntilNotATime":    {"until": "yesterday"},
		"UntilYearZero":    {"until": "0000-01-01T00:00:00Z"},
		"TooManyAndAction": {"user": "同名用户", "action": "user.login"},
	} {
		r := ts.Do(t, viewer, auditQuery, map[string]any{"f": f, "n": 5})
		if r.Code() != "BAD_USER_INPUT" {
			t.Errorf("%s: %.300s", name, r.Raw)
		}
		if strings.Contains(r.Raw, "长长长") || strings.Contains(r.Raw, "同名用户") || strings.Contains(r.Raw, "SELECT") {
			t.Errorf("%s: the answer echoes the value or SQL: %.300s", name, r.Raw)
		}
	}
	// A hundred is allowed: one user fewer and the search works.
	if _, err := ts.Store().DB().ExecContext(context.Background(), `DELETE FROM users WHERE nickname = '同名用户101'`); err != nil {
		t.Fatal(err)
	}
	if es := auditPage(t, ts, viewer, map[string]any{"user": "同名用户"}); len(es) != 0 {
		t.Fatalf("users without entries: %v", es)
	}
}

// TestAuditLog_Actions: auditActions answers the server's list, which has
// the actions the dashboard once missed; a user cannot read it.
func TestAuditLog_Actions(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	viewer, _ := ts.AdminLogin(t, "acts-viewer", apptest.CreateAdmin(t, "acts-viewer", "viewer"))
	r := ts.Do(t, viewer, `{ auditActions }`, nil)
	var got []string
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["auditActions"], &got) != nil {
		t.Fatal(r.Raw)
	}
	if !slices.Equal(got, admin.AuditActionNames()) || !slices.Contains(got, "user.bind_phone") || !slices.Contains(got, "user.merge") {
		t.Fatalf("auditActions = %v", got)
	}
	user := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "acts-user")})
	if r := ts.Do(t, user.Token, `{ auditActions }`, nil); r.Code() != "FORBIDDEN" {
		t.Fatalf("a user: %s", r.Raw)
	}
}
