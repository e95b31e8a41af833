package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/blob"
	"wxlogin/edge"
)

// Every answer carries the security headers, whoever writes it; pages and
// avatars keep the policies they set themselves.
func TestE2E_SecurityHeaders(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	key := strings.Repeat("ab", 32) + ".png"
	store, _ := blob.NewDir(ts.Config.AvatarDir)
	if err := store.Put(context.Background(), key, []byte("\x89PNG\r\n\x1a\n")); err != nil {
		t.Fatal(err)
	}
	common := map[string]string{
		"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
		csp, corp          string
	}{
		{"POST", "/graphql", `{"query":"{ __typename }"}`, 200, edge.DefaultCSP, "same-origin"},
		{"POST", "/graphql", `{"query":`, 400, edge.DefaultCSP, "same-origin"},
		{"PUT", "/graphql", "", 405, edge.DefaultCSP, "same-origin"},
		{"GET", "/healthz", "", 200, edge.DefaultCSP, "same-origin"},
		{"POST", "/healthz", "", 405, edge.DefaultCSP, "same-origin"},
		{"GET", "/readyz", "", 200, edge.DefaultCSP, "same-origin"},
		{"GET", "/no/such/path", "", 404, edge.DefaultCSP, "same-origin"},
		{"GET", "/admin", "", 200, "", "same-origin"}, // redirected to /admin/
		{"GET", "/admin/", "", 200, "", "same-origin"},
		{"GET", "/admin/missing.js", "", 404, "", "same-origin"},
		{"GET", "/avatars/" + strings.Repeat("cd", 32) + ".jpg", "", 404, edge.DefaultCSP, "same-origin"},
		{"GET", "/avatars/../../etc/passwd", "", 404, edge.DefaultCSP, "same-origin"},
		{"GET", "/avatars/" + key, "", 200, "default-src 'none'; sandbox", "cross-origin"},
	} {
		resp, body := ts.Fetch(t, tc.method, tc.path, tc.body, "X-Forwarded-Proto", "https")
		h := resp.Header
		name := tc.method + " " + tc.path
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %.80s, want %d", name, resp.StatusCode, body, tc.status)
		}
		for k, v := range common {
			if got := h.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, got, v)
			}
		}
		csp := h.Values("Content-Security-Policy")
		if len(csp) != 1 || (tc.csp != "" && csp[0] != tc.csp) || (tc.csp == "" && csp[0] == edge.DefaultCSP) {
			t.Errorf("%s: Content-Security-Policy = %q, want %q (empty: the page's own)", name, csp, tc.csp)
		}
		if got := h.Values("Cross-Origin-Resource-Policy"); len(got) != 1 || got[0] != tc.corp {
			t.Errorf("%s: Cross-Origin-Resource-Policy = %q, want %q", name, got, tc.corp)
		}
		// Plain http from a peer that is no trusted proxy: its
		// X-Forwarded-Proto does not count.
		if got := h.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("%s: Strict-Transport-Security over plain http = %q", name, got)
		}
	}
}

// HSTS is sent over TLS, ours or a trusted proxy's, and never otherwise.
func TestE2E_HSTS(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.TrustedProxies, _ = edge.ParseProxies("127.0.0.1") }))
	tlsSrv := httptest.NewUnstartedServer(ts.Handler())
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)

	for _, tc := range []struct {
		name   string
		client *http.Client
		base   string
		hdr    []string
		want   bool
	}{
		{"TLS", tlsSrv.Client(), tlsSrv.URL, nil, true},
		{"TLS, the proxy says http", tlsSrv.Client(), tlsSrv.URL, []string{"X-Forwarded-Proto", "http"}, true},
		{"trusted proxy says https", http.DefaultClient, ts.URL(), []string{"X-Forwarded-Proto", "https"}, true},
		{"trusted proxy says http", http.DefaultClient, ts.URL(), []string{"X-Forwarded-Proto", "http"}, false},
		{"plain http", http.DefaultClient, ts.URL(), nil, false},
	} {
		for _, path := range []string{"/graphql?query=%7B__typename%7D", "/healthz", "/nowhere", "/admin/"} {
			resp, _ := apptest.NewClient(tc.base, tc.client).Fetch(t, "GET", path, "", tc.hdr...)
			got := resp.Header.Values("Strict-Transport-Security")
			if tc.want && (len(got) != 1 || got[0] != "max-age=63072000; includeSubDomains") || !tc.want && len(got) != 0 {
				t.Errorf("%s, %s: Strict-Transport-Security = %q, want it: %v", tc.name, path, got, tc.want)
			}
		}
	}
}

