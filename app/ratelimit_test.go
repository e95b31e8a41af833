package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"wxlogin/ratelimit"
	"wxlogin/ratelimit/redistest"
	"wxlogin/wechat/wechattest"
)

// assertRateLimited checks a RATE_LIMITED answer with a retryAfter in
// whole seconds within (0, window].
func assertRateLimited(t *testing.T, resp *gqlResponse, window time.Duration) {
	t.Helper()
	if resp.code() != "RATE_LIMITED" {
		t.Fatalf("want RATE_LIMITED, got %s", resp.raw)
	}
	ra, ok := resp.Errors[0].Extensions["retryAfter"].(float64)
	if !ok || ra != float64(int(ra)) || ra < 1 || ra > window.Seconds() {
		t.Fatalf("retryAfter %v, want whole seconds in [1, %v]: %s", resp.Errors[0].Extensions["retryAfter"], window.Seconds(), resp.raw)
	}
}

// Per client IP, before WeChat: two instances share the count, the refused
// login never reaches WeChat, and its code stays good for later.
func TestRateLimit_LoginPerIP(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	limit := ratelimit.Limit{N: 3, Window: time.Minute}
	limited := func(c *Config) { c.RateLimits.LoginPerIP = limit }
	a := startWith(t, sim, appID, wxURL, limited)
	b := startWith(t, sim, appID, wxURL, limited)
	mustLogin(t, a, map[string]any{"code": a.code(t, "ip-1")})
	mustLogin(t, b, map[string]any{"code": b.code(t, "ip-2")})
	mustLogin(t, a, map[string]any{"code": a.code(t, "ip-3")})
	calls := sim.Calls(wechattest.PathCode2Session)

	code := b.code(t, "ip-4")
	body, _ := json.Marshal(map[string]any{"query": loginMutation, "variables": map[string]any{"in": map[string]any{"code": code}}})
	httpResp, err := http.Post(b.URL()+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	httpResp.Body.Close()
	if httpResp.StatusCode != http.StatusOK {
		t.Errorf("over the limit, application/json: HTTP %d, want 200", httpResp.StatusCode)
	}
	_, resp := b.login(t, map[string]any{"code": code})
	assertRateLimited(t, resp, limit.Window)
	if !strings.Contains(resp.Errors[0].Message, "too many logins from this network") {
		t.Errorf("message %q", resp.Errors[0].Message)
	}
	if n := sim.Calls(wechattest.PathCode2Session); n != calls {
		t.Fatalf("WeChat was asked %d more times, want none", n-calls)
	}
	// The code was never spent: an instance without the limit logs in with it.
	free := startWith(t, sim, appID, wxURL, nil)
	mustLogin(t, free, map[string]any{"code": code})
}

// Per openid, once WeChat has named the user: the refused login records no
// session, and other users are not held up.
func TestRateLimit_LoginPerOpenID(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	limit := ratelimit.Limit{N: 2, Window: time.Minute}
	ts := startWith(t, sim, appID, wxURL, func(c *Config) { c.RateLimits.LoginPerOpenID = limit })
	p := mustLogin(t, ts, map[string]any{"code": ts.code(t, "loop")})
	mustLogin(t, ts, map[string]any{"code": ts.code(t, "loop")})
	calls := sim.Calls(wechattest.PathCode2Session)
	_, resp := ts.login(t, map[string]any{"code": ts.code(t, "loop")})
	assertRateLimited(t, resp, limit.Window)
	if !strings.Contains(resp.Errors[0].Message, "call wx.login() again") {
		t.Errorf("message %q", resp.Errors[0].Message)
	}
	if n := sim.Calls(wechattest.PathCode2Session); n != calls+1 {
		t.Fatalf("code2Session calls: %d more, want 1 (the openid is known only from WeChat)", n-calls)
	}
	n, err := ts.store.DB().NewSelect().Table("sessions").Where("user_id = ?", p.User.ID).Count(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("sessions of the user: %d, %v; want 2: the refused login must record none", n, err)
	}
	mustLogin(t, ts, map[string]any{"code": ts.code(t, "someone-else")})
}

// Per user, before WeChat's (billed) phone exchange.
func TestRateLimit_BindPhonePerUser(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	limit := ratelimit.Limit{N: 1, Window: time.Hour}
	ts := startWith(t, sim, appID, wxURL, func(c *Config) { c.RateLimits.BindPhonePerUser = limit })
	for u, national := range map[string]string{"rl-phone-a": "13800138101", "rl-phone-b": "13800138102"} {
		if err := sim.SetPhone(u, "86", national); err != nil {
			t.Fatal(err)
		}
	}
	a := mustLogin(t, ts, map[string]any{"code": ts.code(t, "rl-phone-a")})
	if got, resp := ts.bind(t, a.Token, map[string]any{"code": ts.phoneCode(t, "rl-phone-a")}); got == "" {
		t.Fatalf("first bind: %s", resp.raw)
	}
	calls := sim.Calls(wechattest.PathPhoneNumber)
	_, resp := ts.bind(t, a.Token, map[string]any{"code": ts.phoneCode(t, "rl-phone-a")})
	assertRateLimited(t, resp, limit.Window)
	if n := sim.Calls(wechattest.PathPhoneNumber); n != calls {
		t.Fatalf("WeChat's phone exchange asked %d more times, want none", n-calls)
	}
	// A malformed request is refused for what it is, uncounted.
	if _, resp := ts.bind(t, a.Token, map[string]any{"code": "no spaces allowed"}); resp.code() != "BAD_USER_INPUT" {
		t.Fatalf("malformed code: %s", resp.raw)
	}
	b := mustLogin(t, ts, map[string]any{"code": ts.code(t, "rl-phone-b")})
	if got, resp := ts.bind(t, b.Token, map[string]any{"code": ts.phoneCode(t, "rl-phone-b")}); got == "" {
		t.Fatalf("another user: %s", resp.raw)
	}
}

// Per user, before the image is decoded.
func TestRateLimit_UploadAvatarPerUser(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	limit := ratelimit.Limit{N: 2, Window: time.Hour}
	ts := startWith(t, sim, appID, wxURL, func(c *Config) { c.RateLimits.UploadAvatarPerUser = limit })
	tok := mustLogin(t, ts, map[string]any{"code": ts.code(t, "rl-avatar")}).Token
	if _, r := ts.upload(t, tok, pngOf(64, 64), nil); len(r.Errors) > 0 {
		t.Fatalf("first upload: %s", r.raw)
	}
	if _, r := ts.upload(t, tok, []byte("not an image"), nil); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("a bad image counts too: %s", r.raw)
	}
	// Over the limit, garbage is refused as RATE_LIMITED: it was never decoded.
	_, r := ts.upload(t, tok, []byte("not an image"), nil)
	assertRateLimited(t, r, limit.Window)
	other := mustLogin(t, ts, map[string]any{"code": ts.code(t, "rl-avatar-2")}).Token
	if _, r := ts.upload(t, other, pngOf(64, 64), nil); len(r.Errors) > 0 {
		t.Fatalf("another user: %s", r.raw)
	}
}

