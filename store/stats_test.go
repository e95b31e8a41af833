package store_test

import (
	"context"
	"testing"
	"time"

	"wxlogin/models"
	"wxlogin/store"
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
		if logins, err = st.LoginsPerDay(ctx, time.Now(), 3, time.UTC); err != nil {
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

// TestStore_LoginsPerDay_ZoneDays: a day is a day of the zone asked for.
// 2026-12-06T17:30Z is 01:30 on 7 December in Shanghai (UTC+8), so it
// counts on the 7th there and on the 6th in UTC; 15:59Z is still the 6th in
// both. The rows are at a moment of this test's own, years ahead, so that
// other tests' logins never fall on these days.
func TestStore_LoginsPerDay_ZoneDays(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2031, 12, 6, 0, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{
		base.Add(15*time.Hour + 59*time.Minute), // 6 Dec 23:59 Shanghai
		base.Add(17*time.Hour + 30*time.Minute), // 7 Dec 01:30 Shanghai
		base.Add(17*time.Hour + 31*time.Minute), // 7 Dec 01:31 Shanghai
	} {
		if _, err := st.DB().ExecContext(ctx, `INSERT INTO audit_log (id, actor_kind, action, at) VALUES (gen_random_uuid(), 'user', 'user.login', ?)`, at); err != nil {
			t.Fatal(err)
		}
	}
	now := base.Add(18 * time.Hour) // 7 Dec 02:00 in Shanghai, 6 Dec 18:00 UTC
	for _, c := range []struct {
		loc  *time.Location
		want map[string]int
	}{
		{shanghai, map[string]int{"2031-12-05": 0, "2031-12-06": 1, "2031-12-07": 2}},
		{time.UTC, map[string]int{"2031-12-04": 0, "2031-12-05": 0, "2031-12-06": 3}},
	} {
		got, err := st.LoginsPerDay(ctx, now, 3, c.loc)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("%s: %d days: %+v", c.loc, len(got), got)
		}
		for i, d := range got {
			if want, ok := c.want[d.Day()]; !ok || d.Count != want {
				t.Errorf("%s: day %d is %s with %d logins; want %v", c.loc, i, d.Day(), d.Count, c.want)
			}
			if y, m, dd := d.Date.In(c.loc).Date(); d.Date.In(c.loc) != time.Date(y, m, dd, 0, 0, 0, 0, c.loc) {
				t.Errorf("%s: day %d starts at %v, not midnight there", c.loc, i, d.Date)
			}
		}
	}
}

// TestZoneDays_DaylightSaving: a day across a clock change is one calendar
// day (23 or 25 hours), not 24 hours.
func TestZoneDays_DaylightSaving(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// Clocks went back on 2026-11-01 in New York.
	starts, end := store.ZoneDays(time.Date(2026, 11, 2, 12, 0, 0, 0, ny), 3, ny)
	for i, want := range []string{"2026-10-31", "2026-11-01", "2026-11-02"} {
		if got := starts[i].Format(time.DateTime); got != want+" 00:00:00" {
			t.Errorf("start %d = %s, want %s midnight", i, got, want)
		}
	}
	if got := end.Format(time.DateTime); got != "2026-11-03 00:00:00" {
		t.Errorf("end = %s", got)
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
