package graph

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"wxlogin/auth"
)

// maxBodyBytes bounds a GraphQL request body.
const maxBodyBytes = 1 << 20

// maxComplexity bounds what one query may ask for; today's schema needs far less.
const maxComplexity = 200

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	Auth *auth.Service
	Log  *slog.Logger
	// Introspection enables schema introspection (dev mode only).
	Introspection bool
}

// NewHandler returns the /graphql endpoint: GraphQL over HTTP (GET for
// queries, POST for everything), with bearer-token authentication, error
// presenting and panic recovery.
func NewHandler(cfg HandlerConfig) http.Handler {
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{Auth: cfg.Auth}}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.FixedComplexityLimit(maxComplexity))
	srv.SetErrorPresenter(presentError(cfg.Log))
	srv.SetRecoverFunc(recoverPanic(cfg.Log))
	return limitBody(withClient(srv))
}

// limitBody refuses bodies over maxBodyBytes: at once with 413 when the
// Content-Length says so, else when reading passes the limit.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBodyBytes {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, `{"errors":[{"message":"request body is larger than 1 MiB","extensions":{"code":"BAD_USER_INPUT"}}]}`)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

type clientKey struct{}

// client is where a request came from, recorded on the sessions it creates.
type client struct {
	IP        string
	UserAgent string
}

// withClient puts the bearer token and the client's address in the context.
// The token is only looked up if a resolver asks for the caller.
func withClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := auth.WithToken(r.Context(), bearerToken(r))
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil || net.ParseIP(ip) == nil {
			ip = ""
		}
		ctx = context.WithValue(ctx, clientKey{}, client{IP: ip, UserAgent: r.UserAgent()})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func clientFrom(ctx context.Context) client {
	c, _ := ctx.Value(clientKey{}).(client)
	return c
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header, or "".
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

type requestIDKey struct{}

var safeRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// WithRequestID gives every request an id — the caller's X-Request-Id when it
// is sane, else a fresh one — echoes it in the response, and logs the request.
func WithRequestID(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !safeRequestID.MatchString(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
		log.DebugContext(r.Context(), "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "duration", time.Since(start))
	})
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
