package wechat_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

// phoneAnswer is a getuserphonenumber answer with countryCode spelled cc
// (a JSON value) and the watermark naming appID.
func phoneAnswer(pure, cc, appID string) string {
	return fmt.Sprintf(`{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":%q,"purePhoneNumber":%q,"countryCode":%s,"watermark":{"timestamp":1637744274,"appid":%q}}}`, pure, pure, cc, appID)
}

func mustPhoneCode(t *testing.T, sim *wechattest.Simulator, appID, user string) string {
	t.Helper()
	code, err := sim.PhoneCode(appID, user)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func mustSetPhone(t *testing.T, sim *wechattest.Simulator, user, cc, national string) {
	t.Helper()
	if err := sim.SetPhone(user, cc, national); err != nil {
		t.Fatal(err)
	}
}

var alicePhone = wechat.Phone{E164: "+8613800138000", CountryCode: "86", National: "13800138000"}

func TestClient_PhoneNumber(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		mustSetPhone(t, sim, "alice", "+86", "13800138000")
		p, err := c.PhoneNumber(t.Context(), mustPhoneCode(t, sim, "", "alice"), sim.OpenID(testAppID, "alice"))
		if err != nil {
			t.Fatal(err)
		}
		if *p != alicePhone {
			t.Fatalf("phone = %+v, want %+v", *p, alicePhone)
		}
		if a, b := sim.Calls(wechattest.PathStableToken), sim.Calls(wechattest.PathPhoneNumber); a != 1 || b != 1 {
			t.Fatalf("stable_token %d, getuserphonenumber %d calls; want 1 and 1", a, b)
		}
	})

	t.Run("Foreign", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		mustSetPhone(t, sim, "bob", "1", "2025550123")
		p, err := c.PhoneNumber(t.Context(), mustPhoneCode(t, sim, "", "bob"), sim.OpenID(testAppID, "bob"))
		if err != nil {
			t.Fatal(err)
		}
		if want := (wechat.Phone{E164: "+12025550123", CountryCode: "1", National: "2025550123"}); *p != want {
			t.Fatalf("phone = %+v, want %+v", *p, want)
		}
	})

	// WeChat's example answer has countryCode as a number, its field table
	// and the legacy payload as a string; both are taken.
	for name, cc := range map[string]string{"CountryCodeNumber": `86`, "CountryCodeString": `"86"`} {
		t.Run(name, func(t *testing.T) {
			c, sim := newClient(t, wechat.Config{})
			sim.InjectAt(wechattest.PathPhoneNumber, wechattest.Fault{Body: phoneAnswer("13800138000", cc, testAppID)})
			p, err := c.PhoneNumber(t.Context(), "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144", "oAnyOpenID")
			if err != nil || *p != alicePhone {
				t.Fatalf("phone = %+v, %v", p, err)
			}
		})
	}

	t.Run("CodeUsed", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		mustSetPhone(t, sim, "alice", "86", "13800138000")
		code := mustPhoneCode(t, sim, "", "alice")
		if _, err := c.PhoneNumber(t.Context(), code, sim.OpenID(testAppID, "alice")); err != nil {
			t.Fatal(err)
		}
		_, err := c.PhoneNumber(t.Context(), code, sim.OpenID(testAppID, "alice"))
		assertAPIError(t, err, wechat.ErrInvalidCode, wechat.ErrcodeInvalidCode)
	})

	t.Run("CodeExpired", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		mustSetPhone(t, sim, "alice", "86", "13800138000")
		code := mustPhoneCode(t, sim, "", "alice")
		sim.Advance(wechattest.CodeTTL + time.Second)
		_, err := c.PhoneNumber(t.Context(), code, sim.OpenID(testAppID, "alice"))
		assertAPIError(t, err, wechat.ErrInvalidCode, wechat.ErrcodeInvalidCode)
	})

	t.Run("CodeUnknown", func(t *testing.T) {
		c, _ := newClient(t, wechat.Config{})
		_, err := c.PhoneNumber(t.Context(), "0123456789abcdef", "oAnyOpenID")
		assertAPIError(t, err, wechat.ErrInvalidCode, wechat.ErrcodeInvalidCode)
	})

	t.Run("LoginCodeIsNotAPhoneCode", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		mustSetPhone(t, sim, "alice", "86", "13800138000")
		_, err := c.PhoneNumber(t.Context(), mustLogin(t, sim, "alice"), sim.OpenID(testAppID, "alice"))
		assertAPIError(t, err, wechat.ErrInvalidCode, wechat.ErrcodeInvalidCode)
		_, err = c.Code2Session(t.Context(), mustPhoneCode(t, sim, "", "alice"))
		assertAPIError(t, err, wechat.ErrInvalidCode, wechat.ErrcodeInvalidCode)
	})

	t.Run("OtherAppsCode", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		sim.AddApp(wechattest.App{AppID: "wx2222222222222222", Secret: "other"})
		mustSetPhone(t, sim, "alice", "86", "13800138000")
		_, err := c.PhoneNumber(t.Context(), mustPhoneCode(t, sim, "wx2222222222222222", "alice"), sim.OpenID(testAppID, "alice"))
		assertAPIError(t, err, wechat.ErrInvalidCode, wechat.ErrcodeInvalidCode)
	})

	// The openid goes in the body, so WeChat refuses alice's code sent
	// for mallory; without it, mallory would get alice's number.
	t.Run("OtherUsersCode", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		mustSetPhone(t, sim, "alice", "86", "13800138000")
		code := mustPhoneCode(t, sim, "", "alice")
		p, err := c.PhoneNumber(t.Context(), code, sim.OpenID(testAppID, "mallory"))
		if p != nil || !errors.Is(err, wechat.ErrNotCallersCode) {
			t.Fatalf("phone = %+v, err = %v; want ErrNotCallersCode", p, err)
		}
		assertAPIError(t, err, wechat.ErrInvalidCode, wechat.ErrcodeInvalidOpenID)
		if p, err := c.PhoneNumber(t.Context(), code, sim.OpenID(testAppID, "alice")); err != nil || *p != alicePhone {
			t.Fatalf("alice with her own code: %+v, %v", p, err)
		}
	})

	t.Run("NoOpenID", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		mustSetPhone(t, sim, "alice", "86", "13800138000")
		if _, err := c.PhoneNumber(t.Context(), mustPhoneCode(t, sim, "", "alice"), ""); err == nil {
			t.Fatal("no error without an openid")
		}
		if n := sim.Calls(wechattest.PathStableToken) + sim.Calls(wechattest.PathPhoneNumber); n != 0 {
			t.Fatalf("%d calls to WeChat without an openid", n)
		}
	})

	for name, code := range map[string]string{
		"Empty":   "",
		"TooLong": strings.Repeat("a", wechat.MaxPhoneCodeLen+1),
		"Space":   "abc def",
		"Quote":   `abc"def`,
		"NUL":     "abc\x00",
	} {
		t.Run("Malformed"+name, func(t *testing.T) {
			c, sim := newClient(t, wechat.Config{})
			_, err := c.PhoneNumber(t.Context(), code, sim.OpenID(testAppID, "alice"))
			assertMalformed(t, err, "phoneCode must be 1 to 128 characters of A-Z a-z 0-9 - . _ ~", code)
			if n := sim.Calls(wechattest.PathStableToken) + sim.Calls(wechattest.PathPhoneNumber); n != 0 {
				t.Fatalf("%d calls to WeChat for a malformed code", n)
			}
		})
	}

	t.Run("WatermarkOfAnotherApp", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		sim.InjectAt(wechattest.PathPhoneNumber, wechattest.Fault{Body: phoneAnswer("13800138000", "86", "wx0000000000000000")})
		_, err := c.PhoneNumber(t.Context(), "abcdef", "oAnyOpenID")
		if !errors.Is(err, wechat.ErrWatermark) || !errors.Is(err, wechat.ErrDecrypt) {
			t.Fatalf("err = %v, want ErrWatermark", err)
		}
	})

	for name, body := range map[string]string{
		"NoWatermark":      `{"errcode":0,"phone_info":{"purePhoneNumber":"13800138000","countryCode":"86"}}`,
		"CountryCodeZero":  phoneAnswer("13800138000", `"086"`, testAppID),
		"CountryCodePlus":  phoneAnswer("13800138000", `"+86"`, testAppID),
		"CountryCodeEmpty": phoneAnswer("13800138000", `""`, testAppID),
		"CountryCodeNull":  phoneAnswer("13800138000", `null`, testAppID),
		"CountryCodeFloat": phoneAnswer("13800138000", `86.0`, testAppID),
		"CountryCodeExp":   phoneAnswer("13800138000", `8.6e1`, testAppID),
		"CountryCodeNeg":   phoneAnswer("13800138000", `-86`, testAppID),
		"CountryCodeLong":  phoneAnswer("2025550123", `"1234"`, testAppID),
		"CountryCodeBool":  phoneAnswer("13800138000", `true`, testAppID),
		"NationalEmpty":    phoneAnswer("", `"1"`, testAppID),
		"NationalLetters":  phoneAnswer("1380013800O", `"86"`, testAppID),
		"NationalPlus":     phoneAnswer("+13800138000", `"1"`, testAppID),
		"NationalSpaces":   phoneAnswer("138 0013 8000", `"86"`, testAppID),
		"NationalUnicode":  phoneAnswer("１３８００１３８０００", `"86"`, testAppID),
		"TooManyDigits":    phoneAnswer("1234567890123", `"358"`, testAppID),
		"ChinaTenDigits":   phoneAnswer("1380013800", `"86"`, testAppID),
		"ChinaNotMobile":   phoneAnswer("23800138000", `"86"`, testAppID),
	} {
		t.Run("Refuses"+name, func(t *testing.T) {
			c, sim := newClient(t, wechat.Config{})
			sim.InjectAt(wechattest.PathPhoneNumber, wechattest.Fault{Body: body})
			p, err := c.PhoneNumber(t.Context(), "abcdef", "oAnyOpenID")
			if p != nil || !errors.Is(err, wechat.ErrDecrypt) {
				t.Fatalf("phone = %+v, err = %v; want a *DecryptError", p, err)
			}
		})
	}

	t.Run("LongestE164", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		sim.InjectAt(wechattest.PathPhoneNumber, wechattest.Fault{Body: phoneAnswer("123456789012", `"358"`, testAppID)})
		p, err := c.PhoneNumber(t.Context(), "abcdef", "oAnyOpenID")
		if err != nil || p.E164 != "+358123456789012" {
			t.Fatalf("phone = %+v, %v", p, err)
		}
	})

	t.Run("NoPhoneInfo", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		sim.InjectAt(wechattest.PathPhoneNumber, wechattest.Fault{Body: `{"errcode":0,"errmsg":"ok"}`})
		if _, err := c.PhoneNumber(t.Context(), "abcdef", "oAnyOpenID"); !errors.Is(err, wechat.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})

	t.Run("RateLimited", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		sim.InjectAt(wechattest.PathPhoneNumber, wechattest.Fault{Errcode: wechat.ErrcodeRateLimited})
		_, err := c.PhoneNumber(t.Context(), "abcdef", "oAnyOpenID")
		assertAPIError(t, err, wechat.ErrRateLimited, wechat.ErrcodeRateLimited)
	})

	t.Run("BusyRetriedOnce", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		mustSetPhone(t, sim, "alice", "86", "13800138000")
		sim.InjectAt(wechattest.PathPhoneNumber, wechattest.Fault{Errcode: wechat.ErrcodeBusy})
		if _, err := c.PhoneNumber(t.Context(), mustPhoneCode(t, sim, "", "alice"), sim.OpenID(testAppID, "alice")); err != nil {
			t.Fatal(err)
		}
		if n := sim.Calls(wechattest.PathPhoneNumber); n != 2 {
			t.Fatalf("getuserphonenumber called %d times, want 2", n)
		}
	})
}

