package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/blob"
	"wxlogin/store/storetest"
	"wxlogin/wechat/wechattest"
)

// Account deletion (issue 19 §1). Every test has a database of its own:
// erasure leaves users without identities, and the tests count users
// (stats) and dump the whole database.

// deletionServer starts a server on dsn (a fresh database when "") with
// two mini programs of one open platform account (unionids sent) and the
// session cache on, and cfg's changes.
func deletionServer(t *testing.T, dsn string, cfg func(*app.Config)) (*apptest.Server, string) {
	t.Helper()
	if dsn == "" {
		dsn, _ = storetest.FreshDatabase(t)
	}
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) {
		c.DatabaseURL = dsn
		c.WechatApps = []app.WechatApp{{AppID: apptest.AppID, Secret: apptest.Secret}, {AppID: e2eAppID2, Secret: e2eSecret2}}
		c.SessionCacheTTL, c.SessionCacheSize = time.Minute, 1000
		if cfg != nil {
			cfg(c)
		}
	}))
	ts.Sim.AddApp(wechattest.App{AppID: e2eAppID2, Secret: e2eSecret2})
	apptest.WaitFor(t, "the session cache to come up", 5*time.Second, ts.SessionCache.Up)
	return ts, dsn
}

// graceOf sets ACCOUNT_DELETE_GRACE.
func graceOf(d time.Duration) func(*app.Config) {
	return func(c *app.Config) { c.AccountDeleteGrace = d }
}

// deletionAdmin makes an admin of role in the database at dsn and signs
// it in on ts.
func deletionAdmin(t *testing.T, ts *apptest.Server, dsn, name, role string) string {
	t.Helper()
	pw := "correct horse battery " + name
	var out bytes.Buffer
	env := apptest.Env(map[string]string{"DATABASE_URL": dsn})
	if err := app.Run(context.Background(), []string{"admin", "create", name, "-role", role}, env, strings.NewReader(pw+"\n"), &out, &out); err != nil {
		t.Fatalf("admin create %s: %v %s", name, err, out.String())
	}
	tok, resp := ts.AdminLogin(t, name, pw)
	if tok == "" {
		t.Fatal(resp.Raw)
	}
	return tok
}

const deleteAccount = `mutation { deleteAccount { erasesAt erased } }`

type accountDeletion struct {
	ErasesAt time.Time `json:"erasesAt"`
	Erased   bool      `json:"erased"`
}

func mustDeleteAccount(t *testing.T, ts *apptest.Server, tok string) accountDeletion {
	t.Helper()
	r := ts.Do(t, tok, deleteAccount, nil)
	var d accountDeletion
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["deleteAccount"], &d) != nil {
		t.Fatalf("deleteAccount: %s", r.Raw)
	}
	return d
}

// loginAs logs user in from app (apptest.AppID or e2eAppID2) and returns
// the token, the user id, created and deletionCancelled; an error
// response otherwise.
type loginAnswer struct {
	Token             string `json:"token"`
	Created           bool   `json:"created"`
	DeletionCancelled bool   `json:"deletionCancelled"`
	User              struct {
		ID string `json:"id"`
	} `json:"user"`
}

func loginAs(t *testing.T, ts *apptest.Server, appID, user string) (*loginAnswer, *apptest.Response) {
	t.Helper()
	code, err := ts.Sim.Login(appID, user)
	if err != nil {
		t.Fatal(err)
	}
	r := ts.Do(t, "", `mutation($in: LoginInput!) { login(input: $in) { token created deletionCancelled user { id } } }`,
		map[string]any{"in": map[string]any{"appId": appID, "code": code}})
	if len(r.Errors) > 0 {
		return nil, r
	}
	var a loginAnswer
	if err := json.Unmarshal(r.Data["login"], &a); err != nil {
		t.Fatal(err)
	}
	ts.AddToken(a.Token)
	return &a, r
}

