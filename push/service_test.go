package push_test

import (
	"strings"
	"testing"

	"wxlogin/push"
	"wxlogin/wechat"
)

// The RevokeInfo values of WeChat's documentation, mapped to what wxlogin
// stores (docs/api.md has the same table).
func TestRevokeFields(t *testing.T) {
	profile := "nickname,avatar_url,gender,language,city,province,country"
	all := profile + ",phone,phone_country_code"
	for info, want := range map[string]struct {
		fields string
		known  bool
	}{
		"6": {profile, true}, "8": {"phone,phone_country_code", true}, "19": {"nickname", true}, "20": {"avatar_url", true},
		"6,8": {all, true}, "19, 20": {"nickname,avatar_url", true},
		"1": {"", true}, "2": {"", true}, "3": {"", true}, "4": {"", true}, "5": {"", true}, "7": {"", true},
		"12": {"", true}, "13": {"", true}, "14": {"", true}, "15": {"", true}, "16": {"", true}, "18": {"", true},
		"": {all, false}, "99": {all, false}, "8,99": {all, false}, "six": {all, false}, "201": {all, false},
	} {
		fields, known := push.RevokeFields(info)
		if strings.Join(fields, ",") != want.fields || known != want.known {
			t.Errorf("RevokeFields(%q) = %v %v, want %s %v", info, fields, known, want.fields, want.known)
		}
	}
}

// A message's identity: the same for a retry, different for anything that
// makes another event.
func TestMessageKey(t *testing.T) {
	base := wechat.PushMessage{ToUserName: "gh", FromUserName: "platform", CreateTime: 1700000000, MsgType: "event",
		Event: wechat.EventAuthorizationRevoke, OpenID: "o1", AppID: "wx1", RevokeInfo: "8"}
	key := push.MessageKey(&base)
	if !strings.HasPrefix(key, "sha256:") || len(key) != 7+64 {
		t.Fatalf("key %q", key)
	}
	same := base
	if push.MessageKey(&same) != key {
		t.Fatal("a copy has another key")
	}
	for name, edit := range map[string]func(*wechat.PushMessage){
		"openid":     func(m *wechat.PushMessage) { m.OpenID = "o2" },
		"time":       func(m *wechat.PushMessage) { m.CreateTime++ },
		"event":      func(m *wechat.PushMessage) { m.Event = wechat.EventUserInfoModified },
		"revokeInfo": func(m *wechat.PushMessage) { m.RevokeInfo = "6" },
		"trace":      func(m *wechat.PushMessage) { m.TraceID = "t" },
		"verdict":    func(m *wechat.PushMessage) { m.Result.Suggest = "risky" },
		// The separator keeps fields apart: "o1"+"wx1" is not "o"+"1wx1".
		"shifted": func(m *wechat.PushMessage) { m.OpenID, m.AppID = "o", "1wx1" },
	} {
		m := base
		edit(&m)
		if push.MessageKey(&m) == key {
			t.Errorf("%s: same key", name)
		}
	}
	m := base
	m.MsgID = "6054768590064713728"
	if push.MessageKey(&m) != "msg:6054768590064713728" {
		t.Fatalf("with MsgId: %s", push.MessageKey(&m))
	}
}
