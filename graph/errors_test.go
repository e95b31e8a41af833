package graph

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"wxlogin/models"
	"wxlogin/token"
)

func TestPresentError(t *testing.T) {
	t.Parallel()
	ctx := context.WithValue(context.Background(), requestIDKey{}, "req-123")

	t.Run("AppError", func(t *testing.T) {
		var logs bytes.Buffer
		got := presentError(slog.New(slog.NewTextHandler(&logs, nil)))(ctx,
			models.WrapError(errors.New("errcode 40029"), models.CodeWechatCodeInvalid, "bad code"))
		if got.Message != "bad code" || got.Extensions["code"] != models.CodeWechatCodeInvalid {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("RawErrorIsInternal", func(t *testing.T) {
		var logs bytes.Buffer
		raw := errors.New(`ERROR: duplicate key value violates unique constraint (SQLSTATE=23505) SELECT * FROM sessions WHERE token_hash = '\xdeadbeef'`)
		got := presentError(slog.New(slog.NewTextHandler(&logs, nil)))(ctx, raw)
		if got.Extensions["code"] != models.CodeInternal || got.Extensions["requestId"] != "req-123" {
			t.Fatalf("got %+v", got)
		}
		if strings.Contains(got.Message, "SELECT") || strings.Contains(got.Message, "SQLSTATE") || !strings.Contains(got.Message, "req-123") {
			t.Fatalf("message %q", got.Message)
		}
		if !strings.Contains(logs.String(), "SQLSTATE") || !strings.Contains(logs.String(), "req-123") {
			t.Fatalf("log lacks the cause or the request id: %s", logs.String())
		}
	})

	t.Run("WrappedInternalLogsCause", func(t *testing.T) {
		var logs bytes.Buffer
		err := models.WrapError(errors.New("connection refused"), models.CodeInternal, "internal error")
		got := presentError(slog.New(slog.NewTextHandler(&logs, nil)))(ctx, gqlerror.WrapPath(nil, err))
		if got.Extensions["code"] != models.CodeInternal || strings.Contains(got.Message, "refused") {
			t.Fatalf("got %+v", got)
		}
		if !strings.Contains(logs.String(), "connection refused") {
			t.Fatalf("log lacks the cause: %s", logs.String())
		}
	})

	t.Run("QueryTimeoutLogged", func(t *testing.T) {
		var logs bytes.Buffer
		err := models.WrapError(errors.New("canceling statement due to statement timeout"), models.CodeQueryTimeout, "narrow it")
		got := presentError(slog.New(slog.NewTextHandler(&logs, nil)))(ctx, err)
		if got.Extensions["code"] != models.CodeQueryTimeout || got.Message != "narrow it" {
			t.Fatalf("got %+v", got)
		}
		if !strings.Contains(logs.String(), "statement timeout") || !strings.Contains(logs.String(), "req-123") {
			t.Fatalf("the cause of a QUERY_TIMEOUT is not logged: %q", logs.String())
		}
	})

	t.Run("RequestErrorKeepsItsCode", func(t *testing.T) {
		got := presentError(slog.Default())(ctx, &gqlerror.Error{Message: "Cannot query field", Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}})
		if got.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
			t.Fatalf("got %+v", got)
		}
		got = presentError(slog.Default())(ctx, &gqlerror.Error{Message: "operation not found"})
		if got.Extensions["code"] != models.CodeBadUserInput {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("Panic", func(t *testing.T) {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		got := presentError(log)(ctx, recoverPanic(log)(ctx, "boom: secret state"))
		if got.Extensions["code"] != models.CodeInternal || strings.Contains(got.Message, "boom") {
			t.Fatalf("got %+v", got)
		}
		if !strings.Contains(logs.String(), "stack") {
			t.Fatal("the stack is not logged")
		}
	})
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"":                 "",
		"Bearer abc":       "abc",
		"bearer abc":       "abc",
		"BEARER  abc ":     "abc",
		"Basic dXNlcjpwdw": token.Malformed,
		"Bearer":           "",
		"  ":               "",
		"abc":              token.Malformed,
	} {
		r := httptest.NewRequest("GET", "/graphql", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		if got := bearerToken(r); got != want {
			t.Errorf("%q: got %q, want %q", header, got, want)
		}
	}
}

func TestWithRequestID(t *testing.T) {
	t.Parallel()
	var seen string
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := WithRequestID(log, httpHandlerFunc(func(ctx context.Context) { seen = RequestID(ctx) }))
	ids := map[string]bool{}
	for _, in := range []string{"abc-123", "abc-123", "", "bad id\n", strings.Repeat("a", 65)} {
		logs.Reset()
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Request-Id", in)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		// The id is always ours: clients must not pick (or collide) the ids
		// that name INTERNAL errors in the log.
		if seen == in || len(seen) != 16 || ids[seen] || w.Header().Get("X-Request-Id") != seen {
			t.Errorf("X-Request-Id %q: got %q", in, seen)
		}
		ids[seen] = true
		if in == "abc-123" && !strings.Contains(logs.String(), "client_request_id=abc-123") {
			t.Errorf("the client's id is not logged: %s", logs.String())
		}
	}
}

type httpHandlerFunc func(ctx context.Context)

func (f httpHandlerFunc) ServeHTTP(_ http.ResponseWriter, r *http.Request) { f(r.Context()) }