func mustLoginAs(t *testing.T, ts *apptest.Server, appID, user string) *loginAnswer {
	t.Helper()
	a, r := loginAs(t, ts, appID, user)
	if a == nil {
		t.Fatalf("login: %s", r.Raw)
	}
	return a
}

func TestDeletion_RevokesAtOnceOnEveryInstance(t *testing.T) {
	t.Parallel()
	a, dsn := deletionServer(t, "", nil)
	b, _ := deletionServer(t, dsn, nil)
	first := mustLoginAs(t, a, apptest.AppID, "del-everywhere")
	second := mustLoginAs(t, a, e2eAppID2, "del-everywhere") // the same person, another app
	if second.User.ID != first.User.ID {
		t.Fatal("the unionid did not join the two apps")
	}
	for _, tok := range []string{first.Token, second.Token} {
		mustBeCached(t, b, tok)
	}
	// Twice at once with the same token: both may pass, one schedule.
	var wg sync.WaitGroup
	answers := make([]*apptest.Response, 2)
	for i := range answers {
		wg.Go(func() { answers[i] = a.Do(t, first.Token, deleteAccount, nil) })
	}
	wg.Wait()
	var at []time.Time
	for _, r := range answers {
		var d accountDeletion
		if len(r.Errors) > 0 {
			if r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("deleteAccount: %s", r.Raw)
			}
			continue
		}
		_ = json.Unmarshal(r.Data["deleteAccount"], &d)
		if d.Erased || time.Until(d.ErasesAt) < 167*time.Hour || time.Until(d.ErasesAt) > 168*time.Hour {
			t.Fatalf("deleteAccount = %+v; want erasure in 168h (the default)", d)
		}
		at = append(at, d.ErasesAt)
	}
	if len(at) == 2 && !at[0].Equal(at[1]) {
		t.Fatalf("two schedules: %v", at)
	}
	for _, tok := range []string{first.Token, second.Token} {
		if ok, _ := meOK(t, a, tok); ok {
			t.Fatal("a token works on the answering instance after deleteAccount")
		}
		apptest.WaitFor(t, "the other instance to refuse the token", revocationCeiling, func() bool {
			ok, _ := meOK(t, b, tok)
			return !ok
		})
	}
	if n := a.CountRows(t, "SELECT count(*) FROM audit_log WHERE target = ? AND action = 'user.delete_requested'", first.User.ID); n != 1 {
		t.Fatalf("%d user.delete_requested rows, want 1", n)
	}
}

func TestDeletion_LoginCancels(t *testing.T) {
	t.Parallel()
	ts, _ := deletionServer(t, "", nil)
	u := mustLoginAs(t, ts, apptest.AppID, "del-cancel")
	mustDeleteAccount(t, ts, u.Token)
	again := mustLoginAs(t, ts, apptest.AppID, "del-cancel")
	if !again.DeletionCancelled || again.Created || again.User.ID != u.User.ID {
		t.Fatalf("login in the cooling-off period = %+v; want the same user, deletionCancelled", again)
	}
	if ok, _ := meOK(t, ts, again.Token); !ok {
		t.Fatal("the cancelling login's token does not work")
	}
	if later := mustLoginAs(t, ts, apptest.AppID, "del-cancel"); later.DeletionCancelled {
		t.Fatal("deletionCancelled on a later login")
	}
	// From the other mini program of the same person (one account).
	mustDeleteAccount(t, ts, again.Token)
	other := mustLoginAs(t, ts, e2eAppID2, "del-cancel")
	if !other.DeletionCancelled || other.User.ID != u.User.ID {
		t.Fatalf("login from the other app = %+v", other)
	}
	for action, want := range map[string]int{"user.delete_requested": 2, "user.delete_cancelled": 2} {
		if n := ts.CountRows(t, "SELECT count(*) FROM audit_log WHERE target = ? AND action = ?", u.User.ID, action); n != want {
			t.Errorf("%d %s rows, want %d", n, action, want)
		}
	}
	if n := ts.CountRows(t, "SELECT count(*) FROM users WHERE id = ? AND erase_at IS NULL AND deleted_at IS NULL", u.User.ID); n != 1 {
		t.Fatal("the account is still scheduled")
	}
}

