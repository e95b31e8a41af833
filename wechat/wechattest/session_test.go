package wechattest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"testing"

	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

func TestCheckSession_Raw(t *testing.T) {
	t.Parallel()
	sim, srv := newTokenSim(t)
	tok, _, _ := stable(t, srv, false)
	c := wechat.NewClient(wechat.Config{AppID: tokAppID, Secret: "s", BaseURL: srv.URL})
	code, _ := sim.Login("", "alice")
	s, err := c.Code2Session(t.Context(), code)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, []byte(s.SessionKey))
	sig := hex.EncodeToString(m.Sum(nil))
	check := func(q url.Values) int {
		return errcode(t, call(t, srv, http.MethodGet, wechattest.PathCheckSession+"?"+q.Encode(), ""))
	}
	good := url.Values{"access_token": {tok}, "openid": {s.OpenID}, "signature": {sig}, "sig_method": {"hmac_sha256"}}
	if got := check(good); got != 0 {
		t.Fatalf("errcode %d, want 0", got)
	}
	for name, tc := range map[string]struct {
		key, val string
		want     int
	}{
		"NoToken":       {"access_token", "", wechat.ErrcodeMissingToken},
		"NoOpenID":      {"openid", "", wechat.ErrcodeInvalidArgs},
		"NoSignature":   {"signature", "", wechat.ErrcodeInvalidArgs},
		"SigMethodMD5":  {"sig_method", "md5", wechat.ErrcodeInvalidArgs},
		"OtherOpenID":   {"openid", sim.OpenID(tokAppID, "bob"), wechat.ErrcodeInvalidSignature},
		"WrongSig":      {"signature", hex.EncodeToString(make([]byte, 32)), wechat.ErrcodeInvalidSignature},
		"DecodedKeySig": {"signature", sigOfDecoded(t, s.SessionKey), wechat.ErrcodeInvalidSignature},
	} {
		t.Run(name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range good {
				q[k] = v
			}
			q.Set(tc.key, tc.val)
			if got := check(q); got != tc.want {
				t.Fatalf("errcode %d, want %d", got, tc.want)
			}
		})
	}
}

// sigOfDecoded signs with the base64-decoded key, a common mistake WeChat
// refuses.
func sigOfDecoded(t *testing.T, key wechat.Secret) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(string(key))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, b)
	return hex.EncodeToString(m.Sum(nil))
}
