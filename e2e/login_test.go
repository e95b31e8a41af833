package e2e_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/store/storetest"
	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestE2E_LoginMeLogout(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	user := "alice-" + t.Name()

	first := ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)})
	if !first.Created || first.User.ID == "" || len(first.Token) != 43 {
		t.Fatalf("first login = %+v", first)
	}
	if d := time.Until(first.ExpiresAt); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("expiresAt is %v away, want SESSION_TTL (1h)", d)
	}

	me := ts.Do(t, first.Token, `{ me { id } }`, nil)
	if len(me.Errors) > 0 || !strings.Contains(string(me.Data["me"]), first.User.ID) {
		t.Fatalf("me = %s", me.Raw)
	}

	second := ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)})
	if second.Created || second.User.ID != first.User.ID || second.Token == first.Token {
		t.Fatalf("second login = %+v, want the same user, not created, a new token", second)
	}

	out := ts.Do(t, first.Token, `mutation { logout }`, nil)
	if len(out.Errors) > 0 || string(out.Data["logout"]) != "true" {
		t.Fatalf("logout = %s", out.Raw)
	}
	if me := ts.Do(t, first.Token, `{ me { id } }`, nil); me.Code() != "UNAUTHENTICATED" {
		t.Fatalf("me after logout = %s, want UNAUTHENTICATED", me.Raw)
	}
	if out := ts.Do(t, first.Token, `mutation { logout }`, nil); out.Code() != "UNAUTHENTICATED" {
		t.Fatalf("second logout = %s, want UNAUTHENTICATED", out.Raw)
	}
	// Logging out one session leaves the user's other sessions alone.
	if me := ts.Do(t, second.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
		t.Fatalf("other session after logout = %s", me.Raw)
	}
	// Creation, both logins and the logout are in the audit log.
	var actions []string
	if err := ts.Store().DB().NewSelect().TableExpr("audit_log").Column("action").
		Where("target = ?", first.User.ID).OrderExpr("id").Scan(context.Background(), &actions); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(actions, " "); got != "user.create user.login user.login user.logout" {
		t.Fatalf("audit trail: %s", got)
	}
}