// TestClient_PhoneNumber_TokenRefused runs the refused-token paths end to
// end: the simulator refuses the token, the client renews it and retries.
func TestClient_PhoneNumber_TokenRefused(t *testing.T) {
	t.Parallel()

	t.Run("InvalidatedThenInvalidatedAgainWithin30s", func(t *testing.T) {
		clk := newClock()
		store := wechat.NewMemoryTokenStore()
		c, sim := newClient(t, wechat.Config{Tokens: store, Now: clk.Now})
		mustSetPhone(t, sim, "alice", "86", "13800138000")
		if _, err := c.PhoneNumber(t.Context(), mustPhoneCode(t, sim, "", "alice"), sim.OpenID(testAppID, "alice")); err != nil {
			t.Fatal(err)
		}

		// Refused once: forced refresh, and the call retried once.
		sim.InvalidateToken(testAppID)
		if _, err := c.PhoneNumber(t.Context(), mustPhoneCode(t, sim, "", "alice"), sim.OpenID(testAppID, "alice")); err != nil {
			t.Fatal(err)
		}
		if a, b := sim.Calls(wechattest.PathStableToken), sim.Calls(wechattest.PathPhoneNumber); a != 2 || b != 3 {
			t.Fatalf("stable_token %d, getuserphonenumber %d calls; want 2 and 3", a, b)
		}

		// Refused again within 30 s: no second force, an error.
		sim.InvalidateToken(testAppID)
		code := mustPhoneCode(t, sim, "", "alice")
		_, err := c.PhoneNumber(t.Context(), code, sim.OpenID(testAppID, "alice"))
		assertAPIError(t, err, wechat.ErrUnavailable, wechat.ErrcodeInvalidToken)
		if n := sim.Calls(wechattest.PathStableToken); n != 2 {
			t.Fatalf("stable_token called %d times, want still 2", n)
		}
		tok, _ := store.Token(t.Context(), testAppID)
		if strings.Contains(err.Error(), string(tok.Value)) || strings.Contains(err.Error(), testSecret) {
			t.Fatalf("error quotes the token or secret: %v", err)
		}

		// The refusal did not spend the code: it works once a force is allowed.
		clk.Advance(wechat.ForceRefreshInterval)
		sim.Advance(wechat.ForceRefreshInterval)
		if p, err := c.PhoneNumber(t.Context(), code, sim.OpenID(testAppID, "alice")); err != nil || *p != alicePhone {
			t.Fatalf("phone = %+v, %v", p, err)
		}
	})

	t.Run("ExpiredAtWeChat", func(t *testing.T) {
		store := wechat.NewMemoryTokenStore()
		c, sim := newClient(t, wechat.Config{Tokens: store})
		mustSetPhone(t, sim, "alice", "86", "13800138000")
		if _, err := c.PhoneNumber(t.Context(), mustPhoneCode(t, sim, "", "alice"), sim.OpenID(testAppID, "alice")); err != nil {
			t.Fatal(err)
		}
		sim.Advance(wechattest.TokenTTL) // our clock still gives it two hours
		if _, err := c.PhoneNumber(t.Context(), mustPhoneCode(t, sim, "", "alice"), sim.OpenID(testAppID, "alice")); err != nil {
			t.Fatal(err)
		}
		if tok, _ := store.Token(t.Context(), testAppID); !tok.ForcedAt.IsZero() {
			t.Fatal("an expired token was force-refreshed")
		}
		if n := sim.Calls(wechattest.PathPhoneNumber); n != 3 {
			t.Fatalf("getuserphonenumber called %d times, want 3", n)
		}
	})
}

