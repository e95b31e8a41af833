package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/store"
	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

// A second mini program of the same open platform account.
const (
	e2eAppID2  = "wx3333333333333333"
	e2eSecret2 = "e2e-second-app-secret-fedcba98"
)

// startTwoApps runs the server with two mini programs, apptest.AppID the default.
// Neither is bound to the open platform account yet: code2Session answers
// without unionid until bindApps.
func startTwoApps(t *testing.T) *apptest.Server {
	t.Helper()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) {
		c.WechatApps = []app.WechatApp{{AppID: apptest.AppID, Secret: apptest.Secret}, {AppID: e2eAppID2, Secret: e2eSecret2}}
	}))
	ts.Sim.AddApp(wechattest.App{AppID: apptest.AppID, Secret: apptest.Secret, NoUnionID: true})
	ts.Sim.AddApp(wechattest.App{AppID: e2eAppID2, Secret: e2eSecret2, NoUnionID: true})
	return ts
}

// bindApps binds both apps to the open platform account, as a company does
// later: from now on WeChat sends each user's unionid with every login.
func bindApps(ts *apptest.Server) {
	ts.Sim.AddApp(wechattest.App{AppID: apptest.AppID, Secret: apptest.Secret})
	ts.Sim.AddApp(wechattest.App{AppID: e2eAppID2, Secret: e2eSecret2})
}

