package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"time"

	"wxlogin/store"
	"wxlogin/telemetry"
)

// openTelemetry makes the metrics (none when METRICS_ADDR is off) and the
// tracing (a no-op unless the OTEL_ variables, or m.TraceExporter, turn
// it on), and hooks them to the database.
func (m *Main) openTelemetry(ctx context.Context, st, adminSt *store.Store) error {
	if m.metricsServed() {
		m.metrics = telemetry.NewMetrics()
		m.metrics.WatchDB(st.DB().DB, "wxlogin")
		m.metrics.WatchDB(adminSt.DB().DB, "wxlogin_admin")
	} else if m.Config.MetricsAddr == "" {
		m.Log.Info("metrics are off: /metrics is served on the main listener only with METRICS_TOKEN set, or on METRICS_ADDR's listener of its own")
	}
	getenv := m.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var err error
	if m.tracing, err = telemetry.NewTracing(ctx, getenv, m.TraceExporter); err != nil {
		return err
	}
	if m.tracing.Enabled() {
		m.Log.Info("OpenTelemetry tracing on (OTEL_ settings)")
	}
	// On both pools: the users' one, which every other part of the server
	// shares, and the admin API's.
	st.AddQueryHook(telemetry.QueryHook{Metrics: m.metrics, Tracing: m.tracing})
	adminSt.AddQueryHook(telemetry.QueryHook{Metrics: m.metrics, Tracing: m.tracing})
	return nil
}

// metricsServed: /metrics is served on METRICS_ADDR's own listener, or on
// the main one only when METRICS_TOKEN guards it (or in dev mode, on this
// machine), since the main listener faces the Internet: request rates,
// error codes and pool sizes are nobody else's business.
func (m *Main) metricsServed() bool {
	c := m.Config
	switch c.MetricsAddr {
	case "off":
		return false
	case "":
		return c.MetricsToken != "" || c.DevWechat
	}
	return true
}

// serveMetrics mounts /metrics on mux, or on a listener of its own when
// METRICS_ADDR names one, which Serve then serves too.
func (m *Main) serveMetrics(mux *http.ServeMux) error {
	if m.metrics == nil {
		return nil
	}
	h := m.metrics.Handler(m.Config.MetricsToken)
	if m.Config.MetricsAddr == "" {
		mux.Handle("GET /metrics", h)
		return nil
	}
	ln, err := net.Listen("tcp", m.Config.MetricsAddr)
	if err != nil {
		return err
	}
	own := http.NewServeMux()
	own.Handle("GET /metrics", h)
	m.metricsListener = ln
	m.metricsServer = &http.Server{Handler: own, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := m.metricsServer.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error("metrics listener (METRICS_ADDR) stopped", "err", err)
		}
	}()
	return nil
}

// MetricsURL is where /metrics answers, e.g. http://127.0.0.1:9090/metrics;
// "" when metrics are off.
func (m *Main) MetricsURL() string {
	switch {
	case m.metrics == nil:
		return ""
	case m.metricsListener != nil:
		return "http://" + m.metricsListener.Addr().String() + "/metrics"
	}
	return m.URL() + "/metrics"
}

// closeTelemetry stops the metrics listener and flushes the spans.
func (m *Main) closeTelemetry(ctx context.Context) error {
	var err error
	if m.metricsServer != nil {
		if err = m.metricsServer.Shutdown(ctx); err != nil {
			_ = m.metricsServer.Close()
		}
	}
	if m.metricsListener != nil {
		_ = m.metricsListener.Close() // see Close: Serve may never have run
	}
	return errors.Join(err, m.tracing.Shutdown(ctx))
}
