package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"wxlogin/store/storetest"
	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const (
	e2eAppID  = "wx2222222222222222"
	e2eSecret = "e2e-app-secret-0123456789abcdef"
)

// testServer is the real program on a free port, with WeChat simulated over HTTP.
type testServer struct {
	*Main
	sim    *wechattest.Simulator
	logs   *syncBuffer
	tokens []string
	mu     sync.Mutex
}

// startServer runs Main against this package's database and a simulator.
func startServer(t testing.TB, mutate func(*Config)) *testServer {
	t.Helper()
	sim := wechattest.New(wechattest.App{AppID: e2eAppID, Secret: e2eSecret})
	wx := httptest.NewServer(sim.Handler())
	t.Cleanup(wx.Close)
	return startWith(t, sim, e2eAppID, wx.URL, mutate)
}

// startWith is startServer for the app and simulator given (mutate may be
// nil): instances given the same simulator share it, and the package's
// database (so its rate limits and access tokens).
func startWith(t testing.TB, sim *wechattest.Simulator, appID, wxURL string, mutate func(*Config)) *testServer {
	t.Helper()
	cfg := testConfig(t, appID, wxURL)
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &syncBuffer{}
	m := &Main{Config: cfg, Log: slog.New(slog.NewTextHandler(logs, nil))}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	go func() { _ = m.Serve() }()
	ts := &testServer{Main: m, sim: sim, logs: logs}
	t.Cleanup(func() {
		_ = m.Close(context.Background())
		if u := sim.Unexpected(); len(u) > 0 {
			t.Errorf("unexpected calls to the WeChat simulator: %v", u)
		}
		ts.assertNoSecretsIn(t, logs.String(), "the log")
	})
	return ts
}

// testConfig is DefaultConfig for a test server on a free loopback port
// against this package's database and a WeChat simulator at wxURL. Rate
// limits and the session cache are off, as tests share one client address
// and a few users: tests of those turn them on.
func testConfig(t testing.TB, appID, wxURL string) Config {
	cfg := DefaultConfig()
	cfg.DatabaseURL, cfg.Host, cfg.Port = storetest.DSN(t), "127.0.0.1", 0
	cfg.WechatAppID, cfg.WechatSecret, cfg.WechatAPIBase = appID, e2eSecret, wxURL
	cfg.WechatTimeout, cfg.SessionTTL, cfg.DBMaxConns = 2*time.Second, time.Hour, 10
	cfg.SecretKey, cfg.AvatarDir = bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 4), t.TempDir()
	cfg.RateLimits, cfg.SessionCacheTTL = RateLimits{}, 0
	return cfg
}

// gqlResponse is a GraphQL-over-HTTP answer.
type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	raw string
}

func (r *gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// do posts a GraphQL request, with token as the bearer when non-empty.
func (ts *testServer) do(t *testing.T, token, query string, vars map[string]any) *gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, ts.URL()+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "e2e-test/1.0")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("HTTP %d, body %s: %v", resp.StatusCode, raw, err)
	}
	out.raw = string(raw)
	return &out
}

const loginMutation = `mutation($in: LoginInput!) {
  login(input: $in) { token expiresAt created user { id nickname avatarUrl gender city province country language createdAt lastLoginAt } }
}`

