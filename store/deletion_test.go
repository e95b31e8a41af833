package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// Every test here erases users (tombstones have no identities) or counts
// them, so each has a database of its own: the package's other tests
// count users and look for users without identities.

func requestDeletion(t *testing.T, st *store.Store, id string, grace time.Duration) *models.User {
	t.Helper()
	u, err := st.RequestDeletion(context.Background(), id, grace,
		&models.AuditEntry{ActorKind: "user", ActorID: &id, Action: "user.delete_requested", Target: &id})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestStore_RequestDeletion(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t)
	ctx := context.Background()
	openid := uniqueOpenID(t)
	first := mustLogin(t, st, store.LoginParams{OpenID: openid})
	mustLogin(t, st, store.LoginParams{OpenID: openid})
	id := first.User.ID

	u := requestDeletion(t, st, id, 48*time.Hour)
	if u.ErasesAt == nil || u.DeletionRequestedAt == nil || u.ErasesAt.Sub(*u.DeletionRequestedAt) != 48*time.Hour {
		t.Fatalf("schedule %v .. %v, want 48h apart", u.DeletionRequestedAt, u.ErasesAt)
	}
	if n := count(t, st, "SELECT count(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL", id); n != 0 {
		t.Fatalf("%d sessions live after the request", n)
	}
	// Twice: the same schedule, one audit row.
	again := requestDeletion(t, st, id, time.Hour)
	if !again.ErasesAt.Equal(*u.ErasesAt) {
		t.Fatalf("second request moved the erasure from %v to %v", u.ErasesAt, again.ErasesAt)
	}
	if n := count(t, st, "SELECT count(*) FROM audit_log WHERE target = ? AND action = 'user.delete_requested'", id); n != 1 {
		t.Fatalf("%d user.delete_requested rows, want 1", n)
	}
	if n := count(t, st, "SELECT count(*) FROM audit_log WHERE target = ? AND action = 'user.delete_requested' AND (detail->>'sessionsRevoked')::int = 2", id); n != 1 {
		t.Fatal("the audit row does not count the 2 revoked sessions")
	}
	if _, err := st.RequestDeletion(ctx, store.NewID(), time.Hour, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: err = %v", err)
	}
	if n, err := st.CountPendingDeletion(ctx); err != nil || n != 1 {
		t.Fatalf("pending = %d, %v; want 1", n, err)
	}
}

func TestStore_LoginCancelsDeletion(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t)
	ctx := context.Background()

	t.Run("SameApp", func(t *testing.T) {
		openid := uniqueOpenID(t)
		id := mustLogin(t, st, store.LoginParams{OpenID: openid}).User.ID
		requestDeletion(t, st, id, time.Hour)
		res := mustLogin(t, st, store.LoginParams{OpenID: openid})
		if !res.DeletionCancelled || res.Created || res.User.ID != id || res.User.ErasesAt != nil {
			t.Fatalf("login = %+v (user %+v); want the same user, deletion cancelled", res, res.User)
		}
		if n := count(t, st, "SELECT count(*) FROM users WHERE id = ? AND erase_at IS NULL AND deletion_requested_at IS NULL", id); n != 1 {
			t.Fatal("the schedule is still in the database")
		}
		if n := count(t, st, "SELECT count(*) FROM audit_log WHERE target = ? AND action = 'user.delete_cancelled'", id); n != 1 {
			t.Fatalf("%d user.delete_cancelled rows, want 1", n)
		}
		if res := mustLogin(t, st, store.LoginParams{OpenID: openid}); res.DeletionCancelled {
			t.Fatal("a later login cancelled again")
		}
	})

	t.Run("OtherAppOfTheSamePerson", func(t *testing.T) {
		union := "u" + store.NewID()
		a := mustLogin(t, st, store.LoginParams{AppID: "wxdelA", OpenID: uniqueOpenID(t), UnionID: union})
		openB := uniqueOpenID(t)
		mustLogin(t, st, store.LoginParams{AppID: "wxdelB", OpenID: openB, UnionID: union})
		requestDeletion(t, st, a.User.ID, time.Hour)
		res := mustLogin(t, st, store.LoginParams{AppID: "wxdelB", OpenID: openB, UnionID: union})
		if !res.DeletionCancelled || res.User.ID != a.User.ID {
			t.Fatalf("login from the other app = %+v", res)
		}
	})

	t.Run("FirstLoginFromAnotherApp", func(t *testing.T) {
		union := "u" + store.NewID()
		a := mustLogin(t, st, store.LoginParams{AppID: "wxdelA", OpenID: uniqueOpenID(t), UnionID: union})
		requestDeletion(t, st, a.User.ID, time.Hour)
		res := mustLogin(t, st, store.LoginParams{AppID: "wxdelC", OpenID: uniqueOpenID(t), UnionID: union})
		if !res.DeletionCancelled || res.User.ID != a.User.ID || res.Created {
			t.Fatalf("first login from a third app = %+v", res)
		}
	})

	t.Run("DisabledUserStaysScheduled", func(t *testing.T) {
		openid := uniqueOpenID(t)
		id := mustLogin(t, st, store.LoginParams{OpenID: openid}).User.ID
		requestDeletion(t, st, id, time.Hour)
		if _, err := st.SetUserDisabled(ctx, id, true, "spam", "", nil); err != nil {
			t.Fatal(err)
		}
		_, err := st.Login(ctx, store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: "wxapp1", OpenID: openid, Session: newSession()})
		if !errors.Is(err, store.ErrUserDisabled) {
			t.Fatalf("err = %v, want ErrUserDisabled", err)
		}
		if n := count(t, st, "SELECT count(*) FROM users WHERE id = ? AND erase_at IS NOT NULL", id); n != 1 {
			t.Fatal("a refused login cancelled the deletion")
		}
	})
}

