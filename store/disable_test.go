package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// Issue 21, item 5: who disabled a user is on the user, with when and why,
// set and cleared with them; gone with the admin's row and with erasure.
func TestStore_DisabledBy(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t) // it erases a user: a tombstone has no identity, which the login tests count as an orphan
	ctx := context.Background()
	ops, ops2 := newAdmin(t, st, "ops", models.RoleAdmin), newAdmin(t, st, "ops2", models.RoleAdmin)
	a := mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t)}).User.ID
	b := mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t)}).User.ID
	enabled := mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t)}).User.ID

	u, err := st.SetUserDisabled(ctx, a, true, "spam", ops.ID, nil)
	if err != nil || u.DisabledByID == nil || *u.DisabledByID != ops.ID || u.DisabledAt == nil || *u.DisabledReason != "spam" {
		t.Fatalf("disabled: %+v, %v", u, err)
	}
	if _, err := st.SetUserDisabled(ctx, b, true, "fraud", ops2.ID, nil); err != nil {
		t.Fatal(err)
	}
	by, err := st.DisabledByOf(ctx, []string{a, b, enabled, store.NewID()})
	if err != nil || len(by) != 2 || by[a].Username != ops.Username || by[b].Username != ops2.Username || by[a].PasswordHash != "" {
		t.Fatalf("DisabledByOf = %v, %v", by, err)
	}

	// A second disable keeps when, records the new why and who.
	again, err := st.SetUserDisabled(ctx, a, true, "more spam", ops2.ID, nil)
	if err != nil || !again.DisabledAt.Equal(*u.DisabledAt) || *again.DisabledReason != "more spam" || *again.DisabledByID != ops2.ID {
		t.Fatalf("disabled again: %+v, %v", again, err)
	}
	// Enabling clears all three.
	if u, err := st.SetUserDisabled(ctx, a, false, "", "", nil); err != nil || u.DisabledAt != nil || u.DisabledReason != nil || u.DisabledByID != nil {
		t.Fatalf("enabled: %+v, %v", u, err)
	}
	if by, _ := st.DisabledByOf(ctx, []string{a}); len(by) != 0 {
		t.Fatalf("an enabled user's disabler: %v", by)
	}

	// The admin's row gone: the user stays disabled, by no one known.
	if _, err := st.DB().NewDelete().Model((*models.Admin)(nil)).Where("id = ?", ops2.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if by, _ := st.DisabledByOf(ctx, []string{b}); len(by) != 0 {
		t.Fatalf("a deleted admin still disabled %v", by)
	}
	if n := count(t, st, "SELECT count(*) FROM users WHERE id = ? AND disabled_at IS NOT NULL AND disabled_by IS NULL", b); n != 1 {
		t.Fatal("deleting the admin changed the user's disable")
	}

	// Erasure forgets who and why.
	if _, err := st.SetUserDisabled(ctx, a, true, "before erasure", ops.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EraseUser(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, "SELECT count(*) FROM users WHERE id = ? AND disabled_by IS NULL AND disabled_reason IS NULL AND disabled_at IS NULL", a); n != 1 {
		t.Fatal("the tombstone keeps who disabled the user, or why")
	}
}

// Issue 21, item 5: ListUsers' DISABLED_AT order, for disabled users only.
func TestStore_ListUsersByDisableDate(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t)
	ctx := context.Background()
	var ids []string
	for range 5 {
		ids = append(ids, mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t)}).User.ID)
	}
	var want []string
	for _, i := range []int{2, 4, 0, 3} {
		if _, err := st.SetUserDisabled(ctx, ids[i], true, "x", "", nil); err != nil {
			t.Fatal(err)
		}
		want = append(want, ids[i])
	}
	yes, no := true, false
	for _, desc := range []bool{false, true} {
		exp := slices.Clone(want)
		if desc {
			slices.Reverse(exp)
		}
		var got []string
		q := store.UserQuery{First: 3, Disabled: &yes, Order: store.OrderDisabledAt, Desc: desc}
		for pages := 1; ; pages++ {
			if pages > 5 {
				t.Fatalf("desc=%v: still paging after %v", desc, got)
			}
			p, err := st.ListUsers(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range p.Items {
				got = append(got, u.ID)
			}
			if !p.HasNextPage {
				break
			}
			if q.After, err = store.DecodeCursor(p.Cursors[len(p.Cursors)-1]); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(got, exp) {
			t.Fatalf("desc=%v: %v, want %v", desc, got, exp)
		}
	}
	for _, d := range []*bool{nil, &no} {
		if _, err := st.ListUsers(ctx, store.UserQuery{First: 3, Disabled: d, Order: store.OrderDisabledAt}); !errors.Is(err, store.ErrOrderNeedsDisabled) {
			t.Fatalf("DISABLED_AT with disabled %v: %v", d, err)
		}
	}
}