type loginPayload struct {
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

func (ts *testServer) login(t *testing.T, in map[string]any) (*loginPayload, *gqlResponse) {
	t.Helper()
	resp := ts.do(t, "", loginMutation, map[string]any{"in": in})
	if len(resp.Errors) > 0 {
		return nil, resp
	}
	var p loginPayload
	if err := json.Unmarshal(resp.Data["login"], &p); err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	ts.tokens = append(ts.tokens, p.Token)
	ts.mu.Unlock()
	return &p, resp
}

func (ts *testServer) code(t *testing.T, user string) string {
	t.Helper()
	code, err := ts.sim.Login("", user)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func mustLogin(t *testing.T, ts *testServer, in map[string]any) *loginPayload {
	t.Helper()
	p, resp := ts.login(t, in)
	if p == nil {
		t.Fatalf("login failed: %s", resp.raw)
	}
	return p
}

func TestE2E_LoginMeLogout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := "alice-" + t.Name()

	first := mustLogin(t, ts, map[string]any{"code": ts.code(t, user)})
	if !first.Created || first.User.ID == "" || len(first.Token) != 43 {
		t.Fatalf("first login = %+v", first)
	}
	if d := time.Until(first.ExpiresAt); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("expiresAt is %v away, want SESSION_TTL (1h)", d)
	}

	me := ts.do(t, first.Token, `{ me { id } }`, nil)
	if len(me.Errors) > 0 || !strings.Contains(string(me.Data["me"]), first.User.ID) {
		t.Fatalf("me = %s", me.raw)
	}

	second := mustLogin(t, ts, map[string]any{"code": ts.code(t, user)})
	if second.Created || second.User.ID != first.User.ID || second.Token == first.Token {
		t.Fatalf("second login = %+v, want the same user, not created, a new token", second)
	}

	out := ts.do(t, first.Token, `mutation { logout }`, nil)
	if len(out.Errors) > 0 || string(out.Data["logout"]) != "true" {
		t.Fatalf("logout = %s", out.raw)
	}
	if me := ts.do(t, first.Token, `{ me { id } }`, nil); me.code() != "UNAUTHENTICATED" {
		t.Fatalf("me after logout = %s, want UNAUTHENTICATED", me.raw)
	}
	if out := ts.do(t, first.Token, `mutation { logout }`, nil); out.code() != "UNAUTHENTICATED" {
		t.Fatalf("second logout = %s, want UNAUTHENTICATED", out.raw)
	}
	// Logging out one session leaves the user's other sessions alone.
	if me := ts.do(t, second.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
		t.Fatalf("other session after logout = %s", me.raw)
	}
	// Creation, both logins and the logout are in the audit log.
	var actions []string
	if err := ts.store.DB().NewSelect().TableExpr("audit_log").Column("action").
		Where("target = ?", first.User.ID).OrderExpr("id").Scan(context.Background(), &actions); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(actions, " "); got != "user.create user.login user.login user.logout" {
		t.Fatalf("audit trail: %s", got)
	}
}

func TestE2E_Unauthenticated(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	for name, token := range map[string]string{
		"NoToken":     "",
		"Garbage":     "not-a-token",
		"UnknownWell": base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		"TooLong":     strings.Repeat("A", 5000),
	} {
		t.Run(name, func(t *testing.T) {
			if me := ts.do(t, token, `{ me { id } }`, nil); me.code() != "UNAUTHENTICATED" || me.Data["me"] != nil && string(me.Data["me"]) != "null" {
				t.Fatalf("me = %s", me.raw)
			}
		})
	}
	t.Run("OneSpellingPerToken", func(t *testing.T) {
		p := mustLogin(t, ts, map[string]any{"code": ts.code(t, "spelling")})
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		others := 0
		for _, c := range alphabet {
			variant := p.Token[:len(p.Token)-1] + string(c)
			if variant == p.Token {
				continue
			}
			others++
			if me := ts.do(t, variant, `{ me { id } }`, nil); me.code() != "UNAUTHENTICATED" {
				t.Fatalf("a token with its last character changed to %q authenticates", c)
			}
		}
		if me := ts.do(t, p.Token, `{ me { id } }`, nil); len(me.Errors) > 0 || others != 63 {
			t.Fatalf("the real token: %s", me.raw)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(ts.URL() + "/graphql?query=" + "%7B%20me%20%7B%20id%20%7D%20%7D")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), "UNAUTHENTICATED") {
			t.Fatalf("GET me = %s", body)
		}
	})
}