func codeIn(ts *apptest.Server, t testing.TB, appID, user string) string {
	t.Helper()
	code, err := ts.Sim.Login(appID, user)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// meID returns the id of the user token signs in as.
func meID(ts *apptest.Server, t *testing.T, token string) string {
	t.Helper()
	resp := ts.Do(t, token, `{ me { id } }`, nil)
	var me struct{ ID string }
	if len(resp.Errors) > 0 || json.Unmarshal(resp.Data["me"], &me) != nil {
		t.Fatalf("me: %s", resp.Raw)
	}
	return me.ID
}

func TestE2E_SeveralApps_LoginPicksTheApp(t *testing.T) {
	t.Parallel()
	ts := startTwoApps(t)
	bindApps(ts)
	user := "carol-" + store.NewID()

	// The default app, by omission and by name, and the second app.
	a := ts.MustLogin(t, map[string]any{"code": codeIn(ts, t, "", user)})
	a2 := ts.MustLogin(t, map[string]any{"code": codeIn(ts, t, apptest.AppID, user), "appId": apptest.AppID})
	b := ts.MustLogin(t, map[string]any{"code": codeIn(ts, t, e2eAppID2, user), "appId": e2eAppID2})
	if a.User.ID != a2.User.ID || a.User.ID != b.User.ID || b.Created {
		t.Fatalf("users %s %s %s (b created %v): want one person", a.User.ID, a2.User.ID, b.User.ID, b.Created)
	}
	if n := ts.CountRows(t, "SELECT count(*) FROM identities WHERE user_id = ?", a.User.ID); n != 2 {
		t.Fatalf("identities = %d, want one per app", n)
	}

	// A code of one app named as another's is WeChat's refusal, not ours.
	if _, resp := ts.Login(t, map[string]any{"code": codeIn(ts, t, e2eAppID2, user)}); resp.Code() != "WECHAT_CODE_INVALID" {
		t.Fatalf("app B's code without appId: %s", resp.Raw)
	}

	// An appId the server does not serve is refused before the code is spent.
	code := codeIn(ts, t, e2eAppID2, user)
	calls := ts.Sim.Calls("/sns/jscode2session")
	for appID, msg := range map[string]string{
		"wx9999999999999999":      `appId "wx9999999999999999" is not a mini program of this server`,
		strings.Repeat("wx", 500): "appId is not a mini program of this server", // not echoed
		"wx\u202e1":               "appId is not a mini program of this server",
	} {
		_, resp := ts.Login(t, map[string]any{"code": code, "appId": appID})
		if resp.Code() != "BAD_USER_INPUT" || resp.Errors[0].Message != msg {
			t.Fatalf("appId %.40q: %.300s", appID, resp.Raw)
		}
	}
	if ts.Sim.Calls("/sns/jscode2session") != calls {
		t.Fatal("an unknown appId reached WeChat")
	}
	ts.MustLogin(t, map[string]any{"code": code, "appId": e2eAppID2})

	// Legacy open data is checked against the login's app: its watermark
	// names app B.
	code = codeIn(ts, t, e2eAppID2, user)
	ui, err := ts.Sim.UserInfo(e2eAppID2, user, wechat.Profile{NickName: "Carol"})
	if err != nil {
		t.Fatal(err)
	}
	p := ts.MustLogin(t, map[string]any{"appId": e2eAppID2, "code": code,
		"rawData": ui.RawData, "signature": ui.Signature, "encryptedData": ui.EncryptedData, "iv": ui.IV})
	if p.User.Nickname == nil || *p.User.Nickname != "Carol" {
		t.Fatalf("legacy profile in app B: %+v", p.User)
	}

	// A phone code from app B's button is exchanged with app B's access
	// token: WeChat refuses another app's.
	if err := ts.Sim.SetPhone(user, "86", "13700001111"); err != nil {
		t.Fatal(err)
	}
	pc, err := ts.Sim.PhoneCode(e2eAppID2, user)
	if err != nil {
		t.Fatal(err)
	}
	r := ts.Do(t, p.Token, `mutation($c: String) { bindPhoneNumber(input: {code: $c}) { phone } }`, map[string]any{"c": pc})
	if len(r.Errors) > 0 || !strings.Contains(r.Raw, "+8613700001111") {
		t.Fatalf("bindPhoneNumber in app B: %s", r.Raw)
	}
}

// The merge rule of docs/configuration.md, end to end: a person who used two apps before
// they were bound to the open platform account is two users; when WeChat
// starts sending the unionid, the second app's login reveals they are one,
// and the newer user is merged into the older.
func TestE2E_SeveralApps_MergeByUnionID(t *testing.T) {
	t.Parallel()
	ts := startTwoApps(t)
	user := "dave-" + store.NewID()
	legacy := func(appID string, p wechat.Profile) map[string]any {
		code := codeIn(ts, t, appID, user)
		ui, err := ts.Sim.UserInfo(appID, user, p)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"appId": appID, "code": code, "rawData": ui.RawData, "signature": ui.Signature, "encryptedData": ui.EncryptedData, "iv": ui.IV}
	}

	a1 := ts.MustLogin(t, legacy(apptest.AppID, wechat.Profile{NickName: "Dave", City: "Guangzhou"}))
	b1 := ts.MustLogin(t, legacy(e2eAppID2, wechat.Profile{NickName: "D.", Country: "CN", Language: "zh_CN", Gender: 1}))
	older, newer := a1.User.ID, b1.User.ID
	if older == newer || !b1.Created {
		t.Fatal("two apps without unionid made one user")
	}
	if _, err := ts.Store().DB().ExecContext(context.Background(), "UPDATE users SET phone = '+8613800138201', phone_country_code = '86' WHERE id = ?", newer); err != nil {
		t.Fatal(err)
	}

	bindApps(ts)
	// App A now sends the unionid: nobody else has it, nothing to merge.
	a2 := ts.MustLogin(t, map[string]any{"code": codeIn(ts, t, "", user)})
	if a2.User.ID != older || meID(ts, t, b1.Token) != newer {
		t.Fatal("the first login with a unionid changed who is who")
	}
	// App B sends the same unionid: the two users are one person.
	b2 := ts.MustLogin(t, map[string]any{"code": codeIn(ts, t, e2eAppID2, user), "appId": e2eAppID2})
	if b2.User.ID != older || b2.Created {
		t.Fatalf("merging login: user %s (created %v), want the older user %s", b2.User.ID, b2.Created, older)
	}
	for i, tok := range []string{a1.Token, b1.Token, a2.Token, b2.Token} {
		if got := meID(ts, t, tok); got != older {
			t.Fatalf("token %d signs in as %s, want the survivor %s", i, got, older)
		}
	}
	resp := ts.Do(t, b1.Token, `{ me { nickname city country language gender phone } }`, nil)
	if !strings.Contains(string(resp.Data["me"]), `{"nickname":"Dave","city":"Guangzhou","country":"CN","language":"zh_CN","gender":"MALE","phone":"+8613800138201"}`) {
		t.Fatalf("merged profile: %s", resp.Raw)
	}

	// What an admin sees: one user with both identities, the other gone,
	// and the merge in the audit log.
	viewer := "viewer-" + store.NewID()[24:]
	pw := apptest.CreateAdmin(t, viewer, "viewer")
	admin, r := ts.AdminLogin(t, viewer, pw)
	if admin == "" {
		t.Fatal(r.Raw)
	}
	resp = ts.Do(t, admin, `query($a: ID!, $b: ID!, $t: String) {
	  survivor: user(id: $a) { identities { appId unionId } }
	  gone: user(id: $b) { id }
	  auditLog(first: 5, filter: {action: "user.merge", target: $t}) { edges { node { actor { kind id } target detail } } }
	}`, map[string]any{"a": older, "b": newer, "t": older})
	var got struct {
		Survivor struct {
			Identities []struct{ AppID, UnionID string }
		}
		Gone     *struct{ ID string }
		AuditLog struct {
			Edges []struct {
				Node struct {
					Actor  struct{ Kind, ID string }
					Target string
					Detail map[string]any
				}
			}
		}
	}
	raw, _ := json.Marshal(resp.Data)
	if len(resp.Errors) > 0 || json.Unmarshal(raw, &got) != nil {
		t.Fatal(resp.Raw)
	}
	union := ts.Sim.UnionID(user)
	ids := got.Survivor.Identities
	if len(ids) != 2 || ids[0].UnionID != union || ids[1].UnionID != union || ids[0].AppID == ids[1].AppID {
		t.Fatalf("survivor's identities = %+v", ids)
	}
	if got.Gone != nil {
		t.Fatalf("the merged-away user %s is still there", newer)
	}
	if e := got.AuditLog.Edges; len(e) != 1 || e[0].Node.Detail["from"] != newer || e[0].Node.Detail["into"] != older ||
		e[0].Node.Detail["appid"] != e2eAppID2 || e[0].Node.Actor.ID != older {
		t.Fatalf("user.merge audit entries = %+v", e)
	}
	// The merged-away user's history stays under its old id.
	if n := ts.CountRows(t, "SELECT count(*) FROM audit_log WHERE action IN ('user.create', 'user.login') AND target = ?", newer); n != 2 {
		t.Fatalf("audit rows of the merged-away user = %d, want its create and login", n)
	}
}

