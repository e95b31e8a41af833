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

// ownSessions makes a user with n live sessions from one openid, the
// first from 203.0.113.7, and returns the user's id and the sessions'
// ids in login order.
func ownSessions(t *testing.T, st *store.Store, n int) (string, []string) {
	t.Helper()
	openid := uniqueOpenID(t)
	var userID string
	ids := make([]string, n)
	for i := range n {
		sess := newSession()
		if i == 0 {
			sess.IP, sess.UserAgent = new("203.0.113.7"), new("WeChat devtools")
		}
		userID = mustLogin(t, st, store.LoginParams{OpenID: openid, Session: sess}).User.ID
		ids[i] = sess.ID
	}
	return userID, ids
}

func sessionIDs(list []*store.OwnSession) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out
}

func TestStore_LiveSessionsOfUser(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	user, ids := ownSessions(t, st, 5)
	other, otherIDs := ownSessions(t, st, 1)
	// Used in this order, oldest first: ids[1] is the most recently used.
	for i, id := range []string{ids[4], ids[3], ids[1]} {
		if _, err := st.DB().ExecContext(ctx, "UPDATE sessions SET last_seen_at = now() + ? * interval '1 minute' WHERE id = ?", i+1, id); err != nil {
			t.Fatal(err)
		}
	}
	// ids[2] has expired; ids[0] is the current session.
	if _, err := st.DB().ExecContext(ctx, "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = ?", ids[2]); err != nil {
		t.Fatal(err)
	}

	list, err := st.LiveSessionsOfUser(ctx, user, ids[0], 50)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sessionIDs(list), []string{ids[0], ids[1], ids[3], ids[4]}; !slices.Equal(got, want) {
		t.Fatalf("sessions %v, want %v (current first, then the most recently used)", got, want)
	}
	first := list[0]
	if first.AppID != "wxapp1" || first.IP == nil || *first.IP != "203.0.113.7" || first.UserAgent == nil ||
		*first.UserAgent != "WeChat devtools" || first.CreatedAt.IsZero() || first.LastSeenAt.IsZero() || first.ExpiresAt.IsZero() {
		t.Fatalf("current session read back as %+v", first)
	}

	// Revoked ones drop out; the limit keeps the first ones.
	if _, err := st.RevokeSession(ctx, ids[1], "", nil); err != nil {
		t.Fatal(err)
	}
	if list, err = st.LiveSessionsOfUser(ctx, user, ids[0], 2); err != nil {
		t.Fatal(err)
	}
	if got, want := sessionIDs(list), []string{ids[0], ids[3]}; !slices.Equal(got, want) {
		t.Fatalf("limit 2 after a revoke: %v, want %v", got, want)
	}
	// Another user's session as the current one changes nothing.
	if list, err = st.LiveSessionsOfUser(ctx, user, otherIDs[0], 50); err != nil {
		t.Fatal(err)
	}
	if got, want := sessionIDs(list), []string{ids[3], ids[4], ids[0]}; !slices.Equal(got, want) {
		t.Fatalf("with no current session: %v, want %v", got, want)
	}
	if list, err = st.LiveSessionsOfUser(ctx, other, "", 50); err != nil || len(list) != 1 || list[0].ID != otherIDs[0] {
		t.Fatalf("the other user's sessions: %+v, %v", list, err)
	}
}

