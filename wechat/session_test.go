package wechat_test

import (
	"errors"
	"strings"
	"testing"

	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

func TestSignSession_OfficialExample(t *testing.T) {
	// WeChat's "用户登录态签名" example: the key is the session_key string
	// as WeChat sent it, not its base64-decoded bytes.
	got := wechat.SignSession([]byte(`{"foo":"bar"}`), "o0q0otL8aEzpcZL/FT9WsQ==")
	if want := "654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b"; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

func TestClient_CheckSession(t *testing.T) {
	t.Parallel()

	login := func(t *testing.T, c *wechat.Client, sim *wechattest.Simulator, user string) *wechat.Session {
		t.Helper()
		s, err := c.Code2Session(t.Context(), mustLogin(t, sim, user))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("CurrentThenRotated", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		s := login(t, c, sim, "alice")
		if ok, err := c.CheckSession(t.Context(), s.OpenID, s.SessionKey); err != nil || !ok {
			t.Fatalf("fresh session_key: %v, %v; want current", ok, err)
		}
		// Another user's key is not alice's.
		bob := login(t, c, sim, "bob")
		if ok, err := c.CheckSession(t.Context(), s.OpenID, bob.SessionKey); err != nil || ok {
			t.Fatalf("bob's key for alice: %v, %v; want not current", ok, err)
		}
		// A new wx.login() rotates alice's key, even before its code is exchanged.
		mustLogin(t, sim, "alice")
		if ok, err := c.CheckSession(t.Context(), s.OpenID, s.SessionKey); err != nil || ok {
			t.Fatalf("rotated session_key: %v, %v; want not current", ok, err)
		}
		if n := sim.Calls(wechattest.PathCheckSession); n != 3 {
			t.Fatalf("checksession called %d times, want 3", n)
		}
	})

	t.Run("UnknownUser", func(t *testing.T) {
		c, _ := newClient(t, wechat.Config{})
		if ok, err := c.CheckSession(t.Context(), "oNobody0000000000000000000000", "tiihtNczf5v6AKRyjwEUhQ=="); err != nil || ok {
			t.Fatalf("%v, %v; want not current", ok, err)
		}
	})

	t.Run("TokenRefusedThenRetried", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		s := login(t, c, sim, "alice")
		if _, err := c.CheckSession(t.Context(), s.OpenID, s.SessionKey); err != nil {
			t.Fatal(err)
		}
		sim.InvalidateToken(testAppID)
		if ok, err := c.CheckSession(t.Context(), s.OpenID, s.SessionKey); err != nil || !ok {
			t.Fatalf("%v, %v; want current after the token was replaced", ok, err)
		}
		if a, b := sim.Calls(wechattest.PathStableToken), sim.Calls(wechattest.PathCheckSession); a != 2 || b != 3 {
			t.Fatalf("stable_token %d, checksession %d calls; want 2 and 3", a, b)
		}
	})

	t.Run("BusyTwice", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		s := login(t, c, sim, "alice")
		sim.InjectAt(wechattest.PathCheckSession, wechattest.Fault{Errcode: wechat.ErrcodeBusy}, wechattest.Fault{Errcode: wechat.ErrcodeBusy})
		ok, err := c.CheckSession(t.Context(), s.OpenID, s.SessionKey)
		assertAPIError(t, err, wechat.ErrUnavailable, wechat.ErrcodeBusy)
		if ok {
			t.Fatal("current on error")
		}
		if strings.Contains(err.Error(), string(s.SessionKey)) {
			t.Fatalf("error quotes the session_key: %v", err)
		}
	})

	t.Run("OtherErrcode", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		sim.InjectAt(wechattest.PathCheckSession, wechattest.Fault{Errcode: wechat.ErrcodeInvalidArgs})
		ok, err := c.CheckSession(t.Context(), "oSomeone", "tiihtNczf5v6AKRyjwEUhQ==")
		assertAPIError(t, err, nil, wechat.ErrcodeInvalidArgs)
		if ok {
			t.Fatal("current on error")
		}
	})

	t.Run("Unreachable", func(t *testing.T) {
		c := wechat.NewClient(wechat.Config{AppID: testAppID, Secret: testSecret, BaseURL: "http://127.0.0.1:1"})
		if ok, err := c.CheckSession(t.Context(), "oSomeone", "tiihtNczf5v6AKRyjwEUhQ=="); ok || !errors.Is(err, wechat.ErrUnavailable) {
			t.Fatalf("%v, %v; want ErrUnavailable", ok, err)
		}
	})

	t.Run("NeedsOpenIDAndKey", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		for _, in := range [][2]string{{"", "k"}, {"o", ""}} {
			if ok, err := c.CheckSession(t.Context(), in[0], wechat.Secret(in[1])); ok || err == nil {
				t.Fatalf("CheckSession(%q, %q) = %v, %v", in[0], in[1], ok, err)
			}
		}
		if n := sim.Calls(wechattest.PathStableToken) + sim.Calls(wechattest.PathCheckSession); n != 0 {
			t.Fatalf("%d calls to WeChat without an openid or key", n)
		}
	})
}
