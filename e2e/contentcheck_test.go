package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/wechat/wechattest"
)

// checked is a dev-mode server with CONTENT_CHECK=on, whose simulator
// hands each media verdict to the test (verdicts) instead of pushing it
// at once: the test pushes it (apply) when it chooses, as WeChat does, a
// signed and encrypted wxa_media_check event to /wechat/push/{appid}.
type checked struct {
	*apptest.Server
	appID    string
	verdicts chan wechattest.MediaCheck
}

// startChecked starts it, for an app of its own: the access token row is
// per appid in the package's database, and each dev server's simulator
// knows only the tokens it issued.
func startChecked(t *testing.T) *checked {
	t.Helper()
	appID := phoneAppID()
	ts := apptest.Start(t, apptest.DevMode(), apptest.WithConfig(func(c *app.Config) { c.ContentCheck, c.WechatAppID = true, appID }))
	cs := &checked{Server: ts, appID: appID, verdicts: make(chan wechattest.MediaCheck, 16)}
	ts.Sim.SetMediaCheckDelivery(0, func(mc wechattest.MediaCheck) { cs.verdicts <- mc })
	t.Cleanup(func() { ts.AssertNoSecretsIn(t, ts.Logs.String(), "the log") })
	return cs
}

// name is base made unique to this server, for admin names: the
// package's tests share one database.
func (cs *checked) name(base string) string { return base + "-" + cs.appID[2:10] }

// verdict waits for the simulator's next media verdict.
func (cs *checked) verdict(t *testing.T) wechattest.MediaCheck {
	t.Helper()
	select {
	case mc := <-cs.verdicts:
		return mc
	case <-time.After(15 * time.Second):
		t.Fatal("the simulator delivered no media verdict")
	}
	return wechattest.MediaCheck{}
}

// apply pushes mc's wxa_media_check event to the server, as WeChat does,
// and waits for its answer.
func (cs *checked) apply(t *testing.T, mc wechattest.MediaCheck) {
	t.Helper()
	a, err := cs.Sim.PushMediaCheck(context.Background(), mc)
	if err != nil || a.Status != http.StatusOK || a.Body != "success" {
		t.Fatalf("the wxa_media_check push: %+v %v", a, err)
	}
}

