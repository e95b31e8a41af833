package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"wxlogin/app/apptest"
	"wxlogin/wechat/wechattest"
)

// Every test here that needs an access token has an appid of its own: the
// token row is per appid in the package's shared database, and each test's
// simulator knows only the tokens it issued.
func phoneAppID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "wx" + hex.EncodeToString(b)
}

// phoneSim is a simulator for a fresh app, served over HTTP.
func phoneSim(t *testing.T) (*wechattest.Simulator, string, string) {
	t.Helper()
	appID := phoneAppID()
	sim := wechattest.New(wechattest.App{AppID: appID, Secret: apptest.Secret})
	wx := httptest.NewServer(sim.Handler())
	t.Cleanup(wx.Close)
	return sim, appID, wx.URL
}

// randomMobile is a mainland mobile number (national) that no other test
// binds: a number belongs to one user, and the package's tests share a database.
func randomMobile(t *testing.T) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1e9))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("13%09d", n)
}

// phoneHolders counts the users with phone (E.164).
func phoneHolders(ts *apptest.Server, t *testing.T, phone string) int {
	t.Helper()
	var n int
	if err := ts.Store().DB().QueryRowContext(context.Background(), `SELECT count(*) FROM users WHERE phone = ?`, phone).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

const bindPhone = `mutation($in: PhoneInput!) { bindPhoneNumber(input: $in) { id phone } }`

// bind sends bindPhoneNumber and returns the phone it answered ("" on error).
func bind(ts *apptest.Server, t *testing.T, token string, in map[string]any) (string, *apptest.Response) {
	t.Helper()
	resp := ts.Do(t, token, bindPhone, map[string]any{"in": in})
	if len(resp.Errors) > 0 {
		return "", resp
	}
	var u struct{ Phone *string }
	if err := json.Unmarshal(resp.Data["bindPhoneNumber"], &u); err != nil || u.Phone == nil {
		t.Fatalf("bindPhoneNumber = %s", resp.Raw)
	}
	return *u.Phone, resp
}

func phoneCode(ts *apptest.Server, t *testing.T, user string) string {
	t.Helper()
	c, err := ts.Sim.PhoneCode("", user)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// assertNotIn fails if any of secrets shows in the server's log.
func assertNotLogged(ts *apptest.Server, t *testing.T, secrets ...string) {
	t.Helper()
	logs := ts.Logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Fatalf("the log holds %q", s)
		}
	}
}

