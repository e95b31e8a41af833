// Package apptest runs the real program (app.Main) for end-to-end tests:
// Start puts it on a free loopback port against the test package's
// database (store/storetest) and a WeChat simulator over real HTTP, and
// its Client sends the requests. Every test that runs the server uses it.
package apptest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"wxlogin/app"
	"wxlogin/store/storetest"
	"wxlogin/wechat/wechattest"
)

// The mini program a server started by Start serves, unless WithSimulator
// names another.
const (
	AppID  = "wx2222222222222222"
	Secret = "e2e-app-secret-0123456789abcdef"
)

// SecretKey is the SECRET_KEY of a server started by Start.
var SecretKey = bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 4)

// Server is the real program on a free port, with WeChat simulated over
// HTTP, and a Client for it.
type Server struct {
	*app.Main
	*Client
	// Sim is the WeChat simulator the server calls (the mounted one in
	// dev mode).
	Sim *wechattest.Simulator
	// Logs is everything the server logged.
	Logs *SyncBuffer

	mu     sync.Mutex
	tokens []string
}

// options are what Start's Options set.
type options struct {
	sim          *wechattest.Simulator
	appID, wxURL string
	mutate       []func(*app.Config)
	dev          bool
	logTo        io.Writer
	exporter     sdktrace.SpanExporter
	getenv       func(string) string
	main         []func(*app.Main)
}

// Option changes how Start starts the server.
type Option func(*options)

// WithConfig lets mutate change the Config before Open (nil changes nothing).
func WithConfig(mutate func(*app.Config)) Option {
	return func(o *options) {
		if mutate != nil {
			o.mutate = append(o.mutate, mutate)
		}
	}
}

// WithSimulator has the server call sim, serving appID, at wxURL: servers
// given the same simulator share it, and the package's database (so their
// rate limits and access tokens).
func WithSimulator(sim *wechattest.Simulator, appID, wxURL string) Option {
	return func(o *options) { o.sim, o.appID, o.wxURL = sim, appID, wxURL }
}

// DevMode starts the server in dev mode (DEV_WECHAT=1): it mounts its own
// simulator, which becomes Server.Sim.
func DevMode() Option { return func(o *options) { o.dev = true } }

// WithLogOutput sends the log to w instead of Server.Logs (a benchmark's
// io.Discard, say); the log is then not checked for secrets.
func WithLogOutput(w io.Writer) Option { return func(o *options) { o.logTo = w } }

// WithTraceExporter turns tracing on, with spans sent to exp.
func WithTraceExporter(exp sdktrace.SpanExporter) Option {
	return func(o *options) { o.exporter = exp }
}

// WithMain lets f set the Main's hooks (EraseUser, MediaVerdict) before Open.
func WithMain(f func(*app.Main)) Option {
	return func(o *options) { o.main = append(o.main, f) }
}

// WithGetenv is where the server reads its OTEL_ settings (os.Getenv by default).
func WithGetenv(getenv func(string) string) Option { return func(o *options) { o.getenv = getenv } }

// Config is app.DefaultConfig for a test server on a free loopback port
// against the test package's database and the simulator at wxURL. Rate
// limits and the session cache are off, since tests share one client
// address and a few users: the tests of those turn them on.
func Config(tb testing.TB, appID, wxURL string) app.Config {
	cfg := app.DefaultConfig()
	cfg.DatabaseURL, cfg.Host, cfg.Port = storetest.DSN(tb), "127.0.0.1", 0
	cfg.WechatAppID, cfg.WechatSecret, cfg.WechatAPIBase = appID, Secret, wxURL
	cfg.WechatTimeout, cfg.SessionTTL, cfg.DBMaxConns = 2*time.Second, time.Hour, 10
	cfg.SecretKey, cfg.AvatarDir = SecretKey, tb.TempDir()
	cfg.RateLimits, cfg.SessionCacheTTL = app.RateLimits{}, 0
	return cfg
}

// Start runs the server, closed at cleanup, and fails tb if it cannot
// start. At cleanup it also fails tb for unexpected calls to the
// simulator, and for a token or session_key in the log.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	ts, err := Open(tb, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return ts
}

// Open is Start for a test of a start-up that fails: it returns Open's
// error instead of failing tb.
func Open(tb testing.TB, opts ...Option) (*Server, error) {
	tb.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.sim == nil && !o.dev {
		o.sim, o.appID = wechattest.New(wechattest.App{AppID: AppID, Secret: Secret}), AppID
		wx := httptest.NewServer(o.sim.Handler())
		tb.Cleanup(wx.Close)
		o.wxURL = wx.URL
	}
	cfg := Config(tb, o.appID, o.wxURL)
	if o.dev {
		cfg.DevWechat, cfg.WechatAppID, cfg.WechatAPIBase = true, app.DevAppID, ""
	}
	for _, f := range o.mutate {
		f(&cfg)
	}
	logs := &SyncBuffer{}
	out := io.Writer(logs)
	if o.logTo != nil {
		out = o.logTo
	}
	var h slog.Handler = slog.NewTextHandler(out, nil)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(out, &slog.HandlerOptions{Level: cfg.LogLevel})
	}
	m := &app.Main{Config: cfg, Log: slog.New(h), TraceExporter: o.exporter, Getenv: o.getenv}
	for _, f := range o.main {
		f(m)
	}
	if err := m.Open(context.Background()); err != nil {
		return nil, err
	}
	go func() { _ = m.Serve() }()
	ts := &Server{Main: m, Client: NewClient(m.URL(), nil), Sim: o.sim, Logs: logs}
	if o.dev {
		ts.Sim = m.Simulator
	}
	tb.Cleanup(func() {
		_ = m.Close(context.Background())
		if o.dev {
			return
		}
		if u := ts.Sim.Unexpected(); len(u) > 0 {
			tb.Errorf("unexpected calls to the WeChat simulator: %v", u)
		}
		ts.AssertNoSecretsIn(tb, logs.String(), "the log")
	})
	return ts, nil
}

