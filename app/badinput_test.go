package app

import (
	"strings"
	"testing"
)

// TestE2E_AlmostRightInput: the inputs of issue 17 #9 and #10 that reached
// PostgreSQL (INTERNAL, the client's value in an ERROR line) or were
// stored though the nickname rules meant to refuse them are now
// BAD_USER_INPUT, logged without the value.
func TestE2E_AlmostRightInput(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	const marker = "bad-input-marker"
	adm, _ := ts.adminLogin(t, "almost-admin", mustAdmin(t, "almost-admin", "admin"))
	p := mustLogin(t, ts, map[string]any{"code": ts.code(t, "almost-"+t.Name())})
	// The disable cases' user, so that a reason wrongly accepted does not
	// sign p out of the nickname cases.
	victim := mustLogin(t, ts, map[string]any{"code": ts.code(t, "almost-victim-"+t.Name())})
	const uid = "0193a5e2-7c1d-7b3e-9f00-5c2a8d41e6b7"

	for _, tc := range []struct {
		name, token, query string
		vars               map[string]any
	}{
		{"users search NUL", adm, `query($s: String) { users(filter: {search: $s}) { totalCount } }`, map[string]any{"s": marker + "\x00"}},
		{"audit target NUL", adm, `query($v: String) { auditLog(filter: {target: $v}) { totalCount } }`, map[string]any{"v": marker + "\x00"}},
		{"audit action NUL", adm, `query($v: String) { auditLog(filter: {action: $v}) { totalCount } }`, map[string]any{"v": marker + "\x00"}},
		{"audit actorId urn:uuid", adm, `query($v: ID) { auditLog(filter: {actorId: $v}) { totalCount } }`, map[string]any{"v": "urn:uuid:" + uid}},
		{"audit actorId braces", adm, `query($v: ID) { auditLog(filter: {actorId: $v}) { totalCount } }`, map[string]any{"v": "{" + uid + "}"}},
		{"disable reason NUL", adm, `mutation($id: ID!, $r: String) { disableUser(id: $id, reason: $r) { id } }`, map[string]any{"id": victim.User.ID, "r": marker + "\x00"}},
		{"disable reason U+202E", adm, `mutation($id: ID!, $r: String) { disableUser(id: $id, reason: $r) { id } }`, map[string]any{"id": victim.User.ID, "r": marker + "\u202e"}},
		{"adminLogin username NUL", "", `mutation($u: String!) { adminLogin(username: $u, password: "correct horse battery") { token } }`, map[string]any{"u": marker + "\x00"}},
		{"nickname U+034F", p.Token, `mutation($n: String) { updateProfile(input: {nickname: $n}) { id } }`, map[string]any{"n": "\u034f"}},
		{"nickname U+17B4 U+17B5", p.Token, `mutation($n: String) { updateProfile(input: {nickname: $n}) { id } }`, map[string]any{"n": "\u17b4\u17b5"}},
		{"nickname a U+0489 x30", p.Token, `mutation($n: String) { updateProfile(input: {nickname: $n}) { id } }`, map[string]any{"n": "a" + strings.Repeat("\u0489", 30)}},
		{"nickname a (U+0300 U+20DD) x15", p.Token, `mutation($n: String) { updateProfile(input: {nickname: $n}) { id } }`, map[string]any{"n": "a" + strings.Repeat("\u0300\u20dd", 15)}},
		{"nickname ad ZWJ min", p.Token, `mutation($n: String) { updateProfile(input: {nickname: $n}) { id } }`, map[string]any{"n": "ad\u200dmin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := ts.do(t, tc.token, tc.query, tc.vars)
			if out.code() != "BAD_USER_INPUT" || strings.Contains(out.raw, marker) {
				t.Fatalf("got %s, want BAD_USER_INPUT not quoting the input", out.raw)
			}
		})
	}
	// What real people type still passes: emoji joined by ZWJ, a
	// Vietnamese name, a keycap.
	for _, nick := range []string{"小明👨\u200d👩\u200d👧", "❤\ufe0f\u200d🔥 阿花", "Nguyễn Thị Ánh", "1\ufe0f\u20e3号"} {
		if out := ts.do(t, p.Token, `mutation($n: String) { updateProfile(input: {nickname: $n}) { nickname } }`, map[string]any{"n": nick}); len(out.Errors) > 0 {
			t.Errorf("nickname %q: %s", nick, out.raw)
		}
	}
	if out := ts.do(t, adm, `mutation($id: ID!, $r: String) { disableUser(id: $id, reason: $r) { id } }`,
		map[string]any{"id": victim.User.ID, "r": "多次违规\n(spam)"}); len(out.Errors) > 0 {
		t.Errorf("a plain reason: %s", out.raw)
	}
	logs := ts.logs.String()
	if strings.Contains(logs, marker) || strings.Contains(logs, "level=ERROR") {
		t.Errorf("the log quotes the input or has an ERROR:\n%s", logs)
	}
}
