package wechattest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

func TestPhoneNumber_AccessTokenChecked(t *testing.T) {
	t.Parallel()
	sim, srv := newTokenSim(t)
	tok, _, _ := stable(t, srv, false)
	phoneCall := func(token string) map[string]any {
		path := wechattest.PathPhoneNumber
		if token != "-" {
			path += "?access_token=" + url.QueryEscape(token)
		}
		return call(t, srv, http.MethodPost, path, `{"code":"nope"}`)
	}
	for name, tc := range map[string]struct {
		token string
		want  int
	}{
		"Missing":   {"-", wechat.ErrcodeMissingToken},
		"Empty":     {"", wechat.ErrcodeMissingToken},
		"Malformed": {"not a token!", wechat.ErrcodeBadToken},
		"Unknown":   {"86_" + strings.Repeat("A", 128), wechat.ErrcodeInvalidToken},
		"Valid":     {tok, wechat.ErrcodeInvalidCode}, // past the token, the code is checked
	} {
		t.Run(name, func(t *testing.T) {
			if got := errcode(t, phoneCall(tc.token)); got != tc.want {
				t.Fatalf("errcode %d, want %d", got, tc.want)
			}
		})
	}
	t.Run("Expired", func(t *testing.T) {
		sim.Advance(wechattest.TokenTTL)
		if got := errcode(t, phoneCall(tok)); got != wechat.ErrcodeTokenExpired {
			t.Fatalf("errcode %d, want 42001", got)
		}
	})
}

func TestPhoneNumber_Answer(t *testing.T) {
	t.Parallel()
	sim, srv := newTokenSim(t)
	tok, _, _ := stable(t, srv, false)
	if err := sim.SetPhone("alice", "+86", "13800138000"); err != nil {
		t.Fatal(err)
	}
	code, err := sim.PhoneCode("", "alice")
	if err != nil || len(code) != 64 {
		t.Fatalf("code %q, %v; want 64 hex digits", code, err)
	}
	path := wechattest.PathPhoneNumber + "?access_token=" + tok
	out := call(t, srv, http.MethodPost, path, `{"code":"`+code+`"}`)
	info, _ := out["phone_info"].(map[string]any)
	if errcode(t, out) != 0 || info == nil {
		t.Fatalf("answer %v", out)
	}
	if _, isNumber := info["countryCode"].(json.Number); !isNumber || info["countryCode"].(json.Number) != "86" {
		t.Fatalf("countryCode %#v, want the number 86 as in WeChat's example", info["countryCode"])
	}
	if info["purePhoneNumber"] != "13800138000" || info["phoneNumber"] != "13800138000" {
		t.Fatalf("phone_info %v", info)
	}
	if wm, _ := info["watermark"].(map[string]any); wm["appid"] != tokAppID {
		t.Fatalf("watermark %v", info["watermark"])
	}
	// Single-use.
	if got := errcode(t, call(t, srv, http.MethodPost, path, `{"code":"`+code+`"}`)); got != wechat.ErrcodeInvalidCode {
		t.Fatalf("reused code: errcode %d, want 40029", got)
	}
	// The optional openid must be the code's user.
	code2, _ := sim.PhoneCode("", "alice")
	if got := errcode(t, call(t, srv, http.MethodPost, path, `{"code":"`+code2+`","openid":"oSomeoneElse"}`)); got != wechat.ErrcodeInvalidOpenID {
		t.Fatalf("wrong openid: errcode %d, want 40003", got)
	}
	if got := errcode(t, call(t, srv, http.MethodPost, path, `{"code":"`+code2+`","openid":"`+sim.OpenID(tokAppID, "alice")+`"}`)); got != 0 {
		t.Fatalf("right openid: errcode %d", got)
	}
	for body, want := range map[string]int{`code=x`: 47001, `{}`: wechat.ErrcodeMissingCode} {
		if got := errcode(t, call(t, srv, http.MethodPost, path, body)); got != want {
			t.Fatalf("body %s: errcode %d, want %d", body, got, want)
		}
	}
	if n := sim.Calls(wechattest.PathPhoneNumber); n != 6 {
		t.Fatalf("Calls = %d, want 6", n)
	}
}

func TestSetPhone(t *testing.T) {
	t.Parallel()
	sim := wechattest.New(wechattest.App{AppID: tokAppID, Secret: "s"})
	for _, ok := range [][2]string{{"86", "13800138000"}, {"+1", "2025550123"}, {"358", "123456789012"}} {
		if err := sim.SetPhone("u", ok[0], ok[1]); err != nil {
			t.Errorf("SetPhone(%q, %q) = %v", ok[0], ok[1], err)
		}
	}
	for _, bad := range [][2]string{{"", "13800138000"}, {"086", "13800138000"}, {"1234", "20255501"}, {"86", "138-0013"}, {"86", "123"}, {"358", "1234567890123"}} {
		if err := sim.SetPhone("u", bad[0], bad[1]); err == nil {
			t.Errorf("SetPhone(%q, %q) accepted", bad[0], bad[1])
		}
	}
	if _, err := sim.PhoneCode("", "nobody"); !errors.Is(err, wechattest.ErrNoPhone) {
		t.Fatalf("PhoneCode without SetPhone: %v, want ErrNoPhone", err)
	}
	if _, err := sim.PhoneData("", "u"); err == nil {
		t.Fatal("PhoneData for a user who never logged in")
	}
}

func TestMiniProgramSide_PhoneCode(t *testing.T) {
	t.Parallel()
	sim, srv := newTokenSim(t)
	post := func(body string) (int, map[string]string) {
		resp, err := http.Post(srv.URL+wechattest.PathMintPhone, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]string{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	// Not logged in: a code, no legacy data.
	status, out := post(`{"user":"alice","countryCode":"86","phoneNumber":"13800138000"}`)
	if status != http.StatusOK || len(out["code"]) != 64 || out["encryptedData"] != "" {
		t.Fatalf("%d %v", status, out)
	}
	// Logged in: the legacy data too, under the current session_key.
	c := wechat.NewClient(wechat.Config{AppID: tokAppID, Secret: "s", BaseURL: srv.URL})
	loginCode, _ := sim.Login("", "alice")
	s, err := c.Code2Session(t.Context(), loginCode)
	if err != nil {
		t.Fatal(err)
	}
	status, out = post(`{"user":"alice"}`)
	if status != http.StatusOK || out["code"] == "" {
		t.Fatalf("%d %v", status, out)
	}
	p, err := wechat.DecryptPhone(tokAppID, s.SessionKey, out["encryptedData"], out["iv"])
	if err != nil || p.E164 != "+8613800138000" {
		t.Fatalf("legacy data: %+v, %v", p, err)
	}
	if p, err := c.PhoneNumber(t.Context(), out["code"], sim.OpenID(tokAppID, "alice")); err != nil || p.E164 != "+8613800138000" {
		t.Fatalf("code: %+v, %v", p, err)
	}
	for name, body := range map[string]string{
		"NotJSON":  `user=bob`,
		"NoPhone":  `{"user":"bob"}`,
		"BadPhone": `{"user":"bob","countryCode":"86","phoneNumber":"x"}`,
		"NoUser":   `{"countryCode":"86","phoneNumber":"13800138000"}`,
	} {
		if status, out := post(body); status != http.StatusBadRequest || out["error"] == "" {
			t.Errorf("%s: %d %v", name, status, out)
		}
	}
	if n := sim.Calls(wechattest.PathMintPhone); n != 5 {
		t.Fatalf("Calls = %d, want 5 (not counting a body that is not JSON)", n)
	}
}
