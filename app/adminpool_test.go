package app

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"wxlogin/store"
	"wxlogin/store/storetest"
)

// lockWaiters counts this database's connections whose statement touches
// users and waits for a lock, those of application appName only when it is
// not empty.
func lockWaiters(t *testing.T, st *store.Store, appName string) int {
	t.Helper()
	var n int
	err := st.DB().QueryRowContext(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE "users"%'
		  AND (? = '' OR application_name = ?)`, appName, appName).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Admin work that holds every connection of the admin pool (here admin
// requests blocked on a row lock inside PostgreSQL, as 40 slow searches
// would be busy) takes none of the users' pool: a login and a me answer
// while every admin request is still waiting, and the admin requests finish
// once the lock goes. With the admin service on the users' pool, the
// blocked admin requests take all of its connections and the login waits.
func TestAdminPool_BusyAdminWorkLeavesUsersAlone(t *testing.T) {
	t.Parallel()
	const adminConns, userConns = 2, 3
	ts := startServer(t, func(c *Config) {
		c.DBMaxConns, c.AdminDBMaxConns, c.AdminStatementTimeout = userConns, adminConns, 10*time.Second
	})
	adm, resp := ts.adminLogin(t, "pool-admin", mustAdmin(t, "pool-admin", "admin"))
	if adm == "" {
		t.Fatalf("adminLogin = %s", resp.raw)
	}
	victim := mustLogin(t, ts, map[string]any{"code": ts.code(t, "pool-victim")})

	// The test's own connection holds the victim's row, so that every
	// disableUser of it waits inside PostgreSQL, holding its connection.
	ctx := context.Background()
	held := storetest.Open(t)
	tx, err := held.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM users WHERE id = ? FOR UPDATE", victim.User.ID); err != nil {
		t.Fatal(err)
	}

	// More admin requests than either pool has connections.
	const n = 2 * userConns
	done := make(chan result, n)
	client := &http.Client{Timeout: 30 * time.Second}
	for range n {
		go func() {
			done <- ts.post(client, adm, `mutation($id: ID!) { disableUser(id: $id, reason: "pool test") { id } }`, map[string]any{"id": victim.User.ID})
		}()
	}
	waitFor(t, "admin requests waiting on the lock", 20*time.Second, func() bool { return lockWaiters(t, held, "") >= adminConns })

	// A user logs in and asks who they are while the admin requests wait.
	user := ts.post(client, "", loginMutation, map[string]any{"in": map[string]any{"code": ts.code(t, "pool-user")}})
	if user.err != nil || len(user.resp.Errors) > 0 {
		t.Fatalf("login while admin work holds its connections: %v %s", user.err, user.resp.raw)
	}
	var p loginPayload
	if err := json.Unmarshal(user.resp.Data["login"], &p); err != nil {
		t.Fatal(err)
	}
	if me := ts.post(client, p.Token, `{ me { id } }`, nil); me.err != nil || len(me.resp.Errors) > 0 {
		t.Fatalf("me while admin work holds its connections: %v %s", me.err, me.resp.raw)
	}
	select {
	case r := <-done:
		t.Fatalf("an admin request finished (%s) while the lock was held: the user's requests waited for admin work", r.resp.raw)
	default:
	}
	// Exactly the admin pool's connections are busy with them; the rest
	// of the admin requests wait for one in the admin pool.
	if got := lockWaiters(t, held, AdminAppName); got != adminConns {
		t.Fatalf("%d admin connections wait on the lock, want all %d of the admin pool", got, adminConns)
	}
	if got := lockWaiters(t, held, ""); got != adminConns {
		t.Fatalf("%d connections wait on the lock, want only the admin pool's %d", got, adminConns)
	}

	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range n {
		if r := <-done; r.err != nil || len(r.resp.Errors) > 0 {
			t.Fatalf("disableUser after the lock went: %v %s", r.err, r.resp.raw)
		}
	}
}