// personalUser makes a user with everything erasure must remove: two
// identities (one unionid), a profile, a phone, an avatar, consents,
// sessions and audit entries with an IP and the masked phone.
func personalUser(t *testing.T, st *store.Store, avatarKey string) (id, union string) {
	t.Helper()
	ctx := context.Background()
	union = "u" + store.NewID()
	ip := "203.0.113.7"
	s := newSession()
	s.IP = &ip
	res := mustLogin(t, st, store.LoginParams{AppID: "wxeraseA", OpenID: uniqueOpenID(t), UnionID: union, Session: s,
		Profile: &models.Profile{Nickname: "Erasable", City: "Hangzhou", Gender: models.GenderFemale}})
	mustLogin(t, st, store.LoginParams{AppID: "wxeraseB", OpenID: uniqueOpenID(t), UnionID: union})
	id = res.User.ID
	phone := fmt.Sprintf("+86139%08d", time.Now().UnixNano()%1e8)
	if _, err := st.SetPhone(ctx, id, phone, "86", &models.AuditEntry{ActorKind: "user", ActorID: &id, Action: "user.bind_phone",
		Target: &id, IP: &ip, Detail: map[string]any{"phone": "+86139****0000", "countryCode": "86", "method": "code"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, "UPDATE users SET avatar_url = ? WHERE id = ?", store.AvatarPrefix+avatarKey, id); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AcceptPolicy(ctx, id, &models.Consent{ID: store.NewID(), UserID: id, Version: "v1", IP: &ip}, nil); err != nil {
		t.Fatal(err)
	}
	return id, union
}

func TestStore_EraseUser(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t)
	ctx := context.Background()
	key := fmt.Sprintf("%064x.jpg", time.Now().UnixNano())
	id, union := personalUser(t, st, key)
	other, _ := personalUser(t, st, key) // the same picture
	adminID := store.NewID()
	name := "root"
	e, err := st.EraseUser(ctx, id, &models.AuditEntry{ActorKind: "admin", ActorID: &adminID, ActorName: &name, Action: "user.erase",
		Detail: map[string]any{"reason": "asked by mail"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Identities != 2 || e.Sessions != 2 || len(e.AvatarKeys) != 0 {
		t.Fatalf("erasure = %+v; want 2 identities, 2 sessions, no avatar key (another user has it)", e)
	}
	u := e.User
	if u.DeletedAt == nil || u.Nickname != nil || u.AvatarURL != nil || u.Gender != nil || u.City != nil || u.Phone != nil ||
		u.PhoneCountryCode != nil || u.LastLoginAt != nil || u.ErasesAt != nil || u.DisabledAt != nil {
		t.Fatalf("tombstone = %+v", u)
	}
	for _, c := range []struct{ what, q string }{
		{"identities", "SELECT count(*) FROM identities WHERE user_id = ?0"},
		{"identities by unionid", "SELECT count(*) FROM identities WHERE unionid = ?1"},
		{"sessions", "SELECT count(*) FROM sessions WHERE user_id = ?0"},
		{"consents", "SELECT count(*) FROM consents WHERE user_id = ?0"},
		{"audit rows with an IP", "SELECT count(*) FROM audit_log WHERE (actor_id = ?0 OR target = ?0::text) AND ip IS NOT NULL"},
		{"audit rows with the phone", "SELECT count(*) FROM audit_log WHERE (actor_id = ?0 OR target = ?0::text) AND detail - 'phone' - 'countryCode' <> detail"},
		{"personal user columns", `SELECT count(*) FROM users WHERE id = ?0 AND num_nonnulls(nickname, avatar_url, gender, language, city,
			province, country, phone, phone_country_code, disabled_at, disabled_reason, last_login_at, erase_at, deletion_requested_at) > 0`},
	} {
		if n := count(t, st, c.q, id, union); n != 0 {
			t.Errorf("%s: %d left", c.what, n)
		}
	}
	if n := count(t, st, "SELECT count(*) FROM audit_log WHERE target = ? AND action = 'user.bind_phone' AND detail->>'method' = 'code'", id); n != 1 {
		t.Fatal("the audit row lost more than its personal detail")
	}
	if n := count(t, st, "SELECT count(*) FROM audit_log WHERE target = ? AND action = 'user.erase' AND actor_name = 'root' AND detail->>'reason' = 'asked by mail' AND (detail->>'identities')::int = 2", id); n != 1 {
		t.Fatal("no user.erase row naming the admin, the reason and the count")
	}
	if _, err := st.EraseUser(ctx, id, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("erasing twice: err = %v", err)
	}
	if _, err := st.EraseUser(ctx, store.NewID(), nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: err = %v", err)
	}
	// The last user with the picture: now its file goes.
	e2, err := st.EraseUser(ctx, other, nil)
	if err != nil || len(e2.AvatarKeys) != 1 || e2.AvatarKeys[0] != key {
		t.Fatalf("erasing the second holder: %+v, %v; want the key %s", e2, err, key)
	}
	if n, err := st.CountErasedUsers(ctx); err != nil || n != 2 {
		t.Fatalf("erased = %d, %v", n, err)
	}
	if n, err := st.CountUsers(ctx, time.Time{}); err != nil || n != 0 {
		t.Fatalf("total users = %d, %v; erased ones counted", n, err)
	}
	// The same WeChat user, later: a new user that nothing links to the old.
	res := mustLogin(t, st, store.LoginParams{AppID: "wxeraseC", OpenID: uniqueOpenID(t), UnionID: union})
	if !res.Created || res.User.ID == id {
		t.Fatalf("login after erasure = %+v; want a new user", res)
	}
}

func TestStore_EraseDue(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t)
	ctx := context.Background()
	const due = 250
	for range due {
		id := mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t)}).User.ID
		requestDeletion(t, st, id, time.Hour)
	}
	notYet := mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t)}).User.ID
	requestDeletion(t, st, notYet, time.Hour)
	if _, err := st.DB().ExecContext(ctx, "UPDATE users SET erase_at = now() - interval '1 second' WHERE id <> ? AND erase_at IS NOT NULL", notYet); err != nil {
		t.Fatal(err)
	}
	// Two erasers at once, in batches: every due user erased exactly once.
	name := "erasure"
	var wg sync.WaitGroup
	totals := make([]int, 2)
	for i := range totals {
		wg.Go(func() {
			for {
				done, err := st.EraseDue(ctx, 20, models.AuditEntry{ActorKind: "system", ActorName: &name, Action: "user.erase"})
				if err != nil {
					t.Error(err)
					return
				}
				totals[i] += len(done)
				if len(done) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if totals[0]+totals[1] != due {
		t.Fatalf("erasers report %v, want %d in all", totals, due)
	}
	if n := count(t, st, "SELECT count(*) FROM users WHERE deleted_at IS NOT NULL"); n != due {
		t.Fatalf("%d erased, want %d", n, due)
	}
	if n := count(t, st, "SELECT count(*) FROM (SELECT target FROM audit_log WHERE action = 'user.erase' AND actor_kind = 'system' GROUP BY target HAVING count(*) = 1) x"); n != due {
		t.Fatalf("%d users with exactly one user.erase row, want %d", n, due)
	}
	if n := count(t, st, "SELECT count(*) FROM users WHERE id = ? AND deleted_at IS NULL AND erase_at IS NOT NULL", notYet); n != 1 {
		t.Fatal("a user not yet due was erased")
	}
}

// Logins of users whose deletion is due, while erasers run: each login
// either cancelled the deletion (the same user, never erased) or came
// after the erasure and made a new user; no session or identity ever
// belongs to a tombstone.
func TestStore_EraseRacesLogin(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t)
	ctx := context.Background()
	const n = 120
	type person struct{ id, openid, union string }
	people := make([]person, n)
	for i := range people {
		p := person{openid: uniqueOpenID(t)}
		if i%2 == 0 {
			p.union = "u" + store.NewID() // half take the unionid paths
		}
		p.id = mustLogin(t, st, store.LoginParams{OpenID: p.openid, UnionID: p.union}).User.ID
		requestDeletion(t, st, p.id, time.Hour)
		people[i] = p
	}
	if _, err := st.DB().ExecContext(ctx, "UPDATE users SET erase_at = now() WHERE erase_at IS NOT NULL"); err != nil {
		t.Fatal(err)
	}
	results := make([]*store.LoginResult, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, p := range people {
		wg.Go(func() {
			<-start
			res, err := st.Login(ctx, store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: "wxapp1",
				OpenID: p.openid, UnionID: p.union, Session: newSession()})
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = res
		})
	}
	for range 3 {
		wg.Go(func() {
			<-start
			for {
				done, err := st.EraseDue(ctx, 5, models.AuditEntry{ActorKind: "system", Action: "user.erase"})
				if err != nil {
					t.Error(err)
					return
				}
				if len(done) == 0 {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	cancelled, renewed := 0, 0
	for i, res := range results {
		if res == nil {
			continue
		}
		p := people[i]
		switch {
		case res.DeletionCancelled && res.User.ID == p.id && !res.Created:
			cancelled++
			if c := count(t, st, "SELECT count(*) FROM users WHERE id = ? AND deleted_at IS NULL", p.id); c != 1 {
				t.Errorf("user %d: the login cancelled the deletion, yet the user is erased", i)
			}
		case res.Created && res.User.ID != p.id && !res.DeletionCancelled:
			renewed++
		default:
			t.Errorf("user %d: login = created %v, cancelled %v, same user %v", i, res.Created, res.DeletionCancelled, res.User.ID == p.id)
		}
	}
	t.Logf("%d logins cancelled their deletion, %d came after the erasure and made a new user", cancelled, renewed)
	if c := count(t, st, "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.deleted_at IS NOT NULL"); c != 0 {
		t.Fatalf("%d sessions of erased users", c)
	}
	if c := count(t, st, "SELECT count(*) FROM identities i JOIN users u ON u.id = i.user_id WHERE u.deleted_at IS NOT NULL"); c != 0 {
		t.Fatalf("%d identities of erased users", c)
	}
	if c := count(t, st, "SELECT count(*) FROM users WHERE erase_at IS NOT NULL AND deleted_at IS NULL"); c != 0 {
		t.Fatalf("%d deletions neither cancelled nor done", c)
	}
}

// An admin's erasure racing returning logins of users with no deletion
// pending (the one-statement paths): no login lands in a tombstone.
func TestStore_EraseUserRacesRelogin(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t)
	ctx := context.Background()
	const n = 60
	type person struct{ id, openid, union string }
	people := make([]person, n)
	for i := range people {
		p := person{openid: uniqueOpenID(t)}
		if i%2 == 0 {
			p.union = "u" + store.NewID()
		}
		p.id = mustLogin(t, st, store.LoginParams{OpenID: p.openid, UnionID: p.union}).User.ID
		people[i] = p
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, p := range people {
		for j := range 3 {
			wg.Go(func() {
				<-start
				// With a unionid, first logins from other apps too: they
				// find the user by unionid, not by their identity.
				app, openid := "wxapp1", p.openid
				if p.union != "" && j > 0 {
					app, openid = fmt.Sprintf("wxrace%d", j), uniqueOpenID(t)
				}
				if _, err := st.Login(ctx, store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: app,
					OpenID: openid, UnionID: p.union, Session: newSession()}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Go(func() {
			<-start
			if _, err := st.EraseUser(ctx, p.id, nil); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if c := count(t, st, "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.deleted_at IS NOT NULL"); c != 0 {
		t.Fatalf("%d sessions of erased users", c)
	}
	if c := count(t, st, "SELECT count(*) FROM identities i JOIN users u ON u.id = i.user_id WHERE u.deleted_at IS NOT NULL"); c != 0 {
		t.Fatalf("%d identities of erased users", c)
	}
	if c := count(t, st, "SELECT count(*) FROM users WHERE deleted_at IS NOT NULL"); c != n {
		t.Fatalf("%d erased, want %d", c, n)
	}
}