func TestE2E_Unauthenticated(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	for name, token := range map[string]string{
		"NoToken":     "",
		"Garbage":     "not-a-token",
		"UnknownWell": base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		"TooLong":     strings.Repeat("A", 5000),
	} {
		t.Run(name, func(t *testing.T) {
			if me := ts.Do(t, token, `{ me { id } }`, nil); me.Code() != "UNAUTHENTICATED" || me.Data["me"] != nil && string(me.Data["me"]) != "null" {
				t.Fatalf("me = %s", me.Raw)
			}
		})
	}
	t.Run("OneSpellingPerToken", func(t *testing.T) {
		p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "spelling")})
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		others := 0
		for _, c := range alphabet {
			variant := p.Token[:len(p.Token)-1] + string(c)
			if variant == p.Token {
				continue
			}
			others++
			if me := ts.Do(t, variant, `{ me { id } }`, nil); me.Code() != "UNAUTHENTICATED" {
				t.Fatalf("a token with its last character changed to %q authenticates", c)
			}
		}
		if me := ts.Do(t, p.Token, `{ me { id } }`, nil); len(me.Errors) > 0 || others != 63 {
			t.Fatalf("the real token: %s", me.Raw)
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
	ts := apptest.Start(t)

	t.Run("CodeTwice", func(t *testing.T) {
		code := ts.Code(t, "bob")
		ts.MustLogin(t, map[string]any{"code": code})
		if _, resp := ts.Login(t, map[string]any{"code": code}); resp.Code() != "WECHAT_CODE_INVALID" {
			t.Fatalf("reused code = %s", resp.Raw)
		}
	})
	t.Run("CodeExpired", func(t *testing.T) {
		ts := apptest.Start(t)
		code := ts.Code(t, "bob")
		ts.Sim.Advance(wechattest.CodeTTL + time.Second)
		if _, resp := ts.Login(t, map[string]any{"code": code}); resp.Code() != "WECHAT_CODE_INVALID" {
			t.Fatalf("expired code = %s", resp.Raw)
		}
	})
	t.Run("CodeUnknown", func(t *testing.T) {
		if _, resp := ts.Login(t, map[string]any{"code": "0a3Xyzunknown0000000000000000000"}); resp.Code() != "WECHAT_CODE_INVALID" {
			t.Fatalf("unknown code = %s", resp.Raw)
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
			ts := apptest.Start(t)
			ts.Sim.Inject(tc.fault)
			if _, resp := ts.Login(t, map[string]any{"code": ts.Code(t, "carol")}); resp.Code() != tc.code {
				t.Fatalf("login = %s, want %s", resp.Raw, tc.code)
			}
		})
	}
	t.Run("Timeout", func(t *testing.T) {
		ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.WechatTimeout = 100 * time.Millisecond }))
		ts.Sim.Inject(wechattest.Fault{Delay: 3 * time.Second})
		if _, resp := ts.Login(t, map[string]any{"code": ts.Code(t, "carol")}); resp.Code() != "WECHAT_UNAVAILABLE" {
			t.Fatalf("login = %s, want WECHAT_UNAVAILABLE", resp.Raw)
		}
	})
	t.Run("BusyOnceRetried", func(t *testing.T) {
		ts := apptest.Start(t)
		ts.Sim.Inject(wechattest.Fault{Errcode: wechat.ErrcodeBusy})
		ts.MustLogin(t, map[string]any{"code": ts.Code(t, "dave")})
	})
	t.Run("BlockedUser", func(t *testing.T) {
		ts.Sim.Block("eve")
		if _, resp := ts.Login(t, map[string]any{"code": ts.Code(t, "eve")}); resp.Code() != "WECHAT_USER_BLOCKED" {
			t.Fatalf("login = %s", resp.Raw)
		}
	})
	t.Run("WrongSecretIsInternal", func(t *testing.T) {
		ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.WechatSecret = "wrong-secret-value-123" }))
		_, resp := ts.Login(t, map[string]any{"code": ts.Code(t, "frank")})
		if id, _ := resp.Errors[0].Extensions["requestId"].(string); resp.Code() != "INTERNAL" || id == "" || !strings.Contains(ts.Logs.String(), id) {
			t.Fatalf("login = %s, want INTERNAL with a requestId", resp.Raw)
		}
		if strings.Contains(resp.Raw, "wrong-secret-value-123") || strings.Contains(resp.Raw, "40125") {
			t.Fatalf("the response leaks the cause: %s", resp.Raw)
		}
		if strings.Contains(ts.Logs.String(), "wrong-secret-value-123") {
			t.Fatal("the log holds the app secret")
		}
		if !strings.Contains(ts.Logs.String(), "40125") {
			t.Fatalf("the log lacks the cause for the operator:\n%s", ts.Logs.String())
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
			before := ts.Sim.Calls("/sns/jscode2session")
			_, resp := ts.Login(t, in)
			if c := resp.Code(); c != "BAD_USER_INPUT" && c != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("login = %s, want BAD_USER_INPUT", resp.Raw)
			}
			if ts.Sim.Calls("/sns/jscode2session") != before {
				t.Fatal("bad input reached WeChat (and would have spent the code)")
			}
		})
	}
}