// REDIS_URL: the limits live in Redis, shared by instances using it.
func TestRateLimit_Redis(t *testing.T) {
	t.Parallel()
	u := redistest.URL(t)
	prefix := redistest.Prefix(t, u)
	sim, appID, wxURL := phoneSim(t)
	limit := ratelimit.Limit{N: 2, Window: time.Minute}
	withRedis := func(c *Config) {
		c.RedisURL, c.RedisKeyPrefix = u, prefix
		c.RateLimits.LoginPerOpenID = limit
	}
	a := startWith(t, sim, appID, wxURL, withRedis)
	b := startWith(t, sim, appID, wxURL, withRedis)
	mustLogin(t, a, map[string]any{"code": a.code(t, "redis-user")})
	mustLogin(t, b, map[string]any{"code": b.code(t, "redis-user")})
	_, resp := a.login(t, map[string]any{"code": a.code(t, "redis-user")})
	assertRateLimited(t, resp, limit.Window)
	if !strings.Contains(a.logs.String(), "rate limits kept in Redis") {
		t.Fatalf("log: %s", a.logs.String())
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
	ts := startWith(t, sim, appID, wxURL, func(c *Config) {
		c.RedisURL = "redis://:hunter2-redis-password@127.0.0.1:1/0" // nothing listens on port 1
		c.RateLimits = RateLimits{LoginPerIP: ratelimit.Limit{N: 1, Window: time.Minute}, LoginPerOpenID: ratelimit.Limit{N: 1, Window: time.Minute}}
	})
	for range 3 {
		start := time.Now()
		mustLogin(t, ts, map[string]any{"code": ts.code(t, "redis-down")})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("a login took %v with Redis down", d)
		}
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "failing open") || !strings.Contains(logs, "does not answer") {
		t.Fatalf("want WARNs at start and on use, log: %s", logs)
	}
	if strings.Contains(logs, "hunter2") {
		t.Fatal("the log holds REDIS_URL's password")
	}
}

func TestParseConfig_RateLimits(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://localhost/x", "DEV_WECHAT": "1"}
	c, err := parseConfig("t", nil, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := RateLimits{
		LoginPerIP:          ratelimit.Limit{N: 600, Window: time.Minute},
		LoginPerOpenID:      ratelimit.Limit{N: 30, Window: 10 * time.Minute},
		BindPhonePerUser:    ratelimit.Limit{N: 10, Window: time.Hour},
		UploadAvatarPerUser: ratelimit.Limit{N: 20, Window: time.Hour},
	}
	if c.RateLimits != want || c.RedisURL != "" || c.RedisKeyPrefix != ratelimit.DefaultRedisPrefix {
		t.Fatalf("defaults: %+v, redis %q %q", c.RateLimits, c.RedisURL, c.RedisKeyPrefix)
	}
	with := func(k, v string) map[string]string {
		m := maps.Clone(env)
		m[k] = v
		return m
	}
	c, err = parseConfig("t", nil, envOf(with("RATE_LOGIN_PER_IP", "off")), io.Discard)
	if err != nil || !c.RateLimits.LoginPerIP.Off() {
		t.Fatalf("off: %+v, %v", c.RateLimits, err)
	}
	c, err = parseConfig("t", []string{"-redis-url", "rediss://:pw@redis.example.com:6380/2"}, envOf(env), io.Discard)
	if err != nil || c.RedisURL == "" {
		t.Fatalf("rediss: %v", err)
	}
	for k, v := range map[string]string{
		"RATE_LOGIN_PER_IP":           "lots",
		"RATE_LOGIN_PER_OPENID":       "0/1m",
		"RATE_BIND_PHONE_PER_USER":    "10/100ms",
		"RATE_UPLOAD_AVATAR_PER_USER": "10",
		"REDIS_URL":                   "http://:hunter2@127.0.0.1:6379",
	} {
		_, err := parseConfig("t", nil, envOf(with(k, v)), io.Discard)
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v, want an error naming it", k, v, err)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error quotes a password: %v", k, err)
		}
	}
	_, err = parseConfig("t", nil, envOf(with("REDIS_URL", "redis://:hunter2@127.0.0.1:6379/x")), io.Discard)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a bad database number: %v", err)
	}
}