// LoginMutation is login with every field of the payload.
const LoginMutation = `mutation($in: LoginInput!) {
  login(input: $in) { token expiresAt created user { id nickname avatarUrl gender city province country language createdAt lastLoginAt } }
}`

// LoginPayload is LoginMutation's answer.
type LoginPayload struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	Created   bool      `json:"created"`
	User      struct {
		ID       string  `json:"id"`
		Nickname *string `json:"nickname"`
		Gender   *string `json:"gender"`
		City     *string `json:"city"`
		Country  *string `json:"country"`
		Language *string `json:"language"`
	} `json:"user"`
}

// Login runs LoginMutation with input in; the payload is nil when it
// failed, the answer then saying why. The token is remembered for
// AssertNoSecretsIn.
func (ts *Server) Login(t testing.TB, in map[string]any) (*LoginPayload, *Response) {
	t.Helper()
	resp := ts.Do(t, "", LoginMutation, map[string]any{"in": in})
	if len(resp.Errors) > 0 {
		return nil, resp
	}
	var p LoginPayload
	if err := json.Unmarshal(resp.Data["login"], &p); err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	ts.tokens = append(ts.tokens, p.Token)
	ts.mu.Unlock()
	return &p, resp
}

// MustLogin is Login that fails t when the login fails.
func (ts *Server) MustLogin(t testing.TB, in map[string]any) *LoginPayload {
	t.Helper()
	p, resp := ts.Login(t, in)
	if p == nil {
		t.Fatalf("login failed: %s", resp.Raw)
	}
	return p
}

// Code mints a wx.login() code of the default app for user.
func (ts *Server) Code(t testing.TB, user string) string {
	t.Helper()
	code, err := ts.Sim.Login("", user)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// Tokens are the tokens Login handed out so far.
func (ts *Server) Tokens() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.tokens...)
}

// AssertNoSecretsIn fails if text holds any token or session_key handed
// out, or the app secret, as text or as the hex Postgres shows bytea in.
func (ts *Server) AssertNoSecretsIn(t testing.TB, text, where string) {
	t.Helper()
	secrets := ts.Tokens()
	for _, k := range ts.Sim.SessionKeys() {
		secrets = append(secrets, string(k))
	}
	secrets = append(secrets, Secret)
	for _, s := range secrets {
		variants := []string{s}
		if raw, err := base64.StdEncoding.DecodeString(s); err == nil {
			variants = append(variants, hex.EncodeToString(raw))
		}
		if raw, err := base64.RawURLEncoding.DecodeString(s); err == nil {
			variants = append(variants, hex.EncodeToString(raw))
		}
		for _, v := range variants {
			if strings.Contains(text, v) {
				t.Fatalf("%s holds a secret in the clear", where)
			}
		}
	}
}

// CountRows runs a count query on the server's database.
func (ts *Server) CountRows(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := ts.Store().DB().QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// SyncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Take is everything written, which it empties the buffer of.
func (s *SyncBuffer) Take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.b.String()
	s.b.Reset()
	return out
}

// Len is how much has been written so far.
func (s *SyncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// From is what was written after the first n bytes.
func (s *SyncBuffer) From(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b.Bytes()[n:])
}

// WaitFor polls cond every millisecond until it holds, failing tb after d;
// it returns how long it took.
func WaitFor(tb testing.TB, what string, d time.Duration, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			tb.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// AddToken remembers a token handed out otherwise than by Login (an admin
// sign-in), for AssertNoSecretsIn.
func (ts *Server) AddToken(tok string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.tokens = append(ts.tokens, tok)
}

// Env is a getenv that reads kv, for app.Run and WithGetenv.
func Env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// CreateAdmin makes an admin account named name with role (admin or
// viewer) by `wxlogin admin create`, and returns its password.
func CreateAdmin(t testing.TB, name, role string) string {
	t.Helper()
	pw := "correct horse battery " + name
	var out bytes.Buffer
	env := Env(map[string]string{"DATABASE_URL": storetest.DSN(t)})
	if err := app.Run(context.Background(), []string{"admin", "create", name, "-role", role}, env, strings.NewReader(pw+"\n"), &out, &out); err != nil {
		t.Fatalf("admin create %s: %v %s", name, err, out.String())
	}
	return pw
}

// AdminLogin signs in to the admin API; the token is "" when it failed,
// the answer then saying why.
func (ts *Server) AdminLogin(t testing.TB, user, pw string) (string, *Response) {
	t.Helper()
	resp := ts.Do(t, "", `mutation($u: String!, $p: String!) { adminLogin(username: $u, password: $p) { token expiresAt admin { id username role } } }`,
		map[string]any{"u": user, "p": pw})
	if len(resp.Errors) > 0 {
		return "", resp
	}
	var p struct{ Token string }
	if err := json.Unmarshal(resp.Data["adminLogin"], &p); err != nil {
		t.Fatal(err)
	}
	return p.Token, resp
}
