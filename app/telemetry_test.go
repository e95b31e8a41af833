package app_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/telemetry"
)

// startWired is a whole server, its log JSON; mutate may change its Config
// first. The telemetry wiring's tests need nothing more of it.
func startWired(t *testing.T, mutate func(*app.Config)) *apptest.Server {
	t.Helper()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.LogFormat = "json" }), apptest.WithConfig(mutate))
	return ts
}

// TestObservability_MetricsAddr serves /metrics on a listener of its own,
// and not on the main one; METRICS_ADDR=off serves it nowhere.
func TestObservability_MetricsAddr(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ts := startWired(t, func(c *app.Config) { c.MetricsAddr = addr })
	if got := ts.MetricsURL(); got != "http://"+addr+"/metrics" {
		t.Fatalf("MetricsURL = %s", got)
	}
	ts.Do(t, "", `{ __typename }`, nil)
	if text := apptest.Scrape(t, ts.MetricsURL(), ""); apptest.Metric(text, "http_requests_total", "route", "/graphql") < 1 {
		t.Fatalf("metrics: %s", text)
	}
	resp, err := http.Get(ts.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics on the main listener: %d", resp.StatusCode)
	}

	off := startWired(t, func(c *app.Config) { c.MetricsAddr = "off" })
	if off.MetricsURL() != "" {
		t.Fatal("metrics off, yet a URL")
	}
	resp, err = http.Get(off.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics with METRICS_ADDR=off: %d", resp.StatusCode)
	}

	// Neither METRICS_ADDR nor METRICS_TOKEN: the main listener faces the
	// Internet, so no /metrics there, and start-up says why.
	bare := startWired(t, nil)
	if bare.MetricsURL() != "" {
		t.Fatalf("no METRICS_ADDR nor METRICS_TOKEN, yet metrics at %s", bare.MetricsURL())
	}
	resp, err = http.Get(bare.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics on the main listener without METRICS_TOKEN: %d", resp.StatusCode)
	}
	if !strings.Contains(bare.Logs.String(), "metrics are off") {
		t.Errorf("start-up did not say metrics are off:\n%s", bare.Logs.String())
	}
}

// TestObservability_TracingFromEnv: no OTEL_ settings, no tracing; the
// standard ones turn it on or off, and what is not built in is an error.
func TestObservability_TracingFromEnv(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		on   bool
		fail bool
	}{
		{nil, false, false},
		{map[string]string{"OTEL_SERVICE_NAME": "x"}, false, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_TRACES_EXPORTER": "none"}, false, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"}, false, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, true},
	} {
		on, err := telemetry.TracingEnabled(apptest.Env(c.env))
		if on != c.on || (err != nil) != c.fail {
			t.Errorf("%v: on %v, err %v", c.env, on, err)
		}
	}
	tr, err := telemetry.NewTracing(context.Background(), apptest.Env(nil), nil)
	if err != nil || tr.Enabled() {
		t.Fatalf("no OTEL_ settings: enabled %v, %v", tr.Enabled(), err)
	}
	if _, span := tr.Tracer.Start(context.Background(), "x"); span.IsRecording() || span.SpanContext().IsValid() {
		t.Fatal("the tracer records without OTEL_ settings")
	}
	// A server with no OTEL_ settings records no span and logs no trace id.
	ts := apptest.Start(t, apptest.WithGetenv(apptest.Env(nil)), apptest.WithConfig(func(c *app.Config) {
		c.WechatAPIBase, c.DBMaxConns, c.SecretKey, c.LogFormat = "http://127.0.0.1:1", 2, make([]byte, 32), "json"
	}))
	m, logs := ts.Main, ts.Logs
	resp, err := http.Get(m.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if m.TracingEnabled() || strings.Contains(logs.String(), "trace_id") || !strings.Contains(logs.String(), `"msg":"request"`) {
		t.Fatalf("tracing on without OTEL_ settings: %s", logs.String())
	}
}
