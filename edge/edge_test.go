package edge

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func mustProxies(t *testing.T, s string) Proxies {
	t.Helper()
	p, err := ParseProxies(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseProxies(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"", " ", "10.0.0.0/8,127.0.0.1", "::1, fd00::/8", "192.168.1.7/32"} {
		if _, err := ParseProxies(ok); err != nil {
			t.Errorf("ParseProxies(%q) = %v", ok, err)
		}
	}
	for in, want := range map[string]string{
		"10.0.0.1/8":      "write 10.0.0.0/8",
		"10.0.0.0/33":     "not an IP address",
		"10.0.0.0/8,":     "entry 2 is empty",
		"example.com":     "not an IP address",
		"0.0.0.0/0":       "trusts every address",
		"::/0":            "trusts every address",
		"::ffff:10.0.0.1": "IPv4 form",
		"fe80::1%eth0":    "not an IP address",
		"10.0.0.01":       "not an IP address",
		strings.Repeat("10.0.0.1,", 64) + "1.2.3.4": "at most 64",
	} {
		_, err := ParseProxies(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseProxies(%.40q) = %v, want an error saying %q", in, err, want)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	p := mustProxies(t, "10.0.0.0/8,127.0.0.1,fd00::/8")
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer: XFF ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"untrusted peer in IPv4-mapped form", "[::ffff:203.0.113.9]:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer, no XFF: the peer", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"trusted peer: the client it saw", "127.0.0.1:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted peer in IPv4-mapped form", "[::ffff:127.0.0.1]:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed left-most entries ignored", "127.0.0.1:5000", []string{"1.1.1.1, 10.9.9.9, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops skipped from the right", "127.0.0.1:5000", []string{"1.1.1.1, 198.51.100.1, 10.0.0.7, 10.0.0.8"}, "198.51.100.1"},
		{"several headers are one list", "127.0.0.1:5000", []string{"1.1.1.1, 198.51.100.1", "10.0.0.7", "", "10.0.0.8"}, "198.51.100.1"},
		{"ports and brackets stripped", "127.0.0.1:5000", []string{"1.1.1.1, [2001:db8::5]:443"}, "2001:db8::5"},
		{"IPv4 with a port", "127.0.0.1:5000", []string{"198.51.100.1:1234"}, "198.51.100.1"},
		{"IPv4-mapped hop normalized", "127.0.0.1:5000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"IPv6 peer and hops", "[fd00::1]:5000", []string{"2001:db8::9, fd00::2"}, "2001:db8::9"},
		{"malformed right-most: the peer", "127.0.0.1:5000", []string{"198.51.100.1, unknown"}, "127.0.0.1"},
		{"malformed after a trusted hop: that hop", "127.0.0.1:5000", []string{"198.51.100.1, garbage, 10.0.0.7"}, "10.0.0.7"},
		{"empty entry is malformed", "127.0.0.1:5000", []string{"198.51.100.1,,10.0.0.7"}, "10.0.0.7"},
		{"zone is malformed", "127.0.0.1:5000", []string{"fe80::1%eth0"}, "127.0.0.1"},
		{"bad port is malformed", "127.0.0.1:5000", []string{"198.51.100.1:99999"}, "127.0.0.1"},
		{"bracketed IPv4 is malformed", "127.0.0.1:5000", []string{"[198.51.100.1]"}, "127.0.0.1"},
		{"all trusted: the left-most trusted", "127.0.0.1:5000", []string{"10.0.0.5, 10.0.0.6"}, "10.0.0.5"},
		{"too many trusted hops: stop", "127.0.0.1:5000", []string{"198.51.100.1," + strings.Repeat("10.0.0.1,", 30) + "10.0.0.2"}, "10.0.0.1"},
		{"huge hop refused", "127.0.0.1:5000", []string{strings.Repeat("1", 10000)}, "127.0.0.1"},
		{"not an IP socket", "@", []string{"198.51.100.1"}, "invalid IP"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := p.Resolve(r).IP.String(); got != tc.want {
			t.Errorf("%s: %s %q → %s, want %s", tc.name, tc.peer, tc.xff, got, tc.want)
		}
	}
}

func TestResolveHTTPS(t *testing.T) {
	t.Parallel()
	p := mustProxies(t, "127.0.0.1")
	for _, tc := range []struct {
		name, peer string
		tls        bool
		xfp        []string
		want       bool
	}{
		{"plain http", "127.0.0.1:1", false, nil, false},
		{"our own TLS", "203.0.113.9:1", true, nil, true},
		{"untrusted peer says https", "203.0.113.9:1", false, []string{"https"}, false},
		{"trusted peer says https", "127.0.0.1:1", false, []string{"HTTPS"}, true},
		{"trusted peer says http", "127.0.0.1:1", false, []string{"http"}, false},
		{"the nearest proxy's word counts", "127.0.0.1:1", false, []string{"https", "http"}, false},
		{"the nearest proxy's word counts (list)", "127.0.0.1:1", false, []string{"http, https"}, true},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.peer
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		for _, v := range tc.xfp {
			r.Header.Add("X-Forwarded-Proto", v)
		}
		if got := p.Resolve(r).HTTPS; got != tc.want {
			t.Errorf("%s: HTTPS = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestClientIPWithoutHandler(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "[::ffff:198.51.100.1]:9"
	r.Header.Set("X-Forwarded-For", "1.1.1.1")
	if got := ClientIP(r); got != "198.51.100.1" {
		t.Fatalf("ClientIP = %q, want the socket's peer", got)
	}
	r.RemoteAddr = "not an address"
	if got := ClientIP(r); got != "" {
		t.Fatalf("ClientIP = %q, want empty", got)
	}
}

func TestHandlerHeaders(t *testing.T) {
	t.Parallel()
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		_, _ = w.Write([]byte("<p>hi</p>"))
	})
	mux := http.NewServeMux()
	mux.Handle("/page", page)
	var seen Client
	mux.HandleFunc("/who", func(w http.ResponseWriter, r *http.Request) { seen = ClientOf(r) })
	h := Handler(mustProxies(t, "192.0.2.0/24"), mux)

	get := func(path, peer string, hdr ...string) http.Header {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = peer
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result().Header
	}
	notFound := get("/nothing", "203.0.113.1:1")
	for k, v := range map[string]string{
		"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
		"Content-Security-Policy": DefaultCSP, "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Resource-Policy": "same-origin",
	} {
		if got := notFound.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("404 %s = %q, want %q", k, got, v)
		}
	}
	if got := notFound.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("HSTS over plain http: %q", got)
	}
	if got := get("/page", "203.0.113.1:1").Values("Content-Security-Policy"); !slices.Equal(got, []string{"default-src 'self'"}) {
		t.Errorf("a page's own CSP became %q", got)
	}
	if got := get("/who", "203.0.113.1:1", "X-Forwarded-Proto", "https").Get("Strict-Transport-Security"); got != "" {
		t.Errorf("HSTS for an untrusted peer's X-Forwarded-Proto: %q", got)
	}
	if got := get("/who", "192.0.2.5:1", "X-Forwarded-Proto", "https", "X-Forwarded-For", "198.51.100.4").Get("Strict-Transport-Security"); got != HSTS {
		t.Errorf("HSTS behind a trusted TLS proxy = %q", got)
	}
	if seen.IP.String() != "198.51.100.4" || !seen.HTTPS {
		t.Errorf("the handler saw %+v", seen)
	}
}

func TestParseOrigins(t *testing.T) {
	t.Parallel()
	got, err := ParseOrigins("https://Admin.Example.com/, http://localhost:5173, https://a.example.com:443, https://admin.example.com, http://[::1]:80")
	want := []string{"https://admin.example.com", "http://localhost:5173", "https://a.example.com", "http://[::1]"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ParseOrigins = %q, %v; want %q", got, err, want)
	}
	if got, err := ParseOrigins(""); err != nil || got != nil {
		t.Fatalf("empty = %q, %v", got, err)
	}
	for in, msg := range map[string]string{
		"*":                             "list exact origins",
		"https://a.example.com,*":       "entry 2 is *",
		"https://*.example.com":         "not an origin",
		"https://a.example.com/admin":   "not an origin",
		"https://a.example.com?x":       "not an origin",
		"https://u:p@a.example.com":     "not an origin",
		"ftp://a.example.com":           "not an origin",
		"a.example.com":                 "not an origin",
		"null":                          "not an origin",
		"https://a.example.com:99999":   "not an origin",
		"https://a.example.com:":        "not an origin",
		"https://a.example.com,":        "entry 2",
		strings.Repeat("http://a,", 65): "at most 64",
	} {
		if _, err := ParseOrigins(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseOrigins(%.40q) = %v, want an error saying %q", in, err, msg)
		} else if strings.Contains(in, "@") && strings.Contains(err.Error(), "u:p") {
			t.Errorf("ParseOrigins(%q) = %v: prints the credentials", in, err)
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept, Authorization") // as graph's transport does
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	})
	do := func(origins []string, method string, hdr ...string) *http.Response {
		r := httptest.NewRequest(method, "/graphql", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Add(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		CORS(origins, api).ServeHTTP(w, r)
		return w.Result()
	}
	allowed := []string{"https://admin.example.com"}
	preflight := func(origin string) []string {
		return []string{"Origin", origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type"}
	}

	resp := do(allowed, http.MethodOptions, preflight("https://admin.example.com")...)
	h := resp.Header
	if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://admin.example.com" ||
		h.Get("Access-Control-Allow-Methods") != "GET, POST" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") || h.Get("Access-Control-Max-Age") != "600" ||
		!hasVaryOrigin(h) || h.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("allowed preflight: %d %v", resp.StatusCode, h)
	}
	for _, origins := range [][]string{allowed, nil} {
		for _, o := range []string{"https://evil.example", "null", "https://admin.example.com.evil.example", "HTTPS://ADMIN.EXAMPLE.COM"} {
			resp := do(origins, http.MethodOptions, preflight(o)...)
			if resp.StatusCode != http.StatusForbidden || hasCORS(resp.Header) {
				t.Errorf("preflight from %s with %q allowed: %d %v", o, origins, resp.StatusCode, resp.Header)
			}
		}
	}
	if resp := do(allowed, http.MethodOptions, append(preflight("https://admin.example.com"), "Origin", "https://evil.example")...); resp.StatusCode != http.StatusForbidden || hasCORS(resp.Header) {
		t.Errorf("preflight with two Origins: %d %v", resp.StatusCode, resp.Header)
	}
	// OPTIONS that is no preflight is the API's to answer.
	if resp := do(allowed, http.MethodOptions, "Origin", "https://evil.example"); resp.StatusCode != http.StatusNoContent || hasCORS(resp.Header) {
		t.Errorf("plain OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}

	resp = do(allowed, http.MethodPost, "Origin", "https://admin.example.com")
	h = resp.Header
	if resp.StatusCode != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "https://admin.example.com" ||
		h.Get("Access-Control-Expose-Headers") != "X-Request-Id" || !hasVaryOrigin(h) || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Authorization") {
		t.Errorf("allowed POST: %d %v", resp.StatusCode, h)
	}
	resp = do(allowed, http.MethodPost, "Origin", "https://evil.example")
	if resp.StatusCode != http.StatusOK || hasCORS(resp.Header) || !hasVaryOrigin(resp.Header) {
		t.Errorf("disallowed POST (reaches the API, readable by no page): %d %v", resp.StatusCode, resp.Header)
	}
	if resp := do(allowed, http.MethodGet); !hasVaryOrigin(resp.Header) || hasCORS(resp.Header) {
		t.Errorf("GET without Origin: %v", resp.Header)
	}
	if resp := do(nil, http.MethodPost, "Origin", "https://evil.example"); hasCORS(resp.Header) || hasVaryOrigin(resp.Header) {
		t.Errorf("no CORS configured: %v", resp.Header)
	}
}

func hasVaryOrigin(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for _, t := range strings.Split(v, ",") {
			if strings.TrimSpace(t) == "Origin" {
				return true
			}
		}
	}
	return false
}

func hasCORS(h http.Header) bool {
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			return true
		}
	}
	return false
}
