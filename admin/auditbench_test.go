package admin_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"wxlogin/admin"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// auditBenchSeed fills a fresh database with a million audit entries over
// a year: 200,000 users (each created and signed in; 100 named "vip…"),
// 600,000 more logins spread over them, a user with 50,000 logins, 20
// admins ("ops-00" … "ops-19") with 1,000 disables and enables and 500
// sign-ins each, and "ops-heavy" with 50,000 of them. All by SQL, in the
// benchmark only.
var auditBenchSeed = []string{
	`INSERT INTO users (id, nickname, created_at, updated_at)
	 SELECT gen_random_uuid(), CASE WHEN i <= 100 THEN 'vip' || i ELSE '用户' || i END, t, t
	 FROM generate_series(1, 200000) i, LATERAL (SELECT now() - random() * interval '365 days' AS t) r`,
	`INSERT INTO users (id, nickname) VALUES ('01900000-0000-7000-8000-000000000001', '常客')`,
	`INSERT INTO admins (id, username, password_hash, role)
	 SELECT gen_random_uuid(), 'ops-' || lpad(i::text, 2, '0'), 'x', 'ADMIN' FROM generate_series(0, 19) i
	 UNION ALL SELECT '01900000-0000-7000-8000-0000000000ad', 'ops-heavy', 'x', 'ADMIN'`,
	`INSERT INTO audit_log (id, at, actor_kind, actor_id, action, target, ip, detail)
	 SELECT gen_random_uuid(), u.created_at, 'user', u.id, a, u.id::text, '203.0.113.7', '{}'
	 FROM users u CROSS JOIN unnest(ARRAY['user.create', 'user.login']) a`,
	`INSERT INTO audit_log (id, at, actor_kind, actor_id, action, target, ip, detail)
	 SELECT gen_random_uuid(), now() - random() * interval '365 days', 'user', u.id, 'user.login', u.id::text, '198.51.100.23', '{}'
	 FROM (SELECT id FROM users ORDER BY random() LIMIT 200000) u CROSS JOIN generate_series(1, 3)`,
	`INSERT INTO audit_log (id, at, actor_kind, actor_id, action, target, ip, detail)
	 SELECT gen_random_uuid(), now() - random() * interval '365 days', 'user', '01900000-0000-7000-8000-000000000001',
	        'user.login', '01900000-0000-7000-8000-000000000001', '198.51.100.24', '{}'
	 FROM generate_series(1, 50000)`,
	`INSERT INTO audit_log (id, at, actor_kind, actor_id, actor_name, action, target, ip, detail)
	 SELECT gen_random_uuid(), now() - random() * interval '365 days', 'admin', a.id, a.username,
	        (ARRAY['user.disable', 'user.enable'])[1 + (k % 2)], (u.ids)[1 + ((k * 7919 + length(a.username)) % 200000)]::text,
	        '192.0.2.1', '{"reason": "bench"}'
	 FROM admins a CROSS JOIN (SELECT array_agg(id) AS ids FROM users) u
	 CROSS JOIN LATERAL generate_series(1, CASE WHEN a.username = 'ops-heavy' THEN 45000 ELSE 1000 END) k`,
	`INSERT INTO audit_log (id, at, actor_kind, actor_id, actor_name, action, target, ip, detail)
	 SELECT gen_random_uuid(), now() - random() * interval '365 days', 'admin', a.id, a.username, 'admin.login', a.id::text, '192.0.2.1', '{}'
	 FROM admins a CROSS JOIN LATERAL generate_series(1, CASE WHEN a.username = 'ops-heavy' THEN 5000 ELSE 500 END)`,
	`ANALYZE`,
}

// planRecorder keeps the last audit_log statement a store ran, to EXPLAIN.
type planRecorder struct {
	mu   sync.Mutex
	last string
}

func (p *planRecorder) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (p *planRecorder) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	if strings.Contains(e.Query, "audit_log") && strings.HasPrefix(strings.TrimSpace(e.Query), "SELECT") && !strings.Contains(e.Query, "nickname AS name") {
		p.mu.Lock()
		p.last = e.Query
		p.mu.Unlock()
	}
}

