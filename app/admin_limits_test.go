package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"wxlogin/admin"
	"wxlogin/edge"
	"wxlogin/ratelimit"
)

// postFrom posts a GraphQL operation with extra headers (X-Forwarded-For,
// Cookie …) and returns the answer and the admin device cookie it set.
func (ts *testServer) postFrom(t *testing.T, query string, vars map[string]any, hdr ...string) (*gqlResponse, *http.Cookie) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, raw := ts.fetch(t, http.DefaultClient, ts.URL(), "POST", "/graphql", string(body), hdr...)
	out := &gqlResponse{raw: raw}
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		t.Fatalf("HTTP %d, body %s: %v", resp.StatusCode, raw, err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == admin.DeviceCookieName {
			return out, c
		}
	}
	return out, nil
}

const adminLoginMutation = `mutation($u: String!, $p: String!) { adminLogin(username: $u, password: $p) { token } }`

// adminLoginFrom signs in with extra headers; see postFrom.
func (ts *testServer) adminLoginFrom(t *testing.T, user, pw string, hdr ...string) (*gqlResponse, *http.Cookie) {
	t.Helper()
	return ts.postFrom(t, adminLoginMutation, map[string]any{"u": user, "p": pw}, hdr...)
}

// Ten wrong passwords for an admin from ten strangers' addresses used to
// lock the admin out. Over HTTP: the browser they signed in with holds a
// device cookie (HttpOnly, SameSite=Strict, /graphql only, Secure over
// https) and gets in; strangers, with the right password or a made-up
// cookie, stay RATE_LIMITED.
func TestAdmin_StrangersCannotLockOutTheAdmin(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.TrustedProxies, _ = edge.ParseProxies("127.0.0.1") })
	pw := mustAdmin(t, "lockout-boss", "admin")
	const home = "198.18.16.1"

	out, ck := ts.adminLoginFrom(t, "lockout-boss", pw, "X-Forwarded-For", home, "X-Forwarded-Proto", "https")
	if out.code() != "" || ck == nil {
		t.Fatalf("first sign-in: %s, cookie %v", out.raw, ck)
	}
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/graphql" || ck.Domain != "" ||
		ck.MaxAge != int(admin.DeviceTTL/time.Second) {
		t.Fatalf("device cookie over https: %s", ck.Raw)
	}
	if _, plain := ts.adminLoginFrom(t, "lockout-boss", pw, "X-Forwarded-For", home); plain == nil || plain.Secure {
		t.Fatalf("device cookie over plain http: %v (a Secure one would not be kept)", plain)
	}

	for i := range admin.MaxPerUsername {
		if out, _ := ts.adminLoginFrom(t, "lockout-boss", "a stranger's guess", "X-Forwarded-For", fmt.Sprintf("198.18.17.%d", i+1)); out.code() != "INVALID_CREDENTIALS" {
			t.Fatalf("stranger %d: %s", i+1, out.raw)
		}
	}
	off := []byte(ck.Value)
	off[10] = map[bool]byte{true: 'B', false: 'A'}[off[10] == 'A']
	for name, hdr := range map[string][]string{
		"a stranger, right password":         {"X-Forwarded-For", "198.18.17.100"},
		"a stranger with a made-up cookie":   {"X-Forwarded-For", "198.18.17.101", "Cookie", admin.DeviceCookieName + "=made-up"},
		"the admin on a browser without it":  {"X-Forwarded-For", home},
		"the cookie sent under another name": {"X-Forwarded-For", home, "Cookie", "device=" + ck.Value},
		"the cookie one character off":       {"X-Forwarded-For", home, "Cookie", admin.DeviceCookieName + "=" + string(off)},
	} {
		if out, set := ts.adminLoginFrom(t, "lockout-boss", pw, hdr...); out.code() != "RATE_LIMITED" || set != nil {
			t.Errorf("%s: %s (cookie %v), want RATE_LIMITED", name, out.raw, set)
		}
	}

	out, fresh := ts.adminLoginFrom(t, "lockout-boss", pw, "X-Forwarded-For", home, "Cookie", admin.DeviceCookieName+"="+ck.Value)
	if out.code() != "" || fresh == nil || fresh.Value == ck.Value {
		t.Fatalf("the admin with their device cookie: %s, cookie %v; want signed in with a fresh cookie", out.raw, fresh)
	}
}

// Every limiter groups addresses alike (ratelimit.ClientNet): IPv4 by
// address, IPv6 by /64. Addresses of one /64, through a trusted proxy,
// share one budget in the user login limiter and in adminLogin's.
func TestLimits_IPv6NetworkIsOneClientEverywhere(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) {
		c.TrustedProxies, _ = edge.ParseProxies("127.0.0.1")
		c.RateLimits.LoginPerIP = ratelimit.Limit{N: 3, Window: time.Minute}
	})
	const net = "2001:db8:6464:1:"
	login := func(user, ip string) string {
		out, _ := ts.postFrom(t, loginMutation, map[string]any{"in": map[string]any{"code": ts.code(t, user)}}, "X-Forwarded-For", ip)
		return out.code()
	}
	for i := range 3 {
		if c := login(fmt.Sprintf("v6-%d", i), fmt.Sprintf("%s%x::1", net, i)); c != "" {
			t.Fatalf("login %d: %s", i+1, c)
		}
	}
	if c := login("v6-3", net+"ffff::1"); c != "RATE_LIMITED" {
		t.Fatalf("a 4th address of the /64: login %s, want RATE_LIMITED", c)
	}
	if c := login("v6-4", "2001:db8:6464:2::1"); c != "" {
		t.Fatalf("the next /64: login %s", c)
	}

	checked := 0
	for i := range 70 {
		out, _ := ts.adminLoginFrom(t, fmt.Sprintf("v6-spray-%d", i), "guess", "X-Forwarded-For", fmt.Sprintf("%s%x::%x", net, i, i+1))
		switch out.code() {
		case "INVALID_CREDENTIALS":
			checked++
		case "RATE_LIMITED":
		default:
			t.Fatalf("adminLogin %d: %s", i+1, out.raw)
		}
	}
	if checked != admin.MaxPerIP {
		t.Fatalf("70 addresses of one /64 got %d password checks, want %d (one address's)", checked, admin.MaxPerIP)
	}
	if out, _ := ts.adminLoginFrom(t, "v6-spray-next", "guess", "X-Forwarded-For", "2001:db8:6464:2::2"); out.code() != "INVALID_CREDENTIALS" {
		t.Fatalf("the next /64: adminLogin %s", out.raw)
	}
}