func TestPhone_Code(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	ts := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL))
	const user = "phone-alice"
	if err := sim.SetPhone(user, "86", "13800138000"); err != nil {
		t.Fatal(err)
	}
	p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)})

	code := phoneCode(ts, t, user)
	got, resp := bind(ts, t, p.Token, map[string]any{"code": code})
	if got != "+8613800138000" {
		t.Fatalf("bindPhoneNumber = %s", resp.Raw)
	}
	if me := ts.Do(t, p.Token, `{ me { phone } }`, nil); !strings.Contains(me.Raw, `"+8613800138000"`) {
		t.Fatalf("me = %s", me.Raw)
	}

	t.Run("UsedCode", func(t *testing.T) {
		_, resp := bind(ts, t, p.Token, map[string]any{"code": code})
		if resp.Code() != "WECHAT_CODE_INVALID" || !strings.Contains(resp.Errors[0].Message, "getPhoneNumber button") {
			t.Fatalf("used code: %s", resp.Raw)
		}
	})

	t.Run("AuditMasked", func(t *testing.T) {
		var detail string
		var n int
		err := ts.Store().DB().QueryRowContext(context.Background(),
			`SELECT count(*) OVER (), detail::text FROM audit_log WHERE action = 'user.bind_phone' AND target = ?`, p.User.ID).Scan(&n, &detail)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 || !strings.Contains(detail, `"+86138****8000"`) || !strings.Contains(detail, `"countryCode": "86"`) ||
			strings.Contains(detail, "13800138000") {
			t.Fatalf("%d audit rows, detail %s", n, detail)
		}
	})

	t.Run("AdminSearch", func(t *testing.T) {
		viewer, _ := ts.AdminLogin(t, "phone-viewer", apptest.CreateAdmin(t, "phone-viewer", "viewer"))
		resp := ts.Do(t, viewer, `{ users(filter: {search: "+8613800138000"}) { edges { node { id phone } } } }`, nil)
		if !strings.Contains(resp.Raw, p.User.ID) || !strings.Contains(resp.Raw, "+8613800138000") {
			t.Fatalf("admin search by phone: %s", resp.Raw)
		}
	})

	t.Run("ForeignNumber", func(t *testing.T) {
		const bob = "phone-bob"
		if err := sim.SetPhone(bob, "+44", "7700900123"); err != nil {
			t.Fatal(err)
		}
		pb := ts.MustLogin(t, map[string]any{"code": ts.Code(t, bob)})
		if got, resp := bind(ts, t, pb.Token, map[string]any{"code": phoneCode(ts, t, bob)}); got != "+447700900123" {
			t.Fatalf("foreign number: %s", resp.Raw)
		}
		var cc string
		if err := ts.Store().DB().QueryRowContext(context.Background(), `SELECT phone_country_code FROM users WHERE id = ?`, pb.User.ID).Scan(&cc); err != nil || cc != "44" {
			t.Fatalf("phone_country_code %q %v", cc, err)
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		before := sim.Calls(wechattest.PathPhoneNumber) + sim.Calls(wechattest.PathStableToken) + sim.Calls(wechattest.PathCheckSession)
		od, err := sim.PhoneData("", user)
		if err != nil {
			t.Fatal(err)
		}
		for name, in := range map[string]map[string]any{
			"Malformed":        {"code": "not a code!"},
			"TooLong":          {"code": strings.Repeat("a", 129)},
			"Neither":          {},
			"AllNull":          {"code": nil, "encryptedData": nil, "iv": nil},
			"Both":             {"code": phoneCode(ts, t, user), "encryptedData": od.EncryptedData, "iv": od.IV},
			"CodeAndIV":        {"code": phoneCode(ts, t, user), "iv": od.IV},
			"EncryptedNoIV":    {"encryptedData": od.EncryptedData},
			"BadIV":            {"encryptedData": od.EncryptedData, "iv": "AAAA"},
			"BadEncryptedData": {"encryptedData": "!!", "iv": od.IV},
		} {
			if _, resp := bind(ts, t, p.Token, in); resp.Code() != "BAD_USER_INPUT" {
				t.Errorf("%s: %s", name, resp.Raw)
			}
		}
		after := sim.Calls(wechattest.PathPhoneNumber) + sim.Calls(wechattest.PathStableToken) + sim.Calls(wechattest.PathCheckSession)
		if after != before {
			t.Fatalf("bad input made %d WeChat calls", after-before)
		}
	})

	t.Run("Unauthenticated", func(t *testing.T) {
		before := sim.Calls(wechattest.PathPhoneNumber)
		for _, tok := range []string{"", "bogus", p.Token + "x"} {
			if _, resp := bind(ts, t, tok, map[string]any{"code": phoneCode(ts, t, user)}); resp.Code() != "UNAUTHENTICATED" {
				t.Fatalf("token %q: %s", tok, resp.Raw)
			}
		}
		if sim.Calls(wechattest.PathPhoneNumber) != before {
			t.Fatal("an unauthenticated request reached WeChat")
		}
	})

	t.Run("WechatDown", func(t *testing.T) {
		sim.InjectAt(wechattest.PathPhoneNumber, wechattest.Fault{Status: 502})
		if _, resp := bind(ts, t, p.Token, map[string]any{"code": phoneCode(ts, t, user)}); resp.Code() != "WECHAT_UNAVAILABLE" {
			t.Fatalf("WeChat down: %s", resp.Raw)
		}
	})

	t.Run("OnePerRequest", func(t *testing.T) {
		resp := ts.Do(t, p.Token, `mutation($c: String, $d: String) { a: bindPhoneNumber(input: {code: $c}) { id } b: bindPhoneNumber(input: {code: $d}) { id } }`,
			map[string]any{"c": phoneCode(ts, t, user), "d": phoneCode(ts, t, user)})
		if resp.Code() != "QUERY_TOO_COMPLEX" {
			t.Fatalf("two binds in a request: %s", resp.Raw)
		}
	})
	assertNotLogged(ts, t, "13800138000", "7700900123", code)
}