// BenchmarkAuditLog_1M measures a first page of 50 of the audit log under
// each filter and some combinations, names included, on a million entries
// (seeded into a database of its own, about a minute), reporting p50 and
// p95 and the page statement's shared buffers (EXPLAIN ANALYZE, BUFFERS):
// what bounds the work. go test -run '^$' -bench AuditLog_1M -benchtime 30x ./admin/
func BenchmarkAuditLog_1M(b *testing.B) {
	dsn, _ := storetest.FreshDatabase(b)
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, store.Options{MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	// A connection of its own without the store's read deadline or
	// statement timeout: the seed's statements each take seconds.
	seed := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn), pgdriver.WithReadTimeout(time.Hour)))
	defer seed.Close()
	seed.SetMaxOpenConns(1) // one session, which the SET holds for
	start := time.Now()
	for _, q := range append([]string{"SET statement_timeout = 0"}, auditBenchSeed...) {
		if _, err := seed.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	var n int
	if err := st.DB().QueryRowContext(ctx, "SELECT count(*) FROM audit_log").Scan(&n); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d audit entries in %v", n, time.Since(start).Round(time.Second))
	rec := &planRecorder{}
	//lint:ignore SA1019 WithQueryHook returns another handle; the hook must see the store's own statements.
	st.DB().AddQueryHook(rec)
	svc := admin.NewService(st, admin.Config{})
	page := 50
	day := time.Now().Add(-40 * 24 * time.Hour).Truncate(24 * time.Hour)
	dayEnd, month := day.Add(24*time.Hour), day.Add(-30*24*time.Hour)
	future := time.Now().Add(time.Hour)
	const heavy = "01900000-0000-7000-8000-000000000001"
	var someUser string
	if err := st.DB().QueryRowContext(ctx, "SELECT id FROM users WHERE nickname = '用户4242'").Scan(&someUser); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		in   admin.AuditInput
	}{
		{"NoFilter", admin.AuditInput{}},
		{"ActionCommon", admin.AuditInput{Action: "user.login"}},
		{"ActionRare", admin.AuditInput{Action: "user.enable"}},
		{"ActionNone", admin.AuditInput{Action: "user.merge"}},
		{"OneDay", admin.AuditInput{Since: &day, Until: &dayEnd}},
		{"ActionOneDay", admin.AuditInput{Action: "user.disable", Since: &day, Until: &dayEnd}},
		{"UntilOnly", admin.AuditInput{Until: &month}},
		{"NothingInRange", admin.AuditInput{Since: &future}},
		{"AdminExact", admin.AuditInput{Admin: "ops-07"}},
		{"AdminPrefix20", admin.AuditInput{Admin: "ops-"}},
		{"AdminHeavy", admin.AuditInput{Admin: "ops-heavy"}},
		{"AdminHeavyActionRare", admin.AuditInput{Admin: "ops-heavy", Action: "admin.login"}},
		{"AdminHeavyActionNone", admin.AuditInput{Admin: "ops-heavy", Action: "user.merge"}},
		{"AdminHeavyOneDay", admin.AuditInput{Admin: "ops-heavy", Since: &day, Until: &dayEnd}},
		{"AdminNobody", admin.AuditInput{Admin: "nobody"}},
		{"UserID", admin.AuditInput{User: someUser}},
		{"UserNickname", admin.AuditInput{User: "用户4242"}},
		{"UserSearch100", admin.AuditInput{User: "vip"}},
		{"UserHeavy", admin.AuditInput{User: heavy}},
		{"UserHeavyActionNone", admin.AuditInput{User: heavy, Action: "user.merge"}},
		{"UserHeavyOneDay", admin.AuditInput{User: heavy, Since: &day, Until: &dayEnd}},
		{"AdminPrefixAndUserSearch", admin.AuditInput{Admin: "ops-", User: "vip"}},
		{"AdminUserActionRange", admin.AuditInput{Admin: "ops-", User: "vip", Action: "user.disable", Since: &month, Until: &dayEnd}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := bc.in
			in.First = &page
			var took []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := svc.AuditLog(ctx, in); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(t0))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
			rec.mu.Lock()
			q := rec.last
			rec.mu.Unlock()
			var plan string
			if err := st.DB().QueryRowContext(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+q).Scan(&plan); err != nil {
				b.Fatal(err)
			}
			var p []struct {
				Plan struct {
					Hit  float64 `json:"Shared Hit Blocks"`
					Read float64 `json:"Shared Read Blocks"`
				}
			}
			if err := json.Unmarshal([]byte(plan), &p); err != nil || len(p) != 1 {
				b.Fatalf("plan %s: %v", plan, err)
			}
			b.ReportMetric(p[0].Plan.Hit+p[0].Plan.Read, "buffers")
		})
	}
}
