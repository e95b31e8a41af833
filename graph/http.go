package graph

import (
	"context"
	"encoding/json"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"go.opentelemetry.io/otel/trace"

	"wxlogin/admin"
	"wxlogin/auth"
	"wxlogin/edge"
	"wxlogin/models"
	"wxlogin/profile"
	"wxlogin/token"
)

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	Auth    *auth.Service
	Admin   *admin.Service
	Profile *profile.Service
	// PublicURL is this server's public origin, for uploaded avatars' URLs.
	PublicURL string
	Log       *slog.Logger
	// DevMode enables introspection and "did you mean" suggestions.
	DevMode bool
	// Limits bound each request; a zero field is DefaultLimits'.
	Limits Limits
	// Timeout is each request's deadline; none when zero.
	Timeout time.Duration
	// Observe, when set, is told of every GraphQL request once answered.
	Observe func(context.Context, Operation)
	// Tracer, when set, wraps each operation in a span.
	Tracer trace.Tracer
}

// NewHandler returns the /graphql endpoint: GraphQL over HTTP (GET for
// queries, POST for everything), with bearer-token authentication, request
// limits, a deadline, error presenting and panic recovery.
func NewHandler(cfg HandlerConfig) http.Handler {
	cfg.Limits = cfg.Limits.orDefaults()
	c := Config{Resolvers: &Resolver{Auth: cfg.Auth, Admin: cfg.Admin, Profile: cfg.Profile, PublicURL: cfg.PublicURL}}
	c.Directives.HasRole = hasRole(cfg.Auth, cfg.Admin)
	setCosts(&c.Complexity) // lists scale with their rows; statistics are scans
	es := NewExecutableSchema(c)
	srv := handler.New(es)
	cache := newQueryCache()
	apq := newBoundedAPQ()
	srv.AddTransport(httpTransport{
		limits:        cfg.Limits,
		schema:        es.Schema(),
		introspection: cfg.DevMode,
		known: func(r *http.Request, query string) bool {
			_, ok := cache.Get(r.Context(), query)
			return ok
		},
		fast: newFastMe(cfg.Auth, cfg.PublicURL, cfg.Tracer != nil, apq),
	})
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(cfg.Limits.MaxTokens)
	srv.SetDisableSuggestion(!cfg.DevMode)
	srv.SetValidationRulesFn(validationRules(cfg.DevMode))
	if cfg.DevMode {
		srv.Use(extension.Introspection{})
	}
	srv.Use(newCachedComplexityLimit(cfg.Limits.MaxComplexity))
	// Automatic persisted queries: a client may send a document's sha256
	// alone (GET, so CDNs could cache) once it has sent it in full.
	srv.Use(extension.AutomaticPersistedQuery{Cache: apq})
	srv.Use(newOperationTracer(cfg.Tracer))
	srv.SetErrorPresenter(presentError(cfg.Log))
	srv.SetRecoverFunc(recoverPanic(cfg.Log))
	return withRequestContext(cfg.Observe, cfg.Timeout, cfg.Admin, srv)
}

type clientKey struct{}

// client is where a request came from, recorded on the sessions it creates.
type client struct {
	// IP is the real client's address (edge.ClientIP): the socket's peer,
	// or what a trusted proxy (TRUSTED_PROXIES) says in X-Forwarded-For;
	// "" if unknown.
	IP        string
	UserAgent string
	// HTTPS is whether the client reached us over https (edge.Client).
	HTTPS bool
	// r and w are the request and its response, for adminLogin's device
	// cookie (admin.DeviceCookieName), the one cookie this API reads and
	// sets. A mutation's fields run one at a time, before the transport
	// writes the response, so a resolver may add a header.
	r *http.Request
	w http.ResponseWriter
}

// adminDevice is the request's admin device cookies, all of them: one
// planted ahead of the real one must not hide it.
func (c client) adminDevice() []string {
	if c.r == nil {
		return nil
	}
	return admin.DeviceCookies(c.r)
}

// setCookie adds ck to the response; nothing when ck is nil.
func (c client) setCookie(ck *http.Cookie) {
	if ck != nil && c.w != nil {
		http.SetCookie(c.w, ck)
	}
}