// TestClient_SecretsNotInErrors checks errors of calls whose query holds
// the access token: Go's *url.Error would print the whole URL.
func TestClient_SecretsNotInErrors(t *testing.T) {
	t.Parallel()
	store := wechat.NewMemoryTokenStore()
	sim := wechattest.New(wechattest.App{AppID: testAppID, Secret: testSecret})
	srv := httptest.NewServer(sim.Handler())
	c := wechat.NewClient(wechat.Config{AppID: testAppID, Secret: testSecret, BaseURL: srv.URL, Tokens: store, Timeout: 100 * time.Millisecond})
	if _, err := c.PhoneNumber(t.Context(), "abcdef", "oAnyOpenID"); !errors.Is(err, wechat.ErrInvalidCode) {
		t.Fatal(err)
	}
	tok, _ := store.Token(t.Context(), testAppID)
	check := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		for _, s := range []string{string(tok.Value), testSecret, "access_token=", "secret="} {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("%s: error %q quotes %q", name, err, s)
			}
		}
	}
	sim.InjectAt(wechattest.PathPhoneNumber, wechattest.Fault{Status: http.StatusBadGateway})
	_, err := c.PhoneNumber(t.Context(), "abcdef", "oAnyOpenID")
	check("BadGateway", err)
	sim.InjectAt(wechattest.PathPhoneNumber, wechattest.Fault{Delay: time.Second})
	_, err = c.PhoneNumber(t.Context(), "abcdef", "oAnyOpenID")
	check("Timeout", err)
	srv.Close()
	_, err = c.PhoneNumber(t.Context(), "abcdef", "oAnyOpenID")
	check("ConnectionRefused", err)
}

