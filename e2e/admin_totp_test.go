package e2e_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"wxlogin/admin"
	"wxlogin/app"
	"wxlogin/app/apptest"
)

const (
	adminLoginOTP = `mutation($u: String!, $p: String!, $otp: String) {
  adminLogin(username: $u, password: $p, otp: $otp) { token totpEnrolmentRequired admin { id username totpEnabled } } }`
	startTOTP   = `mutation { startTotpEnrolment { secret url qrCode } }`
	confirmTOTP = `mutation($c: String!) { confirmTotpEnrolment(code: $c) { codes admin { totpEnabled } } }`
	disableTOTP = `mutation($c: String!) { disableTotp(code: $c) { totpEnabled } }`
)

// totpLogin signs in with a second step; the token is "" when it failed.
func totpLogin(t *testing.T, ts *apptest.Server, user, pw, otp string) (string, *apptest.Response) {
	t.Helper()
	vars := map[string]any{"u": user, "p": pw}
	if otp != "" {
		vars["otp"] = otp
	}
	resp := ts.Do(t, "", adminLoginOTP, vars)
	if len(resp.Errors) > 0 {
		return "", resp
	}
	var p struct{ Token string }
	if err := json.Unmarshal(resp.Data["adminLogin"], &p); err != nil {
		t.Fatal(err)
	}
	ts.AddToken(p.Token)
	return p.Token, resp
}