func TestE2E_LegacyProfile(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	profile := wechat.Profile{NickName: "Band", Gender: 1, Language: "zh_CN", City: "Guangzhou", Province: "Guangdong", Country: "CN",
		AvatarURL: "https://thirdwx.qlogo.cn/mmopen/vi_32/x/132"}

	t.Run("Saved", func(t *testing.T) {
		code := ts.Code(t, "grace")
		ui, err := ts.Sim.UserInfo("", "grace", profile)
		if err != nil {
			t.Fatal(err)
		}
		p := ts.MustLogin(t, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature, "encryptedData": ui.EncryptedData, "iv": ui.IV})
		if p.User.Nickname == nil || *p.User.Nickname != "Band" || *p.User.Gender != "MALE" || *p.User.City != "Guangzhou" || *p.User.Country != "CN" {
			t.Fatalf("user = %+v", p.User)
		}
		me := ts.Do(t, p.Token, `{ me { nickname gender language province avatarUrl } }`, nil)
		want := `{"nickname":"Band","gender":"MALE","language":"zh_CN","province":"Guangdong","avatarUrl":"https://thirdwx.qlogo.cn/mmopen/vi_32/x/132"}`
		if string(me.Data["me"]) != want {
			t.Fatalf("me = %s, want %s", me.Data["me"], want)
		}
	})

	t.Run("OnlyRawData", func(t *testing.T) {
		code := ts.Code(t, "heidi")
		ui, _ := ts.Sim.UserInfo("", "heidi", profile)
		p := ts.MustLogin(t, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature})
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
			code := ts.Code(t, user)
			ui, _ := ts.Sim.UserInfo("", user, profile)
			tamper(&ui)
			_, resp := ts.Login(t, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature, "encryptedData": ui.EncryptedData, "iv": ui.IV})
			if resp.Code() != "DECRYPT_FAILED" {
				t.Fatalf("login = %s, want DECRYPT_FAILED", resp.Raw)
			}
			assertNoRowsFor(ts, t, ts.Sim.OpenID(apptest.AppID, user))
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
			code := ts.Code(t, user)
			ui, _ := ts.Sim.UserInfo("", user, profile)
			tamper(&ui)
			before := ts.Sim.Calls("/sns/jscode2session")
			_, resp := ts.Login(t, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature, "encryptedData": ui.EncryptedData, "iv": ui.IV})
			if resp.Code() != "BAD_USER_INPUT" || ts.Sim.Calls("/sns/jscode2session") != before {
				t.Fatalf("login = %s, want BAD_USER_INPUT without a WeChat call", resp.Raw)
			}
			ts.MustLogin(t, map[string]any{"code": code})
		})
	}

	t.Run("OnlyWhatCanBeTrue", func(t *testing.T) {
		odd := wechat.Profile{NickName: "<img src=x onerror=alert(1)>\u202e\u0007", Gender: 65537, AvatarURL: "javascript:alert(1)"}
		code := ts.Code(t, "peggy")
		ui, _ := ts.Sim.UserInfo("", "peggy", odd)
		p := ts.MustLogin(t, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature, "encryptedData": ui.EncryptedData, "iv": ui.IV})
		me := ts.Do(t, p.Token, `{ me { nickname gender avatarUrl } }`, nil)
		want := `{"nickname":"\u003cimg src=x onerror=alert(1)\u003e","gender":"UNKNOWN","avatarUrl":null}`
		if string(me.Data["me"]) != want {
			t.Fatalf("me = %s, want %s", me.Data["me"], want)
		}
	})

	t.Run("FailsStaleSessionKey", func(t *testing.T) {
		// wx.login() rotated the session_key after the data was encrypted.
		first := ts.Code(t, "judy")
		ui, _ := ts.Sim.UserInfo("", "judy", profile)
		_ = ts.Code(t, "judy")
		staleUI := ui
		next := ts.Code(t, "judy")
		_, resp := ts.Login(t, map[string]any{"code": next, "rawData": staleUI.RawData, "signature": staleUI.Signature, "encryptedData": staleUI.EncryptedData, "iv": staleUI.IV})
		if resp.Code() != "DECRYPT_FAILED" {
			t.Fatalf("login with data from an older session_key = %s, want DECRYPT_FAILED", resp.Raw)
		}
		_ = first
		assertNoRowsFor(ts, t, ts.Sim.OpenID(apptest.AppID, "judy"))
	})

	t.Run("FailsOtherAppsData", func(t *testing.T) {
		ts.Sim.AddApp(wechattest.App{AppID: "wx3333333333333333", Secret: "other"})
		if _, err := ts.Sim.Login("wx3333333333333333", "mallory"); err != nil {
			t.Fatal(err)
		}
		foreign, _ := ts.Sim.UserInfo("wx3333333333333333", "mallory", profile)
		code := ts.Code(t, "mallory")
		_, resp := ts.Login(t, map[string]any{"code": code, "encryptedData": foreign.EncryptedData, "iv": foreign.IV})
		if resp.Code() != "DECRYPT_FAILED" {
			t.Fatalf("login = %s, want DECRYPT_FAILED", resp.Raw)
		}
		assertNoRowsFor(ts, t, ts.Sim.OpenID(apptest.AppID, "mallory"))
	})
}