func TestE2E_LoginErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)

	t.Run("CodeTwice", func(t *testing.T) {
		code := ts.code(t, "bob")
		mustLogin(t, ts, map[string]any{"code": code})
		if _, resp := ts.login(t, map[string]any{"code": code}); resp.code() != "WECHAT_CODE_INVALID" {
			t.Fatalf("reused code = %s", resp.raw)
		}
	})
	t.Run("CodeExpired", func(t *testing.T) {
		ts := startServer(t, nil)
		code := ts.code(t, "bob")
		ts.sim.Advance(wechattest.CodeTTL + time.Second)
		if _, resp := ts.login(t, map[string]any{"code": code}); resp.code() != "WECHAT_CODE_INVALID" {
			t.Fatalf("expired code = %s", resp.raw)
		}
	})
	t.Run("CodeUnknown", func(t *testing.T) {
		if _, resp := ts.login(t, map[string]any{"code": "0a3Xyzunknown0000000000000000000"}); resp.code() != "WECHAT_CODE_INVALID" {
			t.Fatalf("unknown code = %s", resp.raw)
		}
	})
	for _, tc := range []struct {
		name  string
		fault wechattest.Fault
		code  string
	}{
		{"RateLimited", wechattest.Fault{Errcode: wechat.ErrcodeRateLimited}, "WECHAT_RATE_LIMITED"},
		{"Blocked", wechattest.Fault{Errcode: wechat.ErrcodeUserBlocked}, "WECHAT_USER_BLOCKED"},
		{"BadGateway", wechattest.Fault{Status: http.StatusBadGateway}, "WECHAT_UNAVAILABLE"},
		{"Garbage", wechattest.Fault{Body: "<html>"}, "WECHAT_UNAVAILABLE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, nil)
			ts.sim.Inject(tc.fault)
			if _, resp := ts.login(t, map[string]any{"code": ts.code(t, "carol")}); resp.code() != tc.code {
				t.Fatalf("login = %s, want %s", resp.raw, tc.code)
			}
		})
	}
	t.Run("Timeout", func(t *testing.T) {
		ts := startServer(t, func(c *Config) { c.WechatTimeout = 100 * time.Millisecond })
		ts.sim.Inject(wechattest.Fault{Delay: 3 * time.Second})
		if _, resp := ts.login(t, map[string]any{"code": ts.code(t, "carol")}); resp.code() != "WECHAT_UNAVAILABLE" {
			t.Fatalf("login = %s, want WECHAT_UNAVAILABLE", resp.raw)
		}
	})
	t.Run("BusyOnceRetried", func(t *testing.T) {
		ts := startServer(t, nil)
		ts.sim.Inject(wechattest.Fault{Errcode: wechat.ErrcodeBusy})
		mustLogin(t, ts, map[string]any{"code": ts.code(t, "dave")})
	})
	t.Run("BlockedUser", func(t *testing.T) {
		ts.sim.Block("eve")
		if _, resp := ts.login(t, map[string]any{"code": ts.code(t, "eve")}); resp.code() != "WECHAT_USER_BLOCKED" {
			t.Fatalf("login = %s", resp.raw)
		}
	})
	t.Run("WrongSecretIsInternal", func(t *testing.T) {
		ts := startServer(t, func(c *Config) { c.WechatSecret = "wrong-secret-value-123" })
		_, resp := ts.login(t, map[string]any{"code": ts.code(t, "frank")})
		if id, _ := resp.Errors[0].Extensions["requestId"].(string); resp.code() != "INTERNAL" || id == "" || !strings.Contains(ts.logs.String(), id) {
			t.Fatalf("login = %s, want INTERNAL with a requestId", resp.raw)
		}
		if strings.Contains(resp.raw, "wrong-secret-value-123") || strings.Contains(resp.raw, "40125") {
			t.Fatalf("the response leaks the cause: %s", resp.raw)
		}
		if strings.Contains(ts.logs.String(), "wrong-secret-value-123") {
			t.Fatal("the log holds the app secret")
		}
		if !strings.Contains(ts.logs.String(), "40125") {
			t.Fatalf("the log lacks the cause for the operator:\n%s", ts.logs.String())
		}
	})
	for name, in := range map[string]map[string]any{
		"EmptyCode":        {"code": ""},
		"SpaceInCode":      {"code": "abc def"},
		"HugeCode":         {"code": strings.Repeat("a", 1000)},
		"JunkCode":         {"code": strings.Repeat("z", 128)},
		"NonASCIICode":     {"code": "éééé"},
		"ControlCode":      {"code": "abc\x01def"},
		"SlashCode":        {"code": "abc/def+="},
		"RawDataAlone":     {"code": "x", "rawData": "{}"},
		"EncryptedNoIV":    {"code": "x", "encryptedData": "AAAA"},
		"RawDataNotJSON":   {"code": "x", "rawData": "nickName=Band", "signature": "abc"},
		"MissingCodeField": {},
	} {
		t.Run("BadInput"+name, func(t *testing.T) {
			before := ts.sim.Calls("/sns/jscode2session")
			_, resp := ts.login(t, in)
			if c := resp.code(); c != "BAD_USER_INPUT" && c != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("login = %s, want BAD_USER_INPUT", resp.raw)
			}
			if ts.sim.Calls("/sns/jscode2session") != before {
				t.Fatal("bad input reached WeChat (and would have spent the code)")
			}
		})
	}
}