// totpCode is the code of secret for the time step offset steps from now.
func totpCode(t *testing.T, secret string, offset int) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, time.Now().Add(time.Duration(offset)*30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP sets up two-step sign-in for the session tok and returns the
// secret and the recovery codes.
func enrolTOTP(t *testing.T, ts *apptest.Server, tok, username string) (string, []string) {
	t.Helper()
	start := ts.Do(t, tok, startTOTP, nil)
	var e struct{ Secret, URL, QRCode string }
	if err := json.Unmarshal(start.Data["startTotpEnrolment"], &e); err != nil || e.Secret == "" {
		t.Fatalf("startTotpEnrolment = %s", start.Raw)
	}
	u, err := url.Parse(e.URL)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/wxlogin:"+username ||
		u.Query().Get("issuer") != "wxlogin" || u.Query().Get("secret") != e.Secret {
		t.Fatalf("otpauth URL %q", e.URL)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(e.QRCode, "data:image/png;base64,"))
	if !strings.HasPrefix(e.QRCode, "data:image/png;base64,") || err != nil {
		t.Fatalf("QR code %.40q: %v", e.QRCode, err)
	}
	if img, err := png.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() != 256 {
		t.Fatalf("QR code PNG: %v", err)
	}
	// Before confirmation, nothing changes at sign-in.
	if got := ts.Do(t, tok, `{ admin { totpEnabled } }`, nil); string(got.Data["admin"]) != `{"totpEnabled":false}` {
		t.Fatalf("admin before confirming = %s", got.Raw)
	}
	if got := ts.Do(t, tok, confirmTOTP, map[string]any{"c": "000000"}); got.Code() != "TOTP_INVALID" {
		if totpCode(t, e.Secret, 0) != "000000" {
			t.Fatalf("confirming with a wrong code = %s", got.Raw)
		}
	}
	conf := ts.Do(t, tok, confirmTOTP, map[string]any{"c": totpCode(t, e.Secret, 0)})
	var c struct {
		Codes []string
		Admin struct{ TOTPEnabled bool }
	}
	if err := json.Unmarshal(conf.Data["confirmTotpEnrolment"], &c); err != nil || len(c.Codes) != 10 || !strings.Contains(conf.Raw, `"totpEnabled":true`) {
		t.Fatalf("confirmTotpEnrolment = %s", conf.Raw)
	}
	if got := ts.Do(t, tok, confirmTOTP, map[string]any{"c": totpCode(t, e.Secret, 0)}); got.Code() != "BAD_USER_INPUT" {
		t.Fatalf("confirming twice = %s", got.Raw)
	}
	return e.Secret, c.Codes
}

// auditReasons are the reasons of the admin's admin.login_failed rows.
func auditReasons(t *testing.T, ts *apptest.Server, adminID string) string {
	t.Helper()
	var reasons string
	err := ts.Store().DB().QueryRowContext(context.Background(), `SELECT coalesce(string_agg(detail->>'reason', ',' ORDER BY at, id), '')
		FROM audit_log WHERE action = 'admin.login_failed' AND target = ?`, adminID).Scan(&reasons)
	if err != nil {
		t.Fatal(err)
	}
	return reasons
}

// TestAdminTOTP_EnrolSignInRecoverDisable: the whole life of two-step
// sign-in over HTTP. Enrolment shows the secret, URL and QR once and turns
// on with a code; then the password alone opens no session, a code does
// once (never twice, nor an older one), a recovery code does once, wrong
// codes are refused, counted and audited by reason; turning it off takes a
// code. The secret and the recovery codes are nowhere stored, logged or
// audited in the clear.
func TestAdminTOTP_EnrolSignInRecoverDisable(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	pw := apptest.CreateAdmin(t, "totp-kim", "viewer")
	tok, resp := totpLogin(t, ts, "totp-kim", pw, "")
	if tok == "" || !strings.Contains(resp.Raw, `"totpEnrolmentRequired":false`) {
		t.Fatalf("first sign-in = %s", resp.Raw)
	}
	var id string
	_ = ts.Store().DB().QueryRowContext(context.Background(), "SELECT id FROM admins WHERE username = 'totp-kim'").Scan(&id)
	secret, codes := enrolTOTP(t, ts, tok, "totp-kim")
	// The session that enrolled goes on.
	if got := ts.Do(t, tok, `{ users(first: 1) { edges { cursor } } }`, nil); len(got.Errors) > 0 {
		t.Fatalf("the enrolling session afterwards = %s", got.Raw)
	}
	if got := ts.Do(t, tok, startTOTP, nil); got.Code() != "BAD_USER_INPUT" {
		t.Fatalf("starting again while on = %s", got.Raw)
	}

	sessions := func() int {
		return ts.CountRows(t, "SELECT count(*) FROM admin_sessions WHERE admin_id = ?", id)
	}
	before := sessions()
	if tok, resp := totpLogin(t, ts, "totp-kim", pw, ""); tok != "" || resp.Code() != "TOTP_REQUIRED" {
		t.Fatalf("the password alone = %s", resp.Raw)
	}
	// A code with the wrong password says nothing about the code.
	if _, resp := totpLogin(t, ts, "totp-kim", "not the password at all", totpCode(t, secret, 1)); resp.Code() != "INVALID_CREDENTIALS" {
		t.Fatalf("a code with a wrong password = %s", resp.Raw)
	}
	if _, resp := totpLogin(t, ts, "totp-kim", pw, "123456x"); resp.Code() != "TOTP_INVALID" {
		t.Fatalf("a malformed code = %s", resp.Raw)
	}
	if sessions() != before {
		t.Fatal("a sign-in without its second step opened a session")
	}
	// The confirmation spent the current step: the next one (one step of
	// skew) signs in, once.
	next := totpCode(t, secret, 1)
	if tok, resp := totpLogin(t, ts, "totp-kim", pw, next[:3]+" "+next[3:]); tok == "" {
		t.Fatalf("the next step's code = %s", resp.Raw)
	}
	if _, resp := totpLogin(t, ts, "totp-kim", pw, next); resp.Code() != "TOTP_INVALID" {
		t.Fatalf("the same code again = %s", resp.Raw)
	}
	if _, resp := totpLogin(t, ts, "totp-kim", pw, totpCode(t, secret, 0)); resp.Code() != "TOTP_INVALID" {
		t.Fatalf("an older code after a newer one = %s", resp.Raw)
	}
	if tok, resp := totpLogin(t, ts, "totp-kim", pw, strings.ToUpper(codes[0])); tok == "" {
		t.Fatalf("a recovery code = %s", resp.Raw)
	}
	if _, resp := totpLogin(t, ts, "totp-kim", pw, codes[0]); resp.Code() != "TOTP_INVALID" {
		t.Fatalf("a recovery code used twice = %s", resp.Raw)
	}
	if got, want := auditReasons(t, ts, id), "totp_required,wrong_password,wrong_code,replayed_code,wrong_recovery_code"; got != want {
		t.Fatalf("admin.login_failed reasons %q, want %q", got, want)
	}
	// Wrong codes count with the password attempts; the successes do not.
	if n := ts.CountRows(t, "SELECT count FROM login_attempts WHERE key = 'user:totp-kim'"); n != 6 {
		t.Fatalf("user:totp-kim counted %d attempts, want 6 (the wrong confirmation, the wrong password and 4 wrong codes)", n)
	}
	if n := ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE action = 'admin.login' AND target = ? AND detail->>'secondFactor' = 'recovery_code'
		AND (detail->>'recoveryCodesLeft')::int = 9`, id); n != 1 {
		t.Fatalf("%d admin.login rows with a recovery code and 9 left", n)
	}

	// Nothing secret in the clear: not in the admins row, the codes' rows,
	// the audit log or the server's log.
	raw, _ := totpSecretBytes(secret)
	var stored []byte
	_ = ts.Store().DB().QueryRowContext(context.Background(), "SELECT totp_secret_sealed FROM admins WHERE id = ?", id).Scan(&stored)
	if len(stored) == 0 || bytes.Contains(stored, raw) || bytes.Contains(stored, []byte(secret)) {
		t.Fatal("the TOTP secret is stored in the clear, or not at all")
	}
	var dump string
	_ = ts.Store().DB().QueryRowContext(context.Background(), `SELECT coalesce(string_agg(detail::text, ' '), '') || (SELECT string_agg(encode(code_hash, 'hex'), ' ') FROM admin_recovery_codes WHERE admin_id = ?)
		FROM audit_log WHERE actor_id = ? OR target = ?::text`, id, id, id).Scan(&dump)
	for _, s := range append([]string{secret, hex.EncodeToString(raw), next}, codes...) {
		plain := strings.ReplaceAll(s, "-", "")
		if strings.Contains(dump, s) || strings.Contains(dump, plain) || strings.Contains(ts.Logs.String(), s) || strings.Contains(ts.Logs.String(), plain) {
			t.Fatalf("a secret or code in the audit log, the recovery codes' table or the log: %q", s)
		}
	}

	// Turning it off takes a code: a wrong one is refused, a recovery code does.
	if got := ts.Do(t, tok, disableTOTP, map[string]any{"c": "abcd-efgh-ijkl-mnop"}); got.Code() != "TOTP_INVALID" {
		t.Fatalf("disableTotp with a wrong code = %s", got.Raw)
	}
	if got := ts.Do(t, tok, disableTOTP, map[string]any{"c": codes[1]}); string(got.Data["disableTotp"]) != `{"totpEnabled":false}` {
		t.Fatalf("disableTotp = %s", got.Raw)
	}
	if n := ts.CountRows(t, "SELECT count(*) FROM admin_recovery_codes WHERE admin_id = ?", id); n != 0 {
		t.Fatalf("%d recovery codes left after turning it off", n)
	}
	if tok, resp := totpLogin(t, ts, "totp-kim", pw, ""); tok == "" {
		t.Fatalf("the password alone after turning it off = %s", resp.Raw)
	}
	for action, n := range map[string]int{"admin.totp_enrolment_started": 1, "admin.totp_enrolled": 1, "admin.totp_disabled": 1, "admin.totp_failed": 2} {
		if got := ts.CountRows(t, "SELECT count(*) FROM audit_log WHERE action = ? AND target = ?", action, id); got != n {
			t.Errorf("%d %s rows, want %d", got, action, n)
		}
	}
}

var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpSecretBytes decodes a base32 TOTP secret.
func totpSecretBytes(secret string) ([]byte, error) {
	k, err := base32NoPad.DecodeString(secret)
	return k, err
}

// TestAdminTOTP_Reset: an ADMIN turns another admin's two-step sign-in off
// (their sessions end; audited), never their own, and a VIEWER cannot.
func TestAdminTOTP_Reset(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	lostPW, bossPW, viewerPW := apptest.CreateAdmin(t, "totp-lost", "viewer"), apptest.CreateAdmin(t, "totp-boss", "admin"), apptest.CreateAdmin(t, "totp-peer", "viewer")
	lost, _ := totpLogin(t, ts, "totp-lost", lostPW, "")
	boss, _ := totpLogin(t, ts, "totp-boss", bossPW, "")
	peer, _ := totpLogin(t, ts, "totp-peer", viewerPW, "")
	enrolTOTP(t, ts, lost, "totp-lost")
	enrolTOTP(t, ts, boss, "totp-boss") // so that resetting their own would do something
	var lostID, bossID string
	_ = ts.Store().DB().QueryRowContext(context.Background(), "SELECT id FROM admins WHERE username = 'totp-lost'").Scan(&lostID)
	_ = ts.Store().DB().QueryRowContext(context.Background(), "SELECT id FROM admins WHERE username = 'totp-boss'").Scan(&bossID)
	reset := `mutation($id: ID!) { resetAdminTotp(id: $id) { username totpEnabled } }`
	for _, c := range []struct{ who, tok, id, want string }{
		{"a viewer", peer, lostID, "FORBIDDEN"},
		{"an admin, their own", boss, bossID, "BAD_USER_INPUT"},
		{"an admin, junk id", boss, "not-an-id", "BAD_USER_INPUT"},
		{"an admin, unknown id", boss, "00000000-0000-7000-8000-000000000000", "BAD_USER_INPUT"},
	} {
		if got := ts.Do(t, c.tok, reset, map[string]any{"id": c.id}); got.Code() != c.want {
			t.Errorf("%s: %s, want %s", c.who, got.Raw, c.want)
		}
	}
	if got := ts.Do(t, boss, `{ admin { totpEnabled } }`, nil); string(got.Data["admin"]) != `{"totpEnabled":true}` {
		t.Fatalf("the admin who tried to reset their own = %s", got.Raw)
	}
	if got := ts.Do(t, boss, reset, map[string]any{"id": lostID}); string(got.Data["resetAdminTotp"]) != `{"username":"totp-lost","totpEnabled":false}` {
		t.Fatalf("resetAdminTotp = %s", got.Raw)
	}
	if got := ts.Do(t, lost, `{ admin { id } }`, nil); string(got.Data["admin"]) != "null" {
		t.Fatalf("the reset admin's session afterwards = %s", got.Raw)
	}
	if got := ts.Do(t, boss, reset, map[string]any{"id": lostID}); got.Code() != "BAD_USER_INPUT" {
		t.Fatalf("resetting one without it = %s", got.Raw)
	}
	if n := ts.CountRows(t, "SELECT count(*) FROM audit_log WHERE action = 'admin.totp_reset' AND target = ? AND actor_id = ?", lostID, bossID); n != 1 {
		t.Fatalf("%d admin.totp_reset rows", n)
	}
	if tok, resp := totpLogin(t, ts, "totp-lost", lostPW, ""); tok == "" {
		t.Fatalf("the password alone after a reset = %s", resp.Raw)
	}
}

// TestAdminTOTP_Required: with ADMIN_REQUIRE_TOTP=on, an admin without
// two-step sign-in gets a session that may only enrol (and read admin,
// and sign out); once enrolled, the same session does what its role
// allows, and nobody may turn theirs off.
func TestAdminTOTP_Required(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.AdminRequireTOTP = true }))
	pw := apptest.CreateAdmin(t, "totp-forced", "admin")
	tok, resp := totpLogin(t, ts, "totp-forced", pw, "")
	if tok == "" || !strings.Contains(resp.Raw, `"totpEnrolmentRequired":true`) {
		t.Fatalf("sign-in without TOTP under ADMIN_REQUIRE_TOTP = %s", resp.Raw)
	}
	for _, q := range []string{`{ users(first: 1) { edges { cursor } } }`, `{ stats { totalUsers } }`, `{ auditLog(first: 1) { edges { cursor } } }`,
		`mutation { revokeSession(id: "00000000-0000-7000-8000-000000000000") }`, `mutation { disableTotp(code: "123456") { id } }`} {
		if got := ts.Do(t, tok, q, nil); got.Code() != "TOTP_ENROLMENT_REQUIRED" {
			t.Errorf("%s before enrolling = %s", q, got.Raw)
		}
	}
	if _, body := ts.Fetch(t, "GET", "/admin/export/users.csv", "", "Authorization", "Bearer "+tok); !strings.Contains(body, "TOTP_ENROLMENT_REQUIRED") {
		t.Errorf("the CSV export before enrolling = %.200s", body)
	}
	if got := ts.Do(t, tok, `{ admin { username totpEnabled } }`, nil); string(got.Data["admin"]) != `{"username":"totp-forced","totpEnabled":false}` {
		t.Fatalf("admin before enrolling = %s", got.Raw)
	}
	secret, _ := enrolTOTP(t, ts, tok, "totp-forced")
	if got := ts.Do(t, tok, `{ users(first: 1) { edges { cursor } } }`, nil); len(got.Errors) > 0 {
		t.Fatalf("users after enrolling = %s", got.Raw)
	}
	if got := ts.Do(t, tok, disableTOTP, map[string]any{"c": totpCode(t, secret, 1)}); got.Code() != "FORBIDDEN" {
		t.Fatalf("turning it off under ADMIN_REQUIRE_TOTP = %s", got.Raw)
	}
	tok2, resp := totpLogin(t, ts, "totp-forced", pw, totpCode(t, secret, 1))
	if tok2 == "" || !strings.Contains(resp.Raw, `"totpEnrolmentRequired":false`) {
		t.Fatalf("sign-in with a code = %s", resp.Raw)
	}
	if n := ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE action = 'admin.login' AND actor_name = 'totp-forced' AND detail->>'totpEnrolmentRequired' = 'true'`); n != 1 {
		t.Fatalf("%d admin.login rows saying enrolment was required", n)
	}
}

