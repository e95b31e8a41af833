package gqlhttp

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"wxlogin/edge"
	"wxlogin/gqlhttp/gqlop"
)

// requestInfo is what the GraphQL layer learns about a request, for the
// request log line (edge.WithRequestID, through LogDetail) and for
// Observe. One per HTTP request.
type requestInfo struct {
	start   time.Time
	observe func(context.Context, gqlop.Operation)

	mu       sync.Mutex
	recorded bool
	// fields is every root field selected, for the log; op is Operation.Name.
	fields []string
	op     string
	typ    string
	// clientName is the client's operationName when it is a sane name.
	clientName string
	code       string
	fast       bool
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return i
}

// safeOperationName is GraphQL's Name grammar, bounded: only such an
// operationName is logged.
var safeOperationName = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]{0,63}$`)

// safeCode is what an error code looks like; any other is logged and
// counted as OTHER.
var safeCode = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,47}$`)

// begin notes the operation about to run.
func (i *requestInfo) begin(opCtx *graphql.OperationContext) {
	fields := rootFields(opCtx.Operation.SelectionSet, nil, 0)
	op := gqlop.Multiple
	switch len(fields) {
	case 0:
		op = "__typename"
	case 1:
		op = fields[0]
	}
	// The name the document gives the operation, which operationName chose.
	name := opCtx.Operation.Name
	if !safeOperationName.MatchString(name) {
		name = ""
	}
	i.set(fields, op, string(opCtx.Operation.Operation), name, false)
}

// set notes an operation's root fields, Operation.Name and type, the
// client's name for it ("" when it may not be logged), and whether the
// fast path answers it.
func (i *requestInfo) set(fields []string, op, typ, clientName string, fast bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.fields, i.op, i.typ, i.clientName, i.fast = fields, op, typ, clientName, fast
}

// markFast notes that a fast path answered (part of) the operation: see
// graph.FastUsers.
func (i *requestInfo) markFast() {
	i.mu.Lock()
	i.fast = true
	i.mu.Unlock()
}

// finish records the request's outcome once: later calls do nothing.
func (i *requestInfo) finish(ctx context.Context, errs gqlerror.List) {
	i.mu.Lock()
	if i.recorded {
		i.mu.Unlock()
		return
	}
	i.recorded = true
	op := gqlop.Operation{Name: i.op, Type: i.typ, Duration: time.Since(i.start), Fast: i.fast}
	if op.Name == "" {
		op.Name, op.Type = gqlop.Invalid, "unknown"
	}
	for _, e := range errs {
		code, _ := e.Extensions["code"].(string)
		if !safeCode.MatchString(code) {
			code = "OTHER"
		}
		op.Codes = append(op.Codes, code)
	}
	if len(op.Codes) > 0 {
		i.code = op.Codes[0]
	}
	observe := i.observe
	i.mu.Unlock()
	if observe != nil {
		observe(ctx, op)
	}
}

// LogDetail is the request log line's GraphQL fields (edge.LogDetail): the
// root fields, the client's operation name and the first error's code.
func (i *requestInfo) LogDetail() (attrs [edge.MaxLogDetail]slog.Attr, n int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	switch len(i.fields) {
	case 0:
	case 1:
		attrs[n] = slog.String("operation", i.fields[0])
		n++
	default:
		attrs[n] = slog.String("operation", strings.Join(i.fields, ","))
		n++
	}
	if i.clientName != "" {
		attrs[n] = slog.String("operation_name", i.clientName)
		n++
	}
	if i.code != "" {
		attrs[n] = slog.String("error_code", i.code)
		n++
	}
	return attrs, n
}

// maxRootFields bounds the root fields named in the log.
const maxRootFields = 8

// rootFields returns the distinct names (not aliases) of the root fields
// sel selects, through fragments, sorted; __typename is left out. The
// document has validated, so every name is the schema's.
func rootFields(sel ast.SelectionSet, out []string, depth int) []string {
	if depth > 8 {
		return out
	}
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if s.Name != "__typename" && !slices.Contains(out, s.Name) && len(out) < maxRootFields {
				out = append(out, s.Name)
			}
		case *ast.InlineFragment:
			out = rootFields(s.SelectionSet, out, depth+1)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				out = rootFields(s.Definition.SelectionSet, out, depth+1)
			}
		}
	}
	slices.Sort(out)
	return out
}

// operationTracer is the gqlgen extension that notes each operation in the
// request's requestInfo and wraps it in a span.
type operationTracer struct {
	tracer trace.Tracer
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = operationTracer{}

// newOperationTracer spans each operation with t; with t nil (tracing
// off) it only records the operation: pprof showed a no-op span's name,
// attributes and options allocated on every request.
func newOperationTracer(t trace.Tracer) operationTracer {
	return operationTracer{tracer: t}
}

func (operationTracer) ExtensionName() string { return "OperationTracer" }

func (operationTracer) Validate(graphql.ExecutableSchema) error { return nil }

func (o operationTracer) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	info := infoFrom(ctx)
	if info == nil {
		return next(ctx)
	}
	info.begin(graphql.GetOperationContext(ctx))
	info.mu.Lock()
	name, typ := info.op, info.typ
	info.mu.Unlock()
	if o.tracer == nil {
		responses := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			resp := responses(ctx)
			info.finish(ctx, errorsOf(resp))
			return resp
		}
	}
	// The span names the root field, never the document or variables:
	// those may hold codes from wx.login() or other secrets.
	ctx, span := o.tracer.Start(ctx, typ+" "+name, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(
		attribute.String("graphql.operation.type", typ),
		attribute.String("graphql.operation.name", name),
	))
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		info.finish(ctx, errorsOf(resp))
		if code := info.firstCode(); code != "" {
			span.SetAttributes(attribute.String("graphql.error.code", code))
			span.SetStatus(codes.Error, code)
		}
		span.End()
		return resp
	}
}

// errorsOf is resp's errors; none when there is no response.
func errorsOf(resp *graphql.Response) gqlerror.List {
	if resp == nil {
		return nil
	}
	return resp.Errors
}

func (i *requestInfo) firstCode() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.code
}

// observedWriter lets the transport record a request it refuses before
// any operation runs, when it writes the errors.
type observedWriter struct {
	http.ResponseWriter
	ctx context.Context
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *observedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recordWritten records resp's errors as the request's outcome, if no
// operation recorded one: the request was refused before it ran.
func recordWritten(w http.ResponseWriter, resp *graphql.Response) {
	if ow, ok := w.(*observedWriter); ok {
		if info := infoFrom(ow.ctx); info != nil {
			info.finish(ow.ctx, resp.Errors)
		}
	}
}