func TestE2E_LegacyProfile(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	profile := wechat.Profile{NickName: "Band", Gender: 1, Language: "zh_CN", City: "Guangzhou", Province: "Guangdong", Country: "CN",
		AvatarURL: "https://thirdwx.qlogo.cn/mmopen/vi_32/x/132"}

	t.Run("Saved", func(t *testing.T) {
		code := ts.code(t, "grace")
		ui, err := ts.sim.UserInfo("", "grace", profile)
		if err != nil {
			t.Fatal(err)
		}
		p := mustLogin(t, ts, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature, "encryptedData": ui.EncryptedData, "iv": ui.IV})
		if p.User.Nickname == nil || *p.User.Nickname != "Band" || *p.User.Gender != "MALE" || *p.User.City != "Guangzhou" || *p.User.Country != "CN" {
			t.Fatalf("user = %+v", p.User)
		}
		me := ts.do(t, p.Token, `{ me { nickname gender language province avatarUrl } }`, nil)
		want := `{"nickname":"Band","gender":"MALE","language":"zh_CN","province":"Guangdong","avatarUrl":"https://thirdwx.qlogo.cn/mmopen/vi_32/x/132"}`
		if string(me.Data["me"]) != want {
			t.Fatalf("me = %s, want %s", me.Data["me"], want)
		}
	})

	t.Run("OnlyRawData", func(t *testing.T) {
		code := ts.code(t, "heidi")
		ui, _ := ts.sim.UserInfo("", "heidi", profile)
		p := mustLogin(t, ts, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature})
		if p.User.Nickname == nil || *p.User.Nickname != "Band" {
			t.Fatalf("user = %+v", p.User)
		}
	})

	// Each failure must leave no user, identity or session behind.
	for name, tamper := range map[string]func(ui *wechattest.UserInfo){
		"BadSignature": func(ui *wechattest.UserInfo) { ui.Signature = strings.Repeat("0", 40) },
		"TamperedRaw":  func(ui *wechattest.UserInfo) { ui.RawData = strings.Replace(ui.RawData, "Band", "Evil", 1) },
		"BadCipher":    func(ui *wechattest.UserInfo) { ui.EncryptedData = "AAAAAAAAAAAAAAAAAAAAAA==" },
	} {
		t.Run("Fails"+name, func(t *testing.T) {
			user := "ivan-" + name
			code := ts.code(t, user)
			ui, _ := ts.sim.UserInfo("", user, profile)
			tamper(&ui)
			_, resp := ts.login(t, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature, "encryptedData": ui.EncryptedData, "iv": ui.IV})
			if resp.code() != "DECRYPT_FAILED" {
				t.Fatalf("login = %s, want DECRYPT_FAILED", resp.raw)
			}
			ts.assertNoRowsFor(t, ts.sim.OpenID(e2eAppID, user))
		})
	}

	// What can be checked without the session_key is checked before the
	// code is spent: the answer is BAD_USER_INPUT, WeChat is not called, and
	// the same code then still logs in.
	for name, tamper := range map[string]func(ui *wechattest.UserInfo){
		"RawDataArray":       func(ui *wechattest.UserInfo) { ui.RawData = "[]" },
		"RawDataNumber":      func(ui *wechattest.UserInfo) { ui.RawData = "1" },
		"RawDataNull":        func(ui *wechattest.UserInfo) { ui.RawData = "null" },
		"SignatureNotHex":    func(ui *wechattest.UserInfo) { ui.Signature = "not-a-sha1" },
		"IVNotBase64":        func(ui *wechattest.UserInfo) { ui.IV = "!!" },
		"IVWrongLength":      func(ui *wechattest.UserInfo) { ui.IV = "AAAAAAAAAAAAAAAAAAAA" },
		"CipherNotBase64":    func(ui *wechattest.UserInfo) { ui.EncryptedData = "***" },
		"CipherNotBlockSize": func(ui *wechattest.UserInfo) { ui.EncryptedData = "AAAAAAAAAAAAAAAAAAAAAAAA" },
	} {
		t.Run("Malformed"+name, func(t *testing.T) {
			user := "olga-" + name
			code := ts.code(t, user)
			ui, _ := ts.sim.UserInfo("", user, profile)
			tamper(&ui)
			before := ts.sim.Calls("/sns/jscode2session")
			_, resp := ts.login(t, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature, "encryptedData": ui.EncryptedData, "iv": ui.IV})
			if resp.code() != "BAD_USER_INPUT" || ts.sim.Calls("/sns/jscode2session") != before {
				t.Fatalf("login = %s, want BAD_USER_INPUT without a WeChat call", resp.raw)
			}
			mustLogin(t, ts, map[string]any{"code": code})
		})
	}

	t.Run("OnlyWhatCanBeTrue", func(t *testing.T) {
		odd := wechat.Profile{NickName: "<img src=x onerror=alert(1)>\u202e\u0007", Gender: 65537, AvatarURL: "javascript:alert(1)"}
		code := ts.code(t, "peggy")
		ui, _ := ts.sim.UserInfo("", "peggy", odd)
		p := mustLogin(t, ts, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature, "encryptedData": ui.EncryptedData, "iv": ui.IV})
		me := ts.do(t, p.Token, `{ me { nickname gender avatarUrl } }`, nil)
		want := `{"nickname":"\u003cimg src=x onerror=alert(1)\u003e","gender":"UNKNOWN","avatarUrl":null}`
		if string(me.Data["me"]) != want {
			t.Fatalf("me = %s, want %s", me.Data["me"], want)
		}
	})

	t.Run("FailsStaleSessionKey", func(t *testing.T) {
		// wx.login() rotated the session_key after the data was encrypted.
		first := ts.code(t, "judy")
		ui, _ := ts.sim.UserInfo("", "judy", profile)
		_ = ts.code(t, "judy")
		staleUI := ui
		next := ts.code(t, "judy")
		_, resp := ts.login(t, map[string]any{"code": next, "rawData": staleUI.RawData, "signature": staleUI.Signature, "encryptedData": staleUI.EncryptedData, "iv": staleUI.IV})
		if resp.code() != "DECRYPT_FAILED" {
			t.Fatalf("login with data from an older session_key = %s, want DECRYPT_FAILED", resp.raw)
		}
		_ = first
		ts.assertNoRowsFor(t, ts.sim.OpenID(e2eAppID, "judy"))
	})

	t.Run("FailsOtherAppsData", func(t *testing.T) {
		ts.sim.AddApp(wechattest.App{AppID: "wx3333333333333333", Secret: "other"})
		if _, err := ts.sim.Login("wx3333333333333333", "mallory"); err != nil {
			t.Fatal(err)
		}
		foreign, _ := ts.sim.UserInfo("wx3333333333333333", "mallory", profile)
		code := ts.code(t, "mallory")
		_, resp := ts.login(t, map[string]any{"code": code, "encryptedData": foreign.EncryptedData, "iv": foreign.IV})
		if resp.code() != "DECRYPT_FAILED" {
			t.Fatalf("login = %s, want DECRYPT_FAILED", resp.raw)
		}
		ts.assertNoRowsFor(t, ts.sim.OpenID(e2eAppID, "mallory"))
	})
}

