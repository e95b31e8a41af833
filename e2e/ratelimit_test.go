package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/ratelimit"
	"wxlogin/ratelimit/redistest"
	"wxlogin/wechat/wechattest"
)

// assertRateLimited checks a RATE_LIMITED answer with a retryAfter in
// whole seconds within (0, window].
func assertRateLimited(t *testing.T, resp *apptest.Response, window time.Duration) {
	t.Helper()
	if resp.Code() != "RATE_LIMITED" {
		t.Fatalf("want RATE_LIMITED, got %s", resp.Raw)
	}
	ra, ok := resp.Errors[0].Extensions["retryAfter"].(float64)
	if !ok || ra != float64(int(ra)) || ra < 1 || ra > window.Seconds() {
		t.Fatalf("retryAfter %v, want whole seconds in [1, %v]: %s", resp.Errors[0].Extensions["retryAfter"], window.Seconds(), resp.Raw)
	}
}

// Per client IP, before WeChat: two instances share the count, the refused
// login never reaches WeChat, and its code stays good for later.
func TestRateLimit_LoginPerIP(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	limit := ratelimit.Limit{N: 3, Window: time.Minute}
	limited := func(c *app.Config) { c.RateLimits.LoginPerIP = limit }
	a := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL), apptest.WithConfig(limited))
	b := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL), apptest.WithConfig(limited))
	a.MustLogin(t, map[string]any{"code": a.Code(t, "ip-1")})
	b.MustLogin(t, map[string]any{"code": b.Code(t, "ip-2")})
	a.MustLogin(t, map[string]any{"code": a.Code(t, "ip-3")})
	calls := sim.Calls(wechattest.PathCode2Session)

	code := b.Code(t, "ip-4")
	body, _ := json.Marshal(map[string]any{"query": apptest.LoginMutation, "variables": map[string]any{"in": map[string]any{"code": code}}})
	httpResp, err := http.Post(b.URL()+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	httpResp.Body.Close()
	if httpResp.StatusCode != http.StatusOK {
		t.Errorf("over the limit, application/json: HTTP %d, want 200", httpResp.StatusCode)
	}
	_, resp := b.Login(t, map[string]any{"code": code})
	assertRateLimited(t, resp, limit.Window)
	if !strings.Contains(resp.Errors[0].Message, "too many logins from this network") {
		t.Errorf("message %q", resp.Errors[0].Message)
	}
	if n := sim.Calls(wechattest.PathCode2Session); n != calls {
		t.Fatalf("WeChat was asked %d more times, want none", n-calls)
	}
	// The code was never spent: an instance without the limit logs in with it.
	free := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL))
	free.MustLogin(t, map[string]any{"code": code})
}

// Per openid, once WeChat has named the user: the refused login records no
// session, and other users are not held up.
func TestRateLimit_LoginPerOpenID(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	limit := ratelimit.Limit{N: 2, Window: time.Minute}
	ts := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL), apptest.WithConfig(func(c *app.Config) { c.RateLimits.LoginPerOpenID = limit }))
	p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "loop")})
	ts.MustLogin(t, map[string]any{"code": ts.Code(t, "loop")})
	calls := sim.Calls(wechattest.PathCode2Session)
	_, resp := ts.Login(t, map[string]any{"code": ts.Code(t, "loop")})
	assertRateLimited(t, resp, limit.Window)
	if !strings.Contains(resp.Errors[0].Message, "call wx.login() again") {
		t.Errorf("message %q", resp.Errors[0].Message)
	}
	if n := sim.Calls(wechattest.PathCode2Session); n != calls+1 {
		t.Fatalf("code2Session calls: %d more, want 1 (the openid is known only from WeChat)", n-calls)
	}
	n, err := ts.Store().DB().NewSelect().Table("sessions").Where("user_id = ?", p.User.ID).Count(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("sessions of the user: %d, %v; want 2: the refused login must record none", n, err)
	}
	ts.MustLogin(t, map[string]any{"code": ts.Code(t, "someone-else")})
}