// A genuine legacy getPhoneNumber capture published by the go-pay SDK
// (github.com/go-pay/wechat-sdk, doc/mini.md, "开放数据解密"; also in
// go-pay/gopay's README and tests). WeChat's own docs publish the phone
// payload's shape but no encrypted phone example; the go-pay docs print
// the inputs only, not the decrypted result, so the test checks what every
// genuine payload must satisfy rather than a number.
const (
	goPayAppID         = "wxdaa2ab9ef87b5497" // the watermark's appid, found by decrypting
	goPaySessionKey    = wechat.Secret("lyY4HPQbaOYzZdG+JcYK9w==")
	goPayIV            = "Cds8j3VYoGvnTp1BrjXdJg=="
	goPayEncryptedData = "Kf3TdPbzEmhWMuPKtlKxIWDkijhn402w1bxoHL4kLdcKr6jT1jNcIhvDJfjXmJcgDWLjmBiIGJ5acUuSvxLws3WgAkERmtTuiCG10CKLsJiR+AXVk7B2TUQzsq88YVilDz/YAN3647REE7glGmeBPfvUmdbfDzhL9BzvEiuRhABuCYyTMz4iaM8hFjbLB1caaeoOlykYAFMWC5pZi9P8uw=="
)

func TestDecryptPhone_PublishedCapture(t *testing.T) {
	p, err := wechat.DecryptPhone(goPayAppID, goPaySessionKey, goPayEncryptedData, goPayIV)
	if err != nil {
		t.Fatal(err)
	}
	if p.CountryCode != "86" || len(p.National) != 11 || p.E164 != "+86"+p.National {
		t.Fatalf("phone = %+v, want a mainland mobile number", *p)
	}
	if _, err := wechat.DecryptPhone(docAppID, goPaySessionKey, goPayEncryptedData, goPayIV); !errors.Is(err, wechat.ErrWatermark) {
		t.Fatalf("another app's phone: %v, want ErrWatermark", err)
	}
}

