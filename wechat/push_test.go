package wechat_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"wxlogin/wechat"
)

// The sample of WeChat's message encryption SDK (WXBizMsgCrypt, its Java
// test): this key, appid and random prefix encrypt sampleMsg to sampleEncrypt.
const (
	sampleKey     = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	sampleToken   = "pamtest"
	sampleAppID   = "wxb11529c136998cb6"
	sampleRandom  = "aaaabbbbccccdddd"
	sampleMsg     = "我是中文abcd123"
	sampleEncrypt = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
)

// A message as WeChat pushed it, from the same SDK's sample (a 公众号's
// text message in safe mode) with its msg_signature.
const (
	sample2Token     = "spamtest"
	sample2AppID     = "wx2c2769f8efd9abc2"
	sample2Timestamp = "1409735669"
	sample2Nonce     = "1320562132"
	sample2MsgSig    = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
	sample2Encrypt   = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)

func samplePusher(t testing.TB) *wechat.Pusher {
	t.Helper()
	p, err := wechat.NewPusher(sampleAppID, sampleToken, sampleKey)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPusher_WeChatSample(t *testing.T) {
	p := samplePusher(t)
	got, err := p.EncryptWith([]byte(sampleRandom), []byte(sampleMsg))
	if err != nil {
		t.Fatal(err)
	}
	if got != sampleEncrypt {
		t.Fatalf("Encrypt:\n got %s\nwant %s", got, sampleEncrypt)
	}
	msg, err := p.Decrypt(sampleEncrypt)
	if err != nil || string(msg) != sampleMsg {
		t.Fatalf("Decrypt = %q, %v", msg, err)
	}
}

func TestPusher_WeChatSampleMessage(t *testing.T) {
	p, err := wechat.NewPusher(sample2AppID, sample2Token, sampleKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.VerifyMessage(sample2MsgSig, sample2Timestamp, sample2Nonce, sample2Encrypt); err != nil {
		t.Fatal(err)
	}
	msg, err := p.Decrypt(sample2Encrypt)
	if err != nil {
		t.Fatal(err)
	}
	m, f, err := wechat.ParsePushMessage(msg)
	if err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	if f != wechat.PushXML || m.MsgType != "text" || m.MsgID == "" || m.CreateTime == 0 {
		t.Fatalf("%s: %+v", f, m)
	}
	// One changed character of the signature, or of the ciphertext.
	bad := []byte(sample2MsgSig)
	bad[0] ^= 1
	if err := p.VerifyMessage(string(bad), sample2Timestamp, sample2Nonce, sample2Encrypt); !errors.Is(err, wechat.ErrPushSignature) {
		t.Fatalf("changed signature: %v", err)
	}
	if err := p.VerifyMessage(sample2MsgSig, sample2Timestamp, sample2Nonce, "A"+sample2Encrypt[1:]); !errors.Is(err, wechat.ErrPushSignature) {
		t.Fatalf("changed ciphertext: %v", err)
	}
	if err := p.VerifyMessage(strings.ToUpper(sample2MsgSig), sample2Timestamp, sample2Nonce, sample2Encrypt); !errors.Is(err, wechat.ErrPushSignature) {
		t.Fatalf("upper case: %v", err)
	}
	// Another app's Pusher with the same key and token: the appid inside says no.
	other, _ := wechat.NewPusher("wx0000000000000000", sample2Token, sampleKey)
	if _, err := other.Decrypt(sample2Encrypt); !errors.Is(err, wechat.ErrPushAppID) {
		t.Fatalf("another appid: %v", err)
	}
}

func TestPushSignature(t *testing.T) {
	// sha1 of the sorted parts: "1409304348" < "pamtest" < "xxxxxx".
	p := samplePusher(t)
	want := wechat.PushSignature("xxxxxx", "pamtest", "1409304348")
	if got := p.Sign("1409304348", "xxxxxx"); got != want || len(got) != 40 {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if err := p.Verify(want, "1409304348", "xxxxxx"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", want[:39], want + "0", strings.Repeat("0", 40)} {
		if err := p.Verify(bad, "1409304348", "xxxxxx"); !errors.Is(err, wechat.ErrPushSignature) {
			t.Errorf("Verify(%q) = %v", bad, err)
		}
	}
	if err := p.Verify(want, "1409304349", "xxxxxx"); !errors.Is(err, wechat.ErrPushSignature) {
		t.Errorf("another timestamp: %v", err)
	}
}

func TestPusher_RoundTrip(t *testing.T) {
	p := samplePusher(t)
	for _, msg := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("a"), 31), bytes.Repeat([]byte("b"), 64-20-len(sampleAppID)), []byte(strings.Repeat("消息", 1000))} {
		enc, err := p.Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Decrypt(enc)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("round trip of %d bytes: %v", len(msg), err)
		}
		if enc2, _ := p.Encrypt(msg); enc2 == enc {
			t.Fatal("two encryptions are equal: the prefix is not random")
		}
	}
}

