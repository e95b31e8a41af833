package telemetry

import (
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Routes are the values of the route label: every path is counted under
// the first of these it starts with (those ending in / are prefixes, the
// others exact), else under "other". Never the raw path: that would let
// clients mint series.
var Routes = []string{"/graphql", "/admin/", "/avatars/", "/healthz", "/readyz", "/metrics", "/playground/", "/dev/wechat/", "/wechat/push/"}

// Route returns path's route label.
func Route(path string) string {
	for _, r := range Routes {
		if path == r || strings.HasSuffix(r, "/") && (strings.HasPrefix(path, r) || path == r[:len(r)-1]) {
			return r
		}
	}
	return "other"
}

// Middleware counts and times every request (m may be nil) and, when
// tracing is on, wraps it in a server span that continues an incoming W3C
// traceparent. The span names the method and route; it records neither
// the query string, nor headers, nor the client's address.
func Middleware(m *Metrics, t *Tracing, next http.Handler) http.Handler {
	traced := t.Enabled()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		route := Route(r.URL.Path)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		var span trace.Span
		if traced {
			ctx := t.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span = t.Tracer.Start(ctx, boundedMethod(r.Method)+" "+route, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
				attribute.String("http.request.method", boundedMethod(r.Method)),
				attribute.String("http.route", route),
			))
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(sw, r)
		m.observeHTTP(route, r.Method, sw.status, time.Since(start))
		if span != nil {
			span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
			if id := w.Header().Get("X-Request-Id"); id != "" {
				span.SetAttributes(attribute.String("wxlogin.request_id", id))
			}
			if sw.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(sw.status))
			}
			span.End()
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
