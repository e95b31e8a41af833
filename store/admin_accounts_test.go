package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// enabledAdmins counts the enabled admins with the ADMIN role.
func enabledAdmins(t *testing.T, st *store.Store) int {
	t.Helper()
	return count(t, st, "SELECT count(*) FROM admins WHERE role = 'ADMIN' AND disabled_at IS NULL")
}

func TestStore_ChangeAdmin_LastAdmin(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t) // the rule counts every admin: no other test's
	ctx := context.Background()
	a := newAdmin(t, st, "last-a", models.RoleAdmin)
	b := newAdmin(t, st, "last-b", models.RoleAdmin)
	v := newAdmin(t, st, "last-v", models.RoleViewer)
	yes, no := true, false

	if _, err := st.ChangeAdmin(ctx, a.ID, store.AdminChange{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]store.AdminChange{
		"Disable": {Disabled: &yes},
		"Demote":  {Role: models.RoleViewer},
		"Both":    {Disabled: &yes, Role: models.RoleViewer},
	} {
		if _, err := st.ChangeAdmin(ctx, b.ID, ch); !errors.Is(err, store.ErrLastAdmin) {
			t.Fatalf("%s the last enabled ADMIN: err = %v, want ErrLastAdmin", name, err)
		}
	}
	// Through the command line's path too.
	if err := st.SetAdminDisabled(ctx, b.Username, true, nil); !errors.Is(err, store.ErrLastAdmin) {
		t.Fatalf("SetAdminDisabled of the last enabled ADMIN: err = %v, want ErrLastAdmin", err)
	}
	if got, _ := st.AdminByID(ctx, b.ID); got.Role != models.RoleAdmin || got.DisabledAt != nil {
		t.Fatalf("a refused change changed the admin: %+v", got)
	}
	// What takes no ADMIN away goes through: a viewer disabled, the last
	// ADMIN's role set to what it is, a disabled ADMIN demoted.
	if _, err := st.ChangeAdmin(ctx, v.ID, store.AdminChange{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ChangeAdmin(ctx, b.ID, store.AdminChange{Role: models.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ChangeAdmin(ctx, a.ID, store.AdminChange{Role: models.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	// A viewer promoted and enabled is an ADMIN that counts.
	if _, err := st.ChangeAdmin(ctx, v.ID, store.AdminChange{Disabled: &no, Role: models.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ChangeAdmin(ctx, b.ID, store.AdminChange{Role: models.RoleViewer}); err != nil {
		t.Fatalf("demoting b beside another enabled ADMIN: %v", err)
	}
	if n := enabledAdmins(t, st); n != 1 {
		t.Fatalf("%d enabled ADMINs, want 1", n)
	}
}

// TestStore_ChangeAdmin_Concurrent: two ADMINs disabling (or demoting)
// each other at the same moment take turns, so one of them stays.
func TestStore_ChangeAdmin_Concurrent(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t)
	ctx := context.Background()
	yes := true
	for round := range 30 {
		a := newAdmin(t, st, fmt.Sprintf("race-a-%d", round), models.RoleAdmin)
		b := newAdmin(t, st, fmt.Sprintf("race-b-%d", round), models.RoleAdmin)
		ch := store.AdminChange{Disabled: &yes}
		if round%2 == 1 {
			ch = store.AdminChange{Role: models.RoleViewer}
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for i, target := range []string{a.ID, b.ID} {
			wg.Go(func() {
				<-start
				_, errs[i] = st.ChangeAdmin(ctx, target, ch)
			})
		}
		close(start)
		wg.Wait()
		refused := 0
		for _, err := range errs {
			switch {
			case errors.Is(err, store.ErrLastAdmin):
				refused++
			case err != nil:
				t.Fatal(err)
			}
		}
		if n := enabledAdmins(t, st); n != 1 || refused != 1 {
			t.Fatalf("round %d: %d enabled ADMINs and %d refusals after two at once, want 1 and 1", round, n, refused)
		}
		// Leave no ADMIN of this round: the next round's two are the only ones.
		left := a.ID
		if errs[0] == nil {
			left = b.ID
		}
		if _, err := st.DB().ExecContext(ctx, "UPDATE admins SET role = 'VIEWER' WHERE id = ?", left); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStore_ChangeAdmin_Sessions(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	a := newAdmin(t, st, "sess-change", models.RoleViewer)
	keep, other1, other2 := signIn(t, st, a), signIn(t, st, a), signIn(t, st, a)

	// A password change keeping one session: the rest end, counted, and
	// the audit entry is told how many, and written with the change.
	full, err := st.AdminByID(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var told int
	done, err := st.ChangeAdmin(ctx, a.ID, store.AdminChange{PasswordHash: "$new$hash", IfPasswordHash: full.PasswordHash, KeepSession: keep.ID,
		Audit: func(before *models.Admin, ended int) *models.AuditEntry {
			told = ended
			return &models.AuditEntry{ActorKind: "admin", Action: "admin.change_password", Detail: map[string]any{"username": before.Username}}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if done.SessionsEnded != 2 || told != 2 || !active(t, st, keep) || active(t, st, other1) || active(t, st, other2) {
		t.Fatalf("ended %d (audit told %d), kept %v; want 2, 2, the kept one alive and no other", done.SessionsEnded, told, active(t, st, keep))
	}
	if done.After.MustChangePassword || done.After.PasswordHash != "$new$hash" {
		t.Fatalf("after = %+v", done.After)
	}
	if n := count(t, st, "SELECT count(*) FROM audit_log WHERE action = 'admin.change_password' AND target = ?", a.ID); n != 1 {
		t.Fatalf("%d audit rows, want 1", n)
	}
	// The same change again, made on the old hash, is stale and changes nothing.
	if _, err := st.ChangeAdmin(ctx, a.ID, store.AdminChange{PasswordHash: "$newer$hash", IfPasswordHash: full.PasswordHash}); !errors.Is(err, store.ErrStale) {
		t.Fatalf("a change on a replaced hash: err = %v, want ErrStale", err)
	}
	if got, _ := st.AdminByID(ctx, a.ID); got.PasswordHash != "$new$hash" || !active(t, st, keep) {
		t.Fatal("a stale change wrote something")
	}
	// Ending every session, the kept one too.
	if done, err := st.ChangeAdmin(ctx, a.ID, store.AdminChange{EndSessions: true}); err != nil || done.SessionsEnded != 1 || active(t, st, keep) {
		t.Fatalf("end sessions: %v, %+v", err, done)
	}
	if _, err := st.ChangeAdmin(ctx, store.NewID(), store.AdminChange{EndSessions: true}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown admin: err = %v, want ErrNotFound", err)
	}
}