// sealRaw encrypts plain as it stands (no prefix, length or appid added)
// under the sample key, padded with pad bytes of value padByte.
func sealRaw(t *testing.T, plain []byte, pad int, padByte byte) string {
	t.Helper()
	key, _ := wechat.ParseEncodingAESKey(sampleKey)
	buf := append(bytes.Clone(plain), bytes.Repeat([]byte{padByte}, pad)...)
	if len(buf)%16 != 0 {
		t.Fatalf("not whole blocks: %d", len(buf))
	}
	block, _ := aes.NewCipher(key)
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf)
}

// inner is the plaintext WeChat encrypts: 16 random bytes, the length
// (declared, which a malformed one lies about), msg and appid.
func inner(declared uint32, msg, appID string) []byte {
	b := bytes.Repeat([]byte{'r'}, 16)
	b = binary.BigEndian.AppendUint32(b, declared)
	return append(append(b, msg...), appID...)
}

// padded pads b to 32 bytes the PKCS#7 way.
func padded(b []byte) ([]byte, int) {
	n := 32 - len(b)%32
	return b, n
}

func TestPusher_Malformed(t *testing.T) {
	p := samplePusher(t)
	good := inner(5, "hello", sampleAppID)
	b, n := padded(good)
	if msg, err := p.Decrypt(sealRaw(t, b, n, byte(n))); err != nil || string(msg) != "hello" {
		t.Fatalf("the well-formed control: %q %v", msg, err)
	}
	cases := map[string]struct {
		enc  string
		want error
	}{
		"empty":              {"", wechat.ErrPushCipher},
		"not base64":         {"!!!!" + sampleEncrypt[4:], wechat.ErrPushCipher},
		"url-safe base64":    {strings.NewReplacer("+", "-", "/", "_").Replace(sampleEncrypt), wechat.ErrPushCipher},
		"one byte short":     {base64.StdEncoding.EncodeToString(mustB64(sampleEncrypt)[1:]), wechat.ErrPushCipher},
		"one block":          {base64.StdEncoding.EncodeToString(mustB64(sampleEncrypt)[:16]), wechat.ErrPushCipher},
		"padding 0":          {sealRaw(t, b, n, 0), wechat.ErrPushCipher},
		"padding over 32":    {sealRaw(t, b, n, 33), wechat.ErrPushCipher},
		"33 bytes of 33":     {sealRaw(t, append(bytes.Clone(b), bytes.Repeat([]byte{33}, 37)...), 0, 0), wechat.ErrPushCipher},
		"padding uneven":     {sealRaw(t, append(b, bytes.Repeat([]byte{9}, n-1)...), 1, byte(n)), wechat.ErrPushCipher},
		"shorter than head":  {sealRaw(t, bytes.Repeat([]byte{'r'}, 18), 14, 14), wechat.ErrPushCipher},
		"length past end":    {sealOK(t, inner(1000, "hello", sampleAppID)), wechat.ErrPushCipher},
		"length max uint32":  {sealOK(t, inner(0xffffffff, "hello", sampleAppID)), wechat.ErrPushCipher},
		"wrong appid":        {sealOK(t, inner(5, "hello", "wx0000000000000000")), wechat.ErrPushAppID},
		"appid cut":          {sealOK(t, inner(5, "hello", sampleAppID[:17])), wechat.ErrPushAppID},
		"appid with more":    {sealOK(t, inner(5, "hello", sampleAppID+"x")), wechat.ErrPushAppID},
		"length eats appid":  {sealOK(t, inner(5+18, "hello", sampleAppID)), wechat.ErrPushAppID},
		"length short by 1":  {sealOK(t, inner(4, "hello", sampleAppID)), wechat.ErrPushAppID},
		"wrong key's output": {otherKeyEncrypt(t), wechat.ErrPushCipher},
	}
	for name, c := range cases {
		_, err := p.Decrypt(c.enc)
		if !errors.Is(err, c.want) || !errors.Is(err, wechat.ErrPush) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	noKey, _ := wechat.NewPusher(sampleAppID, sampleToken, "")
	if _, err := noKey.Decrypt(sampleEncrypt); !errors.Is(err, wechat.ErrPushNoKey) {
		t.Errorf("no key: %v", err)
	}
}

func mustB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func sealOK(t *testing.T, plain []byte) string {
	b, n := padded(plain)
	return sealRaw(t, b, n, byte(n))
}

// otherKeyEncrypt is a message for sampleAppID under another key: its
// padding almost never checks (a 1-in-256-ish chance that this fixed
// input's does not; it does not).
func otherKeyEncrypt(t *testing.T) string {
	q, err := wechat.NewPusher(sampleAppID, sampleToken, strings.Repeat("A", 43))
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := q.EncryptWith([]byte(sampleRandom), []byte("hello"))
	return enc
}

func TestParseEncodingAESKey(t *testing.T) {
	if _, err := wechat.ParseEncodingAESKey(sampleKey); err != nil {
		t.Fatalf("WeChat's sample key: %v", err)
	}
	for _, bad := range []string{"", sampleKey[:42], sampleKey + "A", sampleKey[:42] + "=", sampleKey[:42] + "!", sampleKey[:42] + "-"} {
		if _, err := wechat.ParseEncodingAESKey(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	for _, bad := range []string{"", "ab", strings.Repeat("a", 33), "to ken", "tok-en", "令牌令牌"} {
		if wechat.ValidPushToken(bad) {
			t.Errorf("token %q accepted", bad)
		}
		if _, err := wechat.NewPusher(sampleAppID, bad, ""); err == nil {
			t.Errorf("NewPusher took token %q", bad)
		}
	}
}

func TestCheckPushTimestamp(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for ts, ok := range map[string]bool{
		"1700000000": true, "1699999700": true, "1700000300": true,
		"1699999699": false, "1700000301": false, "": false, "abc": false, "-5": false,
		"1700000000.5": false, "99999999999999999999": false, " 1700000000": false,
	} {
		err := wechat.CheckPushTimestamp(ts, now, 5*time.Minute)
		if (err == nil) != ok || (err != nil && !errors.Is(err, wechat.ErrPushTimestamp)) {
			t.Errorf("%q: %v", ts, err)
		}
	}
}

// The events as WeChat's documentation shows them, in both formats.
func TestParsePushMessage_Documented(t *testing.T) {
	xmlRevoke := `<xml>
<ToUserName><![CDATA[gh_870882ca4b1]]></ToUserName>
<FromUserName><![CDATA[owAqB1v0ahK_Xlc7GshIDdf2yf7E]]></FromUserName>
<CreateTime>1626857200</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[user_authorization_revoke]]></Event>
<OpenID><![CDATA[owAqB1nqaOYYWl0Ng484G2z5NIwU]]></OpenID>
<AppID><![CDATA[wx13974bf780d3dc89]]></AppID>
<RevokeInfo><![CDATA[1]]></RevokeInfo>
</xml>`
	m, f, err := wechat.ParsePushMessage([]byte(xmlRevoke))
	if err != nil || f != wechat.PushXML {
		t.Fatal(f, err)
	}
	if m.Event != wechat.EventAuthorizationRevoke || m.OpenID != "owAqB1nqaOYYWl0Ng484G2z5NIwU" || m.AppID != "wx13974bf780d3dc89" || m.RevokeInfo != "1" || m.CreateTime != 1626857200 {
		t.Fatalf("%+v", m)
	}
	jsonRevoke := `{"ToUserName":"gh_870882ca4b1","FromUserName":"oaKk346BaWE-eIn4oSRWbaM9vR7s","CreateTime":1627359464,"MsgType":"event","Event":"user_authorization_revoke","OpenID":"oaKk343WOktAaT2ygsX138BGblrg","AppID":"wx13974bf780d3dc89","RevokeInfo":"8"}`
	m, f, err = wechat.ParsePushMessage([]byte(jsonRevoke))
	if err != nil || f != wechat.PushJSON || m.OpenID != "oaKk343WOktAaT2ygsX138BGblrg" || m.RevokeInfo != "8" || m.CreateTime != 1627359464 {
		t.Fatalf("%s %+v %v", f, m, err)
	}
	jsonMedia := `{"ToUserName":"gh_38cc49f9733b","FromUserName":"oH1fu0FdHqpToe2T6gBj0WyB8iS1","CreateTime":1626959646,"MsgType":"event","Event":"wxa_media_check","appid":"wx8f16a5e5ba4d8b3f","trace_id":"60f96f1d-3845297a-1976a3ae","version":2,"detail":[{"strategy":"content_model","errcode":0,"suggest":"pass","label":100,"prob":90}],"errcode":0,"errmsg":"ok","result":{"suggest":"risky","label":20001}}`
	m, _, err = wechat.ParsePushMessage([]byte(jsonMedia))
	if err != nil || m.Event != wechat.EventMediaCheck || m.TraceID != "60f96f1d-3845297a-1976a3ae" || m.AppID != "wx8f16a5e5ba4d8b3f" ||
		m.Result.Suggest != "risky" || m.Result.Label != "20001" || m.Version != "2" || m.Errcode != "0" {
		t.Fatalf("%+v %v", m, err)
	}
	xmlMedia := `<xml><ToUserName><![CDATA[gh_38cc49f9733b]]></ToUserName><FromUserName><![CDATA[oH1fu0FdHqpToe2T6gBj0WyB8iS1]]></FromUserName><CreateTime>1626959646</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[wxa_media_check]]></Event><appid><![CDATA[wx8f16a5e5ba4d8b3f]]></appid><trace_id><![CDATA[60f96f1d-3845297a-1976a3ae]]></trace_id><version>2</version><detail><strategy><![CDATA[content_model]]></strategy><errcode>0</errcode><suggest><![CDATA[pass]]></suggest><label>100</label><prob>90</prob></detail><errcode>0</errcode><errmsg><![CDATA[ok]]></errmsg><result><suggest><![CDATA[pass]]></suggest><label>100</label></result></xml>`
	m, _, err = wechat.ParsePushMessage([]byte(xmlMedia))
	if err != nil || m.TraceID != "60f96f1d-3845297a-1976a3ae" || m.AppID != "wx8f16a5e5ba4d8b3f" || m.Result.Suggest != "pass" || m.Result.Label != "100" {
		t.Fatalf("%+v %v", m, err)
	}
}

func TestParsePushMessage_Malformed(t *testing.T) {
	long := strings.Repeat("o", 257)
	for name, body := range map[string]string{
		"empty":             "",
		"spaces":            "   ",
		"text":              "success",
		"json array":        `[{"MsgType":"event","CreateTime":1}]`,
		"json trailing":     `{"MsgType":"event","CreateTime":1} x`,
		"json cut":          `{"MsgType":"event","CreateTime":1`,
		"no MsgType":        `{"CreateTime":1,"Event":"x"}`,
		"no CreateTime":     `{"MsgType":"event"}`,
		"CreateTime text":   `{"MsgType":"event","CreateTime":"soon"}`,
		"CreateTime float":  `{"MsgType":"event","CreateTime":1.5}`,
		"MsgType object":    `{"MsgType":{},"CreateTime":1}`,
		"long openid":       `{"MsgType":"event","CreateTime":1,"OpenID":"` + long + `"}`,
		"invalid UTF-8":     "{\"MsgType\":\"event\xff\",\"CreateTime\":1}",
		"xml other root":    `<msg><MsgType>event</MsgType><CreateTime>1</CreateTime></msg>`,
		"xml unclosed":      `<xml><MsgType>event</MsgType><CreateTime>1</CreateTime>`,
		"xml entity":        `<xml><MsgType>&ent;</MsgType><CreateTime>1</CreateTime></xml>`,
		"xml no CreateTime": `<xml><MsgType>event</MsgType></xml>`,
	} {
		if _, _, err := wechat.ParsePushMessage([]byte(body)); !errors.Is(err, wechat.ErrPushBody) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, body := range map[string]string{
		"no Encrypt":   `{"ToUserName":"gh"}`,
		"Encrypt null": `{"ToUserName":"gh","Encrypt":null}`,
		"xml empty":    `<xml><Encrypt></Encrypt></xml>`,
	} {
		if _, _, err := wechat.PushEnvelope([]byte(body)); !errors.Is(err, wechat.ErrPushBody) {
			t.Errorf("envelope %s: %v", name, err)
		}
	}
}

// Encode and parse agree, in both formats, for each event, and values
// that would break XML stay inside their field.
func TestPushMessage_EncodeRoundTrip(t *testing.T) {
	msgs := []*wechat.PushMessage{
		{ToUserName: "gh_1", FromUserName: "platform", CreateTime: 1700000000, MsgType: "event", Event: wechat.EventAuthorizationRevoke, OpenID: "o1", AppID: sampleAppID, RevokeInfo: "6"},
		{ToUserName: "gh_1", FromUserName: "platform", CreateTime: 1700000001, MsgType: "event", Event: wechat.EventAuthorizationCancellation, OpenID: "o2", AppID: sampleAppID},
		{ToUserName: "gh_1", FromUserName: "platform", CreateTime: 1700000002, MsgType: "event", Event: wechat.EventMediaCheck, AppID: sampleAppID, TraceID: "t-1", Version: "2", Errcode: "0", Result: wechat.MediaCheckResult{Suggest: "risky", Label: "20002"}},
		{ToUserName: "gh_1", FromUserName: "o3", CreateTime: 1700000003, MsgType: "text", MsgID: "6054768590064713728"},
		{ToUserName: "<a>]]>&", FromUserName: "\"x\"", CreateTime: 1, MsgType: "event", Event: "odd ]]> <xml>"},
	}
	for _, m := range msgs {
		for _, f := range []wechat.PushFormat{wechat.PushJSON, wechat.PushXML} {
			body := wechat.EncodePushMessage(m, f)
			got, gf, err := wechat.ParsePushMessage(body)
			if err != nil || gf != f || *got != *m {
				t.Fatalf("%s: %s\n got %+v %v\nwant %+v", f, body, got, err, m)
			}
			p := samplePusher(t)
			enc, _ := p.Encrypt(body)
			ef, e, err := wechat.PushEnvelope(wechat.EncodePushEnvelope("gh_1", enc, f))
			if err != nil || ef != f || e != enc {
				t.Fatalf("envelope %s: %v", f, err)
			}
		}
	}
}
