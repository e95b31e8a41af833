package e2e_test

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"wxlogin/app"
	"wxlogin/app/apptest"
)

// obsServer is a server whose log is JSON, with tracing to an in-memory
// exporter; mutate may change its Config first.
func startObsServer(t *testing.T, mutate func(*app.Config)) (*apptest.Server, *tracetest.InMemoryExporter) {
	t.Helper()
	sim, appID, wxURL := phoneSim(t)
	exp := tracetest.NewInMemoryExporter()
	ts := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL), apptest.WithTraceExporter(exp), apptest.WithConfig(func(c *app.Config) {
		c.SecretKey = []byte("0123456789abcdef0123456789ABCDEF")
		c.LogFormat, c.LogLevel = "json", -4 // debug: every line there is
	}), apptest.WithConfig(mutate))
	return ts, exp
}

// TestObservability_FullRun runs a mixed scenario — logins new and
// returning and failed, me, bindPhoneNumber, uploadAvatar, admin sign-in,
// users and disableUser, refused and malformed requests, a flood of
// operation names — then checks the metrics moved with bounded labels,
// that every request logged one JSON line with its fields, that the
// spans are there, and that no secret used shows in the log, the spans or
// the metrics.
func TestObservability_FullRun(t *testing.T) {
	t.Parallel()
	const metricsToken = "metrics-token-0123456789"
	ts, spans := startObsServer(t, func(c *app.Config) { c.MetricsToken = metricsToken })
	secrets := []string{apptest.Secret, metricsToken, string(ts.Config.SecretKey), hex.EncodeToString(ts.Config.SecretKey)}

	// Logins: a new user, a returning one, a spent code.
	user := "obs-" + phoneAppID()
	if err := ts.Sim.SetPhone(user, "86", "13912340001"); err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, "13912340001", "+8613912340001")
	code := ts.Code(t, user)
	p := ts.MustLogin(t, map[string]any{"code": code})
	code2 := ts.Code(t, user)
	p2 := ts.MustLogin(t, map[string]any{"code": code2})
	if _, resp := ts.Login(t, map[string]any{"code": code}); resp.Code() != "WECHAT_CODE_INVALID" {
		t.Fatalf("spent code: %s", resp.Raw)
	}
	secrets = append(secrets, code, code2, p.Token, p2.Token)

	if r := ts.Do(t, p.Token, `query Me { me { id } }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if r := ts.Do(t, "", `{ me { id } }`, nil); r.Code() != "UNAUTHENTICATED" {
		t.Fatal(r.Raw)
	}
	phoneCode := phoneCode(ts, t, user)
	secrets = append(secrets, phoneCode)
	if got, r := bind(ts, t, p.Token, map[string]any{"code": phoneCode}); got != "+8613912340001" {
		t.Fatalf("bind: %s", r.Raw)
	}
	if resp, r := ts.Upload(t, p.Token, pngOf(32, 32), nil); resp.StatusCode != 200 || len(r.Errors) > 0 {
		t.Fatalf("upload: %d %s", resp.StatusCode, r.Raw)
	}

	// Admin: sign in, list users, disable one; a wrong password.
	admName := "obs" + phoneAppID()[2:10]
	pw := apptest.CreateAdmin(t, admName, "admin")
	secrets = append(secrets, pw)
	adm, r := ts.AdminLogin(t, admName, pw)
	if adm == "" {
		t.Fatal(r.Raw)
	}
	secrets = append(secrets, adm)
	if _, r := ts.AdminLogin(t, admName, pw+"x"); r.Code() != "INVALID_CREDENTIALS" {
		t.Fatal(r.Raw)
	}
	if r := ts.Do(t, adm, `{ users(first: 2) { edges { node { id } } } }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if r := ts.Do(t, adm, `mutation($id: ID!) { disableUser(id: $id, reason: "obs") { id } }`, map[string]any{"id": p.User.ID}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}

	// Refused before running: a parse error, a validation error.
	if r := ts.Do(t, "", `{ me { id `, nil); r.Code() != "GRAPHQL_PARSE_FAILED" {
		t.Fatal(r.Raw)
	}
	if r := ts.Do(t, "", `{ nosuchfield }`, nil); r.Code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Fatal(r.Raw)
	}
	// A flood of operation names and of paths mints no series.
	for i := range 100 {
		ts.Do(t, "", fmt.Sprintf(`query Op%d_%s { me { id } }`, i, strings.Repeat("x", i)), nil)
		resp, err := http.Get(ts.URL() + fmt.Sprintf("/no/such/path/%d", i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for _, path := range []string{"/healthz", "/readyz", "/admin/"} {
		resp, err := http.Get(ts.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	// /metrics asks for its token.
	if resp, err := http.Get(ts.MetricsURL()); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %v %v", resp, err)
	}
	text := apptest.Scrape(t, ts.MetricsURL(), metricsToken)
	for _, c := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"logins_total", []string{"result", "created"}, 1},
		{"logins_total", []string{"result", "ok"}, 1},
		{"logins_total", []string{"result", "WECHAT_CODE_INVALID"}, 1},
		{"graphql_operations_total", []string{"operation", "login", "type", "mutation", "outcome", "ok"}, 2},
		{"graphql_operations_total", []string{"operation", "login", "outcome", "WECHAT_CODE_INVALID"}, 1},
		{"graphql_operations_total", []string{"operation", "me", "type", "query", "outcome", "UNAUTHENTICATED"}, 1},
		{"graphql_operations_total", []string{"operation", "bindPhoneNumber", "outcome", "ok"}, 1},
		{"graphql_operations_total", []string{"operation", "uploadAvatar", "outcome", "ok"}, 1},
		{"graphql_operations_total", []string{"operation", "adminLogin", "outcome", "INVALID_CREDENTIALS"}, 1},
		{"graphql_operations_total", []string{"operation", "users", "outcome", "ok"}, 1},
		{"graphql_operations_total", []string{"operation", "disableUser", "outcome", "ok"}, 1},
		{"graphql_operations_total", []string{"operation", "invalid", "outcome", "GRAPHQL_PARSE_FAILED"}, 1},
		{"graphql_operations_total", []string{"operation", "invalid", "outcome", "GRAPHQL_VALIDATION_FAILED"}, 1},
		{"graphql_operations_total", []string{"operation", "me", "outcome", "UNAUTHENTICATED"}, 100},
		{"graphql_errors_total", []string{"code", "UNAUTHENTICATED"}, 1},
		{"wechat_calls_total", []string{"endpoint", "/sns/jscode2session", "errcode", "0"}, 2},
		{"wechat_calls_total", []string{"endpoint", "/sns/jscode2session", "errcode", "40163"}, 1},
		{"wechat_calls_total", []string{"endpoint", "/wxa/business/getuserphonenumber", "errcode", "0"}, 1},
		{"wechat_call_duration_seconds_count", []string{"endpoint", "/sns/jscode2session"}, 3},
		{"http_requests_total", []string{"route", "/graphql", "method", "POST", "status", "200"}, 10},
		{"http_requests_total", []string{"route", "other", "method", "GET", "status", "404"}, 100},
		{"http_requests_total", []string{"route", "/healthz"}, 1},
		{"http_request_duration_seconds_count", []string{"route", "/graphql"}, 10},
		{"db_query_duration_seconds_count", []string{"operation", "SELECT", "outcome", "ok"}, 1},
		{"go_sql_open_connections", []string{"db_name", "wxlogin"}, 1},
		{"go_sql_max_open_connections", []string{"db_name", "wxlogin"}, 10},
		{"go_sql_max_open_connections", []string{"db_name", "wxlogin_admin"}, float64(app.DefaultConfig().AdminDBMaxConns)},
		{"go_goroutines", nil, 1},
	} {
		if got := apptest.Metric(text, c.name, c.labels...); got < c.min {
			t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, got, c.min)
		}
	}
	// Bounded: a hundred operation names and paths made no series of their own.
	if n := apptest.Series(text, "graphql_operations_total"); n > 20 {
		t.Errorf("graphql_operations_total has %d series", n)
	}
	if n := apptest.Series(text, "http_requests_total"); n > 12 {
		t.Errorf("http_requests_total has %d series", n)
	}
	if strings.Contains(text, "Op42") || strings.Contains(text, "/no/such/path") {
		t.Error("a client-chosen name or path is a label value")
	}

	// The log: JSON, one "request" line per request with its fields.
	logs := ts.Logs.String()
	var requests []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("a log line is not JSON: %s", sc.Text())
		}
		if line["msg"] == "request" {
			requests = append(requests, line)
		}
	}
	if len(requests) < 215 {
		t.Fatalf("%d request lines", len(requests))
	}
	find := func(pred func(map[string]any) bool) map[string]any {
		for _, l := range requests {
			if pred(l) {
				return l
			}
		}
		t.Helper()
		t.Fatalf("no such request line among %v", requests[:30])
		return nil
	}
	me := find(func(l map[string]any) bool { return l["operation_name"] == "Me" })
	for _, k := range []string{"request_id", "method", "path", "status", "duration", "client_ip", "operation", "trace_id"} {
		if _, ok := me[k]; !ok {
			t.Errorf("the request line lacks %s: %v", k, me)
		}
	}
	if me["operation"] != "me" || me["path"] != "/graphql" || me["status"] != 200.0 || me["client_ip"] != "127.0.0.1" {
		t.Errorf("request line %v", me)
	}
	unauth := find(func(l map[string]any) bool { return l["error_code"] == "UNAUTHENTICATED" })
	if unauth["operation"] != "me" {
		t.Errorf("request line %v", unauth)
	}
	find(func(l map[string]any) bool {
		return l["error_code"] == "GRAPHQL_PARSE_FAILED" && l["operation"] == nil
	})

	// Spans: HTTP server, GraphQL operation, SQL and WeChat, nested.
	got := spans.GetSpans()
	names := map[string]int{}
	byID := map[string]string{}
	for _, s := range got {
		names[s.Name]++
		byID[s.SpanContext.SpanID().String()] = s.Name
	}
	for _, want := range []string{"POST /graphql", "mutation login", "query me", "mutation bindPhoneNumber",
		"wechat /sns/jscode2session", "wechat /wxa/business/getuserphonenumber", "SELECT", "BEGIN", "GET /healthz"} {
		found := false
		for n := range names {
			if n == want || strings.HasPrefix(n, want+" ") {
				found = true
			}
		}
		if !found {
			t.Errorf("no span %q among %v", want, names)
		}
	}
	for _, s := range got {
		if s.Name == "wechat /sns/jscode2session" && byID[s.Parent.SpanID().String()] != "mutation login" {
			t.Errorf("the WeChat span's parent is %q", byID[s.Parent.SpanID().String()])
		}
		if s.Name == "mutation login" && byID[s.Parent.SpanID().String()] != "POST /graphql" {
			t.Errorf("the operation span's parent is %q", byID[s.Parent.SpanID().String()])
		}
	}
	var attrs strings.Builder
	for _, s := range got {
		fmt.Fprintln(&attrs, s.Name, s.Status, s.Attributes, s.Events)
	}

	// No secret anywhere: the log, the spans, the metrics.
	for _, s := range ts.Sim.SessionKeys() {
		secrets = append(secrets, string(s))
	}
	ts.AddToken(adm)
	for where, text := range map[string]string{"the log": logs, "the spans": attrs.String(), "the metrics": text} {
		ts.AssertNoSecretsIn(t, text, where)
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("%s holds the secret %q", where, s)
			}
		}
	}
}

// BenchmarkObservability_Me is BenchmarkE2E_Me, one client at a time, with
// metrics on (behind METRICS_TOKEN) and off (METRICS_ADDR=off); the cost
// of tracing is telemetry.BenchmarkMiddleware's.
func BenchmarkObservability_Me(b *testing.B) {
	for _, c := range []struct {
		name   string
		mutate func(*app.Config)
	}{
		{"metrics-off", func(c *app.Config) { c.MetricsAddr = "off" }},
		{"metrics-on", func(c *app.Config) { c.MetricsToken = "bench-metrics-token-0123" }},
	} {
		b.Run(c.name, func(b *testing.B) {
			ts := apptest.Start(b, apptest.WithConfig(c.mutate))
			token := ts.MustLogin(b, map[string]any{"code": ts.Code(b, "bench")}).Token
			body := []byte(`{"query":"{ me { id } }"}`)
			c := ts.Using(&http.Client{})
			b.ResetTimer()
			for b.Loop() {
				c.PostBody(b, token, body)
			}
		})
	}
}
