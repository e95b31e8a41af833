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

	"wxlogin/edge"
	"wxlogin/models"
)

func TestPresentError(t *testing.T) {
	t.Parallel()
	ctx := requestContext(t)
	id := edge.RequestID(ctx)

	t.Run("AppError", func(t *testing.T) {
		var logs bytes.Buffer
		got := PresentError(slog.New(slog.NewTextHandler(&logs, nil)))(ctx,
			models.WrapError(errors.New("errcode 40029"), models.CodeWechatCodeInvalid, "bad code"))
		if got.Message != "bad code" || got.Extensions["code"] != models.CodeWechatCodeInvalid {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("RawErrorIsInternal", func(t *testing.T) {
		var logs bytes.Buffer
		raw := errors.New(`ERROR: duplicate key value violates unique constraint (SQLSTATE=23505) SELECT * FROM sessions WHERE token_hash = '\xdeadbeef'`)
		got := PresentError(slog.New(slog.NewTextHandler(&logs, nil)))(ctx, raw)
		if got.Extensions["code"] != models.CodeInternal || got.Extensions["requestId"] != id {
			t.Fatalf("got %+v", got)
		}
		if strings.Contains(got.Message, "SELECT") || strings.Contains(got.Message, "SQLSTATE") || !strings.Contains(got.Message, id) {
			t.Fatalf("message %q", got.Message)
		}
		if !strings.Contains(logs.String(), "SQLSTATE") || !strings.Contains(logs.String(), id) {
			t.Fatalf("log lacks the cause or the request id: %s", logs.String())
		}
	})

	t.Run("WrappedInternalLogsCause", func(t *testing.T) {
		var logs bytes.Buffer
		err := models.WrapError(errors.New("connection refused"), models.CodeInternal, "internal error")
		got := PresentError(slog.New(slog.NewTextHandler(&logs, nil)))(ctx, gqlerror.WrapPath(nil, err))
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
		got := PresentError(slog.New(slog.NewTextHandler(&logs, nil)))(ctx, err)
		if got.Extensions["code"] != models.CodeQueryTimeout || got.Message != "narrow it" {
			t.Fatalf("got %+v", got)
		}
		if !strings.Contains(logs.String(), "statement timeout") || !strings.Contains(logs.String(), id) {
			t.Fatalf("the cause of a QUERY_TIMEOUT is not logged: %q", logs.String())
		}
	})

	t.Run("RequestErrorKeepsItsCode", func(t *testing.T) {
		got := PresentError(slog.Default())(ctx, &gqlerror.Error{Message: "Cannot query field", Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}})
		if got.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
			t.Fatalf("got %+v", got)
		}
		got = PresentError(slog.Default())(ctx, &gqlerror.Error{Message: "operation not found"})
		if got.Extensions["code"] != models.CodeBadUserInput {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("Panic", func(t *testing.T) {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		got := PresentError(log)(ctx, RecoverPanic(log)(ctx, "boom: secret state"))
		if got.Extensions["code"] != models.CodeInternal || strings.Contains(got.Message, "boom") {
			t.Fatalf("got %+v", got)
		}
		if !strings.Contains(logs.String(), "stack") {
			t.Fatal("the stack is not logged")
		}
	})
}

// requestContext is the context of a request given its id by edge.WithRequestID.
func requestContext(t *testing.T) context.Context {
	t.Helper()
	var ctx context.Context
	h := edge.WithRequestID(slog.New(slog.DiscardHandler), http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { ctx = r.Context() }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/graphql", nil))
	if edge.RequestID(ctx) == "-" {
		t.Fatal("no request id")
	}
	return ctx
}
