package edge

import "net/http"

// HSTS is the Strict-Transport-Security of every response to a client that
// came over https: two years, subdomains included, not preloaded. It is
// never sent over plain http (a browser would ignore it there, and an
// untrusted peer's X-Forwarded-Proto cannot ask for it).
const HSTS = "max-age=63072000; includeSubDomains"

// DefaultCSP is the Content-Security-Policy of responses whose handler
// sets none: API answers and errors are never documents to run.
const DefaultCSP = "default-src 'none'; frame-ancestors 'none'"

// Handler finds out who the client is (see Proxies.Resolve), keeps it in
// the request's context for ClientOf, and sets the headers every response
// carries, whatever answers it: the mux's 404s and 405s, redirects,
// http.Error, static pages, avatars, /graphql. They are set before next
// runs, so a handler that needs another value replaces it with Set: the
// pages set their own Content-Security-Policy, avatars their
// Cross-Origin-Resource-Policy (cross-origin, so that other sites may show
// them). Only what Go's server writes itself without a handler (431 for
// oversized headers, 400 for malformed HTTP) goes without.
func Handler(proxies Proxies, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := proxies.Resolve(r)
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", DefaultCSP)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if c.HTTPS {
			h.Set("Strict-Transport-Security", HSTS)
		}
		next.ServeHTTP(w, r.WithContext(WithClient(r.Context(), c)))
	})
}