// eraseDue runs the erasure job of ts once.
func eraseDue(t *testing.T, ts *apptest.Server) int {
	t.Helper()
	blobs, err := blob.NewDir(ts.Config.AvatarDir)
	if err != nil {
		t.Fatal(err)
	}
	n, err := app.EraseDue(context.Background(), ts.Store(), blobs, ts.SessionCache, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeletion_DisabledUser(t *testing.T) {
	t.Parallel()
	ts, dsn := deletionServer(t, "", nil)
	admin := deletionAdmin(t, ts, dsn, "del-disabler", "admin")
	u := mustLoginAs(t, ts, apptest.AppID, "del-disabled")
	mustDeleteAccount(t, ts, u.Token)
	if r := ts.Do(t, admin, `mutation($id: ID!) { disableUser(id: $id, reason: "abuse") { id } }`, map[string]any{"id": u.User.ID}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if _, r := loginAs(t, ts, apptest.AppID, "del-disabled"); r.Code() != "USER_DISABLED" {
		t.Fatalf("login of a disabled user pending deletion: %s", r.Raw)
	}
	if n := ts.CountRows(t, "SELECT count(*) FROM users WHERE id = ? AND erase_at IS NOT NULL", u.User.ID); n != 1 {
		t.Fatal("the refused login cancelled the deletion")
	}
	if _, err := ts.Store().DB().ExecContext(context.Background(), "UPDATE users SET erase_at = now() WHERE id = ?", u.User.ID); err != nil {
		t.Fatal(err)
	}
	eraseDue(t, ts) // (or the server's own run of the job, should its minute come first)
	if n := ts.CountRows(t, "SELECT count(*) FROM users WHERE id = ? AND deleted_at IS NOT NULL AND disabled_at IS NULL", u.User.ID); n != 1 {
		t.Fatal("the disabled user was not erased")
	}
}

func TestDeletion_JobErasesAfterThePeriod(t *testing.T) {
	t.Parallel()
	ts, _ := deletionServer(t, "", graceOf(time.Hour))
	u := mustLoginAs(t, ts, apptest.AppID, "del-job")
	d := mustDeleteAccount(t, ts, u.Token)
	if d.Erased || time.Until(d.ErasesAt) < 59*time.Minute {
		t.Fatalf("deleteAccount = %+v with a grace of 1h", d)
	}
	if n := eraseDue(t, ts); n != 0 {
		t.Fatalf("the job erased %d before the period ended", n)
	}
	if _, err := ts.Store().DB().ExecContext(context.Background(), "UPDATE users SET erase_at = now() - interval '1 second' WHERE id = ?", u.User.ID); err != nil {
		t.Fatal(err)
	}
	eraseDue(t, ts) // (or the server's own run of the job, should its minute come first)
	if n := ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE target = ? AND action = 'user.erase'
		AND actor_kind = 'system' AND actor_name = 'erasure' AND actor_id IS NULL`, u.User.ID); n != 1 {
		t.Fatal("no user.erase entry by the system's erasure job")
	}
	again := mustLoginAs(t, ts, apptest.AppID, "del-job")
	if !again.Created || again.User.ID == u.User.ID || again.DeletionCancelled {
		t.Fatalf("login after the erasure = %+v; want a new user", again)
	}
}

// TestDeletion_EraseEverything: a user with a nickname, a phone, an
// uploaded avatar, consents and two mini programs deletes the account with
// a grace of 0. The avatar answers 404, a pg_dump of the database holds
// nothing of theirs, and the same WeChat user signs in as a new user.
func TestDeletion_EraseEverything(t *testing.T) {
	t.Parallel()
	ts, dsn := deletionServer(t, "", func(c *app.Config) {
		c.AccountDeleteGrace, c.PolicyVersion = 0, "2026-11"
	})
	const user = "del-everything"
	national := randomMobile(t)
	if err := ts.Sim.SetPhone(user, "86", national); err != nil {
		t.Fatal(err)
	}
	mustLoginAs(t, ts, e2eAppID2, user)
	u := mustLoginAs(t, ts, apptest.AppID, user)
	nickname := "Eraseme" + national[5:]
	if r := ts.Do(t, u.Token, `mutation($n: String!) { updateProfile(input: {nickname: $n, city: "Xiamen"}) { id } }`,
		map[string]any{"n": nickname}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	code, err := ts.Sim.PhoneCode("", user)
	if err != nil {
		t.Fatal(err)
	}
	if phone, r := bind(ts, t, u.Token, map[string]any{"code": code}); phone != "+86"+national {
		t.Fatal(r.Raw)
	}
	if r := acceptPolicy(t, ts, u.Token, "2026-11"); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	resp, r := ts.Upload(t, u.Token, pngOf(37, 23), nil)
	var up struct{ AvatarURL string }
	if resp.StatusCode != 200 || len(r.Errors) > 0 || json.Unmarshal(r.Data["uploadAvatar"], &up) != nil {
		t.Fatalf("upload: %s", r.Raw)
	}
	avatar := ts.URL() + up.AvatarURL
	hash := strings.TrimSuffix(strings.TrimPrefix(up.AvatarURL, "/avatars/"), ".jpg")
	if st := getStatus(t, avatar); st != 200 {
		t.Fatalf("GET avatar before: %d", st)
	}
	secrets := map[string]string{
		"nickname": nickname, "phone (E.164)": "+86" + national, "phone (national)": national,
		"phone (masked)": national[:3] + "****" + national[7:], "openid": ts.Sim.OpenID(apptest.AppID, user),
		"openid (second app)": ts.Sim.OpenID(e2eAppID2, user), "unionid": ts.Sim.UnionID(user), "avatar hash": hash,
	}
	before := pgDump(t, dsn)
	for what, s := range secrets {
		if !strings.Contains(before, s) {
			t.Fatalf("the dump lacks the %s before erasure; the scan would prove nothing", what)
		}
	}

	d := mustDeleteAccount(t, ts, u.Token)
	if !d.Erased || time.Since(d.ErasesAt) > time.Minute {
		t.Fatalf("deleteAccount with a grace of 0 = %+v", d)
	}
	if st := getStatus(t, avatar); st != 404 {
		t.Fatalf("GET avatar after erasure: %d, want 404", st)
	}
	dump := pgDump(t, dsn)
	for what, s := range secrets {
		if strings.Contains(dump, s) {
			t.Errorf("after erasure the database dump still holds the user's %s", what)
		}
	}
	if n := ts.CountRows(t, "SELECT count(*) FROM audit_log WHERE target = ? AND action = 'user.erase' AND actor_kind = 'user' AND ip IS NULL", u.User.ID); n != 1 {
		t.Fatal("no user.erase entry by the user (without their address)")
	}
	again := mustLoginAs(t, ts, apptest.AppID, user)
	if !again.Created || again.User.ID == u.User.ID {
		t.Fatalf("login after the erasure = %+v; want a new user", again)
	}
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// pgDump is the text of pg_dump of the database at dsn: every row of every
// table, as a backup would hold it.
func pgDump(t *testing.T, dsn string) string {
	t.Helper()
	cmd := exec.Command("pg_dump", "--data-only", "--no-owner", dsn)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pg_dump: %v %s", err, stderr.String())
	}
	return out.String()
}

func TestDeletion_DeleteUserByAdmin(t *testing.T) {
	t.Parallel()
	ts, dsn := deletionServer(t, "", nil)
	admin := deletionAdmin(t, ts, dsn, "del-admin", "admin")
	viewer := deletionAdmin(t, ts, dsn, "del-viewer", "viewer")
	victim := mustLoginAs(t, ts, apptest.AppID, "del-victim")
	pending := mustLoginAs(t, ts, apptest.AppID, "del-pending")
	bystander := mustLoginAs(t, ts, apptest.AppID, "del-bystander")
	mustDeleteAccount(t, ts, pending.Token)

	const del = `mutation($id: ID!, $r: String!) { deleteUser(id: $id, reason: $r) { id nickname deletedAt erasesAt } }`
	for _, c := range []struct {
		name, tok, id, reason, code string
	}{
		{"viewer", viewer, victim.User.ID, "asked", "FORBIDDEN"},
		{"user token", victim.Token, victim.User.ID, "asked", "FORBIDDEN"},
		{"no reason", admin, victim.User.ID, "  ", "BAD_USER_INPUT"},
		{"long reason", admin, victim.User.ID, strings.Repeat("长", 501), "BAD_USER_INPUT"},
		{"unknown id", admin, "01a24ddb-df94-7a2b-a47e-23b9ed06d45f", "asked", "BAD_USER_INPUT"},
		{"not an id", admin, "nobody", "asked", "BAD_USER_INPUT"},
	} {
		if r := ts.Do(t, c.tok, del, map[string]any{"id": c.id, "r": c.reason}); r.Code() != c.code {
			t.Errorf("%s: %s, want %s", c.name, r.Raw, c.code)
		}
	}
	if n := ts.CountRows(t, "SELECT count(*) FROM users WHERE id = ? AND deleted_at IS NULL", victim.User.ID); n != 1 {
		t.Fatal("a refused deleteUser erased the user")
	}
	r := ts.Do(t, admin, del, map[string]any{"id": victim.User.ID, "r": "asked by email, ticket 42"})
	var tomb struct {
		ID        string
		Nickname  *string
		DeletedAt *time.Time
	}
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["deleteUser"], &tomb) != nil || tomb.ID != victim.User.ID || tomb.DeletedAt == nil || tomb.Nickname != nil {
		t.Fatalf("deleteUser: %s", r.Raw)
	}
	if ok, _ := meOK(t, ts, victim.Token); ok {
		t.Fatal("the erased user's token still works")
	}
	if r := ts.Do(t, admin, del, map[string]any{"id": victim.User.ID, "r": "again"}); r.Code() != "BAD_USER_INPUT" {
		t.Fatalf("deleteUser of an erased user: %s", r.Raw)
	}
	if n := ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE target = ? AND action = 'user.erase' AND actor_kind = 'admin'
		AND actor_name = 'del-admin' AND detail->>'reason' = 'asked by email, ticket 42'`, victim.User.ID); n != 1 {
		t.Fatal("no user.erase entry naming the admin and the reason")
	}

	// Stats and filters: a database of this test's own, so exact.
	r = ts.Do(t, viewer, `{ stats { totalUsers pendingDeletion deletedUsers newUsers(days: 1) activeUsers(days: 1) } }`, nil)
	if !strings.Contains(r.Raw, `"totalUsers":2,"pendingDeletion":1,"deletedUsers":1,"newUsers":2,"activeUsers":2`) {
		t.Fatalf("stats: %s", r.Raw)
	}
	for filter, want := range map[string]int{"": 2, "deletion: NONE": 1, "deletion: PENDING": 1, "deletion: ERASED": 1} {
		r := ts.Do(t, viewer, fmt.Sprintf(`{ users(filter: {%s}) { totalCount edges { node { id deletionRequestedAt erasesAt deletedAt } } } }`, filter), nil)
		var c struct {
			TotalCount int
			Edges      []struct{ Node struct{ ID string } }
		}
		if len(r.Errors) > 0 || json.Unmarshal(r.Data["users"], &c) != nil || c.TotalCount != want || len(c.Edges) != want {
			t.Errorf("users(filter: {%s}): %s; want %d", filter, r.Raw, want)
		}
	}
	r = ts.Do(t, viewer, `query($id: ID!) { user(id: $id) { deletionRequestedAt erasesAt deletedAt } }`, map[string]any{"id": pending.User.ID})
	var p struct{ DeletionRequestedAt, ErasesAt, DeletedAt *time.Time }
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["user"], &p) != nil || p.DeletionRequestedAt == nil || p.ErasesAt == nil || p.DeletedAt != nil {
		t.Fatalf("user (pending): %s", r.Raw)
	}
	if r := ts.Do(t, bystander.Token, `{ me { erasesAt } }`, nil); r.Code() != "FORBIDDEN" {
		t.Fatalf("a user reads erasesAt: %s", r.Raw)
	}
}

// Logins of users whose erasure is due, while the job runs: each either
// cancels the deletion (the same user) or comes after the erasure and
// makes a new user; none lands in a half-erased account.
func TestDeletion_LoginsDuringErasure(t *testing.T) {
	t.Parallel()
	ts, _ := deletionServer(t, "", nil)
	const n = 40
	old := make([]string, n)
	for i := range old {
		u := mustLoginAs(t, ts, apptest.AppID, fmt.Sprintf("del-race-%d", i))
		mustDeleteAccount(t, ts, u.Token)
		old[i] = u.User.ID
	}
	if _, err := ts.Store().DB().ExecContext(context.Background(), "UPDATE users SET erase_at = now() WHERE erase_at IS NOT NULL"); err != nil {
		t.Fatal(err)
	}
	answers := make([]*loginAnswer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range old {
		wg.Go(func() {
			<-start
			appID := apptest.AppID
			if i%2 == 1 {
				appID = e2eAppID2
			}
			answers[i], _ = loginAs(t, ts, appID, fmt.Sprintf("del-race-%d", i))
		})
	}
	for range 2 {
		wg.Go(func() { <-start; eraseDue(t, ts) })
	}
	close(start)
	wg.Wait()
	for i, a := range answers {
		switch {
		case a == nil:
			t.Errorf("login %d failed", i)
		case a.DeletionCancelled && a.User.ID == old[i] && !a.Created:
		case a.Created && a.User.ID != old[i] && !a.DeletionCancelled:
		default:
			t.Errorf("login %d = %+v (old user %s)", i, a, old[i])
		}
		if a != nil {
			if ok, _ := meOK(t, ts, a.Token); !ok {
				t.Errorf("login %d: its token does not work", i)
			}
		}
	}
	if c := ts.CountRows(t, "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.deleted_at IS NOT NULL"); c != 0 {
		t.Fatalf("%d sessions of erased users", c)
	}
}

const deleteWithCode = `mutation($in: AccountLoginInput) { deleteAccount(login: $in) { erasesAt erased } }`

// deleteByCode calls deleteAccount with a fresh wx.login() code of user
// in appID, and tok as the Authorization header ("" for none). It
// returns the answer and the code (spent or not).
func deleteByCode(t *testing.T, ts *apptest.Server, tok, appID, user string) (*apptest.Response, string) {
	t.Helper()
	code, err := ts.Sim.Login(appID, user)
	if err != nil {
		t.Fatal(err)
	}
	return ts.Do(t, tok, deleteWithCode, map[string]any{"in": map[string]any{"appId": appID, "code": code}}), code
}

// A disabled user (no session works) deletes their account with a
// wx.login() code: the deletion is pending, nothing else happens, their
// login stays USER_DISABLED and cancels nothing, and the job erases them.
func TestDeletion_DisabledUserDeletesWithCode(t *testing.T) {
	t.Parallel()
	ts, dsn := deletionServer(t, "", nil)
	admin := deletionAdmin(t, ts, dsn, "del-code-admin", "admin")
	const user = "del-code-disabled"
	u := mustLoginAs(t, ts, apptest.AppID, user)
	if r := ts.Do(t, admin, `mutation($id: ID!) { disableUser(id: $id, reason: "abuse") { id } }`, map[string]any{"id": u.User.ID}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if r := ts.Do(t, u.Token, deleteAccount, nil); r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("deleteAccount with a disabled user's token: %s", r.Raw)
	}
	count := func() int {
		return ts.CountRows(t, "SELECT (SELECT count(*) FROM sessions WHERE user_id = ?) * 1000 + (SELECT count(*) FROM audit_log WHERE target = ? AND action = 'user.login')", u.User.ID, u.User.ID)
	}
	before := count()
	lastLogin := ts.CountRows(t, "SELECT (extract(epoch FROM last_login_at) * 1000000)::bigint FROM identities WHERE user_id = ?", u.User.ID)

	r, code := deleteByCode(t, ts, "", apptest.AppID, user)
	var d accountDeletion
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["deleteAccount"], &d) != nil {
		t.Fatalf("deleteAccount(login:) of a disabled user: %s", r.Raw)
	}
	if d.Erased || time.Until(d.ErasesAt) < 167*time.Hour || time.Until(d.ErasesAt) > 168*time.Hour {
		t.Fatalf("deleteAccount(login:) = %+v; want erasure in 168h", d)
	}
	if n := ts.CountRows(t, "SELECT count(*) FROM users WHERE id = ? AND erase_at IS NOT NULL AND disabled_at IS NOT NULL AND deleted_at IS NULL", u.User.ID); n != 1 {
		t.Fatal("the deletion is not pending, or the user was enabled")
	}
	if n := ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE target = ? AND actor_id = ? AND action = 'user.delete_requested'
		AND detail->>'via' = 'code' AND detail->>'appid' = ?`, u.User.ID, u.User.ID, apptest.AppID); n != 1 {
		t.Fatal("no user.delete_requested entry via code")
	}
	if count() != before || ts.CountRows(t, "SELECT (extract(epoch FROM last_login_at) * 1000000)::bigint FROM identities WHERE user_id = ?", u.User.ID) != lastLogin {
		t.Fatal("deleteAccount(login:) made a session or recorded a login")
	}
	// The code is spent.
	if r := ts.Do(t, "", deleteWithCode, map[string]any{"in": map[string]any{"code": code}}); r.Code() != "WECHAT_CODE_INVALID" {
		t.Fatalf("the code again: %s", r.Raw)
	}
	if _, r := loginAs(t, ts, apptest.AppID, user); r.Code() != "USER_DISABLED" {
		t.Fatalf("login of the disabled user pending deletion: %s", r.Raw)
	}
	if n := ts.CountRows(t, "SELECT count(*) FROM users WHERE id = ? AND erase_at IS NOT NULL", u.User.ID); n != 1 {
		t.Fatal("the refused login cancelled the deletion")
	}
	// Asking again keeps the schedule, with no second audit row.
	if r, _ := deleteByCode(t, ts, "", apptest.AppID, user); !strings.Contains(r.Raw, d.ErasesAt.UTC().Format("2006-01-02T15:04:05")) {
		t.Fatalf("deleteAccount(login:) again: %s; want the first schedule %v", r.Raw, d.ErasesAt)
	}
	if _, err := ts.Store().DB().ExecContext(context.Background(), "UPDATE users SET erase_at = now() WHERE id = ?", u.User.ID); err != nil {
		t.Fatal(err)
	}
	eraseDue(t, ts) // (or the server's own run of the job, should its minute come first)
	if n := ts.CountRows(t, "SELECT count(*) FROM users WHERE id = ? AND deleted_at IS NOT NULL", u.User.ID); n != 1 {
		t.Fatal("the disabled user was not erased")
	}
	if n := ts.CountRows(t, "SELECT count(*) FROM audit_log WHERE target = ? AND action = 'user.delete_requested'", u.User.ID); n != 1 {
		t.Fatalf("%d user.delete_requested rows, want 1", n)
	}
}

// deleteAccount(login:) refusals: a WeChat user without an account (nothing
// is created), a session and a code together (the code stays unspent), a
// bad code, a malformed one, two in one request. A user who still has a
// session may use a code too: their sessions end.
func TestDeletion_WithCodeRefusals(t *testing.T) {
	t.Parallel()
	ts, _ := deletionServer(t, "", nil)

	const stranger = "del-code-stranger"
	for _, appID := range []string{apptest.AppID, e2eAppID2} {
		if r, _ := deleteByCode(t, ts, "", appID, stranger); r.Code() != "BAD_USER_INPUT" || !strings.Contains(r.Raw, "no account for this WeChat user") {
			t.Errorf("deleteAccount(login:) of an unknown WeChat user (%s): %s", appID, r.Raw)
		}
		if n := ts.CountRows(t, "SELECT count(*) FROM identities WHERE openid IN (?, ?) OR unionid = ?",
			ts.Sim.OpenID(apptest.AppID, stranger), ts.Sim.OpenID(e2eAppID2, stranger), ts.Sim.UnionID(stranger)); n != 0 {
			t.Fatal("deleteAccount(login:) of an unknown WeChat user made an identity")
		}
		if n := ts.CountRows(t, "SELECT count(*) FROM users"); n != 0 { // this test's own database
			t.Fatalf("deleteAccount(login:) of an unknown WeChat user made %d users", n)
		}
	}

	const user = "del-code-live"
	u := mustLoginAs(t, ts, apptest.AppID, user)
	code, err := ts.Sim.Login(e2eAppID2, user)
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]any{"in": map[string]any{"appId": e2eAppID2, "code": code}}
	if r := ts.Do(t, u.Token, deleteWithCode, in); r.Code() != "BAD_USER_INPUT" {
		t.Fatalf("deleteAccount with a session and a code: %s", r.Raw)
	}
	if n := ts.CountRows(t, "SELECT count(*) FROM users WHERE id = ? AND erase_at IS NULL", u.User.ID); n != 1 {
		t.Fatal("a refused deleteAccount scheduled the deletion")
	}
	for _, c := range []struct{ name, query, code string }{
		{"bad code", `mutation { deleteAccount(login: {code: "0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p"}) { erased } }`, "WECHAT_CODE_INVALID"},
		{"malformed code", `mutation { deleteAccount(login: {code: "a b"}) { erased } }`, "BAD_USER_INPUT"},
		{"empty code", `mutation { deleteAccount(login: {code: ""}) { erased } }`, "BAD_USER_INPUT"},
		{"unknown app", `mutation { deleteAccount(login: {appId: "wx9999999999999999", code: "abc"}) { erased } }`, "BAD_USER_INPUT"},
		{"two in a request", `mutation { a: deleteAccount(login: {code: "abc"}) { erased } b: deleteAccount(login: {code: "abd"}) { erased } }`, "QUERY_TOO_COMPLEX"},
	} {
		if r := ts.Do(t, "", c.query, nil); r.Code() != c.code {
			t.Errorf("%s: %s, want %s", c.name, r.Raw, c.code)
		}
	}
	// The refused request left the code unspent; without the header it
	// deletes the account of the same person (the unionid joins the apps),
	// and ends the session, as deleteAccount with it would.
	r := ts.Do(t, "", deleteWithCode, in)
	var d accountDeletion
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["deleteAccount"], &d) != nil || d.Erased {
		t.Fatalf("deleteAccount(login:) with the unspent code: %s", r.Raw)
	}
	if ok, _ := meOK(t, ts, u.Token); ok {
		t.Fatal("the user's token works after deleteAccount(login:)")
	}
	if n := ts.CountRows(t, "SELECT count(*) FROM users WHERE id = ? AND erase_at IS NOT NULL", u.User.ID); n != 1 {
		t.Fatal("deleteAccount(login:) from the other app did not schedule the account")
	}
	if n := ts.CountRows(t, "SELECT count(*) FROM identities WHERE appid = ?", e2eAppID2); n != 0 {
		t.Fatal("deleteAccount(login:) made an identity in the second app")
	}
	again := mustLoginAs(t, ts, apptest.AppID, user)
	if !again.DeletionCancelled || again.User.ID != u.User.ID {
		t.Fatalf("login after deleteAccount(login:) = %+v; want the same user, deletionCancelled", again)
	}
}
