//go:build erasebench

package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// TestErase10000 measures the erasure job on 10,000 accounts due at once
// (each with an identity, two sessions, a consent and three audit entries
// with an IP and a masked phone), and the latency of returning users'
// logins while it runs against the same logins idle. Not in the default
// run: go test -tags erasebench -run TestErase10000 -v ./store/
func TestErase10000(t *testing.T) {
	st := storetest.OpenFresh(t)
	ctx := context.Background()
	due := 10000
	if n, err := strconv.Atoi(os.Getenv("ERASEBENCH_N")); err == nil {
		due = n
	}
	hook := &stmtTimes{d: map[string]time.Duration{}}
	for _, q := range []string{
		`INSERT INTO users (id, nickname, city, phone, phone_country_code, avatar_url, last_login_at, deletion_requested_at, erase_at)
		 SELECT gen_random_uuid(), 'bench' || i, 'Suzhou', '+86139' || lpad(i::text, 8, '0'), '86', '/avatars/' || md5(i::text) || md5(i::text) || '.jpg',
		        now(), now() - interval '8 days', now() - interval '1 day' FROM generate_series(1, ?) i`,
		`INSERT INTO identities (id, user_id, provider, appid, openid, unionid)
		 SELECT gen_random_uuid(), id, 'wechat_miniprogram', 'wxbench', 'obench' || id, 'ubench' || id FROM users WHERE erase_at IS NOT NULL`,
		`INSERT INTO sessions (id, token_hash, user_id, identity_id, session_key_sealed, expires_at, ip, user_agent, revoked_at)
		 SELECT gen_random_uuid(), sha256(convert_to(i.id::text || k, 'UTF8')), i.user_id, i.id, '\x00', now() + interval '1 day', '203.0.113.9', 'bench', now()
		 FROM identities i CROSS JOIN generate_series(1, 2) k WHERE i.appid = 'wxbench'`,
		`INSERT INTO consents (id, user_id, version, ip) SELECT gen_random_uuid(), id, 'v1', '203.0.113.9' FROM users WHERE erase_at IS NOT NULL`,
		`INSERT INTO audit_log (id, actor_kind, actor_id, action, target, ip, detail)
		 SELECT gen_random_uuid(), 'user', u.id, a, u.id::text, '203.0.113.9', '{"phone": "+86139****0000", "countryCode": "86"}'
		 FROM users u CROSS JOIN unnest(ARRAY['user.login', 'user.bind_phone', 'user.delete_requested']) a WHERE u.erase_at IS NOT NULL`,
	} {
		args := []any{}
		if slices.Contains([]byte(q), '?') {
			args = append(args, due)
		}
		if _, err := st.DB().ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	// Returning users who log in meanwhile.
	const returning = 500
	openids := make([]string, returning)
	for i := range openids {
		openids[i] = fmt.Sprintf("oret%d-%s", i, store.NewID())
		mustLogin(t, st, store.LoginParams{OpenID: openids[i]})
	}
	if _, err := st.DB().ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	measure := func(stop <-chan struct{}, d time.Duration) []time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		var next atomic.Int64
		deadline := time.After(d)
		done := make(chan struct{})
		go func() {
			select {
			case <-stop:
			case <-deadline:
			}
			close(done)
		}()
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					openid := openids[next.Add(1)%returning]
					t0 := time.Now()
					if _, err := st.Login(ctx, store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: "wxapp1", OpenID: openid, Session: newSession()}); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					lat = append(lat, time.Since(t0))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		slices.Sort(lat)
		return lat
	}
	pct := func(l []time.Duration, p float64) time.Duration { return l[int(float64(len(l)-1)*p)] }

	idle := measure(nil, 3*time.Second)
	t.Logf("logins idle: %d, p50 %v, p90 %v, p99 %v", len(idle), pct(idle, .5), pct(idle, .9), pct(idle, .99))

	stop := make(chan struct{})
	var busy []time.Duration
	var wg sync.WaitGroup
	wg.Go(func() { busy = measure(stop, time.Hour) })
	st.AddQueryHook(hook)
	t0 := time.Now()
	total := 0
	name := "erasure"
	for {
		done, err := st.EraseDue(ctx, 100, models.AuditEntry{ActorKind: "system", ActorName: &name, Action: "user.erase"})
		if err != nil {
			t.Fatal(err)
		}
		total += len(done)
		if len(done) < 100 {
			break
		}
	}
	took := time.Since(t0)
	close(stop)
	wg.Wait()
	t.Logf("erased %d accounts in %v (%.0f per second, batches of 100)", total, took, float64(total)/took.Seconds())
	t.Logf("logins during the erasure: %d, p50 %v, p90 %v, p99 %v", len(busy), pct(busy, .5), pct(busy, .9), pct(busy, .99))
	for k, d := range hook.d {
		if d > took/50 {
			t.Logf("  %8v  %s", d.Round(time.Millisecond), k)
		}
	}
	if total != due {
		t.Fatalf("erased %d, want %d", total, due)
	}
}

// stmtTimes adds up the time of the statements of the erasure's
// goroutine by their start, to tell which dominates.
type stmtTimes struct {
	mu sync.Mutex
	d  map[string]time.Duration
}

func (h *stmtTimes) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context { return ctx }

func (h *stmtTimes) AfterQuery(ctx context.Context, e *bun.QueryEvent) {
	q := strings.Join(strings.Fields(e.Query), " ")
	if strings.Contains(q, "INSERT INTO sessions") || strings.Contains(q, "UPDATE users u SET last_login_at") {
		return // the logins'
	}
	h.mu.Lock()
	h.d[q[:min(40, len(q))]] += time.Since(e.StartTime)
	h.mu.Unlock()
}