func TestStore_RevokeSession_OwnOnly(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	user, ids := ownSessions(t, st, 2)
	_, otherIDs := ownSessions(t, st, 1)
	expiredUser, expired := ownSessions(t, st, 1)
	if _, err := st.DB().ExecContext(ctx, "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = ?", expired[0]); err != nil {
		t.Fatal(err)
	}
	audit := func(target string) *models.AuditEntry {
		return &models.AuditEntry{ActorKind: "user", ActorID: &user, Action: "session.revoke", Target: &target}
	}

	// Not theirs, unknown, expired: ErrNotFound, nothing changed, nothing audited.
	for name, c := range map[string][2]string{
		"another user's": {user, otherIDs[0]}, "unknown": {user, store.NewID()}, "expired": {expiredUser, expired[0]},
	} {
		if _, err := st.RevokeSession(ctx, c[1], c[0], audit(c[1])); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
		if n := count(t, st, "SELECT count(*) FROM audit_log WHERE target = ?", c[1]); n != 0 {
			t.Errorf("%s: %d audit rows", name, n)
		}
	}
	if n := count(t, st, "SELECT count(*) FROM sessions WHERE id = ? AND revoked_at IS NULL", otherIDs[0]); n != 1 {
		t.Fatalf("the other user's session was revoked")
	}

	if owner, err := st.RevokeSession(ctx, ids[1], user, audit(ids[1])); err != nil || owner != user {
		t.Fatalf("own session: %q, %v", owner, err)
	}
	if n := count(t, st, "SELECT count(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL", user); n != 1 {
		t.Fatalf("%d live sessions left, want 1", n)
	}
	if n := count(t, st, "SELECT count(*) FROM audit_log WHERE action = 'session.revoke' AND target = ? AND actor_id = ?", ids[1], user); n != 1 {
		t.Fatalf("%d audit rows, want 1", n)
	}
	// Twice: it has ended already.
	if _, err := st.RevokeSession(ctx, ids[1], user, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}

	// Without a user (an admin's revoke, a logout) any user's live session
	// ends and its user is returned; an expired one had ended already.
	if _, err := st.RevokeSession(ctx, expired[0], "", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("any user's expired session: %v, want ErrNotFound", err)
	}
	other, err := st.RevokeSession(ctx, otherIDs[0], "", nil)
	if err != nil || other == "" || other == user {
		t.Fatalf("any user's session: %q, %v", other, err)
	}
}

func TestStore_RevokeUserSessions(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	user, ids := ownSessions(t, st, 4)
	_, otherIDs := ownSessions(t, st, 1)
	// One expired and one revoked already: not counted again.
	if _, err := st.DB().ExecContext(ctx, "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = ?", ids[3]); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RevokeSession(ctx, ids[2], "", nil); err != nil {
		t.Fatal(err)
	}

	a := &models.AuditEntry{ActorKind: "user", ActorID: &user, Action: "user.revoke_sessions", Target: &user}
	n, err := st.RevokeUserSessions(ctx, user, ids[0], a)
	if err != nil || n != 1 {
		t.Fatalf("keeping ids[0]: %d, %v; want 1", n, err)
	}
	if got := count(t, st, "SELECT count(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > now()", user); got != 1 {
		t.Fatalf("%d live sessions, want the kept one", got)
	}
	if got := count(t, st, "SELECT count(*) FROM audit_log WHERE id = ? AND detail->>'sessionsRevoked' = '1'", a.ID); got != 1 {
		t.Fatal("the audit row does not hold the count")
	}
	if n, err = st.RevokeUserSessions(ctx, user, "", nil); err != nil || n != 1 {
		t.Fatalf("keeping none: %d, %v; want 1", n, err)
	}
	// Nothing left to end: nothing audited either.
	a = &models.AuditEntry{ActorKind: "user", ActorID: &user, Action: "user.revoke_sessions", Target: &user}
	if n, err = st.RevokeUserSessions(ctx, user, "", a); err != nil || n != 0 {
		t.Fatalf("again: %d, %v; want 0", n, err)
	}
	if got := count(t, st, "SELECT count(*) FROM audit_log WHERE action = 'user.revoke_sessions' AND target = ?", user); got != 1 {
		t.Fatalf("%d audit rows, want 1: a call that ended nothing was recorded", got)
	}
	if got := count(t, st, "SELECT count(*) FROM sessions WHERE id = ? AND revoked_at IS NULL", otherIDs[0]); got != 1 {
		t.Fatal("another user's session was revoked")
	}
	if _, err := st.RevokeUserSessions(ctx, store.NewID(), "", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: %v, want ErrNotFound", err)
	}
}
