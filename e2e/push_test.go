package e2e_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/edge"
	"wxlogin/models"
	"wxlogin/push"
	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

// The push tests' apps: the default in safe mode (a Token and an
// EncodingAESKey), a second in plaintext mode (a Token only), a third
// without push.
const (
	pushToken    = "e2ePushToken2222"
	pushKey      = "e2eKeyForPushTests0123456789abcdefghijklmno"
	plainAppID   = "wx4444444444444444"
	plainSecret  = "e2e-plain-push-app-secret-4444"
	plainToken   = "e2ePlainToken4444"
	nopushAppID  = "wx5555555555555555"
	nopushSecret = "e2e-no-push-app-secret-55555555"
	metricsToken = "e2e-push-metrics-token"
)

// pushApps is the WECHAT_APPS of startPush.
var pushApps = []app.WechatApp{
	{AppID: apptest.AppID, Secret: apptest.Secret, PushToken: pushToken, PushAESKey: pushKey},
	{AppID: plainAppID, Secret: plainSecret, PushToken: plainToken},
	{AppID: nopushAppID, Secret: nopushSecret},
}

func startPush(t testing.TB, opts ...apptest.Option) *apptest.Server {
	t.Helper()
	opts = append([]apptest.Option{apptest.WithConfig(func(c *app.Config) {
		c.WechatApps = pushApps
		c.MetricsToken = metricsToken
	})}, opts...)
	ts := apptest.Start(t, opts...)
	for _, a := range pushApps {
		ts.Sim.AddApp(wechattest.App{AppID: a.AppID, Secret: a.Secret, PushToken: a.PushToken, PushAESKey: a.PushAESKey})
	}
	ts.Sim.SetPushTarget(ts.URL())
	return ts
}

// pushUser logs user in to appID and gives them a full profile and a
// phone; it returns their token and id.
func pushUser(t testing.TB, ts *apptest.Server, appID, user, phone string) (token, id string) {
	t.Helper()
	p := ts.MustLogin(t, map[string]any{"code": codeIn(ts, t, appID, user), "appId": appID})
	_, err := ts.Store().DB().ExecContext(context.Background(), `UPDATE users SET nickname = ?, avatar_url = 'https://thirdwx.qlogo.cn/mmopen/x/132',
		gender = 1, language = 'zh_CN', city = 'Shenzhen', province = 'Guangdong', country = 'China', phone = ?, phone_country_code = '86' WHERE id = ?`,
		"nick-"+user, phone, p.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	return p.Token, p.User.ID
}

// profileOf lists which personal columns of the user hold a value.
func profileOf(t testing.TB, ts *apptest.Server, id string) map[string]bool {
	t.Helper()
	var n, a, g, l, c, pr, co, ph, cc sql.NullString
	err := ts.Store().DB().QueryRowContext(context.Background(), `SELECT nickname, avatar_url, gender::text, language, city, province, country, phone, phone_country_code FROM users WHERE id = ?`, id).
		Scan(&n, &a, &g, &l, &c, &pr, &co, &ph, &cc)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]bool{"nickname": n.Valid, "avatar_url": a.Valid, "gender": g.Valid, "language": l.Valid, "city": c.Valid,
		"province": pr.Valid, "country": co.Valid, "phone": ph.Valid, "phone_country_code": cc.Valid}
}

// held lists the columns of p that hold a value, in store.ClearableFields' order.
func held(p map[string]bool) string {
	var out []string
	for _, f := range []string{"nickname", "avatar_url", "gender", "language", "city", "province", "country", "phone", "phone_country_code"} {
		if p[f] {
			out = append(out, f)
		}
	}
	return strings.Join(out, ",")
}

const allFields = "nickname,avatar_url,gender,language,city,province,country,phone,phone_country_code"

