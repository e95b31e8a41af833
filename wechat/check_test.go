package wechat_test

import (
	"encoding/base64"
	"errors"
	"runtime"
	"strings"
	"testing"

	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

// assertMalformed checks that err is the client-safe malformed error with
// message want, that it does not match ErrDecrypt, and that it quotes none
// of inputs.
func assertMalformed(t *testing.T, err error, want string, inputs ...string) {
	t.Helper()
	var me *wechat.MalformedError
	if !errors.Is(err, wechat.ErrMalformed) || !errors.As(err, &me) {
		t.Fatalf("err = %v, want a *MalformedError", err)
	}
	if err.Error() != want {
		t.Fatalf("err = %q, want %q", err, want)
	}
	if !strings.HasPrefix(want, me.Field+" ") {
		t.Fatalf("Field = %q, but the message is %q", me.Field, want)
	}
	if errors.Is(err, wechat.ErrDecrypt) {
		t.Fatalf("err = %v matches ErrDecrypt; malformed input is the client's mistake", err)
	}
	for _, in := range inputs {
		if len(in) >= 3 && strings.Contains(err.Error(), in) {
			t.Fatalf("err = %q quotes the input %q", err, in)
		}
	}
}

const badCode = "code must be 1 to 64 characters of A-Z a-z 0-9 - . _ ~"

func TestCheckCode(t *testing.T) {
	for _, code := range []string{
		"0a3Xyzunknown0000000000000000000", // today's shape: 32 letters and digits
		"a",
		strings.Repeat("Z", 64),
		"a-b.c_d~e",
		"0123456789",
	} {
		if err := wechat.CheckCode(code); err != nil {
			t.Errorf("CheckCode(%q) = %v, want nil", code, err)
		}
	}
	for name, code := range map[string]string{
		"Empty":      "",
		"TooLong":    strings.Repeat("a", 65),
		"Huge":       strings.Repeat("a", 1<<20),
		"NonASCII":   "éééé",
		"NonASCIIIn": "abcé123",
		"NUL":        "abc\x00def",
		"Newline":    "abc\ndef",
		"Tab":        "\tabc",
		"DEL":        "abc\x7f",
		"Space":      "abc def",
		"Plus":       "abc+def",
		"Slash":      "abc/def",
		"Equals":     "abcdef==",
		"Percent":    "abc%41",
		"Quote":      `abc"def`,
	} {
		t.Run(name, func(t *testing.T) {
			assertMalformed(t, wechat.CheckCode(code), badCode, code)
		})
	}
}

// The official example's rawData and signature (WeChat's docs), under key
// HyVFkGl5F5OQWJZZaNzBBg==.
const (
	docRawData   = `{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}`
	docSigKey    = wechat.Secret("HyVFkGl5F5OQWJZZaNzBBg==")
	docSignature = "75e81ceda165f4ffa64f4068af58c64b8f54b88c"
)

func TestCheckUserData_WellFormed(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	sim := wechattest.New(wechattest.App{AppID: "wx5555555555555555", Secret: "s"})
	if _, err := sim.Login("", "alice"); err != nil {
		t.Fatal(err)
	}
	ui, err := sim.UserInfo("", "alice", wechat.Profile{NickName: "Alice", Gender: 2, City: "深圳"})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string][4]string{
		"Nothing":          {"", "", "", ""},
		"OfficialExample":  {docRawData, docSignature, docEncryptedData, docIV},
		"OfficialRawOnly":  {docRawData, docSignature, "", ""},
		"OfficialDataOnly": {"", "", docEncryptedData, docIV},
		"Simulator":        {ui.RawData, ui.Signature, ui.EncryptedData, ui.IV},
		"UpperCaseSig":     {docRawData, strings.ToUpper(docSignature), "", ""},
		"EmptyObject":      {"{}", docSignature, "", ""},
		"SpacedObject":     {" \n{ } ", docSignature, "", ""},
		"LargestRawData":   {`{"a":"` + strings.Repeat("x", wechat.MaxRawDataLen-8) + `"}`, docSignature, "", ""},
		"OneBlock":         {"", "", b64(make([]byte, 16)), docIV},
		"LargestData":      {"", "", b64(make([]byte, wechat.MaxEncryptedDataLen)), docIV},
	} {
		t.Run(name, func(t *testing.T) {
			if err := wechat.CheckUserData(tc[0], tc[1], tc[2], tc[3]); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCheckUserData_Malformed(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	const (
		obj = `{"nickName":"Band"}`
		sig = docSignature
		enc = docEncryptedData
		iv  = docIV

		badRawObject = "rawData must be a JSON object"
		badRawLong   = "rawData must be at most 8192 bytes"
		badSig       = "signature must be 40 hex digits"
		badEncB64    = "encryptedData must be padded standard base64"
		badEncLen    = "encryptedData must decode to a positive multiple of 16 bytes, at most 16384"
		badIVB64     = "iv must be padded standard base64"
		badIVLen     = "iv must decode to 16 bytes"
	)
	for _, tc := range []struct {
		name                    string
		raw, sig, enc, iv, want string
	}{
		{"SignatureMissing", obj, "", "", "", "signature is required with rawData"},
		{"RawDataMissing", "", sig, "", "", "rawData is required with signature"},
		{"IVMissing", "", "", enc, "", "iv is required with encryptedData"},
		{"EncryptedDataMissing", "", "", "", iv, "encryptedData is required with iv"},

		{"RawArray", "[]", sig, "", "", badRawObject},
		{"RawNumber", "1", sig, "", "", badRawObject},
		{"RawNull", "null", sig, "", "", badRawObject},
		{"RawString", `"x"`, sig, "", "", badRawObject},
		{"RawForm", "nickName=Band", sig, "", "", badRawObject},
		{"RawTruncated", `{"nickName":"Band"`, sig, "", "", badRawObject},
		{"RawTrailing", `{} {}`, sig, "", "", badRawObject},
		{"RawBadUTF8", "{\"nickName\":\"\xff\xfe\"}", sig, "", "", badRawObject},
		{"RawTooLong", `{"a":"` + strings.Repeat("x", wechat.MaxRawDataLen-7) + `"}`, sig, "", "", badRawLong},

		{"SigShort", obj, sig[:39], "", "", badSig},
		{"SigLong", obj, sig + "0", "", "", badSig},
		{"SigNotHex", obj, strings.Repeat("g", 40), "", "", badSig},
		{"SigSpace", obj, " " + sig[1:], "", "", badSig},
		{"SigBase64", obj, b64([]byte(strings.Repeat("\xff", 30))), "", "", badSig},

		{"EncNotBase64", "", "", "!!!not base64!!!", iv, badEncB64},
		{"EncUnpadded", "", "", strings.TrimRight(enc, "="), iv, badEncB64},
		{"EncURLAlphabet", "", "", strings.NewReplacer("+", "-", "/", "_").Replace(enc), iv, badEncB64},
		{"EncSpace", "", "", strings.Replace(enc, "+", " ", 1), iv, badEncB64},
		{"EncNewline", "", "", enc[:64] + "\n" + enc[64:], iv, badEncB64},
		{"EncNonCanonical", "", "", "AAAAAAAAAAAAAAAAAAAAAB==", iv, badEncB64},
		{"EncNotBlocks", "", "", b64(make([]byte, 17)), iv, badEncLen},
		{"EncTooShort", "", "", b64(make([]byte, 15)), iv, badEncLen},
		{"EncTooLong", "", "", b64(make([]byte, wechat.MaxEncryptedDataLen+16)), iv, badEncLen},
		{"EncHuge", "", "", strings.Repeat("A", 1<<20), iv, badEncLen},

		{"IVShort", "", "", enc, b64(make([]byte, 8)), badIVLen},
		{"IVLong", "", "", enc, b64(make([]byte, 32)), badIVLen},
		{"IVHuge", "", "", enc, strings.Repeat("A", 1<<20), badIVLen},
		{"IVNotBase64", "", "", enc, "%%%%%%%%%%%%%%%%%%%%%%%%", badIVB64},
		{"IVUnpadded", "", "", enc, strings.TrimRight(iv, "="), badIVB64},
		{"IVNonCanonical", "", "", enc, "AAAAAAAAAAAAAAAAAAAAAB==", badIVB64},

		// The first field at fault is named.
		{"RawBeforeEnc", "[]", sig, "!!", iv, badRawObject},
		{"PairsBeforeForm", "[]", "", "!!", iv, "signature is required with rawData"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := wechat.CheckUserData(tc.raw, tc.sig, tc.enc, tc.iv)
			assertMalformed(t, err, tc.want, tc.raw, tc.sig, tc.enc, tc.iv)

			// What uses the data later applies the very same rule.
			if tc.raw != "" && tc.sig != "" && tc.enc == "" {
				assertMalformed(t, wechat.VerifySignature(tc.raw, docSigKey, tc.sig), tc.want)
			}
			if tc.enc != "" && tc.iv != "" && tc.raw == "" {
				pt, err := wechat.Decrypt(docSessionKey, tc.enc, tc.iv)
				assertMalformed(t, err, tc.want)
				if pt != nil {
					t.Fatal("Decrypt returned plaintext with an error")
				}
				info, err := wechat.DecryptUserInfo(docAppID, docOpenID, docSessionKey, tc.enc, tc.iv)
				assertMalformed(t, err, tc.want)
				if info != nil {
					t.Fatal("DecryptUserInfo returned info with an error")
				}
			}
		})
	}
}

// FuzzCheckUserData checks that CheckUserData passes exactly what Decrypt
// and VerifySignature take to be well-formed, so a login checked first can
// fail only on what needs the session_key. `make test` runs the seeds.
func FuzzCheckUserData(f *testing.F) {
	f.Add(docRawData, docSignature, docEncryptedData, docIV)
	f.Add("[]", "", "AAAAAAAAAAAAAAAAAAAAAB==", "AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("{}", strings.ToUpper(docSignature), "AAAAAAAAAAAAAAAAAAAAAA==\n", "r7BXXKkLb8qrSNn05n0qiA==")
	f.Fuzz(func(t *testing.T, raw, sig, enc, iv string) {
		if raw != "" && sig != "" {
			checked := wechat.CheckUserData(raw, sig, "", "")
			err := wechat.VerifySignature(raw, docSigKey, sig)
			if (checked == nil) == errors.Is(err, wechat.ErrMalformed) {
				t.Fatalf("CheckUserData = %v but VerifySignature = %v", checked, err)
			}
		}
		if enc != "" && iv != "" {
			checked := wechat.CheckUserData("", "", enc, iv)
			_, err := wechat.Decrypt(docSessionKey, enc, iv)
			if (checked == nil) == errors.Is(err, wechat.ErrMalformed) {
				t.Fatalf("CheckUserData = %v but Decrypt = %v", checked, err)
			}
			if err != nil && !errors.Is(err, wechat.ErrMalformed) && !errors.Is(err, wechat.ErrDecrypt) {
				t.Fatalf("untyped error %v", err)
			}
		}
	})
}

// TestCheckUserData_OversizedIsNotDecoded checks that an oversized value is
// refused by its length, before decoding could cost memory in proportion.
func TestCheckUserData_OversizedIsNotDecoded(t *testing.T) {
	huge := strings.Repeat("A", 1<<20)
	for name, in := range map[string][2]string{"encryptedData": {huge, docIV}, "iv": {docEncryptedData, huge}} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			_ = wechat.CheckUserData("", "", in[0], in[1])
		}
		runtime.ReadMemStats(&after)
		if perCall := (after.TotalAlloc - before.TotalAlloc) / 10; perCall > 64<<10 {
			t.Errorf("%s: checking a 1 MiB value allocated %d bytes, want it refused undecoded", name, perCall)
		}
	}
}
