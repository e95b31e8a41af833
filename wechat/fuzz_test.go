package wechat_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"wxlogin/wechat"
)

// FuzzVerifySignature: any rawData, key and signature give nil,
// ErrBadSignature or a *MalformedError — never a panic — and nil only for
// the signature Sign makes (in either case).
func FuzzVerifySignature(f *testing.F) {
	f.Add(docRawData, string(docSigKey), docSignature)
	f.Add(docRawData, string(docSigKey), strings.ToUpper(docSignature))
	f.Add(`{"nickName":"张三"}`, "", strings.Repeat("0", 40))
	f.Add(" {} ", "k", strings.Repeat("g", 40))
	f.Add("{\"a\":\"\xff\"}", "k", strings.Repeat("a", 40))
	f.Add("[]", "k", "")
	f.Fuzz(func(t *testing.T, raw, key, sig string) {
		err := wechat.VerifySignature(raw, wechat.Secret(key), sig)
		switch {
		case err == nil:
			if !strings.EqualFold(sig, wechat.Sign(raw, wechat.Secret(key))) {
				t.Fatalf("accepted a signature Sign does not make: %q", sig)
			}
		case errors.Is(err, wechat.ErrMalformed):
			var m *wechat.MalformedError
			if !errors.As(err, &m) || errors.Is(err, wechat.ErrDecrypt) {
				t.Fatalf("malformed but %T %v", err, err)
			}
			return
		case errors.Is(err, wechat.ErrBadSignature):
		default:
			t.Fatalf("untyped error %T %v", err, err)
		}
		// Well-formed rawData: its own signature passes, in either case.
		good := wechat.Sign(raw, wechat.Secret(key))
		for _, s := range []string{good, strings.ToUpper(good)} {
			if err := wechat.VerifySignature(raw, wechat.Secret(key), s); err != nil {
				t.Fatalf("its own signature refused: %v", err)
			}
		}
	})
}

// FuzzDecryptUserInfo: any open data fails with ErrDecrypt or
// ErrMalformed, never a panic, and data that opens names this app.
func FuzzDecryptUserInfo(f *testing.F) {
	f.Add("wx4f4bc4dec97d474b", "oGZUI0egBJY1zhBYw2KhdUfwVJJE", string(docSessionKey), docEncryptedData, docIV)
	f.Add("wx4f4bc4dec97d474b", "", string(docSessionKey), docEncryptedData, docIV)
	f.Add("", "", string(docSessionKey), docEncryptedData, docIV)
	f.Add("wx", "o", "AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAA==")
	f.Fuzz(func(t *testing.T, appID, openID, key, data, iv string) {
		info, err := wechat.DecryptUserInfo(appID, openID, wechat.Secret(key), data, iv)
		if err != nil {
			if info != nil || !errors.Is(err, wechat.ErrDecrypt) && !errors.Is(err, wechat.ErrMalformed) {
				t.Fatalf("DecryptUserInfo = %v, %T %v", info, err, err)
			}
			return
		}
		if info.Watermark.AppID != appID || info.OpenID != "" && info.OpenID != openID {
			t.Fatalf("accepted data of app %q user %q for %q %q", info.Watermark.AppID, info.OpenID, appID, openID)
		}
	})
}

