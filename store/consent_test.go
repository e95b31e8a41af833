package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// TestStore_AcceptPolicy: one row per change of version, however many
// accepts race; the newest version is each user's; an unknown user is
// ErrNotFound and leaves nothing behind.
func TestStore_AcceptPolicy(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t) // its users have no identity, which the login tests count as orphans
	ctx := context.Background()
	a, b := store.NewID(), store.NewID()
	if _, err := st.DB().ExecContext(ctx, `INSERT INTO users (id) VALUES (?), (?)`, a, b); err != nil {
		t.Fatal(err)
	}
	accept := func(user, version string) (bool, error) {
		audit := &models.AuditEntry{ActorKind: "user", ActorID: &user, Action: "user.accept_policy", Target: &user}
		return st.AcceptPolicy(ctx, user, &models.Consent{Version: version, IP: new("192.0.2.1")}, audit)
	}
	count := func(q string, args ...any) int {
		var n int
		if err := st.DB().QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	var wg sync.WaitGroup
	recorded := make(chan bool, 20)
	for range 20 {
		wg.Go(func() {
			ok, err := accept(a, "v1")
			if err != nil {
				t.Error(err)
			}
			recorded <- ok
		})
	}
	wg.Wait()
	close(recorded)
	n := 0
	for ok := range recorded {
		if ok {
			n++
		}
	}
	if n != 1 || count(`SELECT count(*) FROM consents WHERE user_id = ?`, a) != 1 ||
		count(`SELECT count(*) FROM audit_log WHERE action = 'user.accept_policy' AND actor_id = ?`, a) != 1 {
		t.Fatalf("20 concurrent accepts recorded %d, want 1 row and 1 audit entry", n)
	}
	if ok, err := accept(a, "v2"); !ok || err != nil {
		t.Fatalf("a new version: %v %v", ok, err)
	}
	// Back to v1 (an operator rolled POLICY_VERSION back): the newest is
	// v2, so it is recorded again.
	if ok, err := accept(a, "v1"); !ok || err != nil {
		t.Fatalf("v1 again after v2: %v %v", ok, err)
	}
	m, err := st.PolicyVersionsOfUsers(ctx, []string{a, b, store.NewID()})
	if err != nil || len(m) != 1 || m[a] != "v1" {
		t.Fatalf("versions %v %v, want only %s: v1", m, err, a)
	}
	list, total, err := st.ConsentsOfUser(ctx, a, 2)
	if err != nil || total != 3 || len(list) != 2 || list[0].Version != "v2" || list[1].Version != "v1" || *list[1].IP != "192.0.2.1" {
		t.Fatalf("consents of user (newest 2): %v %d %v", list, total, err)
	}
	if _, err := accept(store.NewID(), "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown user: %v", err)
	}
}

// TestStore_MergeKeepsConsents: a user merged into another (one person, by
// unionid) hands the survivor their consents rather than losing them with
// their row.
func TestStore_MergeKeepsConsents(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	p := newSplitPerson(t, st, nil, nil)
	for _, c := range []struct{ user, version string }{{p.userA, "v1"}, {p.userB, "v1"}, {p.userB, "v2"}} {
		if _, err := st.AcceptPolicy(ctx, c.user, &models.Consent{Version: c.version}, nil); err != nil {
			t.Fatal(err)
		}
	}
	p.login(t, st, p.appA, true)
	if res := p.login(t, st, p.appB, true); res.User.ID != p.userA || len(res.MergedFrom) != 1 {
		t.Fatalf("no merge: %+v", res)
	}
	list, total, err := st.ConsentsOfUser(ctx, p.userA, 10)
	if err != nil || total != 3 || list[2].Version != "v2" {
		t.Fatalf("survivor's consents %v (%d), %v: want all three, v2 newest", list, total, err)
	}
	if m, _ := st.PolicyVersionsOfUsers(ctx, []string{p.userA}); m[p.userA] != "v2" {
		t.Fatalf("survivor's policy version %v, want v2", m)
	}
}