// Per user, before WeChat's (billed) phone exchange.
func TestRateLimit_BindPhonePerUser(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	limit := ratelimit.Limit{N: 1, Window: time.Hour}
	ts := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL), apptest.WithConfig(func(c *app.Config) { c.RateLimits.BindPhonePerUser = limit }))
	for u, national := range map[string]string{"rl-phone-a": "13800138101", "rl-phone-b": "13800138102"} {
		if err := sim.SetPhone(u, "86", national); err != nil {
			t.Fatal(err)
		}
	}
	a := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "rl-phone-a")})
	if got, resp := bind(ts, t, a.Token, map[string]any{"code": phoneCode(ts, t, "rl-phone-a")}); got == "" {
		t.Fatalf("first bind: %s", resp.Raw)
	}
	calls := sim.Calls(wechattest.PathPhoneNumber)
	_, resp := bind(ts, t, a.Token, map[string]any{"code": phoneCode(ts, t, "rl-phone-a")})
	assertRateLimited(t, resp, limit.Window)
	if n := sim.Calls(wechattest.PathPhoneNumber); n != calls {
		t.Fatalf("WeChat's phone exchange asked %d more times, want none", n-calls)
	}
	// A malformed request is refused for what it is, uncounted.
	if _, resp := bind(ts, t, a.Token, map[string]any{"code": "no spaces allowed"}); resp.Code() != "BAD_USER_INPUT" {
		t.Fatalf("malformed code: %s", resp.Raw)
	}
	b := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "rl-phone-b")})
	if got, resp := bind(ts, t, b.Token, map[string]any{"code": phoneCode(ts, t, "rl-phone-b")}); got == "" {
		t.Fatalf("another user: %s", resp.Raw)
	}
}

// Per user, before the image is decoded.
func TestRateLimit_UploadAvatarPerUser(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	limit := ratelimit.Limit{N: 2, Window: time.Hour}
	ts := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL), apptest.WithConfig(func(c *app.Config) { c.RateLimits.UploadAvatarPerUser = limit }))
	tok := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "rl-avatar")}).Token
	if _, r := ts.Upload(t, tok, pngOf(64, 64), nil); len(r.Errors) > 0 {
		t.Fatalf("first upload: %s", r.Raw)
	}
	if _, r := ts.Upload(t, tok, []byte("not an image"), nil); r.Code() != "BAD_USER_INPUT" {
		t.Fatalf("a bad image counts too: %s", r.Raw)
	}
	// Over the limit, garbage is refused as RATE_LIMITED: it was never decoded.
	_, r := ts.Upload(t, tok, []byte("not an image"), nil)
	assertRateLimited(t, r, limit.Window)
	other := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "rl-avatar-2")}).Token
	if _, r := ts.Upload(t, other, pngOf(64, 64), nil); len(r.Errors) > 0 {
		t.Fatalf("another user: %s", r.Raw)
	}
}

// REDIS_URL: the limits live in Redis, shared by instances using it.
func TestRateLimit_Redis(t *testing.T) {
	t.Parallel()
	u := redistest.URL(t)
	prefix := redistest.Prefix(t, u)
	sim, appID, wxURL := phoneSim(t)
	limit := ratelimit.Limit{N: 2, Window: time.Minute}
	withRedis := func(c *app.Config) {
		c.RedisURL, c.RedisKeyPrefix = u, prefix
		c.RateLimits.LoginPerOpenID = limit
	}
	a := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL), apptest.WithConfig(withRedis))
	b := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL), apptest.WithConfig(withRedis))
	a.MustLogin(t, map[string]any{"code": a.Code(t, "redis-user")})
	b.MustLogin(t, map[string]any{"code": b.Code(t, "redis-user")})
	_, resp := a.Login(t, map[string]any{"code": a.Code(t, "redis-user")})
	assertRateLimited(t, resp, limit.Window)
	if !strings.Contains(a.Logs.String(), "rate limits kept in Redis") {
		t.Fatalf("log: %s", a.Logs.String())
	}
	// The count is in Redis, under the prefix, not in PostgreSQL.
	r, err := ratelimit.NewRedis(u, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d, err := r.Allow(context.Background(), ratelimit.Key("login:openid", appID+"/"+sim.OpenID(appID, "redis-user")), limit)
	if err != nil || d.Count != 4 {
		t.Fatalf("the Redis counter after 3 logins and this hit: %+v, %v; want count 4", d, err)
	}
}

// A Redis that is down takes no login down: limits fail open, with a WARN.
func TestRateLimit_RedisDownFailsOpen(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	ts := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL), apptest.WithConfig(func(c *app.Config) {
		c.RedisURL = "redis://:hunter2-redis-password@127.0.0.1:1/0" // nothing listens on port 1
		c.RateLimits = app.RateLimits{LoginPerIP: ratelimit.Limit{N: 1, Window: time.Minute}, LoginPerOpenID: ratelimit.Limit{N: 1, Window: time.Minute}}
	}))
	for range 3 {
		start := time.Now()
		ts.MustLogin(t, map[string]any{"code": ts.Code(t, "redis-down")})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("a login took %v with Redis down", d)
		}
	}
	logs := ts.Logs.String()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "failing open") || !strings.Contains(logs, "does not answer") {
		t.Fatalf("want WARNs at start and on use, log: %s", logs)
	}
	if strings.Contains(logs, "hunter2") {
		t.Fatal("the log holds REDIS_URL's password")
	}
}