// withRequestContext gives each GraphQL request, in one context and one
// copy of the request (pprof: each middleware's r.WithContext copied the
// whole http.Request, four copies per request here):
//   - a requestInfo (WithRequestID's, if it made one) that reports to observe;
//   - a deadline: the server's WriteTimeout only closes the connection, it
//     does not stop the handler (none when timeout is zero);
//   - the bearer token and the client's address; the token is only looked
//     up if a resolver asks for the caller;
//   - its own lazily made loaders: their caches must not outlive the
//     request (or leak one admin's view into another's).
func withRequestContext(observe func(context.Context, Operation), timeout time.Duration, adm *admin.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		info := infoFrom(ctx)
		if info == nil {
			info = &requestInfo{start: time.Now()}
			ctx = context.WithValue(ctx, requestInfoKey{}, info)
		}
		info.observe = observe
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		if len(r.Header.Values("Authorization")) > 1 {
			// A proxy in front may have read the other one: refuse to guess.
			writeRequestError(w, http.StatusBadRequest, "send at most one Authorization header")
			return
		}
		tok := bearerToken(r)
		ctx = admin.WithToken(auth.WithToken(ctx, tok), tok)
		ec := edge.ClientOf(r)
		ip := ""
		if ec.IP.IsValid() {
			ip = ec.IP.String()
		}
		ctx = context.WithValue(ctx, clientKey{}, client{IP: ip, UserAgent: r.UserAgent(), HTTPS: ec.HTTPS, r: r, w: w})
		ctx = context.WithValue(ctx, loadersKey{}, &lazyLoaders{adm: adm})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func clientFrom(ctx context.Context) client {
	c, _ := ctx.Value(clientKey{}).(client)
	return c
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header; "" when no token was sent (no header, an empty one, or "Bearer"
// alone: what a client sends before it has a token); and token.Malformed
// for a header of any other shape (another scheme, no scheme), so that
// the caller is told the header is wrong rather than missing.
func bearerToken(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return ""
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return token.Malformed
	}
	return strings.TrimSpace(tok)
}

type requestIDKey struct{}

var safeRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// WithRequestID gives every request a fresh id of ours, echoes it in the
// response, and logs the request: one line, at INFO (WARN for a 5xx), with
// the id, method, path, status, duration, client address, trace id when
// traced and, for GraphQL, the root fields (operation), the client's
// operationName and the first error's code. The id names INTERNAL errors
// in the log, so clients must not choose it; a sane X-Request-Id of theirs
// is logged beside it as client_request_id. Nothing in the line is a
// secret: no query string, header, variable or body.
func WithRequestID(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newRequestID()
		w.Header()["X-Request-Id"] = []string{id}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		info := &requestInfo{start: start}
		ctx := context.WithValue(context.WithValue(r.Context(), requestIDKey{}, id), requestInfoKey{}, info)
		next.ServeHTTP(sw, r.WithContext(ctx))
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelWarn
		}
		if !log.Enabled(r.Context(), level) {
			return
		}
		// slog.Attr values, not alternating key/value anys: no boxing, and
		// the array stays on the stack (pprof: this line was a tenth of the
		// allocations of a cached `me`).
		var buf [12]slog.Attr
		attrs := append(buf[:0], slog.String("request_id", id), slog.String("method", clip(r.Method, 16)),
			slog.String("path", clip(r.URL.Path, 256)), slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
		attrs = info.appendLogAttrs(attrs)
		if ip := edge.ClientIP(r); ip != "" {
			attrs = append(attrs, slog.String("client_ip", ip))
		}
		if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
		}
		if theirs := r.Header.Get("X-Request-Id"); theirs != "" && safeRequestID.MatchString(theirs) {
			attrs = append(attrs, slog.String("client_request_id", theirs))
		}
		log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// newRequestID returns 16 hex digits from the runtime's per-thread ChaCha8
// generator (math/rand/v2): as unlikely to collide as crypto/rand's, without
// its system call or a heap buffer. Request ids are not secrets (they are
// echoed to the client and logged); they must only be ours and distinct.
func newRequestID() string {
	var b [16]byte
	v := mrand.Uint64()
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

const hexDigits = "0123456789abcdef"

// writeRequestError answers a request refused before GraphQL saw it.
func writeRequestError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", mediaJSON+"; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{
		"message": message, "extensions": map[string]any{"code": models.CodeBadUserInput}}}})
	_, _ = w.Write(b)
}

// RequestID returns the request id WithRequestID assigned, or "-".
func RequestID(ctx context.Context) string {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		return id
	}
	return "-"
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status for the request log.
func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// boundedAPQ is the persisted-query store: anyone may register documents,
// so only ones a client would really persist are kept — at most
// maxPersistedQuery bytes each, apqBudget bytes in all — and a flood costs
// megabytes, not the 60 MB of 1,000 bodies at the size limit.
type boundedAPQ struct{ cache *byteCache[string] }

func newBoundedAPQ() boundedAPQ {
	return boundedAPQ{newByteCache(apqBudget, maxPersistedQuery+entryOverhead+64, func(hash, query string) int {
		return len(hash) + len(query) + entryOverhead
	})}
}

// maxPersistedQuery bounds a persisted document; the dashboard's largest
// query is under 2 KiB.
const maxPersistedQuery = 8 << 10

// Get looks a persisted document up by its hash.
func (b boundedAPQ) Get(ctx context.Context, key string) (string, bool) { return b.cache.Get(ctx, key) }

// Add keeps a document unless it is too large to be worth persisting; the
// client then simply keeps sending it whole.
func (b boundedAPQ) Add(ctx context.Context, key, value string) {
	if len(value) <= maxPersistedQuery {
		b.cache.Add(ctx, key, value)
	}
}

// clip cuts s to at most n bytes of valid UTF-8 for a log line: a client
// chooses the path and the method, and one line must not be 60 KB.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
