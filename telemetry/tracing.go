package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracing is the server's OpenTelemetry tracing: off (a no-op provider)
// unless the standard OTEL_ variables turn it on; see TracingEnabled.
type Tracing struct {
	Provider trace.TracerProvider
	Tracer   trace.Tracer
	// Propagator reads an incoming W3C traceparent.
	Propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil && t.shutdown != nil }

// Shutdown flushes the spans not yet exported and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// TracingEnabled applies the OpenTelemetry SDK's environment variables:
// tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, or OTEL_TRACES_EXPORTER is
// otlp; off when OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER is none.
// Only OTLP over HTTP (protobuf) is built in: another exporter or protocol
// is an error rather than silently no traces.
func TracingEnabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	on := getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "":
	case "none":
		return false, nil
	case "otlp":
		on = true
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%q is not supported: use otlp or none", exp)
	}
	if !on {
		return false, nil
	}
	proto := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if proto != "" && proto != "http/protobuf" {
		return false, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q is not supported: only http/protobuf is built in", proto)
	}
	return true, nil
}

// NewTracing sets tracing up from the environment (see TracingEnabled);
// the OTLP exporter reads its own OTEL_EXPORTER_OTLP_* settings (endpoint,
// headers, timeout, TLS), the SDK OTEL_TRACES_SAMPLER, OTEL_BSP_*,
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. With exporter non-nil,
// tracing is on and spans go to it synchronously, whatever the
// environment: for tests.
func NewTracing(ctx context.Context, getenv func(string) string, exporter sdktrace.SpanExporter) (*Tracing, error) {
	off := &Tracing{Provider: noop.NewTracerProvider(), Propagator: propagation.TraceContext{}}
	off.Tracer = off.Provider.Tracer("wxlogin")
	var processor sdktrace.SpanProcessor
	if exporter != nil {
		processor = sdktrace.NewSimpleSpanProcessor(exporter)
	} else {
		on, err := TracingEnabled(getenv)
		if err != nil || !on {
			return off, err
		}
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OpenTelemetry exporter: %w", err)
		}
		processor = sdktrace.NewBatchSpanProcessor(exp)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "wxlogin")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(processor), sdktrace.WithResource(res))
	return &Tracing{Provider: tp, Tracer: tp.Tracer("wxlogin"), Propagator: propagation.TraceContext{}, shutdown: tp.Shutdown}, nil
}
