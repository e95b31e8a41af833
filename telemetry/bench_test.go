package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkMiddleware is the cost per request of counting it (metrics),
// and of tracing it too, over a handler that does nothing.
func BenchmarkMiddleware(b *testing.B) {
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	off, _ := NewTracing(context.Background(), func(string) string { return "" }, nil)
	on, _ := NewTracing(context.Background(), nil, tracetest.NewNoopExporter())
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", noop},
		{"metrics", Middleware(NewMetrics(), off, noop)},
		{"metrics+tracing", Middleware(NewMetrics(), on, noop)},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, r)
			}
		})
	}
}
