package edge

import (
	"context"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// request is what WithRequestID keeps of one request, in its context.
type request struct {
	id    string
	start time.Time
	// detail adds the inner handler's fields to the log line; nil for none.
	// It is set and read on the request's goroutine (before and after
	// next.ServeHTTP), so it needs no lock.
	detail LogDetail
}

type requestKey struct{}

// MaxLogDetail bounds the fields a LogDetail adds to a request's log line.
const MaxLogDetail = 4

// LogDetail adds an inner handler's fields to a request's log line: the
// GraphQL handler's root fields, operation name and error code. Edge knows
// nothing of what they mean; it only asks for them once the request is
// answered. They come back as an array, not appended to the line's slice:
// a slice passed through an interface method escapes, and the line's
// attributes would cost an allocation of ~500 bytes on every request.
type LogDetail interface {
	// LogDetail returns the fields, attrs[:n].
	LogDetail() (attrs [MaxLogDetail]slog.Attr, n int)
}

var safeRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// WithRequestID gives every request a fresh id of ours, echoes it in the
// response, and logs the request: one line, at INFO (WARN for a 5xx), with
// the id, method, path, status, duration, client address, trace id when
// traced and what an inner handler adds with SetLogDetail (for GraphQL the
// root fields, the client's operationName and the first error's code). The
// id names INTERNAL errors in the log, so clients must not choose it; a
// sane X-Request-Id of theirs is logged beside it as client_request_id.
// Nothing in the line is a secret: no query string, header, variable or body.
func WithRequestID(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newRequestID()
		w.Header()["X-Request-Id"] = []string{id}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		req := &request{id: id, start: start}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestKey{}, req)))
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
		if req.detail != nil {
			detail, n := req.detail.LogDetail()
			attrs = append(attrs, detail[:n]...)
		}
		if ip := ClientIP(r); ip != "" {
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

// SetLogDetail has the log line of ctx's request carry d's fields, in place
// of any set before. It does nothing outside WithRequestID.
func SetLogDetail(ctx context.Context, d LogDetail) {
	if req, ok := ctx.Value(requestKey{}).(*request); ok {
		req.detail = d
	}
}

// RequestStart is when WithRequestID took ctx's request, so that an inner
// handler measures the same duration as the log line; ok is false outside
// WithRequestID.
func RequestStart(ctx context.Context) (start time.Time, ok bool) {
	if req, ok := ctx.Value(requestKey{}).(*request); ok {
		return req.start, true
	}
	return time.Time{}, false
}

// RequestID returns the request id WithRequestID assigned, or "-".
func RequestID(ctx context.Context) string {
	if req, ok := ctx.Value(requestKey{}).(*request); ok {
		return req.id
	}
	return "-"
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

// clip cuts s to at most n bytes of valid UTF-8 for a log line: a client
// chooses the path and the method, and one line must not be 60 KB.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
