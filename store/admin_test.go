package store_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// newAdmin creates an admin with a unique username (prefix plus an id) and role.
func newAdmin(t *testing.T, st *store.Store, prefix string, role models.Role) *models.Admin {
	t.Helper()
	a := &models.Admin{Username: prefix + "-" + store.NewID(), PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", Role: role}
	if err := st.CreateAdmin(context.Background(), a, nil); err != nil {
		t.Fatal(err)
	}
	return a
}

// newAdminSession makes an admin session row for adminID, valid for an hour.
func newAdminSession(adminID string) *models.AdminSession {
	tok := make([]byte, 32)
	_, _ = rand.Read(tok)
	h := sha256.Sum256(tok)
	return &models.AdminSession{ID: store.NewID(), TokenHash: h[:], AdminID: adminID, ExpiresAt: time.Now().Add(time.Hour)}
}

// signIn records a new session of a and returns it.
func signIn(t *testing.T, st *store.Store, a *models.Admin) *models.AdminSession {
	t.Helper()
	sess := newAdminSession(a.ID)
	if err := st.AdminLogin(context.Background(), sess, nil); err != nil {
		t.Fatal(err)
	}
	return sess
}

// active reports whether sess still authenticates (with no idle limit).
func active(t *testing.T, st *store.Store, sess *models.AdminSession) bool {
	t.Helper()
	_, _, err := st.AdminSessionByTokenHash(context.Background(), sess.TokenHash, 0)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func exec(t *testing.T, st *store.Store, query string, args ...any) {
	t.Helper()
	if _, err := st.DB().ExecContext(context.Background(), query, args...); err != nil {
		t.Fatal(err)
	}
}

func TestStore_CreateAdmin(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()

	a := newAdmin(t, st, "Alice", models.RoleAdmin)
	if a.ID == "" || a.CreatedAt.IsZero() || a.UpdatedAt.IsZero() {
		t.Fatalf("id %q created %v updated %v: not filled in", a.ID, a.CreatedAt, a.UpdatedAt)
	}

	t.Run("ConflictInAnyCase", func(t *testing.T) {
		for _, name := range []string{a.Username, strings.ToLower(a.Username), strings.ToUpper(a.Username)} {
			dup := &models.Admin{Username: name, PasswordHash: "$x$other", Role: models.RoleViewer}
			if err := st.CreateAdmin(ctx, dup, nil); !errors.Is(err, store.ErrConflict) {
				t.Errorf("%s: err = %v, want ErrConflict", name, err)
			}
		}
	})

	t.Run("ByUsernameInAnyCase", func(t *testing.T) {
		for _, name := range []string{a.Username, strings.ToLower(a.Username), strings.ToUpper(a.Username)} {
			got, err := st.AdminByUsername(ctx, name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got.ID != a.ID || got.Username != a.Username || got.PasswordHash != a.PasswordHash || got.Role != models.RoleAdmin {
				t.Errorf("%s: got admin %s %q role %s", name, got.ID, got.Username, got.Role)
			}
		}
		if _, err := st.AdminByUsername(ctx, "nobody-"+store.NewID()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown username: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("BadRoleKeepsTheHashOutOfTheError", func(t *testing.T) {
		const marker = "$argon2id$SECRET-MARKER"
		bad := &models.Admin{Username: "bad-" + store.NewID(), PasswordHash: marker, Role: "ROOT"}
		err := st.CreateAdmin(ctx, bad, nil)
		if err == nil || errors.Is(err, store.ErrConflict) {
			t.Fatalf("err = %v, want a check violation", err)
		}
		if strings.Contains(err.Error(), "SECRET-MARKER") {
			t.Fatal("the error quotes the password hash")
		}
	})

	t.Run("ListOrderedIgnoringCase", func(t *testing.T) {
		tag := store.NewID()
		// Bytewise, C sorts before b; ignoring case it does not.
		for _, n := range []string{"b", "A", "C"} {
			if err := st.CreateAdmin(ctx, &models.Admin{Username: "list-" + tag + "-" + n, PasswordHash: "$x$y", Role: models.RoleViewer}, nil); err != nil {
				t.Fatal(err)
			}
		}
		all, err := st.ListAdmins(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range all {
			if rest, ok := strings.CutPrefix(a.Username, "list-"+tag+"-"); ok {
				got = append(got, rest)
			}
		}
		if !slices.Equal(got, []string{"A", "b", "C"}) {
			t.Fatalf("order %v, want [A b C]", got)
		}
	})
}

// Not parallel: no other test creates admins while it counts.
func TestStore_CountAdmins(t *testing.T) {
	st := storetest.Open(t)
	before, err := st.CountAdmins(context.Background())
	if err != nil || before != count(t, st, "SELECT count(*) FROM admins") {
		t.Fatalf("count %d (%v), want what the table holds", before, err)
	}
	newAdmin(t, st, "count", models.RoleViewer)
	newAdmin(t, st, "count", models.RoleViewer)
	after, err := st.CountAdmins(context.Background())
	if err != nil || after != before+2 {
		t.Fatalf("count went from %d to %d (%v), want +2", before, after, err)
	}
}

func TestStore_SetAdminPassword(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	a := newAdmin(t, st, "pw", models.RoleAdmin)
	other := newAdmin(t, st, "pw-other", models.RoleAdmin)
	s1, s2, otherSess := signIn(t, st, a), signIn(t, st, a), signIn(t, st, other)

	if err := st.SetAdminPassword(ctx, strings.ToUpper(a.Username), "$new$hash", nil); err != nil {
		t.Fatal(err)
	}
	if active(t, st, s1) || active(t, st, s2) {
		t.Fatal("a session survived the password change")
	}
	if !active(t, st, otherSess) {
		t.Fatal("another admin's session was revoked")
	}
	got, err := st.AdminByUsername(ctx, a.Username)
	if err != nil || got.PasswordHash != "$new$hash" {
		t.Fatalf("the hash was not replaced (%v)", err)
	}
	if !active(t, st, signIn(t, st, a)) {
		t.Fatal("signing in after the change does not work")
	}
	if err := st.SetAdminPassword(ctx, "nobody-"+store.NewID(), "$new$hash", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown admin: err = %v, want ErrNotFound", err)
	}
}

func TestStore_SetAdminDisabled(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	a := newAdmin(t, st, "dis", models.RoleAdmin)
	other := newAdmin(t, st, "dis-other", models.RoleAdmin)
	sess, otherSess := signIn(t, st, a), signIn(t, st, other)

	if err := st.SetAdminDisabled(ctx, strings.ToLower(a.Username), true, nil); err != nil {
		t.Fatal(err)
	}
	if active(t, st, sess) {
		t.Fatal("a session survived disabling")
	}
	if !active(t, st, otherSess) {
		t.Fatal("another admin's session was revoked")
	}
	got, err := st.AdminByUsername(ctx, a.Username)
	if err != nil || got.DisabledAt == nil {
		t.Fatalf("disabled_at not set (%v)", err)
	}
	since := *got.DisabledAt

	// A second disable keeps the first time.
	if err := st.SetAdminDisabled(ctx, a.Username, true, nil); err != nil {
		t.Fatal(err)
	}
	if again, _ := st.AdminByUsername(ctx, a.Username); again.DisabledAt == nil || !again.DisabledAt.Equal(since) {
		t.Fatalf("disabled_at moved from %v to %v", since, again.DisabledAt)
	}

	refused := newAdminSession(a.ID)
	if err := st.AdminLogin(ctx, refused, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("login of a disabled admin: err = %v, want ErrNotFound", err)
	}
	if n := count(t, st, "SELECT count(*) FROM admin_sessions WHERE id = ?", refused.ID); n != 0 {
		t.Fatal("a refused login left a session")
	}

	if err := st.SetAdminDisabled(ctx, a.Username, false, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.AdminByUsername(ctx, a.Username); got.DisabledAt != nil {
		t.Fatal("enabling did not clear disabled_at")
	}
	if active(t, st, sess) {
		t.Fatal("enabling brought a revoked session back")
	}
	if !active(t, st, signIn(t, st, a)) {
		t.Fatal("signing in after enabling does not work")
	}
	for _, disabled := range []bool{true, false} {
		if err := st.SetAdminDisabled(ctx, "nobody-"+store.NewID(), disabled, nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown admin, disabled=%v: err = %v, want ErrNotFound", disabled, err)
		}
	}
}

func TestStore_AdminSessionByTokenHash(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	a := newAdmin(t, st, "lookup", models.RoleViewer)

	t.Run("Active", func(t *testing.T) {
		sess := signIn(t, st, a)
		got, admin, err := st.AdminSessionByTokenHash(ctx, sess.TokenHash, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != sess.ID || got.AdminID != a.ID || admin == nil || admin.ID != a.ID || admin.Username != a.Username || admin.Role != models.RoleViewer {
			t.Fatalf("session %s of %s, admin %+v", got.ID, got.AdminID, admin != nil)
		}
		if admin.PasswordHash != "" {
			t.Fatal("the per-request lookup loaded the password hash")
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		if _, _, err := st.AdminSessionByTokenHash(ctx, make([]byte, 32), 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Expired", func(t *testing.T) {
		sess := newAdminSession(a.ID)
		sess.ExpiresAt = time.Now().Add(-time.Second)
		if err := st.AdminLogin(ctx, sess, nil); err != nil {
			t.Fatal(err)
		}
		if active(t, st, sess) {
			t.Fatal("an expired session authenticates")
		}
	})

	t.Run("Revoked", func(t *testing.T) {
		sess := signIn(t, st, a)
		if err := st.RevokeAdminSession(ctx, sess.ID, nil); err != nil {
			t.Fatal(err)
		}
		if active(t, st, sess) {
			t.Fatal("a revoked session authenticates")
		}
		if err := st.RevokeAdminSession(ctx, sess.ID, nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second revoke: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("IdleAndTouch", func(t *testing.T) {
		sess := signIn(t, st, a)
		exec(t, st, "UPDATE admin_sessions SET last_seen_at = now() - interval '2 hours' WHERE id = ?", sess.ID)
		if _, _, err := st.AdminSessionByTokenHash(ctx, sess.TokenHash, time.Hour); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("idle 2h with a 1h limit: err = %v, want ErrNotFound", err)
		}
		if _, _, err := st.AdminSessionByTokenHash(ctx, sess.TokenHash, 3*time.Hour); err != nil {
			t.Fatalf("idle 2h with a 3h limit: %v", err)
		}
		if !active(t, st, sess) {
			t.Fatal("idle <= 0 still limits idleness")
		}
		if err := st.TouchAdminSession(ctx, sess.ID, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.AdminSessionByTokenHash(ctx, sess.TokenHash, time.Hour); err != nil {
			t.Fatalf("after a touch: %v", err)
		}
		// Within every, a touch writes nothing.
		exec(t, st, "UPDATE admin_sessions SET last_seen_at = now() - interval '30 seconds' WHERE id = ?", sess.ID)
		if err := st.TouchAdminSession(ctx, sess.ID, time.Minute); err != nil {
			t.Fatal(err)
		}
		if n := count(t, st, "SELECT count(*) FROM admin_sessions WHERE id = ? AND last_seen_at < now() - interval '20 seconds'", sess.ID); n != 1 {
			t.Fatal("a touch within the interval wrote")
		}
	})

	t.Run("DisabledAdmin", func(t *testing.T) {
		b := newAdmin(t, st, "lookup-disabled", models.RoleAdmin)
		sess := signIn(t, st, b)
		// Behind SetAdminDisabled's back, so that the session is not revoked:
		// the lookup must check the admin by itself.
		exec(t, st, "UPDATE admins SET disabled_at = now() WHERE id = ?", b.ID)
		if active(t, st, sess) {
			t.Fatal("a disabled admin's session authenticates")
		}
	})
}

func TestStore_AdminLogin(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()

	t.Run("AllOrNothing", func(t *testing.T) {
		a := newAdmin(t, st, "atomic", models.RoleAdmin)
		sess := newAdminSession(a.ID)
		bad := &models.AuditEntry{ActorKind: "admin", ActorID: &a.ID, Action: "admin.login", IP: new("not-an-ip")}
		if err := st.AdminLogin(ctx, sess, bad); err == nil {
			t.Fatal("a bad audit ip did not fail the login")
		}
		if n := count(t, st, "SELECT count(*) FROM admin_sessions WHERE id = ?", sess.ID); n != 0 {
			t.Fatal("the session was kept though the audit entry failed")
		}
		if n := count(t, st, "SELECT count(*) FROM admins WHERE id = ? AND last_login_at IS NOT NULL", a.ID); n != 0 {
			t.Fatal("last_login_at was set though the audit entry failed")
		}

		sess = newAdminSession(a.ID)
		sess.IP, sess.UserAgent = new("203.0.113.7"), new("curl/8")
		audit := &models.AuditEntry{ActorKind: "admin", ActorID: &a.ID, ActorName: &a.Username, Action: "admin.login",
			Target: &a.ID, IP: new("203.0.113.7"), Detail: map[string]any{"session": sess.ID}}
		if err := st.AdminLogin(ctx, sess, audit); err != nil {
			t.Fatal(err)
		}
		if sess.CreatedAt.IsZero() || sess.LastSeenAt.IsZero() || audit.ID == "" || audit.At.IsZero() {
			t.Fatal("timestamps or the audit id were not filled in")
		}
		if !audit.At.Equal(sess.CreatedAt) {
			t.Errorf("audit at %v, session created %v: not one transaction's now()", audit.At, sess.CreatedAt)
		}
		if sess.Admin == nil || sess.Admin.LastLoginAt == nil || !sess.Admin.LastLoginAt.Equal(sess.CreatedAt) {
			t.Error("sess.Admin does not show the new last_login_at")
		}
		if n := count(t, st, "SELECT count(*) FROM admins WHERE id = ? AND last_login_at IS NOT NULL", a.ID); n != 1 {
			t.Error("last_login_at not set")
		}
		if n := count(t, st, "SELECT count(*) FROM audit_log WHERE id = ? AND action = 'admin.login' AND target = ?", audit.ID, a.ID); n != 1 {
			t.Error("audit entry not written")
		}
		got, _, err := st.AdminSessionByTokenHash(ctx, sess.TokenHash, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.IP == nil || *got.IP != "203.0.113.7" || got.UserAgent == nil || *got.UserAgent != "curl/8" {
			t.Errorf("ip %v user agent %v", got.IP, got.UserAgent)
		}
	})

	t.Run("FailedSessionLeavesNoAudit", func(t *testing.T) {
		a := newAdmin(t, st, "atomic2", models.RoleAdmin)
		first := signIn(t, st, a)
		dup := newAdminSession(a.ID)
		dup.TokenHash = first.TokenHash
		audit := &models.AuditEntry{ActorKind: "admin", ActorID: &a.ID, Action: "admin.login", Target: &a.ID}
		if err := st.AdminLogin(ctx, dup, audit); err == nil {
			t.Fatal("a duplicate token hash was accepted")
		}
		if n := count(t, st, "SELECT count(*) FROM audit_log WHERE target = ?", a.ID); n != 0 {
			t.Fatal("the audit entry outlived the failed login")
		}
	})

	t.Run("UnknownAdmin", func(t *testing.T) {
		sess := newAdminSession(store.NewID())
		if err := st.AdminLogin(ctx, sess, &models.AuditEntry{ActorKind: "admin", Action: "admin.login"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		if n := count(t, st, "SELECT count(*) FROM admin_sessions WHERE id = ?", sess.ID); n != 0 {
			t.Fatal("a session was written")
		}
	})

	t.Run("PasswordChangedSinceChecked", func(t *testing.T) {
		a := newAdmin(t, st, "stale", models.RoleAdmin)
		checked, err := st.AdminByUsername(ctx, a.Username)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetAdminPassword(ctx, a.Username, "$changed$meanwhile", nil); err != nil {
			t.Fatal(err)
		}
		sess := newAdminSession(a.ID)
		sess.Admin = checked
		if err := st.AdminLogin(ctx, sess, nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		if n := count(t, st, "SELECT count(*) FROM admin_sessions WHERE id = ?", sess.ID); n != 0 {
			t.Fatal("a session was written")
		}
		// The hash as now stored signs in.
		checked, _ = st.AdminByUsername(ctx, a.Username)
		sess = newAdminSession(a.ID)
		sess.Admin = checked
		if err := st.AdminLogin(ctx, sess, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestStore_RevokeAdminSession(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	a := newAdmin(t, st, "revoke", models.RoleAdmin)
	logout := func(sessID string, ip string) *models.AuditEntry {
		return &models.AuditEntry{ActorKind: "admin", ActorID: &a.ID, Action: "admin.logout", Target: &a.ID,
			IP: &ip, Detail: map[string]any{"session": sessID}}
	}
	audits := func() int {
		return count(t, st, "SELECT count(*) FROM audit_log WHERE action = 'admin.logout' AND target = ?", a.ID)
	}

	sess := signIn(t, st, a)
	if err := st.RevokeAdminSession(ctx, sess.ID, logout(sess.ID, "not-an-ip")); err == nil {
		t.Fatal("a bad audit ip did not fail the revoke")
	}
	if !active(t, st, sess) {
		t.Fatal("the session was revoked though the audit entry failed")
	}
	if err := st.RevokeAdminSession(ctx, sess.ID, logout(sess.ID, "2001:db8::1")); err != nil {
		t.Fatal(err)
	}
	if active(t, st, sess) || audits() != 1 {
		t.Fatalf("active %v, audit entries %d; want revoked and 1", active(t, st, sess), audits())
	}
	if err := st.RevokeAdminSession(ctx, sess.ID, logout(sess.ID, "2001:db8::1")); !errors.Is(err, store.ErrNotFound) || audits() != 1 {
		t.Fatalf("second revoke: err = %v, audit entries %d; want ErrNotFound and still 1", err, audits())
	}

	expired := newAdminSession(a.ID)
	expired.ExpiresAt = time.Now().Add(-time.Minute)
	if err := st.AdminLogin(ctx, expired, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeAdminSession(ctx, expired.ID, logout(expired.ID, "2001:db8::1")); !errors.Is(err, store.ErrNotFound) || audits() != 1 {
		t.Fatalf("expired session: err = %v, audit entries %d; want ErrNotFound and still 1", err, audits())
	}
}

// uniqueKey keeps counters of tests sharing the package database apart.
func uniqueKey(kind string) string { return kind + ":" + store.NewID() }

// attempt counts one attempt against keys with window and fails the test on error.
func attempt(t *testing.T, st *store.Store, window time.Duration, keys ...string) []store.AttemptCount {
	t.Helper()
	got, err := st.CountLoginAttempt(context.Background(), keys, window)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(keys) {
		t.Fatalf("%d counts for %d keys", len(got), len(keys))
	}
	for i, c := range got {
		if c.Key != keys[i] {
			t.Fatalf("count %d is of another key", i)
		}
	}
	return got
}

func counts(cs []store.AttemptCount) []int {
	var n []int
	for _, c := range cs {
		n = append(n, c.Count)
	}
	return n
}

// The atomicity proof: concurrent attempts for one key each get their own count.
func TestStore_CountLoginAttempt_Concurrent(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	key := uniqueKey("user")
	const n = 60
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		got   []int
		errs  []error
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			c, err := st.CountLoginAttempt(context.Background(), []string{key, uniqueKey("ip")}, 15*time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			got = append(got, c[0].Count)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Fatal(err)
	}
	slices.Sort(got)
	for i, c := range got {
		if c != i+1 {
			t.Fatalf("counts %v, want each of 1..%d once", got, n)
		}
	}
	if len(got) != n {
		t.Fatalf("%d counts, want %d", len(got), n)
	}
}

// Sign-ins sharing keys, named in either order, lock the counters in one
// order and never deadlock.
func TestStore_CountLoginAttempt_NoDeadlock(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	a, b := uniqueKey("ip"), uniqueKey("user")
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, 2*n) // room for every error, so no sender blocks
	for i := range n {
		keys := []string{a, b}
		if i%2 == 1 {
			keys = []string{b, a}
		}
		wg.Go(func() {
			if _, err := st.CountLoginAttempt(context.Background(), keys, time.Hour); err != nil {
				errs <- err
			}
			undo := slices.Clone(keys)
			slices.Reverse(undo)
			if err := st.UndoLoginAttempt(context.Background(), undo); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestStore_CountLoginAttempt(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	const window = 15 * time.Minute

	t.Run("KeysCountedApartInOrder", func(t *testing.T) {
		user, ip := uniqueKey("user"), uniqueKey("ip")
		if got := counts(attempt(t, st, window, user, ip)); !slices.Equal(got, []int{1, 1}) {
			t.Fatalf("first: %v", got)
		}
		if got := counts(attempt(t, st, window, ip)); !slices.Equal(got, []int{2}) {
			t.Fatalf("ip alone: %v", got)
		}
		if got := counts(attempt(t, st, window, ip, user)); !slices.Equal(got, []int{3, 2}) {
			t.Fatalf("ip, user: %v", got)
		}
		// A key named twice is counted once.
		if got := counts(attempt(t, st, window, user, user, ip)); !slices.Equal(got, []int{3, 3, 4}) {
			t.Fatalf("user twice: %v", got)
		}
		if got, err := st.CountLoginAttempt(ctx, nil, window); err != nil || len(got) != 0 {
			t.Fatalf("no keys: %v, %v", got, err)
		}
		if _, err := st.CountLoginAttempt(ctx, []string{user}, 0); err == nil {
			t.Fatal("a zero window was accepted")
		}
	})

	t.Run("RetryAfter", func(t *testing.T) {
		key := uniqueKey("user")
		if got := attempt(t, st, window, key); got[0].RetryAfter != window {
			t.Fatalf("new window: retry after %v, want %v", got[0].RetryAfter, window)
		}
		exec(t, st, "UPDATE login_attempts SET window_start = window_start - interval '10 minutes' WHERE key = ?", key)
		got := attempt(t, st, window, key)
		if got[0].Count != 2 || got[0].RetryAfter > 5*time.Minute || got[0].RetryAfter < 4*time.Minute {
			t.Fatalf("10 minutes in: count %d, retry after %v; want 2 and about 5m", got[0].Count, got[0].RetryAfter)
		}
	})

	t.Run("WindowEndRestartsAtOne", func(t *testing.T) {
		key, other := uniqueKey("user"), uniqueKey("ip")
		attempt(t, st, window, key, other)
		attempt(t, st, window, key, other)
		exec(t, st, "UPDATE login_attempts SET window_start = window_start - ?::interval WHERE key = ?", "15 minutes", key)
		got := attempt(t, st, window, key, other)
		if !slices.Equal(counts(got), []int{1, 3}) || got[0].RetryAfter != window {
			t.Fatalf("counts %v, retry after %v; want [1 3] (only the ended window restarted) and %v", counts(got), got[0].RetryAfter, window)
		}
		if got := counts(attempt(t, st, window, key)); !slices.Equal(got, []int{2}) {
			t.Fatalf("after the restart: %v", got)
		}
	})

	t.Run("RealClock", func(t *testing.T) {
		key := uniqueKey("user")
		const short = 300 * time.Millisecond
		attempt(t, st, short, key)
		if got := attempt(t, st, short, key); got[0].Count != 2 || got[0].RetryAfter <= 0 || got[0].RetryAfter > short {
			t.Fatalf("in the window: count %d, retry after %v", got[0].Count, got[0].RetryAfter)
		}
		time.Sleep(short + 50*time.Millisecond)
		if got := attempt(t, st, short, key); got[0].Count != 1 {
			t.Fatalf("after the window: count %d, want 1", got[0].Count)
		}
	})
}

func TestStore_UndoLoginAttempt(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	const window = 15 * time.Minute
	stored := func(key string) int {
		return count(t, st, "SELECT coalesce((SELECT count FROM login_attempts WHERE key = ?), -1)", key)
	}

	user, ip, bystander := uniqueKey("user"), uniqueKey("ip"), uniqueKey("user")
	for range 5 {
		attempt(t, st, window, user, ip, bystander)
	}
	if err := st.UndoLoginAttempt(ctx, []string{user, ip}); err != nil {
		t.Fatal(err)
	}
	if stored(user) != 4 || stored(ip) != 4 || stored(bystander) != 5 {
		t.Fatalf("after one undo: user %d ip %d bystander %d; want 4 4 5 (one taken back, not reset)", stored(user), stored(ip), stored(bystander))
	}
	// Naming a key twice takes back one attempt, as it counted one.
	if err := st.UndoLoginAttempt(ctx, []string{user, user}); err != nil {
		t.Fatal(err)
	}
	if stored(user) != 3 {
		t.Fatalf("user %d, want 3", stored(user))
	}
	for range 5 {
		if err := st.UndoLoginAttempt(ctx, []string{user}); err != nil {
			t.Fatal(err)
		}
	}
	if stored(user) != 0 {
		t.Fatalf("user %d, want 0 (never below)", stored(user))
	}
	if got := counts(attempt(t, st, window, user)); !slices.Equal(got, []int{1}) {
		t.Fatalf("next attempt: %v, want [1]", got)
	}
	unknown := uniqueKey("ip")
	if err := st.UndoLoginAttempt(ctx, []string{unknown}); err != nil || stored(unknown) != -1 {
		t.Fatalf("unknown key: err %v, stored %d; want no row", err, stored(unknown))
	}
	if err := st.UndoLoginAttempt(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func TestStore_PurgeLoginAttempts(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	// Far outside anything other tests in this database make.
	const window = 1000 * time.Hour
	tag := store.NewID()
	// More than one batch of ended windows, and a few still open.
	exec(t, st, `INSERT INTO login_attempts (key, window_start, count)
		SELECT 'purge:' || ? || ':old:' || i, now() - interval '1001 hours', 3 FROM generate_series(1, 2500) i`, tag)
	exec(t, st, `INSERT INTO login_attempts (key, window_start, count)
		SELECT 'purge:' || ? || ':open:' || i, now() - interval '999 hours', 3 FROM generate_series(1, 3) i`, tag)

	n, err := st.PurgeLoginAttempts(ctx, window)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2500 {
		t.Errorf("purged %d, want 2500", n)
	}
	if left := count(t, st, "SELECT count(*) FROM login_attempts WHERE key LIKE 'purge:' || ? || ':old:%'", tag); left != 0 {
		t.Errorf("%d ended windows left", left)
	}
	if left := count(t, st, "SELECT count(*) FROM login_attempts WHERE key LIKE 'purge:' || ? || ':open:%'", tag); left != 3 {
		t.Errorf("%d open windows left, want 3", left)
	}
	if _, err := st.PurgeLoginAttempts(ctx, 0); err == nil {
		t.Error("a zero window was accepted")
	}
}

// One audit row per failure group and window: later failures raise its
// count, a row deleted by hand is written again, a new window has its own.
func TestStore_RecordLoginFailure(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	key := "fail:wrong_password:" + store.NewID() + ":2001:db8:f00d::/64"
	fail := func() (int, string) {
		t.Helper()
		e := &models.AuditEntry{ActorKind: "anonymous", Action: "admin.login_failed", IP: new("2001:db8:f00d::1"),
			Detail: map[string]any{"reason": "wrong_password"}}
		n, err := st.RecordLoginFailure(ctx, key, time.Minute, e)
		if err != nil {
			t.Fatal(err)
		}
		return n, e.ID
	}
	// The window's row, as login_attempts names it.
	rows := func() (ids []string, counts []int) {
		t.Helper()
		r, err := st.DB().QueryContext(ctx, `SELECT id, (detail->>'count')::int FROM audit_log
			WHERE id = (SELECT audit_id FROM login_attempts WHERE key = ?)`, key)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for r.Next() {
			var id string
			var n int
			if err := r.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			ids, counts = append(ids, id), append(counts, n)
		}
		return ids, counts
	}
	n1, id1 := fail()
	n2, _ := fail()
	n3, _ := fail()
	if ids, counts := rows(); n1 != 1 || n2 != 2 || n3 != 3 || len(ids) != 1 || ids[0] != id1 || counts[0] != 3 {
		t.Fatalf("three failures: counts %d %d %d, rows %v %v; want one row counting 3", n1, n2, n3, ids, counts)
	}
	var lastAt string
	if err := st.DB().QueryRowContext(ctx, "SELECT detail->>'lastAt' FROM audit_log WHERE id = ?", id1).Scan(&lastAt); err != nil || lastAt == "" {
		t.Fatalf("lastAt %q, %v", lastAt, err)
	}
	if _, err := st.DB().ExecContext(ctx, "DELETE FROM audit_log WHERE id = ?", id1); err != nil {
		t.Fatal(err)
	}
	if n, id := fail(); n != 4 || id != id1 {
		t.Fatalf("after the row was deleted: count %d, id %s; want 4 on the window's id", n, id)
	}
	if ids, counts := rows(); len(ids) != 1 || counts[0] != 4 {
		t.Fatalf("rewritten row: %v %v", ids, counts)
	}
	if _, err := st.DB().ExecContext(ctx, "UPDATE login_attempts SET window_start = now() - interval '2 minutes' WHERE key = ?", key); err != nil {
		t.Fatal(err)
	}
	if n, id := fail(); n != 1 || id == id1 {
		t.Fatalf("a new window: count %d, id %s; want 1 on a new row", n, id)
	}
	var total int
	if err := st.DB().QueryRowContext(ctx, "SELECT count(*) FROM audit_log WHERE id = ? OR id = (SELECT audit_id FROM login_attempts WHERE key = ?)", id1, key).Scan(&total); err != nil || total != 2 {
		t.Fatalf("%d rows over two windows, want 2 (%v)", total, err)
	}
}
