package e2e_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

// Issue 19 with issue 20: a user whose nickname went through WeChat's
// content check (user_moderation), whose avatar was checked
// (media_checks, a verdict pushed back) and about whom WeChat pushed an
// event (wechat_pushes, an audit row naming the openid) is erased; a
// pg_dump of the database then holds nothing of theirs.
func TestDeletion_EraseContentChecksAndPushes(t *testing.T) {
	t.Parallel()
	ts, dsn := deletionServer(t, "", func(c *app.Config) {
		c.AccountDeleteGrace, c.ContentCheck = 0, true
		c.PublicURL = "http://127.0.0.1:9" // the verdict is applied below, not fetched
		c.WechatApps = []app.WechatApp{{AppID: apptest.AppID, Secret: apptest.Secret, PushToken: pushToken, PushAESKey: pushKey},
			{AppID: e2eAppID2, Secret: e2eSecret2}}
	})
	ts.Sim.AddApp(wechattest.App{AppID: apptest.AppID, Secret: apptest.Secret, PushToken: pushToken, PushAESKey: pushKey})
	ts.Sim.SetPushTarget(ts.URL())
	ts.Sim.SetMediaCheckDelivery(0, func(wechattest.MediaCheck) {})
	const user = "del-content-push"
	u := mustLoginAs(t, ts, apptest.AppID, user)
	nickname := "Checkednick" + strings.ReplaceAll(u.User.ID[:8], "-", "")
	if r := ts.Do(t, u.Token, `mutation($n: String!) { updateProfile(input: {nickname: $n}) { id } }`,
		map[string]any{"n": nickname}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	resp, r := ts.Upload(t, u.Token, pngOf(41, 29), nil)
	var up struct{ AvatarURL string }
	if resp.StatusCode != 200 || len(r.Errors) > 0 || json.Unmarshal(r.Data["uploadAvatar"], &up) != nil {
		t.Fatalf("upload: %s", r.Raw)
	}
	hash := strings.TrimSuffix(up.AvatarURL[strings.LastIndex(up.AvatarURL, "/")+1:], ".jpg")
	t.Logf("avatar %s", up.AvatarURL)
	var trace string
	if err := ts.Store().DB().QueryRowContext(context.Background(), "SELECT trace_id FROM media_checks WHERE user_id = ?", u.User.ID).Scan(&trace); err != nil {
		t.Fatalf("no media check recorded: %v", err)
	}
	label := 100
	if err := ts.Main.Profile.MediaVerdict(context.Background(), apptest.AppID, trace, "pass", label); err != nil {
		t.Fatal(err)
	}
	// An event about the user that changes nothing ("13": no field WeChat
	// names) is recorded with its openid.
	mustSucceed(t, ts, makePush(t, ts, apptest.AppID, user, wechat.EventAuthorizationRevoke, wechattest.PushOptions{},
		func(m *wechat.PushMessage) { m.RevokeInfo = "13" }))
	openID := ts.Sim.OpenID(apptest.AppID, user)
	for what, q := range map[string]string{
		"a nickname check":      "SELECT count(*) FROM user_moderation WHERE user_id = ? AND nickname_state IS NOT NULL",
		"an avatar check":       "SELECT count(*) FROM media_checks WHERE user_id = ? AND suggest IS NOT NULL",
		"a push about the user": "SELECT count(*) FROM wechat_pushes WHERE user_id = ?",
	} {
		if ts.CountRows(t, q, u.User.ID) == 0 {
			t.Fatalf("no %s recorded: the scan would prove nothing", what)
		}
	}
	secrets := map[string]string{"nickname": nickname, "openid": openID, "avatar hash": hash, "trace id": trace}
	before := pgDump(t, dsn)
	for what, s := range secrets {
		if !strings.Contains(before, s) {
			t.Fatalf("the dump lacks the %s before erasure; the scan would prove nothing", what)
		}
	}
	if d := mustDeleteAccount(t, ts, u.Token); !d.Erased {
		t.Fatalf("deleteAccount = %+v", d)
	}
	dump := pgDump(t, dsn)
	for what, s := range secrets {
		if strings.Contains(dump, s) {
			t.Errorf("after erasure the database dump still holds the user's %s", what)
		}
	}
	if strings.Contains(dump, u.User.ID) && ts.CountRows(t, "SELECT count(*) FROM wechat_pushes WHERE user_id = ?", u.User.ID) > 0 {
		t.Error("a push record still names the erased user")
	}
}

// Issue 19 fix: a deleteUser that meets a login of the user holding its
// identity through every attempt answers RATE_LIMITED with retryAfter 1
// (it was INTERNAL), and erases once the login is over.
func TestDeletion_DeleteUserBusyIsRateLimited(t *testing.T) {
	t.Parallel()
	ts, dsn := deletionServer(t, "", nil)
	admin := deletionAdmin(t, ts, dsn, "del-busy-admin", "admin")
	u := mustLoginAs(t, ts, apptest.AppID, "del-busy")
	ctx := context.Background()
	tx, err := ts.Store().DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// As a login does: its identity row locked.
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM identities WHERE user_id = ? FOR UPDATE", u.User.ID); err != nil {
		t.Fatal(err)
	}
	const del = `mutation($id: ID!) { deleteUser(id: $id, reason: "asked") { id deletedAt } }`
	r := ts.Do(t, admin, del, map[string]any{"id": u.User.ID})
	if r.Code() != "RATE_LIMITED" || !strings.Contains(r.Raw, `"retryAfter":1`) {
		t.Errorf("deleteUser while a login holds the user: %s, want RATE_LIMITED with retryAfter 1", r.Raw)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if r := ts.Do(t, admin, del, map[string]any{"id": u.User.ID}); len(r.Errors) > 0 {
		t.Fatalf("deleteUser after the login: %s", r.Raw)
	}
}