func TestPhone_EncryptedData(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	ts := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL))
	const user = "phone-carol"
	if err := sim.SetPhone(user, "86", "13912345678"); err != nil {
		t.Fatal(err)
	}
	p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)})
	od, err := sim.PhoneData("", user)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("CorruptWithCurrentKey", func(t *testing.T) {
		// A changed iv changes the first plaintext block only: the padding
		// still checks out, the JSON does not. The key is still current.
		iv, _ := base64.StdEncoding.DecodeString(od.IV)
		iv[0] ^= 0x55
		before := sim.Calls(wechattest.PathCheckSession)
		_, resp := bind(ts, t, p.Token, map[string]any{"encryptedData": od.EncryptedData, "iv": base64.StdEncoding.EncodeToString(iv)})
		if resp.Code() != "DECRYPT_FAILED" || sim.Calls(wechattest.PathCheckSession) != before+1 {
			t.Fatalf("corrupt data: %s (%d checksession calls)", resp.Raw, sim.Calls(wechattest.PathCheckSession)-before)
		}
	})

	t.Run("Happy", func(t *testing.T) {
		if got, resp := bind(ts, t, p.Token, map[string]any{"encryptedData": od.EncryptedData, "iv": od.IV}); got != "+8613912345678" {
			t.Fatalf("encrypted path: %s", resp.Raw)
		}
		if me := ts.Do(t, p.Token, `{ me { phone } }`, nil); !strings.Contains(me.Raw, `"+8613912345678"`) {
			t.Fatalf("me = %s", me.Raw)
		}
	})

	t.Run("CheckSessionDown", func(t *testing.T) {
		sim.InjectAt(wechattest.PathCheckSession, wechattest.Fault{Status: 502})
		if _, resp := bind(ts, t, p.Token, map[string]any{"encryptedData": od.EncryptedData, "iv": "AAAAAAAAAAAAAAAAAAAAAA=="}); resp.Code() != "WECHAT_UNAVAILABLE" {
			t.Fatalf("checksession down: %s", resp.Raw)
		}
	})

	t.Run("RotatedSessionKey", func(t *testing.T) {
		// The mini program called wx.login() again (rotating the key) but
		// did not log in with that code: the data it now gets is sealed
		// with the new key, which this session does not have.
		ts.Code(t, user)
		rotated, err := sim.PhoneData("", user)
		if err != nil {
			t.Fatal(err)
		}
		_, resp := bind(ts, t, p.Token, map[string]any{"encryptedData": rotated.EncryptedData, "iv": rotated.IV})
		if resp.Code() != "SESSION_KEY_EXPIRED" || !strings.Contains(resp.Errors[0].Message, "wx.login()") {
			t.Fatalf("rotated key: %s", resp.Raw)
		}
		// Logging in again with a fresh code fixes it.
		p2 := ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)})
		fresh, _ := sim.PhoneData("", user)
		if got, resp := bind(ts, t, p2.Token, map[string]any{"encryptedData": fresh.EncryptedData, "iv": fresh.IV}); got != "+8613912345678" {
			t.Fatalf("after logging in again: %s", resp.Raw)
		}
	})
	assertNotLogged(ts, t, "13912345678")
}

