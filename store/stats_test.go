package store_test

import (
	"context"
	"testing"
	"time"

	"wxlogin/models"
	"wxlogin/store/storetest"
)

// TestStore_Stats is not parallel: it compares counts before and after its
// own rows, which other tests' rows would disturb.
func TestStore_Stats(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	day := 24 * time.Hour
	counts := func() (total, recent, active int, logins []models.DayCount) {
		t.Helper()
		var err error
		if total, err = st.CountUsers(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if recent, err = st.CountUsers(ctx, time.Now().Add(-7*day)); err != nil {
			t.Fatal(err)
		}
		if active, err = st.CountActiveUsers(ctx, time.Now().Add(-7*day)); err != nil {
			t.Fatal(err)
		}
		if logins, err = st.LoginsPerDay(ctx, 3); err != nil {
			t.Fatal(err)
		}
		return
	}
	total0, recent0, active0, logins0 := counts()
	db := st.DB()
	// Users without identities would look like orphans to other tests.
	t.Cleanup(func() {
		_, _ = db.ExecContext(ctx, "DELETE FROM users WHERE id IN (SELECT u.id FROM users u WHERE NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id))")
	})
	for _, q := range []string{
		`INSERT INTO users (id, created_at, last_login_at) VALUES (gen_random_uuid(), now(), now())`,
		`INSERT INTO users (id, created_at, last_login_at) VALUES (gen_random_uuid(), now() - interval '10 days', now() - interval '1 day')`,
		`INSERT INTO users (id, created_at, last_login_at) VALUES (gen_random_uuid(), now() - interval '30 days', now() - interval '20 days')`,
		`INSERT INTO audit_log (id, actor_kind, action, at) VALUES (gen_random_uuid(), 'user', 'user.login', now()), (gen_random_uuid(), 'user', 'user.login', now()),
			(gen_random_uuid(), 'user', 'user.login', now() - interval '1 day'), (gen_random_uuid(), 'user', 'user.logout', now()),
			(gen_random_uuid(), 'user', 'user.login', now() - interval '5 days')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	total, recent, active, logins := counts()
	if total-total0 != 3 || recent-recent0 != 1 || active-active0 != 2 {
		t.Fatalf("total +%d, new +%d, active +%d; want +3, +1, +2", total-total0, recent-recent0, active-active0)
	}
	if len(logins) != 3 {
		t.Fatalf("%d days", len(logins))
	}
	today := time.Now().UTC().Truncate(day)
	for i, d := range logins {
		if want := today.Add(time.Duration(i-2) * day); !d.Date.Equal(want) {
			t.Fatalf("day %d is %v, want %v", i, d.Date, want)
		}
	}
	// Around midnight UTC "now" and "now - 1 day" may share a day; compare sums.
	sum := func(ds []models.DayCount) (n int) {
		for _, d := range ds {
			n += d.Count
		}
		return n
	}
	if got := sum(logins) - sum(logins0); got != 3 {
		t.Fatalf("%d logins counted over 3 days, want 3: %+v", got, logins)
	}
}

func TestStore_Seed(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	for range 2 { // a second run adds, never collides
		if err := st.Seed(ctx, 50, "wxseedtest"); err != nil {
			t.Fatal(err)
		}
	}
	var users, sessions, logins, chinese int
	db := st.DB()
	_ = db.QueryRowContext(ctx, "SELECT count(DISTINCT user_id) FROM identities WHERE appid = 'wxseedtest'").Scan(&users)
	_ = db.QueryRowContext(ctx, "SELECT count(*) FROM sessions s JOIN identities i ON i.id = s.identity_id WHERE i.appid = 'wxseedtest'").Scan(&sessions)
	_ = db.QueryRowContext(ctx, "SELECT count(*) FROM audit_log a JOIN identities i ON i.user_id = a.target::uuid WHERE i.appid = 'wxseedtest' AND a.action = 'user.login'").Scan(&logins)
	_ = db.QueryRowContext(ctx, "SELECT count(*) FROM users u JOIN identities i ON i.user_id = u.id WHERE i.appid = 'wxseedtest' AND u.nickname ~ '[^\\x00-\\x7F]'").Scan(&chinese)
	if users != 100 || sessions != 10 || logins == 0 || logins > 20 || chinese == 0 {
		t.Fatalf("%d users, %d sessions, %d logins, %d with Chinese nicknames", users, sessions, logins, chinese)
	}
}
