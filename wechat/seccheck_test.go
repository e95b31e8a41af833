package wechat_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

func TestClient_MsgSecCheck(t *testing.T) {
	t.Parallel()

	t.Run("Verdicts", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		mustLogin(t, sim, "alice")
		openID := sim.OpenID(testAppID, "alice")
		for content, want := range map[string]wechat.Verdict{
			"小明":           {Suggest: wechat.SuggestPass, Label: wechat.LabelNormal},
			"a RISKY name": {Suggest: wechat.SuggestRisky, Label: wechattest.LabelRisky},
			"违规昵称":         {Suggest: wechat.SuggestRisky, Label: wechattest.LabelRisky},
			"待审一下":         {Suggest: wechat.SuggestReview, Label: wechattest.LabelReview},
		} {
			v, err := c.MsgSecCheck(t.Context(), content, openID, wechat.SceneProfile)
			if err != nil {
				t.Fatal(err)
			}
			if v.Suggest != want.Suggest || v.Label != want.Label || v.TraceID == "" || len(v.Details) != 1 {
				t.Fatalf("%q: verdict %+v, want %s/%d with a trace id and a detail", content, v, want.Suggest, want.Label)
			}
		}
		if n := sim.Calls(wechattest.PathStableToken); n != 1 {
			t.Fatalf("stable_token called %d times, want 1 (the token is reused)", n)
		}
	})

	// 40001: the token is renewed once and the call retried once.
	t.Run("TokenRefused", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		mustLogin(t, sim, "alice")
		openID := sim.OpenID(testAppID, "alice")
		if _, err := c.MsgSecCheck(t.Context(), "hello", openID, wechat.SceneProfile); err != nil {
			t.Fatal(err)
		}
		sim.InvalidateToken(testAppID)
		v, err := c.MsgSecCheck(t.Context(), "risky", openID, wechat.SceneProfile)
		if err != nil || v.Suggest != wechat.SuggestRisky {
			t.Fatalf("after 40001: %+v, %v", v, err)
		}
		if a, b := sim.Calls(wechattest.PathStableToken), sim.Calls(wechattest.PathMsgSecCheck); a != 2 || b != 3 {
			t.Fatalf("stable_token %d, msg_sec_check %d calls; want 2 and 3", a, b)
		}
	})

	t.Run("Errcodes", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		mustLogin(t, sim, "alice")
		openID := sim.OpenID(testAppID, "alice")

		// An openid that never used the app: 61010.
		_, err := c.MsgSecCheck(t.Context(), "hello", sim.OpenID(testAppID, "nobody"), wechat.SceneProfile)
		assertAPIError(t, err, wechat.ErrOpenIDRefused, wechat.ErrcodeUserNotRecent)
		// One who did, over two hours ago: 61010 too.
		mustLogin(t, sim, "old")
		sim.Advance(2*time.Hour + time.Minute)
		mustLogin(t, sim, "alice")
		_, err = c.MsgSecCheck(t.Context(), "hello", sim.OpenID(testAppID, "old"), wechat.SceneProfile)
		assertAPIError(t, err, wechat.ErrOpenIDRefused, wechat.ErrcodeUserNotRecent)

		sim.InjectAt(wechattest.PathMsgSecCheck, wechattest.Fault{Errcode: wechat.ErrcodeRateLimited})
		_, err = c.MsgSecCheck(t.Context(), "hello", openID, wechat.SceneProfile)
		assertAPIError(t, err, wechat.ErrRateLimited, wechat.ErrcodeRateLimited)

		// Busy twice: one retry, then unavailable.
		sim.InjectAt(wechattest.PathMsgSecCheck, wechattest.Fault{Errcode: wechat.ErrcodeBusy}, wechattest.Fault{Errcode: wechat.ErrcodeBusy})
		_, err = c.MsgSecCheck(t.Context(), "hello", openID, wechat.SceneProfile)
		assertAPIError(t, err, wechat.ErrUnavailable, wechat.ErrcodeBusy)

		// Busy once: the retry answers.
		sim.InjectAt(wechattest.PathMsgSecCheck, wechattest.Fault{Errcode: wechat.ErrcodeBusy})
		if v, err := c.MsgSecCheck(t.Context(), "hello", openID, wechat.SceneProfile); err != nil || v.Suggest != wechat.SuggestPass {
			t.Fatalf("after one busy: %+v, %v", v, err)
		}

		for name, f := range map[string]wechattest.Fault{
			"HTTP502":    {Status: http.StatusBadGateway},
			"NotJSON":    {Body: "<html>"},
			"NoResult":   {Body: `{"errcode":0,"errmsg":"ok","trace_id":"x"}`},
			"BadSuggest": {Body: `{"errcode":0,"errmsg":"ok","trace_id":"x","result":{"suggest":"maybe","label":100}}`},
		} {
			sim.InjectAt(wechattest.PathMsgSecCheck, f)
			if _, err := c.MsgSecCheck(t.Context(), "hello", openID, wechat.SceneProfile); !errors.Is(err, wechat.ErrUnavailable) {
				t.Fatalf("%s: err = %v, want ErrUnavailable", name, err)
			}
		}

		// The label as a string, as WeChat's documentation once had it.
		sim.InjectAt(wechattest.PathMsgSecCheck, wechattest.Fault{Body: `{"errcode":0,"errmsg":"ok","trace_id":"t-1","result":{"suggest":"risky","label":"20002"}}`})
		if v, err := c.MsgSecCheck(t.Context(), "hello", openID, wechat.SceneProfile); err != nil || v.Label != 20002 || v.TraceID != "t-1" {
			t.Fatalf("string label: %+v, %v", v, err)
		}
	})

	t.Run("Malformed", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		for _, content := range []string{"", strings.Repeat("字", wechat.MaxCheckText+1)} {
			if _, err := c.MsgSecCheck(t.Context(), content, "oX", wechat.SceneProfile); !errors.Is(err, wechat.ErrMalformed) {
				t.Fatalf("%d runes: err = %v, want ErrMalformed", len([]rune(content)), err)
			}
		}
		if _, err := c.MsgSecCheck(t.Context(), "hello", "", wechat.SceneProfile); err == nil {
			t.Fatal("no openid: no error")
		}
		if n := sim.Calls(wechattest.PathMsgSecCheck) + sim.Calls(wechattest.PathStableToken); n != 0 {
			t.Fatalf("WeChat called %d times for malformed input", n)
		}
	})
}

