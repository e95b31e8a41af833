package telemetry

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"wxlogin/wechat"
)

// QueryHook is a bun.QueryHook that times every SQL statement and, when
// tracing is on, wraps it in a client span. Neither records the statement:
// bun inlines the arguments into it (token hashes, openids, phone
// numbers), so only its operation (SELECT, INSERT, …) and table are kept.
type QueryHook struct {
	Metrics *Metrics
	Tracing *Tracing
}

var _ bun.QueryHook = QueryHook{}

type queryStartKey struct{}

var (
	safeSQLOp    = regexp.MustCompile(`^[A-Z]{1,16}$`)
	safeSQLTable = regexp.MustCompile(`^"?[a-z_][a-z0-9_]{0,62}"?$`)
)

func sqlOperation(e *bun.QueryEvent) string {
	if op := strings.ToUpper(e.Operation()); safeSQLOp.MatchString(op) {
		return op
	}
	return "OTHER"
}

// BeforeQuery starts the statement's span.
func (h QueryHook) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	if !h.Tracing.Enabled() {
		return ctx
	}
	op := sqlOperation(e)
	attrs := []attribute.KeyValue{attribute.String("db.system.name", "postgresql"), attribute.String("db.operation.name", op)}
	name := op
	if e.IQuery != nil {
		if t := e.IQuery.GetTableName(); safeSQLTable.MatchString(t) {
			t = strings.Trim(t, `"`)
			attrs = append(attrs, attribute.String("db.collection.name", t))
			name += " " + t
		}
	}
	ctx, span := h.Tracing.Tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(e.StartTime), trace.WithAttributes(attrs...))
	return context.WithValue(ctx, queryStartKey{}, span)
}

// AfterQuery ends the span and counts the statement.
func (h QueryHook) AfterQuery(ctx context.Context, e *bun.QueryEvent) {
	h.Metrics.observeQuery(sqlOperation(e), e.Err, time.Since(e.StartTime))
	if span, ok := ctx.Value(queryStartKey{}).(trace.Span); ok {
		if e.Err != nil && !errors.Is(e.Err, sql.ErrNoRows) {
			// The error's class, not its text: PostgreSQL quotes values in
			// some messages (a duplicate key's, for one).
			span.SetStatus(codes.Error, "query failed")
		}
		span.End()
	}
}

// WechatObserver returns the wechat.Config.Observe that counts each call
// and, when tracing is on, records it as a client span named after its
// endpoint (never the URL: its query holds the app secret or access token).
func WechatObserver(m *Metrics, t *Tracing) func(context.Context, wechat.Call) {
	traced := t.Enabled()
	return func(ctx context.Context, c wechat.Call) {
		m.ObserveWechat(c)
		if !traced {
			return
		}
		ep := boundedEndpoint(c.Endpoint)
		_, span := t.Tracer.Start(ctx, "wechat "+ep, trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(c.Start),
			trace.WithAttributes(attribute.String("wechat.endpoint", ep), attribute.Int("wechat.errcode", c.Errcode)))
		if c.Err != nil {
			span.SetStatus(codes.Error, "errcode "+strconv.Itoa(c.Errcode))
		}
		span.End(trace.WithTimestamp(c.Start.Add(c.Duration)))
	}
}