// makePush builds the event for user of appID.
func makePush(t testing.TB, ts *apptest.Server, appID, user, event string, opt wechattest.PushOptions, edit ...func(*wechat.PushMessage)) *wechattest.Push {
	t.Helper()
	m := ts.Sim.Event(appID, user, event)
	for _, f := range edit {
		f(m)
	}
	p, err := ts.Sim.MakePush(m, opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sendPush posts p as WeChat would, with extra headers in pairs.
func sendPush(t testing.TB, ts *apptest.Server, p *wechattest.Push, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.URL(ts.URL()), bytes.NewReader(p.Body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustSucceed(t testing.TB, ts *apptest.Server, p *wechattest.Push) {
	t.Helper()
	if status, body := sendPush(t, ts, p); status != http.StatusOK || body != "success" {
		t.Fatalf("push answered %d %q", status, body)
	}
}

// pushAudits counts the audit rows a push wrote about user id, by action.
func pushAudits(t testing.TB, ts *apptest.Server, id, action string) int {
	t.Helper()
	return ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE actor_kind = 'wechat' AND target = ? AND action = ?`, id, action)
}

func TestPush_Verification(t *testing.T) {
	t.Parallel()
	ts := startPush(t)
	get := func(appID string, q url.Values) (int, string) {
		resp, body := ts.Fetch(t, http.MethodGet, "/wechat/push/"+appID+"?"+q.Encode(), "")
		return resp.StatusCode, body
	}
	p, _ := wechat.NewPusher(apptest.AppID, pushToken, pushKey)
	now := fmt.Sprint(time.Now().Unix())
	good := url.Values{"timestamp": {now}, "nonce": {"51234"}, "echostr": {"7392845710399"}, "signature": {p.Sign(now, "51234")}}
	if status, body := get(apptest.AppID, good); status != 200 || body != "7392845710399" {
		t.Fatalf("verification: %d %q", status, body)
	}
	// The plaintext app verifies with its own Token.
	pp, _ := wechat.NewPusher(plainAppID, plainToken, "")
	plain := url.Values{"timestamp": {now}, "nonce": {"9"}, "echostr": {"abc"}, "signature": {pp.Sign(now, "9")}}
	if status, body := get(plainAppID, plain); status != 200 || body != "abc" {
		t.Fatalf("plaintext app's verification: %d %q", status, body)
	}
	old := fmt.Sprint(time.Now().Add(-6 * time.Minute).Unix())
	for name, c := range map[string]struct {
		appID  string
		q      url.Values
		status int
	}{
		"wrong signature":       {apptest.AppID, with(good, "signature", p.Sign(now, "51235")), 403},
		"upper-case signature":  {apptest.AppID, with(good, "signature", strings.ToUpper(p.Sign(now, "51234"))), 403},
		"no signature":          {apptest.AppID, with(good, "signature", ""), 403},
		"other app's signature": {apptest.AppID, with(good, "signature", pp.Sign(now, "51234")), 403},
		"old timestamp":         {apptest.AppID, url.Values{"timestamp": {old}, "nonce": {"1"}, "echostr": {"x"}, "signature": {p.Sign(old, "1")}}, 403},
		"no echostr":            {apptest.AppID, with(good, "echostr", ""), 400},
		"app without push":      {nopushAppID, good, 404},
		"unknown app":           {"wx9999999999999999", good, 404},
		"not an appid":          {"..%2F..%2Fgraphql", good, 404},
	} {
		status, body := get(c.appID, c.q)
		if status != c.status || strings.Contains(body, "7392845710399") {
			t.Errorf("%s: %d %q, want %d", name, status, body, c.status)
		}
	}
}

// with returns q with k set to v.
func with(q url.Values, k, v string) url.Values {
	out := url.Values{}
	for key, vs := range q {
		out[key] = append([]string(nil), vs...)
	}
	out.Set(k, v)
	return out
}

// Safe mode and plaintext, JSON and XML: user_info_modified clears the
// nickname and avatar and nothing else, audited with actor wechat.
func TestPush_ModesAndFormats(t *testing.T) {
	t.Parallel()
	ts := startPush(t)
	for i, c := range []struct {
		appID  string
		format wechat.PushFormat
	}{
		{apptest.AppID, wechat.PushJSON}, {apptest.AppID, wechat.PushXML},
		{plainAppID, wechat.PushJSON}, {plainAppID, wechat.PushXML},
	} {
		user := fmt.Sprintf("push-mode-%d", i)
		token, id := pushUser(t, ts, c.appID, user, fmt.Sprintf("+861395550010%d", i))
		p := makePush(t, ts, c.appID, user, wechat.EventUserInfoModified, wechattest.PushOptions{Format: c.format})
		if c.appID == apptest.AppID && (p.Query.Get("encrypt_type") != "aes" || bytes.Contains(p.Body, []byte(wechat.EventUserInfoModified))) {
			t.Fatalf("not a safe-mode push: %s", p.Body)
		}
		mustSucceed(t, ts, p)
		if got := held(profileOf(t, ts, id)); got != "gender,language,city,province,country,phone,phone_country_code" {
			t.Fatalf("%s %s: left %s", c.appID, c.format, got)
		}
		if n := pushAudits(t, ts, id, "wechat.user_info_modified"); n != 1 {
			t.Fatalf("%s %s: %d audit rows", c.appID, c.format, n)
		}
		// The next me, on this instance, shows it.
		if r := ts.Do(t, token, `{ me { nickname avatarUrl city } }`, nil); !strings.Contains(r.Raw, `"nickname":null,"avatarUrl":null,"city":"Shenzhen"`) {
			t.Fatalf("me after the push: %s", r.Raw)
		}
	}
	metrics := apptest.Scrape(t, ts.URL()+"/metrics", metricsToken)
	if n := apptest.Metric(metrics, "wechat_pushes_total", "event", wechat.EventUserInfoModified, "outcome", push.OutcomeCleared); n != 4 {
		t.Fatalf("wechat_pushes_total cleared = %v\n", n)
	}
	if n := apptest.Metric(metrics, "http_requests_total", "route", "/wechat/push/", "status", "200"); n < 4 {
		t.Fatalf("http_requests_total for /wechat/push/ = %v", n)
	}
}

// Every refusal changes nothing: no record, no audit, the profile intact.
func TestPush_Refusals(t *testing.T) {
	t.Parallel()
	ts := startPush(t)
	const user, puser = "push-refused", "push-refused-plain"
	_, id := pushUser(t, ts, apptest.AppID, user, "+8613955500201")
	_, pid := pushUser(t, ts, plainAppID, puser, "+8613955500202")
	safe := func(edit ...func(*wechat.PushMessage)) *wechattest.Push {
		return makePush(t, ts, apptest.AppID, user, wechat.EventUserInfoModified, wechattest.PushOptions{}, edit...)
	}
	plain := func(edit ...func(*wechat.PushMessage)) *wechattest.Push {
		return makePush(t, ts, plainAppID, puser, wechat.EventUserInfoModified, wechattest.PushOptions{}, edit...)
	}
	sealed := func(appID string, body []byte) *wechattest.Push {
		// A message sealed for appID under the default app's key and
		// Token, signed correctly, sent to the default app.
		p, _ := wechat.NewPusher(appID, pushToken, pushKey)
		enc, _ := p.Encrypt(body)
		ts := fmt.Sprint(time.Now().Unix())
		return &wechattest.Push{AppID: apptest.AppID, Body: wechat.EncodePushEnvelope("gh", enc, wechat.PushJSON),
			Query: url.Values{"timestamp": {ts}, "nonce": {"77"}, "encrypt_type": {"aes"}, "msg_signature": {p.SignMessage(ts, "77", enc)}}}
	}
	resign := func(p *wechattest.Push) *wechattest.Push {
		// Re-sign a changed safe-mode body, so only the change is wrong.
		_, enc, err := wechat.PushEnvelope(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		pp, _ := wechat.NewPusher(apptest.AppID, pushToken, pushKey)
		p.Query.Set("msg_signature", pp.SignMessage(p.Query.Get("timestamp"), p.Query.Get("nonce"), enc))
		return p
	}
	good := wechat.EncodePushMessage(ts.Sim.Event(apptest.AppID, user, wechat.EventUserInfoModified), wechat.PushJSON)
	cases := map[string]struct {
		p      *wechattest.Push
		status int
	}{
		"wrong msg_signature":   {func() *wechattest.Push { p := safe(); p.Query.Set("msg_signature", strings.Repeat("0", 40)); return p }(), 403},
		"signature only":        {func() *wechattest.Push { p := safe(); p.Query.Del("msg_signature"); return p }(), 403},
		"body of another":       {func() *wechattest.Push { p, q := safe(), safe(); p.Body = q.Body; return p }(), 403},
		"plaintext to safe app": {makePush(t, ts, apptest.AppID, user, wechat.EventUserInfoModified, wechattest.PushOptions{Plain: true}), 403},
		"safe to plain app": {func() *wechattest.Push {
			p := plain()
			p.Query.Set("encrypt_type", "aes")
			return p
		}(), 400},
		"plaintext wrong signature":    {func() *wechattest.Push { p := plain(); p.Query.Set("signature", strings.Repeat("a", 40)); return p }(), 403},
		"old timestamp":                {makePush(t, ts, apptest.AppID, user, wechat.EventUserInfoModified, wechattest.PushOptions{Time: time.Now().Add(-6 * time.Minute)}), 403},
		"future timestamp":             {makePush(t, ts, apptest.AppID, user, wechat.EventUserInfoModified, wechattest.PushOptions{Time: time.Now().Add(6 * time.Minute)}), 403},
		"no timestamp":                 {func() *wechattest.Push { p := safe(); p.Query.Del("timestamp"); return p }(), 403},
		"ciphertext for another appid": {sealed(plainAppID, good), 403},
		"message names another appid": {makePush(t, ts, apptest.AppID, user, wechat.EventUserInfoModified, wechattest.PushOptions{App: apptest.AppID},
			func(m *wechat.PushMessage) { m.AppID = plainAppID }), 403},
		"plaintext names another appid": {makePush(t, ts, plainAppID, puser, wechat.EventUserInfoModified, wechattest.PushOptions{App: plainAppID},
			func(m *wechat.PushMessage) { m.AppID = apptest.AppID }), 403},
		"over 64 KiB": {func() *wechattest.Push {
			p := plain()
			p.Body = append(bytes.TrimSuffix(p.Body, []byte("}")), []byte(`,"pad":"`+strings.Repeat("x", push.MaxBody)+`"}`)...)
			return p
		}(), 413},
		"garbage body":   {func() *wechattest.Push { p := plain(); p.Body = []byte("hello"); return p }(), 400},
		"truncated JSON": {func() *wechattest.Push { p := plain(); p.Body = p.Body[:len(p.Body)-1]; return p }(), 400},
		"empty body":     {func() *wechattest.Push { p := safe(); p.Body = nil; return p }(), 400},
		"Encrypt not base64": {resign(func() *wechattest.Push {
			p := safe()
			p.Body = []byte(`{"ToUserName":"gh","Encrypt":"!!not base64!!"}`)
			return p
		}()), 400},
		"Encrypt one byte short": {resign(func() *wechattest.Push {
			p := safe()
			_, enc, _ := wechat.PushEnvelope(p.Body)
			p.Body = wechat.EncodePushEnvelope("gh", enc[:len(enc)-4], wechat.PushJSON)
			return p
		}()), 400},
		"decrypts to garbage": {sealed(apptest.AppID, []byte("not a message")), 400},
	}
	for name, c := range cases {
		status, body := sendPush(t, ts, c.p)
		if status != c.status || body == "success" {
			t.Errorf("%s: %d %q, want %d", name, status, body, c.status)
		}
	}
	// A replay: a signed query seen with one message, sent with another
	// (plaintext mode signs the query only).
	first := plain()
	mustSucceed(t, ts, first)
	if got := held(profileOf(t, ts, pid)); got != "gender,language,city,province,country,phone,phone_country_code" {
		t.Fatalf("the control push: %s", got)
	}
	forged := plain(func(m *wechat.PushMessage) { m.Event, m.RevokeInfo = wechat.EventAuthorizationRevoke, "8" })
	forged.Query = first.Query
	if status, body := sendPush(t, ts, forged); status != 403 || body == "success" {
		t.Errorf("replayed signature: %d %q", status, body)
	}
	if got := held(profileOf(t, ts, pid)); !strings.Contains(got, "phone") {
		t.Errorf("the replay removed the phone: %s", got)
	}
	if got := held(profileOf(t, ts, id)); got != allFields {
		t.Fatalf("a refused push changed the profile: %s", got)
	}
	if n := ts.CountRows(t, `SELECT count(*) FROM wechat_pushes WHERE openid = ?`, ts.Sim.OpenID(apptest.AppID, user)); n != 0 {
		t.Fatalf("%d records of refused pushes", n)
	}
	if n := ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE actor_kind = 'wechat' AND target = ?`, id); n != 0 {
		t.Fatalf("%d audit rows of refused pushes", n)
	}
	if !strings.Contains(ts.Logs.String(), "refused a push") || strings.Contains(ts.Logs.String(), pushKey) || strings.Contains(ts.Logs.String(), pushToken) {
		t.Fatal("refusals are not logged, or the log holds the push Token or key")
	}
}

// A message delivered again (WeChat retries when it has no answer in 5 s,
// the same message, re-signed or not) is answered success and not done
// again; four copies at once are done once.
func TestPush_RetryNotDoneTwice(t *testing.T) {
	t.Parallel()
	ts := startPush(t)
	const user = "push-retry"
	token, id := pushUser(t, ts, apptest.AppID, user, "+8613955500301")
	m := ts.Sim.Event(apptest.AppID, user, wechat.EventUserInfoModified)
	p, _ := ts.Sim.MakePush(m, wechattest.PushOptions{Format: wechat.PushXML})
	mustSucceed(t, ts, p)
	// The user picks a new nickname; a late retry must not clear it.
	if r := ts.Do(t, token, `mutation { updateProfile(input: {nickname: "after"}) { nickname } }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	mustSucceed(t, ts, p)
	again, _ := ts.Sim.MakePush(m, wechattest.PushOptions{Format: wechat.PushXML}) // re-signed, new nonce and ciphertext
	mustSucceed(t, ts, again)
	if got := profileOf(t, ts, id); !got["nickname"] {
		t.Fatal("a retry cleared the nickname again")
	}
	if n := pushAudits(t, ts, id, "wechat.user_info_modified"); n != 1 {
		t.Fatalf("%d audit rows for one message", n)
	}

	// Four deliveries of one message at once.
	const user2 = "push-retry-burst"
	_, id2 := pushUser(t, ts, apptest.AppID, user2, "+8613955500302")
	burst := makePush(t, ts, apptest.AppID, user2, wechat.EventAuthorizationRevoke, wechattest.PushOptions{}, func(m *wechat.PushMessage) { m.RevokeInfo = "8" })
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { mustSucceed(t, ts, burst) })
	}
	wg.Wait()
	if n := pushAudits(t, ts, id2, "wechat.authorization_revoke"); n != 1 {
		t.Fatalf("%d audit rows for four deliveries at once", n)
	}
	if n := ts.CountRows(t, `SELECT count(*) FROM wechat_pushes WHERE user_id = ?`, id2); n != 1 {
		t.Fatalf("%d records", n)
	}
	metrics := apptest.Scrape(t, ts.URL()+"/metrics", metricsToken)
	if n := apptest.Metric(metrics, "wechat_pushes_total", "outcome", push.OutcomeDuplicate); n != 5 {
		t.Fatalf("duplicates counted: %v", n)
	}
}

// Each RevokeInfo removes what it names (docs/api.md has the table), the
// account stays, and a second instance's session cache shows the change
// on the next me.
func TestPush_RevokeEffects(t *testing.T) {
	a := startPush(t, apptest.WithConfig(func(c *app.Config) { c.SessionCacheTTL, c.SessionCacheSize = time.Minute, 1000 }))
	b := startCached(t, a.Config.DatabaseURL)
	apptest.WaitFor(t, "the session cache to come up", 5*time.Second, a.SessionCache.Up)
	for i, c := range []struct {
		info, left string
	}{
		{"8", "nickname,avatar_url,gender,language,city,province,country"},
		{"19", "avatar_url,gender,language,city,province,country,phone,phone_country_code"},
		{"20", "nickname,gender,language,city,province,country,phone,phone_country_code"},
		{"6", "phone,phone_country_code"},
		{"6,8", ""},
		{"13", allFields},
		{"", ""},
		{"99", ""},
	} {
		user := fmt.Sprintf("push-revoke-%d", i)
		token, id := pushUser(t, a, apptest.AppID, user, fmt.Sprintf("+861395550040%d", i))
		// pushUser's UPDATE reaches B by NOTIFY, and may drop what B
		// cached before it arrives: wait until B answers from its cache.
		apptest.WaitFor(t, "B to cache the session", revocationCeiling, func() bool {
			meOK(t, b, token)
			hits := b.SessionCache.Stats().Hits
			meOK(t, b, token)
			return b.SessionCache.Stats().Hits > hits
		})
		mustSucceed(t, a, makePush(t, a, apptest.AppID, user, wechat.EventAuthorizationRevoke, wechattest.PushOptions{},
			func(m *wechat.PushMessage) { m.RevokeInfo = c.info }))
		if got := held(profileOf(t, a, id)); got != c.left {
			t.Fatalf("RevokeInfo %q left %q, want %q", c.info, got, c.left)
		}
		// The account stays: the token works on both instances, and B
		// shows the change at once.
		wantNick, wantPhone := strings.Contains(c.left, "nickname"), strings.Contains(c.left, "phone")
		apptest.WaitFor(t, "B to show the revoke", revocationCeiling, func() bool {
			r := b.Do(t, token, `{ me { nickname phone } }`, nil)
			return len(r.Errors) == 0 && strings.Contains(r.Raw, `"nickname":null`) != wantNick && strings.Contains(r.Raw, `"phone":null`) != wantPhone
		})
		if ok, _ := meOK(t, a, token); !ok {
			t.Fatal("a revoke ended the session")
		}
	}
}

// A cancelled WeChat account is erased with wechat as the actor (the
// Eraser), or without one has its sessions ended and every personal field
// cleared.
func TestPush_Cancellation(t *testing.T) {
	t.Parallel()
	type call struct {
		userID string
		audit  models.AuditEntry
	}
	var mu sync.Mutex
	var calls []call
	fail := true
	erase := func(ctx context.Context, userID string, audit *models.AuditEntry) error {
		mu.Lock()
		defer mu.Unlock()
		if fail { // the first try fails: WeChat's retry must erase
			fail = false
			return errors.New("the database went away")
		}
		calls = append(calls, call{userID, *audit})
		return nil
	}
	ts := startPush(t, apptest.WithMain(func(m *app.Main) { m.EraseUser = erase }))
	const user = "push-cancel"
	_, id := pushUser(t, ts, apptest.AppID, user, "+8613955500501")
	p := makePush(t, ts, apptest.AppID, user, wechat.EventAuthorizationCancellation, wechattest.PushOptions{Format: wechat.PushXML})
	if status, _ := sendPush(t, ts, p); status != http.StatusInternalServerError {
		t.Fatalf("a failed erasure answered %d", status)
	}
	mustSucceed(t, ts, p)
	mustSucceed(t, ts, p)
	mu.Lock()
	got := calls
	mu.Unlock()
	if len(got) != 1 || got[0].userID != id || got[0].audit.ActorKind != push.ActorKind || got[0].audit.Action != "user.erase" {
		t.Fatalf("eraser calls: %+v", got)
	}
	if n := pushAudits(t, ts, id, "wechat.authorization_cancellation"); n != 1 {
		t.Fatalf("%d audit rows", n)
	}

	// The real erasure (the account deletion's), audited with actor wechat.
	ts2 := startPush(t)
	const user2 = "push-cancel-erased"
	token2, id2 := pushUser(t, ts2, plainAppID, user2, "+8613955500502")
	p2 := makePush(t, ts2, plainAppID, user2, wechat.EventAuthorizationCancellation, wechattest.PushOptions{})
	mustSucceed(t, ts2, p2)
	mustSucceed(t, ts2, p2)
	if got := held(profileOf(t, ts2, id2)); got != "" {
		t.Fatalf("left %s", got)
	}
	if n := ts2.CountRows(t, `SELECT count(*) FROM users WHERE id = ? AND deleted_at IS NOT NULL`, id2); n != 1 {
		t.Fatal("not erased")
	}
	if n := ts2.CountRows(t, `SELECT count(*) FROM identities WHERE user_id = ?`, id2); n != 0 {
		t.Fatalf("%d identities left", n)
	}
	if n := ts2.CountRows(t, `SELECT count(*) FROM audit_log WHERE action = 'user.erase' AND actor_kind = 'wechat' AND target = ?`, id2); n != 1 {
		t.Fatalf("%d user.erase rows by wechat", n)
	}
	if r := ts2.Do(t, token2, `{ me { id } }`, nil); r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("me after cancellation: %s", r.Raw)
	}
}

// An openid no user has is answered success, recorded, audited and logged.
func TestPush_UnknownOpenID(t *testing.T) {
	t.Parallel()
	ts := startPush(t)
	p := makePush(t, ts, apptest.AppID, "push-never-logged-in", wechat.EventAuthorizationRevoke, wechattest.PushOptions{}, func(m *wechat.PushMessage) { m.RevokeInfo = "8" })
	mustSucceed(t, ts, p)
	openid := ts.Sim.OpenID(apptest.AppID, "push-never-logged-in")
	if n := ts.CountRows(t, `SELECT count(*) FROM wechat_pushes WHERE openid = ? AND outcome = 'unknown_openid'`, openid); n != 1 {
		t.Fatalf("%d records", n)
	}
	if n := ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE actor_kind = 'wechat' AND detail->>'openid' = ? AND detail->>'outcome' = 'unknown_openid'`, openid); n != 1 {
		t.Fatalf("%d audit rows", n)
	}
	if !strings.Contains(ts.Logs.String(), "a push names an openid with no user") {
		t.Fatal("not logged")
	}
	// Any other message or event: recorded as received.
	event := fmt.Sprintf("some_new_event_%d", time.Now().UnixNano())
	other := makePush(t, ts, apptest.AppID, "", event, wechattest.PushOptions{Format: wechat.PushXML})
	mustSucceed(t, ts, other)
	if n := ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE actor_kind = 'wechat' AND action = 'wechat.received' AND detail->>'event' = ?`, event); n != 1 {
		t.Fatalf("%d audit rows of an unknown event", n)
	}
}

// wxa_media_check is recorded and handed to the MediaVerdict hook in its
// transaction: a hook that fails rolls the record back.
func TestPush_MediaCheck(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []push.MediaVerdict
	hook := func(ctx context.Context, tx bun.IDB, v push.MediaVerdict) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if v.TraceID == "trace-fails" {
			return "", errors.New("hook failed")
		}
		got = append(got, v)
		return "", nil
	}
	ts := startPush(t, apptest.WithMain(func(m *app.Main) { m.MediaVerdict = hook }))
	verdict := func(trace, suggest string) func(*wechat.PushMessage) {
		return func(m *wechat.PushMessage) {
			m.TraceID, m.Version, m.Errcode = trace, "2", "0"
			m.Result = wechat.MediaCheckResult{Suggest: suggest, Label: "20002"}
		}
	}
	mustSucceed(t, ts, makePush(t, ts, apptest.AppID, "", wechat.EventMediaCheck, wechattest.PushOptions{Format: wechat.PushXML}, verdict("trace-risky-1", "risky")))
	if status, _ := sendPush(t, ts, makePush(t, ts, apptest.AppID, "", wechat.EventMediaCheck, wechattest.PushOptions{}, verdict("trace-fails", "pass"))); status != 500 {
		t.Fatalf("a failing hook answered %d", status)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].TraceID != "trace-risky-1" || got[0].Suggest != "risky" || got[0].Label != "20002" || got[0].AppID != apptest.AppID {
		t.Fatalf("hook calls: %+v", got)
	}
	if n := ts.CountRows(t, `SELECT count(*) FROM wechat_pushes WHERE detail->>'traceId' = 'trace-risky-1' AND detail->>'suggest' = 'risky'`); n != 1 {
		t.Fatalf("%d records", n)
	}
	if n := ts.CountRows(t, `SELECT count(*) FROM wechat_pushes WHERE detail->>'traceId' = 'trace-fails'`); n != 0 {
		t.Fatalf("a failed hook's push was recorded")
	}
}

// Refusals are limited per client network; a push that verifies never is.
func TestPush_RateLimit(t *testing.T) {
	t.Parallel()
	ts := startPush(t, apptest.WithConfig(func(c *app.Config) {
		c.RateLimits.PushRefusedPerIP.N, c.RateLimits.PushRefusedPerIP.Window = 3, time.Minute
		c.TrustedProxies, _ = edge.ParseProxies("127.0.0.1")
	}))
	client := fmt.Sprintf("203.0.113.%d", time.Now().UnixNano()%250+1)
	const user = "push-ratelimit"
	_, id := pushUser(t, ts, apptest.AppID, user, "+8613955500601")
	bad := makePush(t, ts, apptest.AppID, user, wechat.EventUserInfoModified, wechattest.PushOptions{})
	bad.Query.Set("msg_signature", strings.Repeat("0", 40))
	var statuses []int
	for range 5 {
		status, _ := sendPush(t, ts, bad, "X-Forwarded-For", client)
		statuses = append(statuses, status)
	}
	if fmt.Sprint(statuses) != "[403 403 403 429 429]" {
		t.Fatalf("refusals answered %v", statuses)
	}
	// From the same network, a push that verifies goes through.
	good := makePush(t, ts, apptest.AppID, user, wechat.EventUserInfoModified, wechattest.PushOptions{})
	if status, body := sendPush(t, ts, good, "X-Forwarded-For", client); status != 200 || body != "success" {
		t.Fatalf("a good push from a limited network: %d %q", status, body)
	}
	if got := profileOf(t, ts, id); got["nickname"] {
		t.Fatal("not handled")
	}
}

// Dev mode: POST /dev/wechat/push sends the event, signed and encrypted
// with the made-up push pair, as a developer does with curl.
func TestPush_DevModeTrigger(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.DevMode())
	p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "push-dev-alice")})
	if _, err := ts.Store().DB().ExecContext(context.Background(), `UPDATE users SET phone = '+8613955500701', phone_country_code = '86', nickname = 'dev' WHERE id = ?`, p.User.ID); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"user":"push-dev-alice","event":"user_authorization_revoke","revokeInfo":"8","format":"xml"}`,
		`{"user":"push-dev-alice","event":"user_info_modified","times":3}`,
	} {
		resp, answer := ts.Fetch(t, http.MethodPost, "/dev/wechat/push", body)
		var out struct{ Answers []wechattest.PushAnswer }
		if resp.StatusCode != 200 || json.Unmarshal([]byte(answer), &out) != nil || len(out.Answers) == 0 {
			t.Fatalf("%d %s", resp.StatusCode, answer)
		}
		for _, a := range out.Answers {
			if a.Status != 200 || a.Body != "success" {
				t.Fatalf("%s: %s", body, answer)
			}
		}
	}
	if got := held(profileOf(t, ts, p.User.ID)); got != "" {
		t.Fatalf("left %s", got)
	}
	if n := pushAudits(t, ts, p.User.ID, "wechat.user_info_modified"); n != 1 {
		t.Fatalf("%d audit rows for three deliveries", n)
	}
}

// BenchmarkE2E_Push is one push end to end (BENCHMARKS.md): the simulator
// signs and encrypts a user_info_modified event, posts it over HTTP, and
// the server checks, decrypts, records, clears and audits it and answers.
//
//	go test -run '^$' -bench E2E_Push -benchtime 500x ./e2e/
func BenchmarkE2E_Push(b *testing.B) {
	ts := startPush(b, apptest.WithLogOutput(io.Discard))
	const user = "push-bench"
	_, id := pushUser(b, ts, apptest.AppID, user, "+8613955500801")
	m := ts.Sim.Event(apptest.AppID, user, wechat.EventUserInfoModified)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		// A profile to clear each time, and a message of its own.
		if _, err := ts.Store().DB().ExecContext(context.Background(), `UPDATE users SET nickname = 'n', avatar_url = 'https://thirdwx.qlogo.cn/x' WHERE id = ?`, id); err != nil {
			b.Fatal(err)
		}
		m.CreateTime++
		b.StartTimer()
		p, err := ts.Sim.MakePush(m, wechattest.PushOptions{Format: wechat.PushXML, Nonce: fmt.Sprint(i)})
		if err != nil {
			b.Fatal(err)
		}
		mustSucceed(b, ts, p)
	}
}
