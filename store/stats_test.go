package store_test

import (
	"context"
	"strings"
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

// TestStore_SeedHoldsTogether: seeded data tells one story. Each check
// counts the seeded users that break a rule and wants none; a few more say
// the data has what the dashboard shows (phones, cities, disabled users).
func TestStore_SeedHoldsTogether(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	var progress strings.Builder
	if err := st.SeedWith(ctx, store.SeedOptions{Users: 3000, AppID: "wxseedtest", Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	if err := st.Seed(ctx, 50, "wxseedtest"); err != nil { // a second run adds, never collides
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "seed: audit_log") || !strings.Contains(progress.String(), "3000/3000 users") {
		t.Errorf("progress:\n%s", progress.String())
	}
	db := st.DB()
	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, `WITH seeded AS (SELECT u.* FROM users u JOIN identities i ON i.user_id = u.id WHERE i.appid = 'wxseedtest') `+q).Scan(&n); err != nil {
			t.Fatalf("%v: %s", err, q)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM seeded`); n != 3050 {
		t.Fatalf("%d seeded users, want 3050", n)
	}
	for _, rule := range []struct{ name, q string }{
		{"created = first login: never logged in, or before being created",
			`SELECT count(*) FROM seeded WHERE last_login_at IS NULL OR last_login_at < created_at OR last_login_at > now()`},
		{"the identity was made by the first login and saw the last",
			`SELECT count(*) FROM seeded u JOIN identities i ON i.user_id = u.id WHERE i.created_at <> u.created_at OR i.last_login_at <> u.last_login_at`},
		{"one user.create row, at created_at",
			`SELECT count(*) FROM seeded u WHERE (SELECT count(*) FROM audit_log a WHERE a.target = u.id::text AND a.action = 'user.create' AND a.at = u.created_at) <> 1`},
		{"the first user.login row is at created_at, the last at last_login_at",
			`SELECT count(*) FROM seeded u LEFT JOIN LATERAL (SELECT min(at) AS first, max(at) AS last FROM audit_log a WHERE a.target = u.id::text AND a.action = 'user.login') l ON true
			 WHERE l.first IS DISTINCT FROM u.created_at OR l.last IS DISTINCT FROM u.last_login_at`},
		{"a login row's actor is the user",
			`SELECT count(*) FROM seeded u JOIN audit_log a ON a.target = u.id::text AND a.action IN ('user.login', 'user.create', 'user.bind_phone') WHERE a.actor_kind <> 'user' OR a.actor_id <> u.id`},
		{"a session begins at the last login",
			`SELECT count(*) FROM seeded u JOIN sessions s ON s.user_id = u.id WHERE s.created_at <> u.last_login_at OR s.last_seen_at < s.created_at OR s.last_seen_at > now()`},
		{"who logged in within 30 days has that login's session",
			`SELECT count(*) FROM seeded u WHERE u.last_login_at > now() - interval '29 days' AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id AND s.expires_at > now())`},
		{"no live session for a login longer ago than the session lifetime",
			`SELECT count(*) FROM seeded u JOIN sessions s ON s.user_id = u.id WHERE s.expires_at > now() AND u.last_login_at < now() - interval '30 days'`},
		{"the last login row names the live session",
			`SELECT count(*) FROM seeded u JOIN sessions s ON s.user_id = u.id WHERE u.last_login_at > u.created_at AND NOT EXISTS (
				SELECT 1 FROM audit_log a WHERE a.target = u.id::text AND a.action = 'user.login' AND a.at = u.last_login_at AND a.detail->>'session' = s.id::text)`},
		{"a phone is a mainland mobile number in E.164, with its country code",
			`SELECT count(*) FROM seeded WHERE phone IS NOT NULL AND (phone !~ '^\+861[3-9][0-9]{9}$' OR phone_country_code IS DISTINCT FROM '86')`},
		{"a phone was bound once, between the first and the last login",
			`SELECT count(*) FROM seeded u WHERE phone IS NOT NULL AND (SELECT count(*) FROM audit_log a WHERE a.target = u.id::text AND a.action = 'user.bind_phone'
				AND a.at BETWEEN u.created_at AND u.last_login_at AND a.detail->>'phone' = left(u.phone, 6) || '****' || right(u.phone, 4)) <> 1`},
		{"a disabled user has a reason, after the last login",
			`SELECT count(*) FROM seeded WHERE disabled_at IS NOT NULL AND (coalesce(disabled_reason, '') = '' OR disabled_at < last_login_at OR disabled_at > now())`},
		{"a disabled user has the user.disable row of an admin, with that reason",
			`SELECT count(*) FROM seeded u WHERE disabled_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM audit_log a JOIN admins ad ON ad.id = a.actor_id
				WHERE a.target = u.id::text AND a.action = 'user.disable' AND a.actor_kind = 'admin' AND a.actor_name = ad.username AND a.at = u.disabled_at AND a.detail->>'reason' = u.disabled_reason)`},
		{"a disabled user's sessions ended when they were disabled",
			`SELECT count(*) FROM seeded u JOIN sessions s ON s.user_id = u.id WHERE u.disabled_at IS NOT NULL AND s.revoked_at IS DISTINCT FROM u.disabled_at`},
		{"an enabled user has no disable row and no reason",
			`SELECT count(*) FROM seeded u WHERE disabled_at IS NULL AND (disabled_reason IS NOT NULL OR EXISTS (SELECT 1 FROM audit_log a WHERE a.target = u.id::text AND a.action = 'user.disable'))`},
	} {
		if n := count(rule.q); n != 0 {
			t.Errorf("%s: %d seeded users break it", rule.name, n)
		}
	}
	phones, cities, noCity, disabled, live, once := count(`SELECT count(phone) FROM seeded`), count(`SELECT count(DISTINCT city) FROM seeded`),
		count(`SELECT count(*) FROM seeded WHERE city IS NULL`), count(`SELECT count(disabled_at) FROM seeded`),
		count(`SELECT count(*) FROM seeded u WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id AND s.revoked_at IS NULL)`),
		count(`SELECT count(*) FROM seeded WHERE last_login_at = created_at`)
	if phones < 600 || phones > 1500 || cities < 20 || noCity < 300 || noCity > 1200 || disabled != 3 || live < 100 || once < 300 {
		t.Errorf("%d phones, %d cities, %d without a city, %d disabled, %d with a live session, %d who never came back", phones, cities, noCity, disabled, live, once)
	}
	// The overview's figures agree with its chart: each user active in the
	// last 7 days has a login among the chart's.
	active := count(`SELECT count(*) FROM seeded WHERE last_login_at >= now() - interval '7 days'`)
	logins := count(`SELECT count(*) FROM seeded u JOIN audit_log a ON a.target = u.id::text AND a.action = 'user.login' AND a.at >= now() - interval '7 days'`)
	if active == 0 || logins < active {
		t.Errorf("%d users active in 7 days, %d logins", active, logins)
	}
}
