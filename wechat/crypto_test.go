package wechat_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"wxlogin/wechat"
)

// The example from WeChat's "open data" docs (开放数据校验与解密).
const (
	docAppID         = "wx4f4bc4dec97d474b"
	docSessionKey    = wechat.Secret("tiihtNczf5v6AKRyjwEUhQ==")
	docIV            = "r7BXXKkLb8qrSNn05n0qiA=="
	docOpenID        = "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
	docEncryptedData = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
	docPlaintext     = `{"openId":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0","unionId":"ocMvos6NjeKLIBqg5Mr9QjxrP1FA","watermark":{"timestamp":1477314187,"appid":"wx4f4bc4dec97d474b"}}`
)

func TestDecrypt_OfficialExample(t *testing.T) {
	pt, err := wechat.Decrypt(docSessionKey, docEncryptedData, docIV)
	if err != nil {
		t.Fatal(err)
	}
	if string(pt) != docPlaintext {
		t.Fatalf("plaintext:\n got %s\nwant %s", pt, docPlaintext)
	}
}

func TestDecryptUserInfo_OfficialExample(t *testing.T) {
	info, err := wechat.DecryptUserInfo(docAppID, docOpenID, docSessionKey, docEncryptedData, docIV)
	if err != nil {
		t.Fatal(err)
	}
	want := wechat.UserInfo{
		OpenID: docOpenID, UnionID: "ocMvos6NjeKLIBqg5Mr9QjxrP1FA",
		Profile: wechat.Profile{
			NickName: "Band", Gender: 1, Language: "zh_CN", City: "Guangzhou", Province: "Guangdong", Country: "CN",
			AvatarURL: "http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0",
		},
		Watermark: wechat.Watermark{AppID: docAppID, Timestamp: 1477314187},
	}
	if *info != want {
		t.Fatalf("got %+v\nwant %+v", *info, want)
	}
}

func TestDecryptUserInfo_Malformed(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	// Malformed encryptedData and iv are CheckUserData's table; these need the key.
	ct, _ := base64.StdEncoding.DecodeString(docEncryptedData)
	// Flipping a bit of the second-to-last block garbles the last block's
	// padding byte; ciphertext of a non-JSON plaintext checks the JSON step.
	badPad := append([]byte(nil), ct...)
	badPad[len(badPad)-17] ^= 0x01
	notJSON, _ := wechat.Encrypt(docSessionKey, docIV, []byte("not json"))
	noWatermark, _ := wechat.Encrypt(docSessionKey, docIV, []byte(`{"openId":"`+docOpenID+`"}`))

	for _, tc := range []struct {
		name          string
		appID, openID string
		key           wechat.Secret
		data, iv      string
		want          error
	}{
		{"BadBase64Key", docAppID, docOpenID, "tiihtNczf5v6AKRy*wEUhQ==", docEncryptedData, docIV, wechat.ErrBadKey},
		{"KeyTooShort", docAppID, docOpenID, wechat.Secret(b64(make([]byte, 15))), docEncryptedData, docIV, wechat.ErrBadKey},
		{"KeyAES256", docAppID, docOpenID, wechat.Secret(b64(make([]byte, 32))), docEncryptedData, docIV, wechat.ErrBadKey},
		{"KeyEmpty", docAppID, docOpenID, "", docEncryptedData, docIV, wechat.ErrBadKey},
		{"BadPadding", docAppID, docOpenID, docSessionKey, b64(badPad), docIV, wechat.ErrBadPadding},
		{"WrongKey", docAppID, docOpenID, wechat.Secret(b64([]byte("0123456789abcdef"))), docEncryptedData, docIV, wechat.ErrDecrypt},
		{"NotJSON", docAppID, docOpenID, docSessionKey, notJSON, docIV, wechat.ErrBadJSON},
		{"NoWatermark", docAppID, docOpenID, docSessionKey, noWatermark, docIV, wechat.ErrWatermark},
		{"WrongAppID", "wx0000000000000000", docOpenID, docSessionKey, docEncryptedData, docIV, wechat.ErrWatermark},
		{"OtherUser", docAppID, "oSomeoneElse000000000000000", docSessionKey, docEncryptedData, docIV, wechat.ErrOpenIDMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := wechat.DecryptUserInfo(tc.appID, tc.openID, tc.key, tc.data, tc.iv)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !errors.Is(err, wechat.ErrDecrypt) {
				t.Fatalf("err = %v does not match ErrDecrypt", err)
			}
			if info != nil {
				t.Fatalf("info = %+v, want nil", info)
			}
			if tc.key != "" && strings.Contains(err.Error(), string(tc.key)) {
				t.Fatalf("error %q quotes the session_key", err)
			}
		})
	}
}

func TestEncrypt_RoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 17, 100} {
		msg := []byte(strings.Repeat("x", n))
		enc, err := wechat.Encrypt(docSessionKey, docIV, msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wechat.Decrypt(docSessionKey, enc, docIV)
		if err != nil || string(got) != string(msg) {
			t.Fatalf("n=%d: got %q, %v", n, got, err)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	// The signature example from WeChat's docs.
	raw := `{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}`
	key := wechat.Secret("HyVFkGl5F5OQWJZZaNzBBg==")
	const sig = "75e81ceda165f4ffa64f4068af58c64b8f54b88c"

	t.Run("OK", func(t *testing.T) {
		if err := wechat.VerifySignature(raw, key, sig); err != nil {
			t.Fatal(err)
		}
		if err := wechat.VerifySignature(raw, key, strings.ToUpper(sig)); err != nil {
			t.Fatal("upper-case hex refused:", err)
		}
	})
	for name, tc := range map[string]struct {
		raw string
		key wechat.Secret
		sig string
	}{
		"TamperedData": {strings.Replace(raw, "Band", "Bond", 1), key, sig},
		"WrongKey":     {raw, "AAAAAAAAAAAAAAAAAAAAAA==", sig},
		"OtherSig":     {raw, key, strings.Repeat("0", 40)},
	} {
		t.Run(name, func(t *testing.T) {
			if err := wechat.VerifySignature(tc.raw, tc.key, tc.sig); !errors.Is(err, wechat.ErrBadSignature) {
				t.Fatalf("err = %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestSecret_Redacted(t *testing.T) {
	s := struct{ Key wechat.Secret }{docSessionKey}
	for _, out := range []string{
		s.Key.String(), s.Key.GoString(), s.Key.LogValue().String(),
	} {
		if strings.Contains(out, string(docSessionKey)) {
			t.Fatalf("secret leaked: %q", out)
		}
	}
}

// FuzzDecrypt checks that no input makes decryption panic, and that whatever
// decrypts re-encrypts to the same ciphertext. `make test` runs the seeds.
func FuzzDecrypt(f *testing.F) {
	f.Add(string(docSessionKey), docEncryptedData, docIV)
	f.Add(string(docSessionKey), "", docIV)
	f.Add(string(docSessionKey), "AAAAAAAAAAAAAAAAAAAAAA==", docIV)
	f.Add("", "", "")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAAA==")
	f.Fuzz(func(t *testing.T, key, data, iv string) {
		pt, err := wechat.Decrypt(wechat.Secret(key), data, iv)
		if err != nil {
			if !errors.Is(err, wechat.ErrDecrypt) && !errors.Is(err, wechat.ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := wechat.Encrypt(wechat.Secret(key), iv, pt)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := base64.StdEncoding.DecodeString(data)
		if got, _ := base64.StdEncoding.DecodeString(again); string(got) != string(want) {
			t.Fatalf("re-encryption differs")
		}
	})
}