// FuzzCode2SessionAnswer: whatever WeChat answers — any status, any body —
// Code2Session returns a session with an openid and a session_key, or an
// error a caller can sort (a sentinel or an *APIError); it never panics,
// and its error never quotes the app secret or the code.
func FuzzCode2SessionAnswer(f *testing.F) {
	f.Add(200, `{"openid":"o1","session_key":"k","unionid":"u"}`)
	f.Add(200, `{"errcode":40029,"errmsg":"invalid code"}`)
	f.Add(200, `{"errcode":-1,"errmsg":"system busy"}`)
	f.Add(200, `{"errcode":0,"openid":"o1","session_key":"k"}`)
	f.Add(200, `{"errcode":"40029"}`)
	f.Add(200, `{"openid":1}`)
	f.Add(200, `<html>`)
	f.Add(200, ``)
	f.Add(200, `null`)
	f.Add(502, `<html>bad gateway</html>`)
	f.Add(302, ``)
	f.Add(204, ``)
	const secret = "fuzz-secret-0123456789"
	type answer struct {
		status int
		body   string
	}
	var next atomic.Pointer[answer]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := next.Load()
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	defer srv.Close()
	c := wechat.NewClient(wechat.Config{AppID: "wx1111111111111111", Secret: secret, BaseURL: srv.URL,
		Timeout: 2 * time.Second, RetryBackoff: time.Millisecond})
	f.Fuzz(func(t *testing.T, st int, b string) {
		if st < 200 || st > 599 {
			st = 200 + (st%400+400)%400
		}
		next.Store(&answer{st, b})
		s, err := c.Code2Session(context.Background(), "fuzzcode123")
		if err == nil {
			if s.OpenID == "" || s.SessionKey == "" {
				t.Fatalf("a session without openid or session_key: %+v", s)
			}
			return
		}
		var apiErr *wechat.APIError
		if !errors.Is(err, wechat.ErrUnavailable) && !errors.Is(err, wechat.ErrInvalidCode) &&
			!errors.Is(err, wechat.ErrRateLimited) && !errors.Is(err, wechat.ErrUserBlocked) && !errors.As(err, &apiErr) {
			t.Fatalf("unsorted error %T %v", err, err)
		}
		if !strings.Contains(b, secret) && strings.Contains(err.Error(), secret) || !strings.Contains(b, "fuzzcode123") && strings.Contains(err.Error(), "fuzzcode123") {
			t.Fatalf("the error quotes the request: %v", err)
		}
	})
}

// FuzzOpenPush: any Encrypt field and any (decrypted or plaintext) body
// fail with a push error, never a panic; what opens is under the right
// appid and seals back to itself, and what parses stays within its bounds.
func FuzzOpenPush(f *testing.F) {
	f.Add(sampleEncrypt, []byte(`{"MsgType":"event","CreateTime":1,"Event":"user_authorization_revoke","OpenID":"o","RevokeInfo":"8"}`))
	f.Add(sample2Encrypt, []byte(`<xml><MsgType><![CDATA[event]]></MsgType><CreateTime>1</CreateTime><result><suggest>risky</suggest></result></xml>`))
	f.Add("", []byte(""))
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", []byte("<xml>"))
	f.Add(strings.Repeat("A", 44), []byte(`{"MsgType":1e999,"CreateTime":"1"}`))
	p, err := wechat.NewPusher(sampleAppID, sampleToken, sampleKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, enc string, body []byte) {
		msg, err := p.Decrypt(enc)
		if err != nil {
			if !errors.Is(err, wechat.ErrPush) {
				t.Fatalf("untyped error %T %v", err, err)
			}
		} else {
			again, err := p.Encrypt(msg)
			if err != nil {
				t.Fatal(err)
			}
			if back, err := p.Decrypt(again); err != nil || string(back) != string(msg) {
				t.Fatalf("sealed again it does not open: %v", err)
			}
		}
		m, format, err := wechat.ParsePushMessage(body)
		if err != nil {
			if !errors.Is(err, wechat.ErrPushBody) {
				t.Fatalf("untyped error %T %v", err, err)
			}
			return
		}
		if m.MsgType == "" || len(m.OpenID) > 256 || len(m.Event) > 256 || len(m.TraceID) > 256 {
			t.Fatalf("accepted out of bounds: %+v", m)
		}
		if _, _, err := wechat.ParsePushMessage(wechat.EncodePushMessage(m, format)); err != nil {
			t.Fatalf("its own encoding does not parse: %v", err)
		}
	})
}
