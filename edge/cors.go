package edge

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// CORS answers for the API to the CORS_ORIGINS browser origins.
//
// Mini programs do not need it (wx.request is no browser) and the admin
// dashboard is same-origin, so the list is empty by default. Only exact
// origins are allowed, never "*": bearer tokens are no cookies, but a
// refused preflight is what keeps any site from sending the
// PreflightHeaders, and "*" would let every page a user
// visits read an intranet deployment's public answers.
const (
	corsMethods = "GET, POST"
	// corsMaxAge lets a browser skip the preflight for ten minutes.
	corsMaxAge = "600"
	// corsExpose are response headers a page's script may read.
	corsExpose = "X-Request-Id"
)

// PreflightHeaders are the headers of which a multipart request to
// /graphql must carry one (gqlhttp reads them from here): a cross-site
// <form> can send multipart/form-data without a preflight, but none of
// these, so one proves the request came from a client the browser let
// through. GraphQL-Require-Preflight is the spec's, the other two Apollo's
// (apollo-upload-client documents Apollo-Require-Preflight: true).
var PreflightHeaders = []string{"GraphQL-Require-Preflight", "Apollo-Require-Preflight", "X-Apollo-Operation-Name"}

// RequestHeaders are the request headers a browser page may send to
// /graphql: every header the server reads (the bearer token, JSON's or
// multipart's Content-Type, the preflight guards, the client's request id,
// the W3C trace context) and the ones Apollo Client sends unasked
// (clientAwareness' name and version), which the server ignores but a
// refused preflight would stop the request for. A header missing here
// makes the browser refuse the whole request, so edge/cors_test.go holds
// it to every header the packages on /graphql's path read.
var RequestHeaders = append([]string{"Authorization", "Content-Type", "X-Request-Id",
	"Traceparent", "Tracestate", "Apollographql-Client-Name", "Apollographql-Client-Version"}, PreflightHeaders...)

// corsHeaders is RequestHeaders as Access-Control-Allow-Headers says them.
var corsHeaders = strings.Join(RequestHeaders, ", ")

// maxOrigins bounds CORS_ORIGINS.
const maxOrigins = 64

// ParseOrigins reads a comma-separated list of origins
// ("https://admin.example.com,http://localhost:5173"), each a scheme of
// http or https and a host with an optional port, nothing else; empty
// allows none. They are kept as browsers send them in Origin: lowercase,
// without a default port or a trailing slash.
func ParseOrigins(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	entries := strings.Split(s, ",")
	if len(entries) > maxOrigins {
		return nil, fmt.Errorf("lists %d origins, at most %d", len(entries), maxOrigins)
	}
	var out []string
	seen := map[string]bool{}
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if e == "*" {
			return nil, fmt.Errorf("entry %d is *: list exact origins like https://admin.example.com", i+1)
		}
		u, err := url.Parse(strings.TrimSuffix(e, "/"))
		if e == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" || strings.Contains(u.Host, "*") ||
			(u.Port() != "" && !validPort(u.Port())) || strings.HasSuffix(u.Host, ":") {
			shown := fmt.Sprintf(" (%q)", e)
			if strings.Contains(e, "@") {
				shown = "" // it may hold a password
			}
			return nil, fmt.Errorf("entry %d%s is not an origin like https://admin.example.com (scheme and host, optional port, no path, credentials or wildcard)", i+1, shown)
		}
		host := strings.ToLower(u.Host)
		if u.Port() == map[string]string{"https": "443", "http": "80"}[u.Scheme] {
			host = strings.TrimSuffix(host, ":"+u.Port())
		}
		o := u.Scheme + "://" + host
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out, nil
}

// CORS wraps the API handler next. A preflight (OPTIONS with Origin and
// Access-Control-Request-Method) from an allowed origin is answered 204
// with the methods and headers allowed; from any other origin, 403 with no
// CORS header, so the browser sends nothing. Other requests always reach
// next — same-origin POSTs carry an Origin too, and a browser enforces CORS
// on reading, not sending — and from an allowed origin get
// Access-Control-Allow-Origin echoing it. With origins configured, every
// answer says Vary: Origin.
func CORS(origins []string, next http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, o := range origins {
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		origins := r.Header.Values("Origin")
		origin, ok := "", false
		if len(origins) == 1 {
			origin, ok = origins[0], allowed[origins[0]]
		}
		if r.Method == http.MethodOptions && len(origins) > 0 && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Origin")
			if !ok {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"errors":[{"message":"this origin may not call the API from a browser","extensions":{"code":"FORBIDDEN"}}]}`))
				return
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if ok {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", corsExpose)
		}
		if len(allowed) > 0 {
			// The handler may Set its own Vary: add Origin as it answers.
			w = &varyWriter{ResponseWriter: w}
		}
		next.ServeHTTP(w, r)
	})
}

// varyWriter adds Origin to the Vary header when the response starts.
type varyWriter struct {
	http.ResponseWriter
	started bool
}

func (w *varyWriter) start() {
	if w.started {
		return
	}
	w.started = true
	h := w.Header()
	for _, v := range h.Values("Vary") {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); strings.EqualFold(t, "Origin") || t == "*" {
				return
			}
		}
	}
	h.Add("Vary", "Origin")
}

func (w *varyWriter) WriteHeader(code int) {
	if code >= 200 {
		w.start()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *varyWriter) Write(b []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(b)
}

// Flush starts the response and flushes it, if the writer below can.
func (w *varyWriter) Flush() {
	w.start()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *varyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