// imageServer serves a 64×64 PNG of colour c at its URL.
func imageServer(t *testing.T, c color.Color) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/a.png" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/a.png"
}

func TestClient_MediaCheckAsync(t *testing.T) {
	t.Parallel()

	t.Run("VerdictsDelivered", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		got := make(chan wechattest.MediaCheck, 4)
		sim.SetMediaCheckDelivery(0, func(mc wechattest.MediaCheck) { got <- mc })
		mustLogin(t, sim, "alice")
		openID := sim.OpenID(testAppID, "alice")
		for name, tc := range map[string]struct {
			url     string
			suggest string
			label   int
			errcode int
		}{
			"Gray":    {imageServer(t, color.Gray{128}), wechat.SuggestPass, wechat.LabelNormal, 0},
			"Red":     {imageServer(t, color.RGBA{230, 20, 20, 255}), wechat.SuggestRisky, wechattest.LabelRisky, 0},
			"Yellow":  {imageServer(t, color.RGBA{240, 230, 10, 255}), wechat.SuggestReview, wechattest.LabelReview, 0},
			"Missing": {imageServer(t, color.Gray{0}) + "x", "", 0, 87015},
		} {
			trace, err := c.MediaCheckAsync(t.Context(), tc.url, openID, wechat.SceneProfile)
			if err != nil || trace == "" {
				t.Fatalf("%s: trace %q, %v", name, trace, err)
			}
			var mc wechattest.MediaCheck
			select {
			case mc = <-got:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: no verdict delivered", name)
			}
			if mc.TraceID != trace || mc.AppID != testAppID || mc.OpenID != openID || mc.Suggest != tc.suggest || mc.Label != tc.label || mc.Errcode != tc.errcode {
				t.Fatalf("%s: delivered %+v, want trace %s, %s/%d errcode %d", name, mc, trace, tc.suggest, tc.label, tc.errcode)
			}
			// The event as WeChat would push it reads back the same.
			ev, err := wechat.ParseMediaCheckEvent(mc.Event)
			if err != nil || ev.TraceID != trace || ev.AppID != testAppID || ev.Suggest != tc.suggest || ev.Label != tc.label || ev.Errcode != tc.errcode {
				t.Fatalf("%s: event %s parsed as %+v, %v", name, mc.Event, ev, err)
			}
		}
	})

	t.Run("TokenRefused", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		mustLogin(t, sim, "alice")
		openID := sim.OpenID(testAppID, "alice")
		url := imageServer(t, color.Gray{128})
		if _, err := c.MediaCheckAsync(t.Context(), url, openID, wechat.SceneProfile); err != nil {
			t.Fatal(err)
		}
		sim.InvalidateToken(testAppID)
		if _, err := c.MediaCheckAsync(t.Context(), url, openID, wechat.SceneProfile); err != nil {
			t.Fatal(err)
		}
		if a, b := sim.Calls(wechattest.PathStableToken), sim.Calls(wechattest.PathMediaCheck); a != 2 || b != 3 {
			t.Fatalf("stable_token %d, media_check_async %d calls; want 2 and 3", a, b)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		mustLogin(t, sim, "alice")
		openID := sim.OpenID(testAppID, "alice")
		_, err := c.MediaCheckAsync(t.Context(), "https://example.com/a.jpg", sim.OpenID(testAppID, "nobody"), wechat.SceneProfile)
		assertAPIError(t, err, wechat.ErrOpenIDRefused, wechat.ErrcodeUserNotRecent)
		sim.InjectAt(wechattest.PathMediaCheck, wechattest.Fault{Errcode: wechat.ErrcodeRateLimited})
		_, err = c.MediaCheckAsync(t.Context(), "https://example.com/a.jpg", openID, wechat.SceneProfile)
		assertAPIError(t, err, wechat.ErrRateLimited, wechat.ErrcodeRateLimited)
		sim.InjectAt(wechattest.PathMediaCheck, wechattest.Fault{Body: `{"errcode":0,"errmsg":"ok"}`})
		if _, err := c.MediaCheckAsync(t.Context(), "https://example.com/a.jpg", openID, wechat.SceneProfile); !errors.Is(err, wechat.ErrUnavailable) {
			t.Fatalf("no trace_id: err = %v, want ErrUnavailable", err)
		}
		calls := sim.Calls(wechattest.PathMediaCheck)
		for _, u := range []string{"", "/avatars/a.jpg", "ftp://example.com/a.jpg", "javascript:alert(1)"} {
			if _, err := c.MediaCheckAsync(t.Context(), u, openID, wechat.SceneProfile); err == nil {
				t.Fatalf("media URL %q: no error", u)
			}
		}
		if n := sim.Calls(wechattest.PathMediaCheck); n != calls {
			t.Fatal("WeChat called for a media URL that is not absolute http(s)")
		}
	})
}

func TestParseMediaCheckEvent_Refuses(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		``, `[]`, `{}`, `{"Event":"wxa_media_check"}`,
		`{"Event":"user_info_modified","trace_id":"t"}`,
		`{"Event":"wxa_media_check","trace_id":"t"}`,
		`{"Event":"wxa_media_check","trace_id":"t","result":{"suggest":"nope","label":100}}`,
		`{"Event":"wxa_media_check","trace_id":"t","result":{"suggest":"pass","label":"x"}}`,
		`{"Event":"wxa_media_check","trace_id":"` + strings.Repeat("t", wechat.MaxTraceID+1) + `","result":{"suggest":"pass"}}`,
	} {
		if ev, err := wechat.ParseMediaCheckEvent([]byte(in)); err == nil {
			t.Errorf("%.60s: parsed as %+v", in, ev)
		}
	}
}