// Many logins of one split person through both apps at once, each carrying
// the unionid (codes minted beforehand), end with one user holding both
// identities: no login fails, every token signs in as the survivor.
func TestE2E_SeveralApps_ConcurrentMerge(t *testing.T) {
	t.Parallel()
	ts := startTwoApps(t)
	const rounds, logins = 5, 40
	var total time.Duration
	for round := range rounds {
		user := fmt.Sprintf("erin-%d-%s", round, store.NewID())
		ts.Sim.AddApp(wechattest.App{AppID: apptest.AppID, Secret: apptest.Secret, NoUnionID: true})
		ts.Sim.AddApp(wechattest.App{AppID: e2eAppID2, Secret: e2eSecret2, NoUnionID: true})
		a := ts.MustLogin(t, map[string]any{"code": codeIn(ts, t, apptest.AppID, user)})
		b := ts.MustLogin(t, map[string]any{"code": codeIn(ts, t, e2eAppID2, user), "appId": e2eAppID2})
		if a.User.ID == b.User.ID {
			t.Fatal("two apps without unionid made one user")
		}
		bindApps(ts)
		inputs := make([]map[string]any, logins)
		for i := range inputs {
			app := []string{apptest.AppID, e2eAppID2}[i%2]
			inputs[i] = map[string]any{"code": codeIn(ts, t, app, user), "appId": app}
		}
		tokens := make(chan string, logins)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, in := range inputs {
			wg.Go(func() {
				<-start
				p, resp := ts.Login(t, in)
				if p == nil {
					t.Errorf("concurrent login: %s", resp.Raw)
					return
				}
				tokens <- p.Token
			})
		}
		began := time.Now()
		close(start)
		wg.Wait()
		total += time.Since(began)
		close(tokens)
		if t.Failed() {
			t.FailNow()
		}
		survivor := a.User.ID
		for tok := range tokens {
			if got := meID(ts, t, tok); got != survivor {
				t.Fatalf("a token signs in as %s, want the older user %s", got, survivor)
			}
		}
		for _, tok := range []string{a.Token, b.Token} {
			if got := meID(ts, t, tok); got != survivor {
				t.Fatalf("a token from before the merge signs in as %s, want %s", got, survivor)
			}
		}
		openids := []string{ts.Sim.OpenID(apptest.AppID, user), ts.Sim.OpenID(e2eAppID2, user)}
		if n := ts.CountRows(t, "SELECT count(DISTINCT user_id) FROM identities WHERE openid IN (?, ?)", openids[0], openids[1]); n != 1 {
			t.Fatalf("the person's identities are on %d users, want 1", n)
		}
		if n := ts.CountRows(t, "SELECT count(*) FROM identities WHERE user_id = ?", survivor); n != 2 {
			t.Fatalf("the survivor has %d identities, want 2", n)
		}
		if n := ts.CountRows(t, "SELECT count(*) FROM users WHERE id = ?", b.User.ID); n != 0 {
			t.Fatal("the newer user survived")
		}
		if n := ts.CountRows(t, "SELECT count(*) FROM audit_log WHERE action = 'user.merge' AND target = ?", survivor); n != 1 {
			t.Fatalf("user.merge rows = %d, want 1", n)
		}
	}
	t.Logf("%d rounds of %d concurrent logins over HTTP: %v in the logins", rounds, logins, total)
}

// Dev mode simulates every configured app, and the mini-program side mints
// codes for any of them.
func TestE2E_DevMode_SeveralApps(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.DevMode(), apptest.WithConfig(func(c *app.Config) {
		c.WechatAppID, c.WechatSecret = apptest.AppID, apptest.Secret
		c.WechatApps = []app.WechatApp{{AppID: apptest.AppID, Secret: apptest.Secret}, {AppID: e2eAppID2, Secret: e2eSecret2}}
	}))
	m := ts.Main

	var users []string
	for _, app := range []string{apptest.AppID, e2eAppID2} {
		resp, err := http.Post(m.URL()+"/dev/wechat/code", "application/json", strings.NewReader(`{"user":"alice","appid":"`+app+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		var minted struct{ Code string }
		_ = json.NewDecoder(resp.Body).Decode(&minted)
		resp.Body.Close()
		p := ts.MustLogin(t, map[string]any{"code": minted.Code, "appId": app})
		users = append(users, p.User.ID)
	}
	if users[0] != users[1] {
		t.Fatalf("alice in two simulated apps is two users: %v", users)
	}
}
