package edge

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

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

func TestClip(t *testing.T) {
	t.Parallel()
	if got := clip(strings.Repeat("é", 200), 255); len(got) > 255+len("…") || !utf8.ValidString(got) {
		t.Fatalf("clip = %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

type httpHandlerFunc func(ctx context.Context)

func (f httpHandlerFunc) ServeHTTP(_ http.ResponseWriter, r *http.Request) { f(r.Context()) }

type fakeDetail struct{}

func (fakeDetail) LogDetail() (attrs [MaxLogDetail]slog.Attr, n int) {
	attrs[0] = slog.String("operation", "me")
	return attrs, 1
}

// TestWithRequestID_Detail: an inner handler's fields reach the log line,
// and it sees the time the request was taken; outside WithRequestID
// neither does anything.
func TestWithRequestID_Detail(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var started bool
	h := WithRequestID(log, httpHandlerFunc(func(ctx context.Context) {
		_, started = RequestStart(ctx)
		SetLogDetail(ctx, fakeDetail{})
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/graphql", nil))
	if !started || !strings.Contains(logs.String(), "operation=me") {
		t.Fatalf("started %v, log %s", started, logs.String())
	}
	SetLogDetail(context.Background(), fakeDetail{})
	if _, ok := RequestStart(context.Background()); ok || RequestID(context.Background()) != "-" {
		t.Fatal("a request outside WithRequestID has a start or an id")
	}
}