func TestDecryptPhone_OfficialUserInfoExampleIsNotAPhone(t *testing.T) {
	// WeChat's published open-data example decrypts, and its watermark is
	// the app's, but it carries no phone number.
	if _, err := wechat.DecryptPhone(docAppID, docSessionKey, docEncryptedData, docIV); !errors.Is(err, wechat.ErrBadPhone) {
		t.Fatalf("err = %v, want ErrBadPhone", err)
	}
}

func TestDecryptPhone_Simulator(t *testing.T) {
	t.Parallel()
	c, sim := newClient(t, wechat.Config{})
	mustSetPhone(t, sim, "alice", "+86", "13800138000")
	s, err := c.Code2Session(t.Context(), mustLogin(t, sim, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := sim.PhoneData("", "alice")
	if err != nil {
		t.Fatal(err)
	}
	p, err := wechat.DecryptPhone(testAppID, s.SessionKey, data.EncryptedData, data.IV)
	if err != nil || *p != alicePhone {
		t.Fatalf("phone = %+v, %v", p, err)
	}
	if _, err := wechat.DecryptPhone("wx0000000000000000", s.SessionKey, data.EncryptedData, data.IV); !errors.Is(err, wechat.ErrWatermark) {
		t.Fatalf("other app: %v, want ErrWatermark", err)
	}

	// A later wx.login() rotates the key: data encrypted after it does
	// not open with the key this server holds.
	mustLogin(t, sim, "alice")
	data, _ = sim.PhoneData("", "alice")
	if _, err := wechat.DecryptPhone(testAppID, s.SessionKey, data.EncryptedData, data.IV); !errors.Is(err, wechat.ErrDecrypt) {
		t.Fatalf("stale session_key: %v, want ErrDecrypt", err)
	}
}

func TestDecryptPhone_Payloads(t *testing.T) {
	t.Parallel()
	enc := func(plain string) string {
		d, err := wechat.Encrypt(docSessionKey, docIV, []byte(plain))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	wm := `"watermark":{"appid":"` + docAppID + `","timestamp":1477314187}`
	for name, tc := range map[string]struct {
		plain string
		want  *wechat.Phone
		err   error
	}{
		"DocShape":      {`{"phoneNumber":"13580006666","purePhoneNumber":"13580006666","countryCode":"86",` + wm + `}`, &wechat.Phone{E164: "+8613580006666", CountryCode: "86", National: "13580006666"}, nil},
		"NumberCC":      {`{"purePhoneNumber":"13580006666","countryCode":86,` + wm + `}`, &wechat.Phone{E164: "+8613580006666", CountryCode: "86", National: "13580006666"}, nil},
		"Foreign":       {`{"phoneNumber":"+44 7911123456","purePhoneNumber":"7911123456","countryCode":"44",` + wm + `}`, &wechat.Phone{E164: "+447911123456", CountryCode: "44", National: "7911123456"}, nil},
		"NotJSON":       {`13580006666`, nil, wechat.ErrBadJSON},
		"Array":         {`[]`, nil, wechat.ErrBadJSON},
		"NationalArray": {`{"purePhoneNumber":["1"],"countryCode":"86",` + wm + `}`, nil, wechat.ErrBadJSON},
		"NoWatermark":   {`{"purePhoneNumber":"13580006666","countryCode":"86"}`, nil, wechat.ErrWatermark},
		"NoNumber":      {`{"countryCode":"86",` + wm + `}`, nil, wechat.ErrBadPhone},
		"TooLong":       {`{"purePhoneNumber":"1234567890123","countryCode":"358",` + wm + `}`, nil, wechat.ErrBadPhone},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := wechat.DecryptPhone(docAppID, docSessionKey, enc(tc.plain), docIV)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, wechat.ErrDecrypt) || p != nil {
					t.Fatalf("phone = %+v, err = %v; want %v", p, err, tc.err)
				}
				return
			}
			if err != nil || *p != *tc.want {
				t.Fatalf("phone = %+v, %v; want %+v", p, err, *tc.want)
			}
		})
	}

	t.Run("Malformed", func(t *testing.T) {
		_, err := wechat.DecryptPhone(docAppID, docSessionKey, "!!", docIV)
		assertMalformed(t, err, "encryptedData must be padded standard base64")
	})
}

