package wechattest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

const tokAppID = "wx6666666666666666"

func newTokenSim(t *testing.T) (*wechattest.Simulator, *httptest.Server) {
	t.Helper()
	sim := wechattest.New(wechattest.App{AppID: tokAppID, Secret: "s"})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return sim, srv
}

// call sends method to path with body and returns WeChat's JSON answer,
// checking that it comes as text/plain like WeChat's.
func call(t *testing.T, srv *httptest.Server, method, path, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q, want text/plain", ct)
	}
	out := map[string]any{}
	d := json.NewDecoder(resp.Body)
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return out
}

// errcode returns an answer's errcode, 0 if it has none, checking that a
// non-zero one comes with WeChat's rid.
func errcode(t *testing.T, out map[string]any) int {
	t.Helper()
	n, _ := out["errcode"].(json.Number)
	code, _ := n.Int64()
	if code != 0 && !strings.Contains(out["errmsg"].(string), "rid:") {
		t.Fatalf("errmsg %q lacks a rid", out["errmsg"])
	}
	return int(code)
}

func stable(t *testing.T, srv *httptest.Server, force bool) (token string, expiresIn int64, code int) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"grant_type": "client_credential", "appid": tokAppID, "secret": "s", "force_refresh": force})
	out := call(t, srv, http.MethodPost, wechattest.PathStableToken, string(body))
	if code = errcode(t, out); code != 0 {
		return "", 0, code
	}
	n, _ := out["expires_in"].(json.Number)
	expiresIn, _ = n.Int64()
	return out["access_token"].(string), expiresIn, 0
}

func TestStableToken_Errcodes(t *testing.T) {
	t.Parallel()
	_, srv := newTokenSim(t)
	for name, tc := range map[string]struct {
		body string
		want int
	}{
		"NotJSON":      {`grant_type=client_credential`, 47001},
		"UnknownAppID": {`{"grant_type":"client_credential","appid":"wxnope","secret":"s"}`, wechat.ErrcodeInvalidAppID},
		"WrongSecret":  {`{"grant_type":"client_credential","appid":"` + tokAppID + `","secret":"x"}`, wechat.ErrcodeInvalidCred},
		"NoSecret":     {`{"grant_type":"client_credential","appid":"` + tokAppID + `"}`, wechat.ErrcodeInvalidCred},
		"WrongGrant":   {`{"grant_type":"authorization_code","appid":"` + tokAppID + `","secret":"s"}`, wechat.ErrcodeInvalidGrant},
	} {
		t.Run(name, func(t *testing.T) {
			if got := errcode(t, call(t, srv, http.MethodPost, wechattest.PathStableToken, tc.body)); got != tc.want {
				t.Fatalf("errcode %d, want %d", got, tc.want)
			}
		})
	}
}

func TestStableToken_NormalMode(t *testing.T) {
	t.Parallel()
	sim, srv := newTokenSim(t)
	first, exp, _ := stable(t, srv, false)
	if len(first) < 100 || exp != int64(wechattest.TokenTTL/time.Second) {
		t.Fatalf("token of %d chars for %d s", len(first), exp)
	}

	// Within its life the same token comes back, with the time it has left.
	sim.Advance(time.Hour)
	again, exp, _ := stable(t, srv, false)
	if again != first || exp != int64((wechattest.TokenTTL-time.Hour)/time.Second) {
		t.Fatalf("an hour later: same token %v, expires_in %d", again == first, exp)
	}

	// In its last 5 minutes a new one is handed out; the old stays valid.
	sim.Advance(wechattest.TokenTTL - time.Hour - wechattest.TokenRenewWindow + time.Second)
	second, exp, _ := stable(t, srv, false)
	if second == first || exp != int64(wechattest.TokenTTL/time.Second) {
		t.Fatalf("in the renewal window: same token %v, expires_in %d", second == first, exp)
	}
	if n := sim.AccessTokens(tokAppID); n != 2 {
		t.Fatalf("%d valid tokens in the overlap, want 2", n)
	}
	sim.Advance(wechattest.TokenRenewWindow)
	if n := sim.AccessTokens(tokAppID); n != 1 {
		t.Fatalf("%d valid tokens after the old expired, want 1", n)
	}

	// Once the token has expired, a normal call hands out a new one.
	sim.Advance(wechattest.TokenTTL)
	if third, _, _ := stable(t, srv, false); third == second {
		t.Fatal("an expired token was handed out again")
	}
	if n := sim.Calls(wechattest.PathStableToken); n != 4 {
		t.Fatalf("Calls = %d, want 4", n)
	}
}

func TestStableToken_ForceRefresh(t *testing.T) {
	t.Parallel()
	sim, srv := newTokenSim(t)
	first, _, _ := stable(t, srv, false)
	forced, _, _ := stable(t, srv, true)
	if forced == first || sim.AccessTokens(tokAppID) != 1 {
		t.Fatal("a forced refresh did not replace the token at once")
	}

	// Within ForceInterval WeChat does not refresh.
	sim.Advance(wechattest.ForceInterval - time.Second)
	if again, _, _ := stable(t, srv, true); again != forced {
		t.Fatal("a forced refresh within 30 s refreshed")
	}
	sim.Advance(time.Second)
	last := forced
	for i := 2; i <= wechattest.ForcesPerDay; i++ {
		tok, _, code := stable(t, srv, true)
		if code != 0 || tok == last {
			t.Fatalf("forced refresh %d: errcode %d, new token %v", i, code, tok != last)
		}
		last = tok
		sim.Advance(wechattest.ForceInterval)
	}
	if _, _, code := stable(t, srv, true); code != wechat.ErrcodeDailyQuota {
		t.Fatalf("forced refresh %d in a day: errcode %d, want 45009", wechattest.ForcesPerDay+1, code)
	}
	// The token in hand still works, and normal mode still answers.
	if tok, _, code := stable(t, srv, false); code != 0 || tok != last {
		t.Fatalf("normal mode after the quota: errcode %d, same token %v", code, tok == last)
	}
	sim.Advance(24 * time.Hour)
	if _, _, code := stable(t, srv, true); code != 0 {
		t.Fatalf("a day later: errcode %d", code)
	}
}

func TestStableToken_Invalidate(t *testing.T) {
	t.Parallel()
	sim, srv := newTokenSim(t)
	first, _, _ := stable(t, srv, false)
	sim.InvalidateToken(tokAppID)
	if n := sim.AccessTokens(tokAppID); n != 0 {
		t.Fatalf("%d valid tokens after InvalidateToken", n)
	}
	if next, _, _ := stable(t, srv, false); next == first {
		t.Fatal("the invalidated token was handed out again")
	}
}