// solidPNG is a 64×64 PNG of one colour: the simulator judges the average
// colour (red risky, yellow review, anything else pass).
func solidPNG(t *testing.T, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var (
	gray   = color.Gray{128}
	red    = color.RGBA{230, 20, 20, 255}
	yellow = color.RGBA{240, 230, 10, 255}
)

type moderationView struct {
	Nickname   *string
	AvatarURL  *string
	Moderation struct {
		Nickname, NicknameTraceID, Avatar, AvatarTraceID *string
		NicknameLabel, AvatarLabel                       *int
		NeedsReview                                      bool
	}
}

const moderationQuery = `query($id: ID!) { user(id: $id) { nickname avatarUrl
  moderation { nickname nicknameLabel nicknameTraceId avatar avatarLabel avatarTraceId needsReview } } }`

// moderationOf is the user with id as an admin sees it.
func (cs *checked) moderationOf(t *testing.T, adminTok, id string) moderationView {
	t.Helper()
	r := cs.Do(t, adminTok, moderationQuery, map[string]any{"id": id})
	var out struct{ User moderationView }
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["user"], &out.User) != nil {
		t.Fatalf("user(id): %s", r.Raw)
	}
	return out.User
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// signedIn logs user in and returns their token and id.
func (cs *checked) signedIn(t *testing.T, user string) (tok, id string) {
	t.Helper()
	p := cs.MustLogin(t, map[string]any{"code": cs.Code(t, user)})
	var me struct{ ID string }
	r := cs.Do(t, p.Token, `{ me { id } }`, nil)
	if json.Unmarshal(r.Data["me"], &me) != nil || me.ID == "" {
		t.Fatalf("me: %s", r.Raw)
	}
	return p.Token, me.ID
}

const setNickname = `mutation($n: String!) { updateProfile(input: {nickname: $n}) { nickname } }`

func TestContentCheck_Nickname(t *testing.T) {
	t.Parallel()
	cs := startChecked(t)
	adminTok, _ := cs.AdminLogin(t, cs.name("cc-nick-admin"), apptest.CreateAdmin(t, cs.name("cc-nick-admin"), "viewer"))
	tok, id := cs.signedIn(t, "cc-nick")
	calls := func() float64 {
		return apptest.Metric(apptest.Scrape(t, cs.MetricsURL(), ""), "wechat_calls_total", "endpoint", "/wxa/msg_sec_check")
	}
	before := calls()

	// pass: saved, APPROVED with WeChat's label and trace id.
	if r := cs.Do(t, tok, setNickname, map[string]any{"n": "小明"}); len(r.Errors) > 0 {
		t.Fatalf("pass: %s", r.Raw)
	}
	v := cs.moderationOf(t, adminTok, id)
	if str(v.Nickname) != "小明" || str(v.Moderation.Nickname) != "APPROVED" || v.Moderation.NicknameLabel == nil || *v.Moderation.NicknameLabel != 100 ||
		v.Moderation.NicknameTraceID == nil || v.Moderation.NeedsReview {
		t.Fatalf("after pass: %+v", v)
	}

	// review: saved, REVIEW, needs review.
	if r := cs.Do(t, tok, setNickname, map[string]any{"n": "待审 Ming"}); len(r.Errors) > 0 {
		t.Fatalf("review: %s", r.Raw)
	}
	v = cs.moderationOf(t, adminTok, id)
	if str(v.Nickname) != "待审 Ming" || str(v.Moderation.Nickname) != "REVIEW" || *v.Moderation.NicknameLabel != wechattest.LabelReview || !v.Moderation.NeedsReview {
		t.Fatalf("after review: %+v", v)
	}

	// risky: refused with the label; the nickname unchanged; the trace id logged.
	logged := cs.Logs.Len()
	r := cs.Do(t, tok, setNickname, map[string]any{"n": "a RISKY name"})
	if r.Code() != "CONTENT_REJECTED" || r.Errors[0].Extensions["label"] != float64(wechattest.LabelRisky) {
		t.Fatalf("risky: %s", r.Raw)
	}
	if strings.Contains(r.Raw, "RISKY") || strings.Contains(r.Raw, "trace") {
		t.Fatalf("the refusal quotes the nickname or a trace id: %s", r.Raw)
	}
	if l := cs.Logs.From(logged); !strings.Contains(l, "traceId=") || strings.Contains(l, "RISKY") {
		t.Fatalf("the log should name the trace id and not the nickname:\n%s", l)
	}
	if v := cs.moderationOf(t, adminTok, id); str(v.Nickname) != "待审 Ming" || str(v.Moderation.Nickname) != "REVIEW" {
		t.Fatalf("a risky nickname changed the user: %+v", v)
	}

	// WeChat down: WECHAT_UNAVAILABLE, nothing saved.
	cs.Sim.InjectAt(wechattest.PathMsgSecCheck, wechattest.Fault{Status: http.StatusBadGateway})
	if r := cs.Do(t, tok, setNickname, map[string]any{"n": "Ming"}); r.Code() != "WECHAT_UNAVAILABLE" {
		t.Fatalf("WeChat down: %s", r.Raw)
	}
	if v := cs.moderationOf(t, adminTok, id); str(v.Nickname) != "待审 Ming" {
		t.Fatalf("WeChat down changed the nickname: %+v", v)
	}

	// A session whose user WeChat has not seen for two hours: told to log in again.
	cs.Sim.Advance(2*time.Hour + time.Minute)
	if r := cs.Do(t, tok, setNickname, map[string]any{"n": "Ming"}); r.Code() != "WECHAT_UNAVAILABLE" || !strings.Contains(r.Errors[0].Message, "log in again") {
		t.Fatalf("stale openid: %s", r.Raw)
	}
	cs.Sim.Advance(-(2*time.Hour + time.Minute))

	// Fields other than the nickname are not checked.
	if r := cs.Do(t, tok, `mutation { updateProfile(input: {city: "risky town"}) { city } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("city: %s", r.Raw)
	}
	// pass, review, risky, down, and the stale openid twice: two hours on,
	// the access token had expired too, and was renewed for a retry.
	if n := calls() - before; n != 6 {
		t.Fatalf("/metrics counts %v msg_sec_check calls, want 6", n)
	}
}

// upload sends img as tok's avatar and returns its avatarUrl.
func (cs *checked) upload(t *testing.T, tok string, img []byte) string {
	t.Helper()
	_, r := cs.Upload(t, tok, img, nil)
	var u struct{ AvatarURL *string }
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["uploadAvatar"], &u) != nil || u.AvatarURL == nil {
		t.Fatalf("uploadAvatar: %s", r.Raw)
	}
	return *u.AvatarURL
}

// served reports whether the avatar file at path is served.
func (cs *checked) served(t *testing.T, path string) bool {
	t.Helper()
	resp, _ := cs.Fetch(t, http.MethodGet, path, "")
	return resp.StatusCode == http.StatusOK
}

func TestContentCheck_Avatar(t *testing.T) {
	t.Parallel()
	cs := startChecked(t)
	adminTok, _ := cs.AdminLogin(t, cs.name("cc-avatar-admin"), apptest.CreateAdmin(t, cs.name("cc-avatar-admin"), "viewer"))
	tok, id := cs.signedIn(t, "cc-avatar")

	// Pending, shown to the user, until the verdict: pass → APPROVED.
	url := cs.upload(t, tok, solidPNG(t, gray))
	if v := cs.moderationOf(t, adminTok, id); str(v.AvatarURL) != url || str(v.Moderation.Avatar) != "PENDING" || v.Moderation.AvatarTraceID == nil {
		t.Fatalf("after upload: %+v", v)
	}
	mc := cs.verdict(t)
	if mc.Suggest != "pass" || !strings.HasSuffix(mc.MediaURL, url) || !strings.HasPrefix(mc.MediaURL, "http://127.0.0.1:") {
		t.Fatalf("verdict %+v for %s", mc, url)
	}
	cs.apply(t, mc)
	if v := cs.moderationOf(t, adminTok, id); str(v.Moderation.Avatar) != "APPROVED" || *v.Moderation.AvatarLabel != 100 || str(v.Moderation.AvatarTraceID) != mc.TraceID {
		t.Fatalf("after pass: %+v", v)
	}

	// review → REVIEW, the avatar stays.
	url = cs.upload(t, tok, solidPNG(t, yellow))
	cs.apply(t, cs.verdict(t))
	if v := cs.moderationOf(t, adminTok, id); str(v.AvatarURL) != url || str(v.Moderation.Avatar) != "REVIEW" || !v.Moderation.NeedsReview {
		t.Fatalf("after review: %+v", v)
	}

	// risky → removed, the file deleted, audited; a retried push changes nothing.
	url = cs.upload(t, tok, solidPNG(t, red))
	mc = cs.verdict(t)
	if mc.Suggest != "risky" {
		t.Fatalf("verdict %+v", mc)
	}
	cs.apply(t, mc)
	if v := cs.moderationOf(t, adminTok, id); v.AvatarURL != nil || v.Moderation.Avatar != nil {
		t.Fatalf("after risky: %+v", v)
	}
	if n := cs.CountRows(t, `SELECT count(*) FROM wechat_pushes WHERE appid = ? AND event = 'wxa_media_check' AND detail->>'traceId' = ? AND user_id = ?`, cs.appID, mc.TraceID, id); n != 1 {
		t.Fatalf("%d push records of the risky verdict, want 1", n)
	}
	if cs.served(t, url) {
		t.Fatal("the risky avatar's file is still served")
	}
	var me struct{ AvatarURL *string }
	if r := cs.Do(t, tok, `{ me { avatarUrl } }`, nil); json.Unmarshal(r.Data["me"], &me) != nil || me.AvatarURL != nil {
		t.Fatalf("me after risky: %s", r.Raw)
	}
	if n := cs.CountRows(t, `SELECT count(*) FROM audit_log WHERE action = 'user.avatar_rejected' AND target = ? AND actor_kind = 'system' AND actor_name = 'wechat' AND detail->>'traceId' = ?`, id, mc.TraceID); n != 1 {
		t.Fatalf("%d user.avatar_rejected entries, want 1", n)
	}
	// WeChat retrying the risky push changes nothing, even once the user
	// has the same image again (its file written again, pending its own
	// check).
	if again := cs.upload(t, tok, solidPNG(t, red)); again != url || !cs.served(t, url) {
		t.Fatalf("the same image again: %s, served %v", again, cs.served(t, url))
	}
	cs.apply(t, mc)
	if v := cs.moderationOf(t, adminTok, id); str(v.AvatarURL) != url || str(v.Moderation.Avatar) != "PENDING" {
		t.Fatalf("a retried push changed the new upload: %+v", v)
	}
	if n := cs.CountRows(t, `SELECT count(*) FROM wechat_pushes WHERE appid = ? AND detail->>'traceId' = ?`, cs.appID, mc.TraceID); n != 1 {
		t.Fatalf("%d push records after the retry, want 1", n)
	}
	cs.apply(t, cs.verdict(t)) // its own verdict: risky again
	url = cs.upload(t, tok, solidPNG(t, gray))
	cs.apply(t, cs.verdict(t))

	// WeChat down: WECHAT_UNAVAILABLE, the avatar unchanged.
	cs.Sim.InjectAt(wechattest.PathMediaCheck, wechattest.Fault{Status: http.StatusServiceUnavailable})
	if _, r := cs.Upload(t, tok, solidPNG(t, yellow), nil); r.Code() != "WECHAT_UNAVAILABLE" {
		t.Fatalf("WeChat down: %s", r.Raw)
	}
	if v := cs.moderationOf(t, adminTok, id); str(v.AvatarURL) != url || str(v.Moderation.Avatar) != "APPROVED" {
		t.Fatalf("WeChat down changed the avatar: %+v", v)
	}
}

// Two users with the same image share its file: a risky verdict on one
// removes it from that user only and keeps the file for the other, until
// the other's verdict removes it too.
func TestContentCheck_RiskyFileSharedByAnotherUser(t *testing.T) {
	t.Parallel()
	cs := startChecked(t)
	tokA, idA := cs.signedIn(t, "cc-share-a")
	tokB, _ := cs.signedIn(t, "cc-share-b")
	// A red of this test's own: the package's tests share one database,
	// where another test's user with the same image would keep the file.
	img := solidPNG(t, color.RGBA{220, 30, 25, 255})
	url := cs.upload(t, tokA, img)
	first := cs.verdict(t)
	if cs.upload(t, tokB, img) != url {
		t.Fatal("the same image has another URL")
	}
	second := cs.verdict(t)
	cs.apply(t, first)
	if !cs.served(t, url) {
		t.Fatal("the file was deleted while another user has it")
	}
	if n := cs.CountRows(t, `SELECT count(*) FROM users WHERE id = ? AND avatar_url IS NULL`, idA); n != 1 {
		t.Fatal("the risky avatar stayed")
	}
	cs.apply(t, second)
	if cs.served(t, url) {
		t.Fatal("the file stayed once no user has it")
	}
	// The same image uploaded again is written again.
	cs.upload(t, tokA, img)
	if !cs.served(t, url) {
		t.Fatal("a new upload of a deleted image is not served")
	}
	cs.verdict(t)
}

// A verdict that arrives before the upload has recorded its trace_id is
// kept, and applied when the upload records it.
func TestContentCheck_VerdictBeforeUpload(t *testing.T) {
	t.Parallel()
	cs := startChecked(t)
	tok, _ := cs.signedIn(t, "cc-early")
	trace := "early-" + cs.appID
	cs.Sim.InjectAt(wechattest.PathMediaCheck, wechattest.Fault{Body: `{"errcode":0,"errmsg":"ok","trace_id":"` + trace + `"}`})
	cs.apply(t, wechattest.MediaCheck{AppID: cs.appID, TraceID: trace, Suggest: "risky", Label: wechattest.LabelRisky})
	_, r := cs.Upload(t, tok, solidPNG(t, gray), nil)
	var u struct{ AvatarURL *string }
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["uploadAvatar"], &u) != nil || u.AvatarURL != nil {
		t.Fatalf("upload after its risky verdict: %s", r.Raw)
	}
	// A verdict for another app's trace_id, or one without a verdict, changes nothing.
	if err := cs.Main.Profile.MediaVerdict(context.Background(), "wx9999999999999999", trace, "pass", 100); err != nil {
		t.Fatal(err)
	}
	if err := cs.Main.Profile.MediaVerdict(context.Background(), cs.appID, "other-trace", "", 0); err != nil {
		t.Fatal(err)
	}
}

// In dev mode the simulator pushes each verdict to the server by itself,
// a second after the upload, as WeChat does.
func TestContentCheck_DevModePushesVerdicts(t *testing.T) {
	t.Parallel()
	appID := phoneAppID()
	ts := apptest.Start(t, apptest.DevMode(), apptest.WithConfig(func(c *app.Config) { c.ContentCheck, c.WechatAppID = true, appID }))
	cs := &checked{Server: ts, appID: appID}
	tok, id := cs.signedIn(t, "cc-devpush")
	cs.upload(t, tok, solidPNG(t, color.RGBA{90, 91, 92, 255}))
	deadline := time.Now().Add(15 * time.Second)
	for cs.CountRows(t, `SELECT count(*) FROM user_moderation WHERE user_id = ? AND avatar_state = 'APPROVED'`, id) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the simulator's verdict never arrived")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := cs.CountRows(t, `SELECT count(*) FROM wechat_pushes WHERE appid = ? AND event = 'wxa_media_check' AND user_id = ?`, appID, id); n != 1 {
		t.Fatalf("%d wxa_media_check pushes recorded, want 1", n)
	}
}

// pushEvent sends WeChat's event about user to the server, as WeChat does.
func (cs *checked) pushEvent(t *testing.T, user, event, revokeInfo string) {
	t.Helper()
	m := cs.Sim.Event(cs.appID, user, event)
	m.RevokeInfo = revokeInfo
	p, err := cs.Sim.MakePush(m, wechattest.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := cs.Sim.Send(context.Background(), p); err != nil || a.Status != http.StatusOK || a.Body != "success" {
		t.Fatalf("%s push: %+v %v", event, a, err)
	}
}

// user_info_modified and a revoke of the avatar clear it and delete its
// file once no user has it, and reset what the moderation said of what
// was cleared.
func TestContentCheck_PushClearsAvatarFile(t *testing.T) {
	t.Parallel()
	cs := startChecked(t)
	adminTok, _ := cs.AdminLogin(t, cs.name("cc-clear-admin"), apptest.CreateAdmin(t, cs.name("cc-clear-admin"), "viewer"))
	tokA, idA := cs.signedIn(t, "cc-clear-a")
	tokB, idB := cs.signedIn(t, "cc-clear-b")
	if r := cs.Do(t, tokA, setNickname, map[string]any{"n": "Clearable"}); len(r.Errors) > 0 {
		t.Fatalf("updateProfile: %s", r.Raw)
	}
	img := solidPNG(t, color.RGBA{33, 150, 97, 255}) // this test's own: the database is shared
	url := cs.upload(t, tokA, img)
	cs.apply(t, cs.verdict(t))
	if cs.upload(t, tokB, img) != url {
		t.Fatal("the same image has another URL")
	}
	cs.verdict(t) // B's stays PENDING
	if v := cs.moderationOf(t, adminTok, idA); str(v.Moderation.Avatar) != "APPROVED" || str(v.Moderation.Nickname) != "APPROVED" {
		t.Fatalf("before the push: %+v", v)
	}

	cs.pushEvent(t, "cc-clear-a", "user_info_modified", "")
	if v := cs.moderationOf(t, adminTok, idA); v.AvatarURL != nil || v.Nickname != nil || v.Moderation.Avatar != nil || v.Moderation.Nickname != nil || v.Moderation.AvatarTraceID != nil {
		t.Fatalf("after user_info_modified: %+v", v)
	}
	if n := cs.CountRows(t, `SELECT count(*) FROM user_moderation WHERE user_id = ? AND num_nonnulls(nickname, nickname_state, nickname_trace, avatar_url, avatar_state, avatar_trace) = 0`, idA); n != 1 {
		t.Fatal("the moderation of the cleared nickname and avatar stayed")
	}
	if !cs.served(t, url) {
		t.Fatal("the file was deleted while another user has it")
	}
	cs.pushEvent(t, "cc-clear-b", "user_authorization_revoke", "20")
	if v := cs.moderationOf(t, adminTok, idB); v.AvatarURL != nil || v.Moderation.Avatar != nil {
		t.Fatalf("after the revoke: %+v", v)
	}
	if resp, _ := cs.Fetch(t, http.MethodGet, url, ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the cleared avatar answers %d, want 404", resp.StatusCode)
	}
}

const moderateMutation = `mutation($id: ID!, $ok: Boolean!) { moderateUser(id: $id, approve: $ok) { nickname avatarUrl } }`

func TestContentCheck_ModerateUser(t *testing.T) {
	t.Parallel()
	cs := startChecked(t)
	adminTok, _ := cs.AdminLogin(t, cs.name("cc-mod-admin"), apptest.CreateAdmin(t, cs.name("cc-mod-admin"), "admin"))
	viewerTok, _ := cs.AdminLogin(t, cs.name("cc-mod-viewer"), apptest.CreateAdmin(t, cs.name("cc-mod-viewer"), "viewer"))
	// Each user's image differs (a shade of yellow): the same image would
	// be one file, kept while either user has it.
	inReview := func(user string, shade color.Color) (tok, id, url string) {
		t.Helper()
		tok, id = cs.signedIn(t, user)
		if r := cs.Do(t, tok, setNickname, map[string]any{"n": "review me " + user}); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		url = cs.upload(t, tok, solidPNG(t, shade))
		cs.apply(t, cs.verdict(t))
		if v := cs.moderationOf(t, adminTok, id); !v.Moderation.NeedsReview || str(v.Moderation.Avatar) != "REVIEW" || str(v.Moderation.Nickname) != "REVIEW" {
			t.Fatalf("%s not in review: %+v", user, v)
		}
		return tok, id, url
	}
	_, approveID, approveURL := inReview("cc-mod-approve", yellow)
	_, rejectID, rejectURL := inReview("cc-mod-reject", color.RGBA{250, 245, 40, 255})
	passTok, passID := cs.signedIn(t, "cc-mod-pass")
	if r := cs.Do(t, passTok, setNickname, map[string]any{"n": "fine"}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}

	// The filter: needs review true and false, narrowed to each user by id.
	needs := func(id string, want bool) int {
		t.Helper()
		r := cs.Do(t, viewerTok, `query($id: String!, $nr: Boolean!) { users(filter: {search: $id, needsReview: $nr}) { totalCount } }`,
			map[string]any{"id": id, "nr": want})
		var c struct{ TotalCount int }
		if len(r.Errors) > 0 || json.Unmarshal(r.Data["users"], &c) != nil {
			t.Fatalf("users: %s", r.Raw)
		}
		return c.TotalCount
	}
	if needs(approveID, true) != 1 || needs(approveID, false) != 0 || needs(passID, true) != 0 || needs(passID, false) != 1 {
		t.Fatal("the needsReview filter is wrong")
	}

	// A VIEWER may not moderate; nothing changes.
	if r := cs.Do(t, viewerTok, moderateMutation, map[string]any{"id": approveID, "ok": true}); r.Code() != "FORBIDDEN" {
		t.Fatalf("viewer: %s", r.Raw)
	}
	if needs(approveID, true) != 1 {
		t.Fatal("a viewer's refused moderateUser changed the user")
	}

	// Approve: both APPROVED, kept, audited.
	if r := cs.Do(t, adminTok, moderateMutation, map[string]any{"id": approveID, "ok": true}); len(r.Errors) > 0 {
		t.Fatalf("approve: %s", r.Raw)
	}
	if v := cs.moderationOf(t, adminTok, approveID); str(v.Moderation.Nickname) != "APPROVED" || str(v.Moderation.Avatar) != "APPROVED" ||
		v.Moderation.NeedsReview || str(v.AvatarURL) != approveURL || needs(approveID, true) != 0 {
		t.Fatalf("after approve: %+v", v)
	}

	// Reject: both removed, the file deleted, audited.
	if r := cs.Do(t, adminTok, moderateMutation, map[string]any{"id": rejectID, "ok": false}); len(r.Errors) > 0 || !strings.Contains(r.Raw, `"nickname":null,"avatarUrl":null`) {
		t.Fatalf("reject: %s", r.Raw)
	}
	if cs.served(t, rejectURL) {
		t.Fatal("the rejected avatar's file is still served")
	}
	if n := cs.CountRows(t, `SELECT count(*) FROM audit_log WHERE action = 'user.moderate' AND target IN (?, ?)
		AND actor_name = ? AND detail->>'nickname' = 'true' AND detail->>'avatar' = 'true'`, approveID, rejectID, cs.name("cc-mod-admin")); n != 2 {
		t.Fatalf("%d user.moderate entries, want 2", n)
	}

	// Nothing awaiting a decision, or no such user: BAD_USER_INPUT.
	for _, id := range []string{approveID, passID, "00000000-0000-0000-0000-000000000000", "junk"} {
		if r := cs.Do(t, adminTok, moderateMutation, map[string]any{"id": id, "ok": false}); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("moderateUser(%s): %s", id, r.Raw)
		}
	}
	if v := cs.moderationOf(t, adminTok, approveID); str(v.AvatarURL) != approveURL || str(v.Nickname) == "<nil>" {
		t.Fatalf("a refused rejection removed approved content: %+v", v)
	}

	// A user's own token cannot moderate.
	if r := cs.Do(t, passTok, moderateMutation, map[string]any{"id": passID, "ok": true}); r.Code() != "FORBIDDEN" && r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("user token: %s", r.Raw)
	}
}
