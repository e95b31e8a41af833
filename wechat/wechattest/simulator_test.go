package wechattest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

func TestMiniProgramSide(t *testing.T) {
	t.Parallel()
	const appID = "wx5555555555555555"
	sim := wechattest.New(wechattest.App{AppID: appID, Secret: "s"}, wechattest.App{AppID: "wxnounion", Secret: "s", NoUnionID: true})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()

	post := func(t *testing.T, body string) (int, map[string]string) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/dev/wechat/code", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]string{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}

	t.Run("CodesOfOneUserShareOpenID", func(t *testing.T) {
		c := wechat.NewClient(wechat.Config{AppID: appID, Secret: "s", BaseURL: srv.URL})
		var keys []wechat.Secret
		for range 2 {
			status, out := post(t, `{"user":"alice"}`)
			if status != http.StatusOK || len(out["code"]) != 32 {
				t.Fatalf("%d %v", status, out)
			}
			s, err := c.Code2Session(t.Context(), out["code"])
			if err != nil {
				t.Fatal(err)
			}
			if s.OpenID != sim.OpenID(appID, "alice") || s.UnionID != sim.UnionID("alice") || len(s.OpenID) != 28 {
				t.Fatalf("session %+v", s)
			}
			keys = append(keys, s.SessionKey)
		}
		if keys[0] == keys[1] {
			t.Fatal("session_key did not rotate between wx.login() calls")
		}
		if sim.OpenID(appID, "alice") == sim.OpenID(appID, "bob") || sim.OpenID(appID, "alice") == sim.OpenID("wxnounion", "alice") {
			t.Fatal("openids must differ per user and per app")
		}
	})

	t.Run("ProfileIsEncryptedWithThatLoginsKey", func(t *testing.T) {
		status, out := post(t, `{"user":"bob","profile":{"nickName":"Bob","gender":2,"city":"Shenzhen"}}`)
		if status != http.StatusOK {
			t.Fatalf("%d %v", status, out)
		}
		c := wechat.NewClient(wechat.Config{AppID: appID, Secret: "s", BaseURL: srv.URL})
		s, err := c.Code2Session(t.Context(), out["code"])
		if err != nil {
			t.Fatal(err)
		}
		if err := wechat.VerifySignature(out["rawData"], s.SessionKey, out["signature"]); err != nil {
			t.Fatal(err)
		}
		info, err := wechat.DecryptUserInfo(appID, s.OpenID, s.SessionKey, out["encryptedData"], out["iv"])
		if err != nil {
			t.Fatal(err)
		}
		if info.NickName != "Bob" || info.Gender != 2 || info.City != "Shenzhen" || info.UnionID != s.UnionID {
			t.Fatalf("info %+v", info)
		}
	})

	t.Run("NoUnionIDApp", func(t *testing.T) {
		_, out := post(t, `{"user":"carol","appid":"wxnounion"}`)
		c := wechat.NewClient(wechat.Config{AppID: "wxnounion", Secret: "s", BaseURL: srv.URL})
		s, err := c.Code2Session(t.Context(), out["code"])
		if err != nil || s.UnionID != "" {
			t.Fatalf("session %+v, %v; want no unionid", s, err)
		}
	})

	for name, body := range map[string]string{
		"NotJSON":    `user=alice`,
		"NoUser":     `{}`,
		"UnknownApp": `{"user":"alice","appid":"wxnope"}`,
	} {
		t.Run("Refuses"+name, func(t *testing.T) {
			if status, out := post(t, body); status != http.StatusBadRequest || out["error"] == "" {
				t.Fatalf("%d %v", status, out)
			}
		})
	}

	t.Run("APIAnswersTextPlain", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/sns/jscode2session?appid=" + appID + "&secret=s&grant_type=authorization_code&js_code=nope")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("Content-Type %q", ct)
		}
	})
}