// Starting an enrolment seals a secret, draws a QR code and writes an audit
// row: a session looping it is refused past admin.MaxEnrolmentStarts a
// window, before any of that, and the log holds only the starts that ran.
func TestAdminTOTP_EnrolmentStartsLimited(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	pw := apptest.CreateAdmin(t, "totp-looper", "viewer")
	tok, _ := totpLogin(t, ts, "totp-looper", pw, "")
	for i := range admin.MaxEnrolmentStarts {
		if got := ts.Do(t, tok, startTOTP, nil); len(got.Errors) > 0 {
			t.Fatalf("start %d: %s", i+1, got.Raw)
		}
	}
	got := ts.Do(t, tok, startTOTP, nil)
	if got.Code() != "RATE_LIMITED" || got.Errors[0].Extensions["retryAfter"] == nil {
		t.Fatalf("start %d = %s, want RATE_LIMITED with retryAfter", admin.MaxEnrolmentStarts+1, got.Raw)
	}
	var n int
	if err := ts.Store().DB().QueryRowContext(context.Background(),
		"SELECT count(*) FROM audit_log WHERE action = 'admin.totp_enrolment_started' AND actor_name = 'totp-looper'").Scan(&n); err != nil || n != admin.MaxEnrolmentStarts {
		t.Fatalf("audit rows = %d (%v), want %d", n, err, admin.MaxEnrolmentStarts)
	}
}
