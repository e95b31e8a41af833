// Package telemetry holds wxlogin's Prometheus metrics and OpenTelemetry
// tracing. The other packages know nothing of either: they take hooks
// (wechat.Config.Observe, gqlhttp.Config.Observe, auth.Config.ObserveLogin,
// ratelimit.Guard.OnLimited) that the functions here fill.
//
// Every label has a small fixed set of values, whatever clients send: a
// route is one of Routes, an operation a root field of the schema, a code
// one of the API's error codes, an endpoint one of WeChat's few.
package telemetry

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"wxlogin/gqlhttp/gqlop"
	"wxlogin/wechat"
)

// Metrics is the server's metrics, in a registry of its own (not
// Prometheus' global one), so that every server, and every test, counts
// apart. A nil *Metrics counts nothing.
type Metrics struct {
	Registry *prometheus.Registry

	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	operations     *prometheus.CounterVec
	opDuration     *prometheus.HistogramVec
	graphqlErrors  *prometheus.CounterVec
	fastPath       prometheus.Counter
	wechatCalls    *prometheus.CounterVec
	wechatDuration *prometheus.HistogramVec
	logins         *prometheus.CounterVec
	rateLimited    *prometheus.CounterVec
	pushes         *prometheus.CounterVec
	dbQueries      *prometheus.HistogramVec
}

// latencyBuckets suit an API whose answers take milliseconds, and whose
// WeChat calls may take seconds before they time out.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewMetrics returns the metrics, with Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total", Help: "HTTP requests answered, by route (a fixed set), method and status.",
	}, []string{"route", "method", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "Time to answer an HTTP request, by route.", Buckets: latencyBuckets,
	}, []string{"route"})
	m.operations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "graphql_operations_total",
		Help: "GraphQL requests, by operation (the root field; multiple; invalid if refused before running), type and outcome (ok or the first error's code).",
	}, []string{"operation", "type", "outcome"})
	m.opDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "graphql_operation_duration_seconds", Help: "Time to answer a GraphQL request, by operation.", Buckets: latencyBuckets,
	}, []string{"operation"})
	m.graphqlErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "graphql_errors_total", Help: "Errors in GraphQL responses, by extensions.code.",
	}, []string{"code"})
	m.fastPath = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "graphql_fast_path_total",
		Help: "GraphQL requests answered without the executor: a `me` query seen before, its caller in the session cache; or a users page of plain fields written without per-field execution.",
	})
	m.wechatCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wechat_calls_total",
		Help: "HTTP calls to the WeChat API, by endpoint and errcode (0 success, -1 busy, -2 no usable answer: transport error, timeout, HTTP status).",
	}, []string{"endpoint", "errcode"})
	m.wechatDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wechat_call_duration_seconds", Help: "Time of one HTTP call to the WeChat API, by endpoint.", Buckets: latencyBuckets,
	}, []string{"endpoint"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "logins_total", Help: "Mini program logins, by result: created (a new user), ok, or the error's code.",
	}, []string{"result"})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rate_limited_total", Help: "Requests refused by a rate limit, by limit.",
	}, []string{"limit"})
	m.pushes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wechat_pushes_total",
		Help: "Messages of WeChat's message push (/wechat/push/), by event (the four handled, verify, other) and outcome (cleared, erased, unchanged, unknown_openid, recorded, received, duplicate, ok, not_found, error, or refused_ and the reason).",
	}, []string{"event", "outcome"})
	m.dbQueries = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "db_query_duration_seconds", Help: "Time of one SQL statement, by operation (SELECT, INSERT, …) and outcome (ok or error).", Buckets: latencyBuckets,
	}, []string{"operation", "outcome"})
	m.Registry.MustRegister(m.httpRequests, m.httpDuration, m.operations, m.opDuration, m.graphqlErrors, m.fastPath,
		m.wechatCalls, m.wechatDuration, m.logins, m.rateLimited, m.pushes, m.dbQueries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchDB adds the connection pool's statistics (go_sql_* gauges and
// counters: open, in use, idle, waits and time waited) of db, labelled
// db_name=name: the server has two pools, users' and the admin API's.
func (m *Metrics) WatchDB(db *sql.DB, name string) {
	if m != nil {
		m.Registry.MustRegister(collectors.NewDBStatsCollector(db, name))
	}
}

// Handler serves the metrics in Prometheus' text format. With a token, it
// answers only requests that bear it ("Authorization: Bearer <token>").
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
	if token == "" {
		return h
	}
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// One Authorization header, scheme in any case (RFC 9110), and the
		// token compared in constant time: two headers are refused as on
		// /graphql, since a proxy may have read the other one.
		auth := r.Header.Values("Authorization")
		var got string
		if len(auth) == 1 {
			if scheme, tok, ok := strings.Cut(auth[0], " "); ok && strings.EqualFold(scheme, "Bearer") {
				got = strings.TrimSpace(tok)
			}
		}
		if got == "" || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need METRICS_TOKEN as a bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ObserveOperation counts a GraphQL request; it is gqlhttp.Config.Observe.
func (m *Metrics) ObserveOperation(_ context.Context, op gqlop.Operation) {
	if m == nil {
		return
	}
	m.operations.WithLabelValues(op.Name, op.Type, op.Outcome()).Inc()
	m.opDuration.WithLabelValues(op.Name).Observe(op.Duration.Seconds())
	for _, c := range op.Codes {
		m.graphqlErrors.WithLabelValues(c).Inc()
	}
	if op.Fast {
		m.fastPath.Inc()
	}
}

// ObserveWechat counts a WeChat call; see WechatObserver.
func (m *Metrics) ObserveWechat(c wechat.Call) {
	if m == nil {
		return
	}
	ep := boundedEndpoint(c.Endpoint)
	m.wechatCalls.WithLabelValues(ep, strconv.Itoa(c.Errcode)).Inc()
	m.wechatDuration.WithLabelValues(ep).Observe(c.Duration.Seconds())
}

// safeEndpoint: the endpoints are constants of package wechat, but bound
// them anyway.
var safeEndpoint = regexp.MustCompile(`^/[a-z0-9_/]{1,64}$`)

func boundedEndpoint(ep string) string {
	if safeEndpoint.MatchString(ep) {
		return ep
	}
	return "other"
}

// ObserveLogin counts a login by outcome; it is auth.Config.ObserveLogin.
func (m *Metrics) ObserveLogin(_ context.Context, outcome string) {
	if m != nil {
		m.logins.WithLabelValues(outcome).Inc()
	}
}

// ObservePush counts one push to /wechat/push/; push.Service gives only
// its fixed event and outcome values.
func (m *Metrics) ObservePush(event, outcome string) {
	if m == nil {
		return
	}
	m.pushes.WithLabelValues(event, outcome).Inc()
}

// ObserveRateLimited counts a refused hit; it is ratelimit.Guard.OnLimited.
func (m *Metrics) ObserveRateLimited(_ context.Context, scope string) {
	if m != nil {
		m.rateLimited.WithLabelValues(scope).Inc()
	}
}

func (m *Metrics) observeHTTP(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpRequests.WithLabelValues(route, boundedMethod(method), strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

func (m *Metrics) observeQuery(op string, err error, d time.Duration) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		outcome = "error"
	}
	m.dbQueries.WithLabelValues(op, outcome).Observe(d.Seconds())
}

func boundedMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}
