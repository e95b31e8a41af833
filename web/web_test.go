package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestAdmin_ServesAppAndRoutes(t *testing.T) {
	t.Parallel()
	h := Admin()
	index := get(t, h, "GET", "/admin/", nil)
	if index.Code != 200 || !strings.Contains(index.Body.String(), "<!doctype html>") {
		t.Fatalf("GET /admin/ = %d %q", index.Code, index.Body.String())
	}
	// A client-side route gets the same app.
	route := get(t, h, "GET", "/admin/users/0b8f1c1e-0000-4000-8000-000000000000", nil)
	if route.Code != 200 || route.Body.String() != index.Body.String() {
		t.Fatalf("client route = %d", route.Code)
	}
	// A missing file is a plain 404, not the app (a broken script tag must
	// not silently load HTML).
	if w := get(t, h, "GET", "/admin/missing.js", nil); w.Code != 404 {
		t.Fatalf("missing file = %d, want 404", w.Code)
	}
	if w := get(t, h, "POST", "/admin/", nil); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST = %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
	csp := index.Header().Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("admin CSP allows inline or eval: %q", csp)
	}
}

// Avatars load from the sources the server names, and no other https host.
func TestAdmin_ImagesOnlyFromNamedSources(t *testing.T) {
	t.Parallel()
	csp := get(t, Admin("https://cdn.example.com", "https://thirdwx.qlogo.cn"), "GET", "/admin/", nil).Header().Get("Content-Security-Policy")
	var img string
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "img-src" {
			img = strings.Join(f[1:], " ")
		}
	}
	if want := "'self' data: https://cdn.example.com https://thirdwx.qlogo.cn"; img != want {
		t.Errorf("img-src %q, want %q (CSP %q)", img, want, csp)
	}
}

func TestSite_ETagAndGzip(t *testing.T) {
	t.Parallel()
	h := Admin()
	first := get(t, h, "GET", "/admin/", nil)
	etag := first.Header().Get("ETag")
	if etag == "" || first.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q Cache-Control %q", etag, first.Header().Get("Cache-Control"))
	}
	if w := get(t, h, "GET", "/admin/", map[string]string{"If-None-Match": `"x", ` + etag}); w.Code != 304 || w.Body.Len() != 0 {
		t.Fatalf("If-None-Match = %d with %d bytes, want 304", w.Code, w.Body.Len())
	}
	if w := get(t, h, "GET", "/admin/", map[string]string{"If-None-Match": `"stale"`}); w.Code != 200 {
		t.Fatalf("stale If-None-Match = %d, want 200", w.Code)
	}
	// The largest file (the vendored GraphiQL) is worth compressing; gzip
	// must round-trip to it.
	h = Playground()
	var name string
	var size int
	for n, a := range h.(*site).assets {
		if a.gz != nil && len(a.body) > size {
			name, size = n, len(a.body)
		}
	}
	if size < 100<<10 {
		t.Fatalf("the largest compressed file is %s, %d bytes: where is GraphiQL?", name, size)
	}
	w := get(t, h, "GET", "/playground/"+name, map[string]string{"Accept-Encoding": "br, gzip"})
	if w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("%s not gzipped", name)
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	if len(b) != size {
		t.Fatalf("gunzipped %d bytes, want %d", len(b), size)
	}
	for _, refused := range []string{"gzip;q=0", "gzip; q=0.000", "br, gzip;q=0.0000"} {
		if w := get(t, h, "GET", "/playground/"+name, map[string]string{"Accept-Encoding": refused}); w.Header().Get("Content-Encoding") != "" {
			t.Fatalf("gzip sent though %q refused it", refused)
		}
	}
	// The two bodies have their own ETags, and each revalidates only itself.
	plain := get(t, h, "GET", "/playground/"+name, nil).Header().Get("ETag")
	zipped := w.Header().Get("ETag")
	if plain == zipped {
		t.Fatalf("plain and gzipped bodies share the ETag %s", plain)
	}
	if r := get(t, h, "GET", "/playground/"+name, map[string]string{"If-None-Match": zipped}); r.Code != 200 {
		t.Fatalf("the gzipped body's ETag revalidated the plain one: %d", r.Code)
	}
	if r := get(t, h, "GET", "/playground/"+name, map[string]string{"If-None-Match": zipped, "Accept-Encoding": "gzip"}); r.Code != 304 {
		t.Fatalf("the gzipped body's ETag = %d, want 304", r.Code)
	}
}
