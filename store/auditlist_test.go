package store_test

import (
	"context"
	"slices"
	"testing"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// TestStore_ListAuditParties: the admin and user filters keep the entries
// their ids acted in or were the target of, once each (a user's own login
// is both), together only those involving one of each; an empty list keeps
// nothing; the date range's end is exclusive; paging backward works under
// them; AuditNames names users (a nickname, none, erased) and admins in
// one statement.
func TestStore_ListAuditParties(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	u1, u2, u3, a1 := store.NewID(), store.NewID(), store.NewID(), store.NewID()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO users (id, nickname) VALUES (?, '甲'), (?, NULL)", []any{u1, u2}},
		{"INSERT INTO users (id, deleted_at) VALUES (?, now())", []any{u3}},
		{"INSERT INTO admins (id, username, password_hash, role) VALUES (?, ?, 'x', 'ADMIN')", []any{a1, "parties-" + a1[:8]}},
	} {
		if _, err := st.DB().ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	write := func(kind, actor, action, target string) *models.AuditEntry {
		e := &models.AuditEntry{ActorKind: kind, ActorID: &actor, Action: action, Target: &target}
		if err := st.WriteAudit(ctx, st.DB(), e); err != nil {
			t.Fatal(err)
		}
		ids = append([]string{e.ID}, ids...) // newest first
		return e
	}
	login1 := write("user", u1, "user.login", u1)
	dis1 := write("admin", a1, "user.disable", u1)
	dis2 := write("admin", a1, "user.disable", u2)
	login2 := write("user", u2, "user.login", u2)
	adm := write("admin", a1, "admin.login", a1)
	list := func(q store.AuditQuery) []string {
		t.Helper()
		if q.First == 0 {
			q.First = 10
		}
		q.WithTotal = true
		p, err := st.ListAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range p.Items {
			out = append(out, e.ID)
		}
		if !q.Backward && q.After == nil && len(out) < q.First && p.TotalCount != len(out) {
			t.Fatalf("%+v: totalCount %d beside %d entries", q, p.TotalCount, len(out))
		}
		return out
	}
	for name, c := range map[string]struct {
		q    store.AuditQuery
		want []string
	}{
		"User":             {store.AuditQuery{UserIDs: []string{u1}}, []string{dis1.ID, login1.ID}},
		"Users":            {store.AuditQuery{UserIDs: []string{u1, u2}}, []string{login2.ID, dis2.ID, dis1.ID, login1.ID}},
		"Admin":            {store.AuditQuery{AdminIDs: []string{a1}}, []string{adm.ID, dis2.ID, dis1.ID}},
		"AdminAndUser":     {store.AuditQuery{AdminIDs: []string{a1}, UserIDs: []string{u2}}, []string{dis2.ID}},
		"AdminAndAction":   {store.AuditQuery{AdminIDs: []string{a1}, Action: "admin.login"}, []string{adm.ID}},
		"NobodyMatched":    {store.AuditQuery{UserIDs: []string{}}, nil},
		"NobodyAndAdmin":   {store.AuditQuery{UserIDs: []string{}, AdminIDs: []string{a1}}, nil},
		"UntilExclusive":   {store.AuditQuery{UserIDs: []string{u1, u2}, Until: &dis2.At}, []string{dis1.ID, login1.ID}},
		"SinceAndUntil":    {store.AuditQuery{AdminIDs: []string{a1}, Since: &dis1.At, Until: &adm.At}, []string{dis2.ID, dis1.ID}},
		"UntilNoParty":     {store.AuditQuery{Target: u1, Until: &dis1.At}, []string{login1.ID}},
		"PageOfOneForward": {store.AuditQuery{UserIDs: []string{u1, u2}, First: 1}, []string{login2.ID}},
		"LastPageOfTwo":    {store.AuditQuery{UserIDs: []string{u1, u2}, First: 2, Backward: true}, []string{dis1.ID, login1.ID}},
		"BeforeCursor": {store.AuditQuery{UserIDs: []string{u1, u2}, First: 2,
			Before: &store.AuditCursor{At: dis1.At, ID: dis1.ID}}, []string{login2.ID, dis2.ID}},
		"AfterCursor": {store.AuditQuery{AdminIDs: []string{a1}, First: 5,
			After: &store.AuditCursor{At: dis2.At, ID: dis2.ID}}, []string{dis1.ID}},
	} {
		if got := list(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v (all: %v)", name, got, c.want, ids)
		}
	}
	if _, err := st.ListAudit(ctx, store.AuditQuery{First: 1, UserIDs: make([]string, store.MaxAuditParties+1)}); err == nil {
		t.Fatal("more ids than MaxAuditParties were taken")
	}

	names, err := st.AuditNames(ctx, []string{u1, u2, u3, a1, store.NewID()})
	if err != nil {
		t.Fatal(err)
	}
	if n := names[u1]; n.Kind != "user" || n.Name == nil || *n.Name != "甲" || n.Erased {
		t.Errorf("u1: %+v", n)
	}
	if n := names[u2]; n.Kind != "user" || n.Name != nil || n.Erased {
		t.Errorf("u2: %+v", n)
	}
	if n := names[u3]; n.Kind != "user" || !n.Erased {
		t.Errorf("u3: %+v", n)
	}
	if n := names[a1]; n.Kind != "admin" || n.Name == nil || *n.Name != "parties-"+a1[:8] {
		t.Errorf("a1: %+v", n)
	}
	if len(names) != 4 {
		t.Errorf("names for an unknown id: %v", names)
	}
	found, err := st.AdminIDsNamed(ctx, "PARTIES-"+a1[:4], 5)
	if err != nil || !slices.Equal(found, []string{a1}) {
		t.Errorf("AdminIDsNamed by a start in another case = %v, %v", found, err)
	}
	if found, err := st.AdminIDsNamed(ctx, "parties_%", 5); err != nil || len(found) != 0 {
		t.Errorf("AdminIDsNamed takes _ and %% as themselves: %v, %v", found, err)
	}
}
