//go:build burst

package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

// TestPush_Burst (BENCHMARKS.md): 1,000 pushes at once, each delivered
// twice at the same moment (WeChat's retry racing the first try), are all
// handled exactly once, while logins go on; their latency is compared with
// logins alone. A build tag keeps it out of make test:
//
//	go test -tags burst -run TestPush_Burst -v ./e2e/
func TestPush_Burst(t *testing.T) {
	const users, pushes, workers = 500, 1000, 64
	ts := startPush(t, apptest.WithLogOutput(io.Discard), apptest.WithConfig(func(c *app.Config) { c.DBMaxConns = 20 }))
	ctx := context.Background()
	run := time.Now().UnixNano()
	name := func(i int) string { return fmt.Sprintf("burst-%d-%d", run, i) }
	var ids []string
	for i := range users {
		p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, name(i))})
		ids = append(ids, p.User.ID)
	}
	for i, id := range ids {
		if _, err := ts.Store().DB().ExecContext(ctx, `UPDATE users SET nickname = 'n', avatar_url = 'https://thirdwx.qlogo.cn/x', phone = ?, phone_country_code = '86' WHERE id = ?`,
			fmt.Sprintf("+8619600%06d", i), id); err != nil {
			t.Fatal(err)
		}
	}
	// Two events per user: a phone revoke and a platform clean-up.
	var all []*wechattest.Push
	for i := range users {
		for _, ev := range []string{wechat.EventAuthorizationRevoke, wechat.EventUserInfoModified} {
			all = append(all, makePush(t, ts, apptest.AppID, name(i), ev, wechattest.PushOptions{}, func(m *wechat.PushMessage) {
				if ev == wechat.EventAuthorizationRevoke {
					m.RevokeInfo = "8"
				}
			}))
		}
	}
	if len(all) != pushes {
		t.Fatal(len(all))
	}

	loginLatency := func(stop <-chan struct{}, n int) []time.Duration {
		var out []time.Duration
		for i := 0; stop != nil || i < n; i++ {
			if stop != nil {
				select {
				case <-stop:
					return out
				default:
				}
			}
			code := ts.Code(t, fmt.Sprintf("burst-login-%d-%d", run, i%50))
			start := time.Now()
			ts.MustLogin(t, map[string]any{"code": code})
			out = append(out, time.Since(start))
		}
		return out
	}
	alone := loginLatency(nil, 200)

	stop := make(chan struct{})
	during := make(chan []time.Duration)
	go func() { during <- loginLatency(stop, 0) }()
	var next atomic.Int64
	var failed, retries atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	var perPush sync.Map
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= pushes {
					return
				}
				// Both deliveries at once.
				var inner sync.WaitGroup
				t0 := time.Now()
				for range 2 {
					inner.Go(func() {
						// As WeChat: up to three retries of an answer that is not success.
						for try := range 4 {
							req, _ := http.NewRequest(http.MethodPost, all[i].URL(ts.URL()), bytes.NewReader(all[i].Body))
							resp, err := http.DefaultClient.Do(req)
							if err == nil {
								b, _ := io.ReadAll(resp.Body)
								resp.Body.Close()
								if resp.StatusCode == 200 && string(b) == "success" {
									return
								}
							}
							retries.Add(1)
							if try == 3 {
								failed.Add(1)
								return
							}
							time.Sleep(time.Second)
						}
					})
				}
				inner.Wait()
				perPush.Store(i, time.Since(t0))
			}
		})
	}
	wg.Wait()
	burst := time.Since(start)
	close(stop)
	loginsDuring := <-during

	if failed.Load() != 0 {
		t.Fatalf("%d deliveries not answered success", failed.Load())
	}
	var recs, audits int
	_ = ts.Store().DB().QueryRowContext(ctx, `SELECT count(*) FROM wechat_pushes WHERE user_id = ANY(?::uuid[])`, pgArray(ids)).Scan(&recs)
	_ = ts.Store().DB().QueryRowContext(ctx, `SELECT count(*) FROM audit_log WHERE actor_kind = 'wechat' AND target = ANY(?::text[])`, pgArray(ids)).Scan(&audits)
	var left int
	_ = ts.Store().DB().QueryRowContext(ctx, `SELECT count(*) FROM users WHERE id = ANY(?::uuid[]) AND (phone IS NOT NULL OR nickname IS NOT NULL OR avatar_url IS NOT NULL)`, pgArray(ids)).Scan(&left)
	if recs != pushes || audits != pushes || left != 0 {
		t.Fatalf("records %d, audit rows %d, users with data left %d; want %d, %d, 0", recs, audits, left, pushes, pushes)
	}
	var lat []time.Duration
	perPush.Range(func(_, v any) bool { lat = append(lat, v.(time.Duration)); return true })
	t.Logf("%d pushes (%d deliveries, %d workers, %d answers retried) in %v: %.0f pushes/s; per push (both deliveries) p50 %v p99 %v max %v",
		pushes, 2*pushes, workers, retries.Load(), burst.Round(time.Millisecond), float64(pushes)/burst.Seconds(), pct(lat, 50), pct(lat, 99), pct(lat, 100))
	t.Logf("logins alone: n=%d p50 %v p99 %v; during the burst: n=%d p50 %v p99 %v max %v",
		len(alone), pct(alone, 50), pct(alone, 99), len(loginsDuring), pct(loginsDuring, 50), pct(loginsDuring, 99), pct(loginsDuring, 100))
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s) - 1) * p / 100
	return s[i].Round(10 * time.Microsecond)
}

func pgArray(ids []string) string {
	b := []byte("{")
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, id...)
	}
	return string(append(b, '}'))
}