// loginFrom logs user in with extra headers and returns the ip the audit
// log and the session recorded.
func loginFrom(ts *apptest.Server, t *testing.T, user string, hdr ...string) (audit, session string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": apptest.LoginMutation, "variables": map[string]any{"in": map[string]any{"code": ts.Code(t, user)}}})
	_, raw := ts.Fetch(t, "POST", "/graphql", string(body), hdr...)
	var out struct {
		Data struct {
			Login apptest.LoginPayload `json:"login"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil || out.Data.Login.Token == "" {
		t.Fatalf("login: %s", raw)
	}
	ts.AddToken(out.Data.Login.Token)
	db := ts.Store().DB()
	id := out.Data.Login.User.ID
	if err := db.QueryRowContext(context.Background(),
		"SELECT host(ip) FROM audit_log WHERE action IN ('user.create', 'user.login') AND target = ?", id).Scan(&audit); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(context.Background(), "SELECT host(ip) FROM sessions WHERE user_id = ?", id).Scan(&session); err != nil {
		t.Fatal(err)
	}
	return audit, session
}

// The client IP recorded is the socket's, unless the peer is a trusted
// proxy: then the right-most untrusted X-Forwarded-For hop.
func TestE2E_ClientIP(t *testing.T) {
	t.Parallel()
	direct := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.TrustedProxies, _ = edge.ParseProxies("10.0.0.0/8") }))
	behind := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.TrustedProxies, _ = edge.ParseProxies("127.0.0.1,10.0.0.0/8") }))
	for _, tc := range []struct {
		name string
		ts   *apptest.Server
		xff  []string
		want string
	}{
		{"untrusted peer's XFF ignored", direct, []string{"198.51.100.7"}, "127.0.0.1"},
		{"trusted proxy, no XFF", behind, nil, "127.0.0.1"},
		{"trusted proxy: its client", behind, []string{"198.51.100.7"}, "198.51.100.7"},
		{"spoofed left-most entries ignored", behind, []string{"6.6.6.6, 10.1.1.1, 198.51.100.8, 10.2.2.2"}, "198.51.100.8"},
		{"several headers", behind, []string{"6.6.6.6", "198.51.100.9:4711", "10.2.2.2"}, "198.51.100.9"},
		{"IPv6 hop", behind, []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"malformed hop: the last good one", behind, []string{"198.51.100.7, nonsense, 10.2.2.2"}, "10.2.2.2"},
		{"malformed right-most: the peer", behind, []string{"198.51.100.7, 300.1.1.1"}, "127.0.0.1"},
	} {
		var hdr []string
		for _, v := range tc.xff {
			hdr = append(hdr, "X-Forwarded-For", v)
		}
		audit, session := loginFrom(tc.ts, t, "ip-"+strings.ReplaceAll(tc.name, " ", "-"), hdr...)
		if audit != tc.want || session != tc.want {
			t.Errorf("%s: XFF %q recorded audit ip %s, session ip %s; want %s", tc.name, tc.xff, audit, session, tc.want)
		}
	}
}

// CORS answers only the configured origins, on /graphql.
func TestE2E_CORS(t *testing.T) {
	t.Parallel()
	const admin = "https://admin.example.com"
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.CORSOrigins = []string{admin} }))
	plain := apptest.Start(t)
	preflight := func(origin string) []string {
		return []string{"Origin", origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type"}
	}
	vary := func(h http.Header) string { return strings.Join(h.Values("Vary"), ", ") }

	resp, body := ts.Fetch(t, "OPTIONS", "/graphql", "", preflight(admin)...)
	h := resp.Header
	if resp.StatusCode != http.StatusNoContent || body != "" || h.Get("Access-Control-Allow-Origin") != admin ||
		h.Get("Access-Control-Allow-Methods") != "GET, POST" ||
		h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type, X-Request-Id, Traceparent, Tracestate, Apollographql-Client-Name, Apollographql-Client-Version, GraphQL-Require-Preflight, Apollo-Require-Preflight, X-Apollo-Operation-Name" ||
		h.Get("Access-Control-Max-Age") != "600" || !strings.Contains(vary(h), "Origin") ||
		h.Get("Access-Control-Allow-Credentials") != "" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("allowed preflight: %d %q %v", resp.StatusCode, body, h)
	}
	for _, s := range []*apptest.Server{ts, plain} {
		for _, o := range []string{"https://evil.example", "null", admin + ".evil.example", "http://admin.example.com"} {
			resp, body := s.Fetch(t, "OPTIONS", "/graphql", "", preflight(o)...)
			if resp.StatusCode != http.StatusForbidden || anyCORS(resp.Header) || !strings.Contains(body, `"code":"FORBIDDEN"`) {
				t.Errorf("preflight from %s: %d %q %v", o, resp.StatusCode, body, resp.Header)
			}
		}
	}
	// CORS is the API's: other paths answer no preflight.
	if resp, _ := ts.Fetch(t, "OPTIONS", "/healthz", "", preflight(admin)...); anyCORS(resp.Header) {
		t.Errorf("preflight to /healthz: %d %v", resp.StatusCode, resp.Header)
	}

	q := `{"query":"{ __typename }"}`
	resp, body = ts.Fetch(t, "POST", "/graphql", q, "Origin", admin)
	h = resp.Header
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Query") || h.Get("Access-Control-Allow-Origin") != admin ||
		h.Get("Access-Control-Expose-Headers") != "X-Request-Id" || !strings.Contains(vary(h), "Origin") ||
		!strings.Contains(vary(h), "Authorization") {
		t.Errorf("POST from the allowed origin: %d %q %v", resp.StatusCode, body, h)
	}
	// Another origin's request is served (same-origin POSTs carry Origin
	// too) but no page of that origin may read it.
	resp, body = ts.Fetch(t, "POST", "/graphql", q, "Origin", "https://evil.example")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Query") || anyCORS(resp.Header) || !strings.Contains(vary(resp.Header), "Origin") {
		t.Errorf("POST from another origin: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _ := plain.Fetch(t, "POST", "/graphql", q, "Origin", admin); anyCORS(resp.Header) {
		t.Errorf("POST without CORS_ORIGINS: %v", resp.Header)
	}
	// OPTIONS that is no preflight is still the transport's.
	if resp, _ := ts.Fetch(t, "OPTIONS", "/graphql", ""); resp.StatusCode != http.StatusNoContent || resp.Header.Get("Allow") == "" || anyCORS(resp.Header) {
		t.Errorf("plain OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}
}

func anyCORS(h http.Header) bool {
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			return true
		}
	}
	return false
}
