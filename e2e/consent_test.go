package e2e_test

import (
	"encoding/json"
	"strings"
	"testing"

	"wxlogin/app"
	"wxlogin/app/apptest"
)

const consentQuery = `{ me { id policyVersion consentRequired } }`

type consentState struct {
	ID              string  `json:"id"`
	PolicyVersion   *string `json:"policyVersion"`
	ConsentRequired bool    `json:"consentRequired"`
}

// consentOf reads tok's user's policyVersion and consentRequired from ts.
func consentOf(t *testing.T, ts *apptest.Server, tok string) consentState {
	t.Helper()
	r := ts.Do(t, tok, consentQuery, nil)
	var s consentState
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["me"], &s) != nil {
		t.Fatalf("me: %s", r.Raw)
	}
	return s
}

func acceptPolicy(t *testing.T, ts *apptest.Server, tok, version string) *apptest.Response {
	t.Helper()
	return ts.Do(t, tok, `mutation($v: String!) { acceptPolicy(version: $v) { id policyVersion consentRequired } }`, map[string]any{"v": version})
}

// withPolicy starts servers with POLICY_VERSION set to v.
func withPolicy(v string) apptest.Option {
	return apptest.WithConfig(func(c *app.Config) { c.PolicyVersion = v })
}

func TestE2E_Consent(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, withPolicy("2026-11"))
	a := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "consent-"+t.Name())})
	countConsents := func() int {
		return ts.CountRows(t, `SELECT count(*) FROM consents WHERE user_id = ?`, a.User.ID)
	}
	countAudit := func() int {
		return ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE action = 'user.accept_policy' AND actor_id = ? AND target = ?`, a.User.ID, a.User.ID)
	}

	if s := consentOf(t, ts, a.Token); s.PolicyVersion != nil || !s.ConsentRequired {
		t.Fatalf("before accepting: %+v, want no version and consent required", s)
	}

	// A version other than the current one: refused, nothing recorded.
	for _, v := range []string{"2026-10", "", "2026-11 ", strings.Repeat("x", 5000)} {
		r := acceptPolicy(t, ts, a.Token, v)
		if r.Code() != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, `"2026-11"`) || strings.Contains(r.Raw, strings.Repeat("x", 100)) {
			t.Errorf("accepting %.20q: %s", v, r.Raw)
		}
	}
	if n := countConsents(); n != 0 {
		t.Fatalf("%d consents after refusals", n)
	}
	if r := ts.Do(t, "", `mutation { acceptPolicy(version: "2026-11") { id } }`, nil); r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("without a token: %s", r.Raw)
	}

	// Accept: recorded with the client's address, audited, and shown.
	r := acceptPolicy(t, ts, a.Token, "2026-11")
	var got consentState
	if len(r.Errors) > 0 || json.Unmarshal(r.Data["acceptPolicy"], &got) != nil {
		t.Fatalf("accept: %s", r.Raw)
	}
	if got.PolicyVersion == nil || *got.PolicyVersion != "2026-11" || got.ConsentRequired {
		t.Fatalf("after accepting: %+v", got)
	}
	if s := consentOf(t, ts, a.Token); s.PolicyVersion == nil || *s.PolicyVersion != "2026-11" || s.ConsentRequired {
		t.Fatalf("me after accepting: %+v", s)
	}
	if n := ts.CountRows(t, `SELECT count(*) FROM consents WHERE user_id = ? AND version = '2026-11' AND ip = '127.0.0.1' AND accepted_at > now() - interval '1 minute'`, a.User.ID); n != 1 {
		t.Fatalf("%d consent rows with version, ip and time", n)
	}
	if n := countAudit(); n != 1 {
		t.Fatalf("%d user.accept_policy audit rows, want 1", n)
	}

	// Idempotent: accepting again records nothing new.
	for range 5 {
		if r := acceptPolicy(t, ts, a.Token, "2026-11"); len(r.Errors) > 0 {
			t.Fatalf("accepting again: %s", r.Raw)
		}
	}
	if c, n := countConsents(), countAudit(); c != 1 || n != 1 {
		t.Fatalf("after repeating: %d consents, %d audit rows; want 1 and 1", c, n)
	}

	// A new policy version (a second server on the same database): consent
	// is required again, until accepted, which adds a row and keeps the old.
	ts2 := apptest.Start(t, withPolicy("2026-12"), apptest.WithSimulator(ts.Sim, apptest.AppID, ts.Config.WechatAPIBase))
	if s := consentOf(t, ts2, a.Token); s.PolicyVersion == nil || *s.PolicyVersion != "2026-11" || !s.ConsentRequired {
		t.Fatalf("under a new version: %+v, want 2026-11 and consent required", s)
	}
	if r := acceptPolicy(t, ts2, a.Token, "2026-11"); r.Code() != "BAD_USER_INPUT" {
		t.Fatalf("accepting the old version under the new one: %s", r.Raw)
	}
	if r := acceptPolicy(t, ts2, a.Token, "2026-12"); len(r.Errors) > 0 {
		t.Fatalf("accepting the new version: %s", r.Raw)
	}
	if s := consentOf(t, ts2, a.Token); s.PolicyVersion == nil || *s.PolicyVersion != "2026-12" || s.ConsentRequired {
		t.Fatalf("after accepting the new version: %+v", s)
	}
	if c, n := countConsents(), countAudit(); c != 2 || n != 2 {
		t.Fatalf("after the new version: %d consents, %d audit rows; want 2 and 2", c, n)
	}
	// Back on the first server, 2026-12 is not 2026-11: required again.
	if s := consentOf(t, ts, a.Token); !s.ConsentRequired {
		t.Fatalf("on the 2026-11 server after accepting 2026-12: %+v", s)
	}
}

func TestE2E_ConsentUntracked(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t) // POLICY_VERSION unset
	a := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "consent-"+t.Name())})
	if s := consentOf(t, ts, a.Token); s.PolicyVersion != nil || s.ConsentRequired {
		t.Fatalf("untracked: %+v, want no version and no consent required", s)
	}
	r := acceptPolicy(t, ts, a.Token, "2026-11")
	if r.Code() != "BAD_USER_INPUT" || r.Errors[0].Message != "this server tracks no policy version" {
		t.Fatalf("accepting on a server that tracks none: %s", r.Raw)
	}
	if n := ts.CountRows(t, `SELECT count(*) FROM consents WHERE user_id = ?`, a.User.ID); n != 0 {
		t.Fatalf("%d consents recorded", n)
	}
}
