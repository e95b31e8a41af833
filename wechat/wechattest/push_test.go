package wechattest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

// MakePush signs (and in safe mode encrypts) as the server checks: what it
// makes opens with the app's Pusher, in both modes and formats.
func TestMakePush_OpensWithThePusher(t *testing.T) {
	const key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	sim := wechattest.New(wechattest.App{AppID: "wx1111111111111111", Secret: "s", PushToken: "tok111", PushAESKey: key},
		wechattest.App{AppID: "wx2222222222222222", Secret: "s", PushToken: "tok222"})
	for _, appID := range []string{"wx1111111111111111", "wx2222222222222222"} {
		for _, f := range []wechat.PushFormat{wechat.PushJSON, wechat.PushXML} {
			m := sim.Event(appID, "alice", wechat.EventAuthorizationRevoke)
			m.RevokeInfo = "8"
			p, err := sim.MakePush(m, wechattest.PushOptions{Format: f})
			if err != nil {
				t.Fatal(err)
			}
			ts := p.Query.Get("timestamp")
			if err := wechat.CheckPushTimestamp(ts, time.Now(), time.Minute); err != nil {
				t.Fatal(err)
			}
			body := p.Body
			if appID == "wx1111111111111111" {
				pu, _ := wechat.NewPusher(appID, "tok111", key)
				_, enc, err := wechat.PushEnvelope(p.Body)
				if err != nil || p.Query.Get("encrypt_type") != "aes" || pu.VerifyMessage(p.Query.Get("msg_signature"), ts, p.Query.Get("nonce"), enc) != nil {
					t.Fatalf("safe mode: %v %v", err, p.Query)
				}
				if body, err = pu.Decrypt(enc); err != nil {
					t.Fatal(err)
				}
			} else {
				pu, _ := wechat.NewPusher(appID, "tok222", "")
				if err := pu.Verify(p.Query.Get("signature"), ts, p.Query.Get("nonce")); err != nil || p.Query.Has("encrypt_type") {
					t.Fatalf("plaintext: %v %v", err, p.Query)
				}
			}
			got, gf, err := wechat.ParsePushMessage(body)
			if err != nil || gf != f || *got != *m || got.OpenID != sim.OpenID(appID, "alice") {
				t.Fatalf("%s %s: %+v %v", appID, f, got, err)
			}
		}
	}
	if _, err := sim.MakePush(sim.Event("wx3333333333333333", "bob", "x"), wechattest.PushOptions{}); err == nil {
		t.Fatal("an unknown app's push was made")
	}
}

// POST /dev/wechat/push refuses what it cannot send, before sending.
func TestTriggerPush_Refuses(t *testing.T) {
	sim := wechattest.New(wechattest.App{AppID: "wx1111111111111111", Secret: "s"})
	srv := httptest.NewServer(sim.MiniProgramHandler())
	defer srv.Close()
	for _, body := range []string{``, `{`, `{"user":"a"}`, `{"event":"` + strings.Repeat("e", 65) + `"}`,
		`{"event":"x","format":"yaml"}`, `{"event":"x","mode":"loud"}`, `{"event":"x"}` /* no push Token */} {
		resp, err := http.Post(srv.URL+wechattest.PathPush, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", body, resp.StatusCode)
		}
	}
}