// assertNoRowsFor checks that nothing was recorded for openid.
func (ts *testServer) assertNoRowsFor(t *testing.T, openid string) {
	t.Helper()
	var n int
	err := ts.store.DB().QueryRowContext(context.Background(),
		`SELECT (SELECT count(*) FROM identities WHERE openid = ?)
		      + (SELECT count(*) FROM sessions s JOIN identities i ON i.id = s.identity_id WHERE i.openid = ?)
		      + (SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id))`,
		openid, openid).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("a failed login left %d rows behind", n)
	}
}

func TestE2E_NoSecretsAtRest(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	for i := range 5 {
		p := mustLogin(t, ts, map[string]any{"code": ts.code(t, fmt.Sprintf("kim%d", i))})
		if me := ts.do(t, p.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
			t.Fatal(me.raw)
		}
	}
	if len(ts.sim.SessionKeys()) < 5 || len(ts.tokens) < 5 {
		t.Fatal("nothing to look for")
	}
	var tables []string
	if err := ts.store.DB().NewSelect().TableExpr("information_schema.tables").Column("table_name").
		Where("table_schema = 'public'").Scan(context.Background(), &tables); err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	for _, table := range tables {
		var rows []string
		if err := ts.store.DB().NewSelect().TableExpr("? AS t", bun.Ident(table)).ColumnExpr("t::text").
			Scan(context.Background(), &rows); err != nil {
			t.Fatal(err)
		}
		dump.WriteString(strings.Join(rows, "\n"))
	}
	if !strings.Contains(dump.String(), ts.sim.OpenID(e2eAppID, "kim0")) {
		t.Fatal("the dump lacks data it should hold; the check would prove nothing")
	}
	ts.assertNoSecretsIn(t, dump.String(), "the database")
}