// FuzzDecryptPhone checks that no payload makes DecryptPhone panic, and
// that whatever it accepts is an E.164 number. `make test` runs the seeds.
func FuzzDecryptPhone(f *testing.F) {
	f.Add(`{"purePhoneNumber":"13580006666","countryCode":"86","watermark":{"appid":"` + docAppID + `"}}`)
	f.Add(`{"purePhoneNumber":"7911123456","countryCode":44,"watermark":{"appid":"` + docAppID + `"}}`)
	f.Add(`{"countryCode":"\u0038\u0036","purePhoneNumber":"1","watermark":{"appid":"` + docAppID + `"}}`)
	f.Fuzz(func(t *testing.T, plain string) {
		data, err := wechat.Encrypt(docSessionKey, docIV, []byte(plain))
		if err != nil || len(data) > 20000 {
			return
		}
		p, err := wechat.DecryptPhone(docAppID, docSessionKey, data, docIV)
		if err != nil {
			if !errors.Is(err, wechat.ErrDecrypt) && !errors.Is(err, wechat.ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		digits := strings.TrimPrefix(p.E164, "+")
		if p.E164 != "+"+p.CountryCode+p.National || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" || p.CountryCode[0] == '0' {
			t.Fatalf("accepted %+v", *p)
		}
	})
}