// Two instances on one database and one WeChat: 50 concurrent binds need
// an access token, and exactly one stable_token call is made for all of
// them. A token WeChat then refuses is replaced once for everyone.
func TestPhone_SharedAccessToken(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	a := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL))
	b := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL))
	const n = 50
	tokens := make([]string, n)
	for i := range n {
		user := fmt.Sprintf("shared-%02d", i)
		if err := sim.SetPhone(user, "86", fmt.Sprintf("139000000%02d", i)); err != nil {
			t.Fatal(err)
		}
		tokens[i] = a.MustLogin(t, map[string]any{"code": a.Code(t, user)}).Token
	}
	round := func(users int) time.Duration {
		t.Helper()
		start := time.Now()
		var wg sync.WaitGroup
		for i := range users {
			ts := a
			if i%2 == 1 {
				ts = b
			}
			code := phoneCode(ts, t, fmt.Sprintf("shared-%02d", i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				if got, resp := bind(ts, t, tokens[i], map[string]any{"code": code}); got != fmt.Sprintf("+86139000000%02d", i) {
					t.Errorf("bind %d: %s", i, resp.Raw)
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	took := round(n)
	if c := sim.Calls(wechattest.PathStableToken); c != 1 {
		t.Fatalf("%d concurrent binds over 2 instances made %d stable_token calls, want 1", n, c)
	}
	t.Logf("%d concurrent binds over 2 instances: 1 stable_token call, %v", n, took)

	// The stored token falls due (as it would 5 minutes before expiry):
	// both instances see it at once, one renews, the other reuses.
	if _, err := a.Store().DB().ExecContext(context.Background(),
		`UPDATE wechat_access_tokens SET expires_at = now() + interval '1 minute' WHERE appid = ?`, appID); err != nil {
		t.Fatal(err)
	}
	took = round(20)
	if c := sim.Calls(wechattest.PathStableToken); c != 2 {
		t.Fatalf("after the token fell due: %d stable_token calls in all, want 2", c)
	}
	t.Logf("20 concurrent binds over 2 instances with the token due: 1 renewal, %v", took)

	sim.InvalidateToken(appID)
	took = round(20)
	if c := sim.Calls(wechattest.PathStableToken); c != 3 {
		t.Fatalf("after the token was invalidated: %d stable_token calls in all, want 3", c)
	}
	if sim.AccessTokens(appID) != 1 {
		t.Fatalf("%d live tokens, want 1", sim.AccessTokens(appID))
	}
	t.Logf("20 concurrent binds after InvalidateToken: 1 forced refresh, %v", took)

	// At rest the token is sealed; both instances read the same row.
	var sealed []byte
	var expires time.Time
	if err := a.Store().DB().QueryRowContext(context.Background(),
		`SELECT token_sealed, expires_at FROM wechat_access_tokens WHERE appid = ?`, appID).Scan(&sealed, &expires); err != nil {
		t.Fatal(err)
	}
	if len(sealed) < 29 || strings.Contains(string(sealed), "86_") || time.Until(expires) < time.Hour {
		t.Fatalf("stored token: %d bytes, expires in %v", len(sealed), time.Until(expires))
	}
}

// A phone code is tied to the caller: alice's code sent with mallory's
// token is refused (WeChat checks the openid we send) and changes nothing.
func TestPhone_OtherUsersCode(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	ts := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL))
	const alice, mallory = "phone-victim", "phone-mallory"
	aliceNum, malloryNum := randomMobile(t), randomMobile(t)
	for user, n := range map[string]string{alice: aliceNum, mallory: malloryNum} {
		if err := sim.SetPhone(user, "86", n); err != nil {
			t.Fatal(err)
		}
	}
	pa := ts.MustLogin(t, map[string]any{"code": ts.Code(t, alice)})
	pm := ts.MustLogin(t, map[string]any{"code": ts.Code(t, mallory)})
	if got, resp := bind(ts, t, pm.Token, map[string]any{"code": phoneCode(ts, t, mallory)}); got != "+86"+malloryNum {
		t.Fatalf("mallory's own number: %s", resp.Raw)
	}

	code := phoneCode(ts, t, alice)
	_, resp := bind(ts, t, pm.Token, map[string]any{"code": code})
	if resp.Code() != "WECHAT_CODE_INVALID" || !strings.Contains(resp.Errors[0].Message, "another WeChat user") {
		t.Fatalf("mallory sending alice's code: %s", resp.Raw)
	}
	if me := ts.Do(t, pm.Token, `{ me { phone } }`, nil); !strings.Contains(me.Raw, `"+86`+malloryNum+`"`) {
		t.Fatalf("mallory's phone after the refusal: %s", me.Raw)
	}
	if n := phoneHolders(ts, t, "+86"+aliceNum); n != 0 {
		t.Fatalf("%d users have alice's number", n)
	}
	var binds int
	if err := ts.Store().DB().QueryRowContext(context.Background(),
		`SELECT count(*) FROM audit_log WHERE action = 'user.bind_phone' AND target = ?`, pm.User.ID).Scan(&binds); err != nil || binds != 1 {
		t.Fatalf("mallory's bind audit rows: %d, %v; want 1", binds, err)
	}
	// Alice, with a code of her own, is not in anyone's way.
	if got, resp := bind(ts, t, pa.Token, map[string]any{"code": phoneCode(ts, t, alice)}); got != "+86"+aliceNum {
		t.Fatalf("alice: %s", resp.Raw)
	}
	assertNotLogged(ts, t, aliceNum, malloryNum, code)
}

// A number belongs to one user: a second user whose WeChat account has the
// same number (a recycled number, say) is refused with PHONE_IN_USE, by
// either form of the button, and nothing changes.
func TestPhone_NumberInUse(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	ts := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL))
	const first, second = "phone-first", "phone-second"
	num := randomMobile(t)
	for _, user := range []string{first, second} {
		if err := sim.SetPhone(user, "86", num); err != nil {
			t.Fatal(err)
		}
	}
	p1 := ts.MustLogin(t, map[string]any{"code": ts.Code(t, first)})
	p2 := ts.MustLogin(t, map[string]any{"code": ts.Code(t, second)})
	if got, resp := bind(ts, t, p1.Token, map[string]any{"code": phoneCode(ts, t, first)}); got != "+86"+num {
		t.Fatalf("first bind: %s", resp.Raw)
	}
	od, err := sim.PhoneData("", second)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]map[string]any{"Code": {"code": phoneCode(ts, t, second)}, "EncryptedData": {"encryptedData": od.EncryptedData, "iv": od.IV}} {
		_, resp := bind(ts, t, p2.Token, in)
		if resp.Code() != "PHONE_IN_USE" || !strings.Contains(resp.Errors[0].Message, "already bound to another account") {
			t.Fatalf("%s: second user binding the number: %s", name, resp.Raw)
		}
	}
	if me := ts.Do(t, p2.Token, `{ me { phone } }`, nil); !strings.Contains(me.Raw, `"phone":null`) {
		t.Fatalf("second user after the refusal: %s", me.Raw)
	}
	// The holder may bind it again.
	if got, resp := bind(ts, t, p1.Token, map[string]any{"code": phoneCode(ts, t, first)}); got != "+86"+num {
		t.Fatalf("holder binding again: %s", resp.Raw)
	}
	if n := phoneHolders(ts, t, "+86"+num); n != 1 {
		t.Fatalf("%d users have the number", n)
	}
	assertNotLogged(ts, t, num)
}