// assertNoSecretsIn fails if text holds any token or session_key handed out,
// as text or as the hex Postgres shows bytea in.
func (ts *testServer) assertNoSecretsIn(t testing.TB, text, where string) {
	t.Helper()
	ts.mu.Lock()
	secrets := append([]string(nil), ts.tokens...)
	ts.mu.Unlock()
	for _, k := range ts.sim.SessionKeys() {
		secrets = append(secrets, string(k))
	}
	secrets = append(secrets, e2eSecret)
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

func TestE2E_DevMode(t *testing.T) {
	t.Parallel()
	// The README walk-through: the mounted simulator mints a code over HTTP.
	cfg := DefaultConfig()
	cfg.DatabaseURL, cfg.Port, cfg.DevWechat, cfg.WechatTimeout = storetest.DSN(t), 0, true, 2*time.Second
	cfg.SessionTTL, cfg.DBMaxConns, cfg.AvatarDir = time.Hour, 4, t.TempDir()
	cfg.fillDevDefaults()
	m := &Main{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	go func() { _ = m.Serve() }()
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	ts := &testServer{Main: m, sim: m.Simulator}

	resp, err := http.Post(m.URL()+"/dev/wechat/code", "application/json", strings.NewReader(`{"user":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	var minted struct{ Code string }
	_ = json.NewDecoder(resp.Body).Decode(&minted)
	resp.Body.Close()
	if minted.Code == "" {
		t.Fatal("no code minted")
	}
	p := mustLogin(t, ts, map[string]any{"code": minted.Code})
	if me := ts.do(t, p.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
		t.Fatal(me.raw)
	}
	// Playground and introspection are dev-only conveniences. The
	// playground is the embedded GraphiQL, reached from / and /playground
	// by redirect; its page and scripts come from this server.
	for _, path := range []string{"/", "/playground", "/playground/"} {
		r, err := http.Get(m.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusOK || r.Request.URL.Path != "/playground/" ||
			!strings.Contains(string(body), "<title>wxlogin playground</title>") {
			t.Fatalf("GET %s: %d at %s", path, r.StatusCode, r.Request.URL)
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") {
			t.Fatalf("GET %s: CSP %q", path, csp)
		}
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := noFollow.Get(m.URL() + "/playground")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/playground/" {
		t.Fatalf("GET /playground: %d to %q, want a 302 to /playground/", r.StatusCode, r.Header.Get("Location"))
	}
	if r, err := http.Get(m.URL() + "/playground/vendor/graphiql/graphiql.min.js"); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("vendored GraphiQL: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	if intro := ts.do(t, "", `{ __schema { queryType { name } } }`, nil); len(intro.Errors) > 0 {
		t.Fatalf("introspection in dev mode: %s", intro.raw)
	}
}

func TestE2E_ProductionHidesDevFeatures(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	// Each dev route asked the way it answers in dev mode: a 405 from a
	// mounted route must not pass for absent.
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/playground"}, {http.MethodGet, "/playground/"},
		{http.MethodGet, "/playground/vendor/graphiql/graphiql.min.js"}, {http.MethodGet, "/"},
		{http.MethodPost, "/dev/wechat/code"}, {http.MethodGet, "/dev/wechat/api/sns/jscode2session"},
	} {
		r, err := http.NewRequest(req.method, ts.URL()+req.path, strings.NewReader(`{"user":"alice"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s %s answers %d outside dev mode", req.method, req.path, resp.StatusCode)
		}
	}
	if intro := ts.do(t, "", `{ __schema { queryType { name } } }`, nil); len(intro.Errors) == 0 {
		t.Fatalf("introspection is on outside dev mode: %s", intro.raw)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		r, err := http.Get(ts.URL() + path)
		if err != nil || r.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", path, r, err)
		}
		r.Body.Close()
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// benchPost posts body to url with token as the bearer, reads the answer
// and fails b unless it is a 200.
func benchPost(b *testing.B, client *http.Client, url, token string, body []byte) {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatal(resp.Status)
	}
}

// BenchmarkE2E_Me is `{ me { id } }` over real HTTP: token parse, session
// lookup, GraphQL execution.
func BenchmarkE2E_Me(b *testing.B) {
	ts := startServer(b, nil)
	code, _ := ts.sim.Login("", "bench")
	token := benchLogin(b, ts, code)
	body := []byte(`{"query":"{ me { id } }"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchPost(b, client, ts.URL()+"/graphql", token, body)
		}
	})
}

// BenchmarkE2E_Login is a whole login over real HTTP, WeChat simulated over
// HTTP too: code2Session, then the one-transaction upsert and session insert.
func BenchmarkE2E_Login(b *testing.B) {
	ts := startServer(b, nil)
	codes := make(chan string, 1024)
	go func() {
		for i := 0; ; i++ {
			code, err := ts.sim.Login("", fmt.Sprintf("user%d", i%500))
			if err != nil {
				close(codes)
				return
			}
			select {
			case codes <- code:
			case <-b.Context().Done():
				return
			}
		}
	}()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchLogin(b, ts, <-codes)
		}
	})
}

func benchLogin(b *testing.B, ts *testServer, code string) string {
	body, _ := json.Marshal(map[string]any{"query": `mutation($c: String!) { login(input: {code: $c}) { token } }`, "variables": map[string]any{"c": code}})
	resp, err := http.Post(ts.URL()+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data struct{ Login struct{ Token string } }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Data.Login.Token == "" {
		b.Fatalf("login failed: %v", err)
	}
	return out.Data.Login.Token
}

func TestE2E_GraphQLOverHTTP(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)

	t.Run("GETRefusesMutations", func(t *testing.T) {
		// With a valid token, so that logout would succeed if it ran.
		p := mustLogin(t, ts, map[string]any{"code": ts.code(t, "get-mutation")})
		req, _ := http.NewRequest(http.MethodGet, ts.URL()+"/graphql?query="+"mutation%7Blogout%7D", nil)
		req.Header.Set("Authorization", "Bearer "+p.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" || strings.Contains(string(body), `"logout"`) {
			t.Fatalf("GET mutation: %d %v %s", resp.StatusCode, resp.Header, body)
		}
		if me := ts.do(t, p.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
			t.Fatalf("GET logged the session out: %s", me.raw)
		}
	})

	t.Run("BadJSONIsBadUserInput", func(t *testing.T) {
		resp, err := http.Post(ts.URL()+"/graphql", "application/json", strings.NewReader("{not json"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "BAD_USER_INPUT") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})

	t.Run("OversizedBodyRefused", func(t *testing.T) {
		big := `{"query":"{ me { id } }","variables":{"x":"` + strings.Repeat("a", 2<<20) + `"}}`
		resp, err := http.Post(ts.URL()+"/graphql", "application/json", strings.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "BAD_USER_INPUT") {
			t.Fatalf("a 2 MiB body: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("RequestIDIsOurs", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL()+"/graphql", strings.NewReader(`{"query":"{ me { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", "trace-42")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if id := resp.Header.Get("X-Request-Id"); id == "trace-42" || len(id) != 16 {
			t.Fatalf("X-Request-Id = %q", id)
		}
	})

	t.Run("HeadersOnEveryResponse", func(t *testing.T) {
		for _, path := range []string{"/graphql", "/healthz", "/nowhere"} {
			resp, err := http.Get(ts.URL() + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("%s: headers %v", path, resp.Header)
			}
			if path == "/graphql" && resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("%s: headers %v", path, resp.Header)
			}
		}
	})

	t.Run("OneLoginPerRequest", func(t *testing.T) {
		before := ts.sim.Calls("/sns/jscode2session")
		resp := ts.do(t, "", `mutation($a: String!, $b: String!) { a: login(input: {code: $a}) { token } b: login(input: {code: $b}) { token } }`,
			map[string]any{"a": ts.code(t, "twice"), "b": ts.code(t, "twice")})
		if resp.code() != "QUERY_TOO_COMPLEX" || ts.sim.Calls("/sns/jscode2session") != before {
			t.Fatalf("two logins: %s, %d WeChat calls", resp.raw, ts.sim.Calls("/sns/jscode2session")-before)
		}
	})
}
