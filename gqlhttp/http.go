// Package gqlhttp is GraphQL over HTTP: the /graphql handler the server
// mounts (NewHandler) around package graph's executable schema — the
// transport, multipart uploads, request limits and field costs, the query
// and persisted-query caches, the per-request context (deadline, bearer
// token, client), observation of each operation and the `me` fast path.
package gqlhttp

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"go.opentelemetry.io/otel/trace"

	"wxlogin/admin"
	"wxlogin/auth"
	"wxlogin/edge"
	"wxlogin/gqlhttp/gqlop"
	"wxlogin/graph"
	"wxlogin/models"
	"wxlogin/profile"
	"wxlogin/token"
)

// Config configures NewHandler.
type Config struct {
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
	Observe func(context.Context, gqlop.Operation)
	// Tracer, when set, wraps each operation in a span.
	Tracer trace.Tracer
}

// NewHandler returns the /graphql endpoint: GraphQL over HTTP (GET for
// queries, POST for everything), with bearer-token authentication, request
// limits, a deadline, error presenting and panic recovery.
func NewHandler(cfg Config) http.Handler {
	cfg.Limits = cfg.Limits.orDefaults()
	c := graph.NewConfig(&graph.Resolver{Auth: cfg.Auth, Admin: cfg.Admin, Profile: cfg.Profile, PublicURL: cfg.PublicURL})
	setCosts(&c.Complexity) // lists scale with their rows; statistics are scans
	es := graph.NewExecutableSchema(c)
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
	if cfg.Tracer == nil {
		// The users page without the per-field executor; tracing's
		// spans need the executor's fields.
		srv.Use(graph.FastUsers(es, func(ctx context.Context) {
			if i := infoFrom(ctx); i != nil {
				i.markFast()
			}
		}))
	}
	srv.SetErrorPresenter(graph.PresentError(cfg.Log))
	srv.SetRecoverFunc(graph.RecoverPanic(cfg.Log))
	return withRequestContext(cfg.Observe, cfg.Timeout, cfg.Admin, srv)
}

// withRequestContext gives each GraphQL request, in one context and one
// copy of the request (pprof: each middleware's r.WithContext copied the
// whole http.Request, four copies per request here):
//   - a requestInfo that reports to observe and adds the GraphQL fields to
//     edge.WithRequestID's log line, timed from when that took the request;
//   - a deadline: the server's WriteTimeout only closes the connection, it
//     does not stop the handler (none when timeout is zero);
//   - the bearer token and the client's address; the token is only looked
//     up if a resolver asks for the caller;
//   - its own lazily made loaders (graph.WithRequest).
func withRequestContext(observe func(context.Context, gqlop.Operation), timeout time.Duration, adm *admin.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		start, ok := edge.RequestStart(ctx)
		if !ok {
			start = time.Now()
		}
		info := &requestInfo{start: start, observe: observe}
		edge.SetLogDetail(ctx, info)
		ctx = context.WithValue(ctx, requestInfoKey{}, info)
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
		ctx = graph.WithRequest(ctx, graph.Client{IP: ip, UserAgent: r.UserAgent(), HTTPS: ec.HTTPS, Request: r, Response: w}, adm)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
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

// writeRequestError answers a request refused before GraphQL saw it.
func writeRequestError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", mediaJSON+"; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{
		"message": message, "extensions": map[string]any{"code": models.CodeBadUserInput}}}})
	_, _ = w.Write(b)
}

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