// Binds of one number by several users at once: exactly one wins, the
// others get PHONE_IN_USE, none INTERNAL.
func TestPhone_ConcurrentBindsOfOneNumber(t *testing.T) {
	t.Parallel()
	sim, appID, wxURL := phoneSim(t)
	ts := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL))
	const n = 10
	num := randomMobile(t)
	tokens, codes := make([]string, n), make([]string, n)
	for i := range n {
		user := fmt.Sprintf("phone-race-%d", i)
		if err := sim.SetPhone(user, "86", num); err != nil {
			t.Fatal(err)
		}
		tokens[i] = ts.MustLogin(t, map[string]any{"code": ts.Code(t, user)}).Token
		codes[i] = phoneCode(ts, t, user)
	}
	results := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if got, resp := bind(ts, t, tokens[i], map[string]any{"code": codes[i]}); got != "" {
				results[i] = "ok"
			} else {
				results[i] = resp.Code()
			}
		})
	}
	wg.Wait()
	won := 0
	for i, r := range results {
		switch r {
		case "ok":
			won++
		case "PHONE_IN_USE":
		default:
			t.Errorf("bind %d: %s", i, r)
		}
	}
	if won != 1 || phoneHolders(ts, t, "+86"+num) != 1 {
		t.Fatalf("%d binds won, %d users have the number; want 1 and 1", won, phoneHolders(ts, t, "+86"+num))
	}
	assertNotLogged(ts, t, num)
}