// assertNoRowsFor checks that nothing was recorded for openid.
func assertNoRowsFor(ts *apptest.Server, t *testing.T, openid string) {
	t.Helper()
	var n int
	err := ts.Store().DB().QueryRowContext(context.Background(),
		`SELECT (SELECT count(*) FROM identities WHERE openid = ?)
		      + (SELECT count(*) FROM sessions s JOIN identities i ON i.id = s.identity_id WHERE i.openid = ?)
		      + (SELECT count(*) FROM users u WHERE u.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id))`,
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
	ts := apptest.Start(t)
	for i := range 5 {
		p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, fmt.Sprintf("kim%d", i))})
		if me := ts.Do(t, p.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
			t.Fatal(me.Raw)
		}
	}
	if len(ts.Sim.SessionKeys()) < 5 || len(ts.Tokens()) < 5 {
		t.Fatal("nothing to look for")
	}
	var tables []string
	if err := ts.Store().DB().NewSelect().TableExpr("information_schema.tables").Column("table_name").
		Where("table_schema = 'public'").Scan(context.Background(), &tables); err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	for _, table := range tables {
		var rows []string
		if err := ts.Store().DB().NewSelect().TableExpr("? AS t", bun.Ident(table)).ColumnExpr("t::text").
			Scan(context.Background(), &rows); err != nil {
			t.Fatal(err)
		}
		dump.WriteString(strings.Join(rows, "\n"))
	}
	if !strings.Contains(dump.String(), ts.Sim.OpenID(apptest.AppID, "kim0")) {
		t.Fatal("the dump lacks data it should hold; the check would prove nothing")
	}
	ts.AssertNoSecretsIn(t, dump.String(), "the database")
}

func TestE2E_DevMode(t *testing.T) {
	t.Parallel()
	// The README walk-through: the mounted simulator mints a code over HTTP.
	ts := apptest.Start(t, apptest.DevMode())
	m := ts.Main

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
	p := ts.MustLogin(t, map[string]any{"code": minted.Code})
	if me := ts.Do(t, p.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
		t.Fatal(me.Raw)
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
	if intro := ts.Do(t, "", `{ __schema { queryType { name } } }`, nil); len(intro.Errors) > 0 {
		t.Fatalf("introspection in dev mode: %s", intro.Raw)
	}
}

func TestE2E_ProductionHidesDevFeatures(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
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
	if intro := ts.Do(t, "", `{ __schema { queryType { name } } }`, nil); len(intro.Errors) == 0 {
		t.Fatalf("introspection is on outside dev mode: %s", intro.Raw)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		r, err := http.Get(ts.URL() + path)
		if err != nil || r.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", path, r, err)
		}
		r.Body.Close()
	}
}

// BenchmarkE2E_Me is `{ me { id } }` over real HTTP: token parse, session
// lookup, GraphQL execution.
func BenchmarkE2E_Me(b *testing.B) {
	ts := apptest.Start(b)
	code, _ := ts.Sim.Login("", "bench")
	token := benchLogin(b, ts, code)
	body := []byte(`{"query":"{ me { id } }"}`)
	c := ts.Using(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}})
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.PostBody(b, token, body)
		}
	})
}

// BenchmarkE2E_Login is a whole login over real HTTP, WeChat simulated over
// HTTP too: code2Session, then the one-transaction upsert and session insert.
func BenchmarkE2E_Login(b *testing.B) {
	ts := apptest.Start(b)
	codes := make(chan string, 1024)
	go func() {
		for i := 0; ; i++ {
			code, err := ts.Sim.Login("", fmt.Sprintf("user%d", i%500))
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

// benchLogin logs in with code, for a benchmark: only the token is asked for.
func benchLogin(b *testing.B, ts *apptest.Server, code string) string {
	r := ts.Post("", `mutation($c: String!) { login(input: {code: $c}) { token } }`, map[string]any{"c": code})
	var out struct{ Token string }
	if r.Err != nil || json.Unmarshal(r.Resp.Data["login"], &out) != nil || out.Token == "" {
		b.Fatalf("login failed: %v %s", r.Err, r.Resp.Raw)
	}
	return out.Token
}

func TestE2E_GraphQLOverHTTP(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)

	t.Run("GETRefusesMutations", func(t *testing.T) {
		// With a valid token, so that logout would succeed if it ran.
		p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "get-mutation")})
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
		if me := ts.Do(t, p.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
			t.Fatalf("GET logged the session out: %s", me.Raw)
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
		before := ts.Sim.Calls("/sns/jscode2session")
		resp := ts.Do(t, "", `mutation($a: String!, $b: String!) { a: login(input: {code: $a}) { token } b: login(input: {code: $b}) { token } }`,
			map[string]any{"a": ts.Code(t, "twice"), "b": ts.Code(t, "twice")})
		if resp.Code() != "QUERY_TOO_COMPLEX" || ts.Sim.Calls("/sns/jscode2session") != before {
			t.Fatalf("two logins: %s, %d WeChat calls", resp.Raw, ts.Sim.Calls("/sns/jscode2session")-before)
		}
	})
}
