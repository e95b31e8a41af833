package gqlhttp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// TestUnstorableStrings: a NUL in any string argument, as a variable (at
// any depth) or as a literal (anywhere a value stands), is BAD_USER_INPUT
// before anything runs, and the answer does not quote it (issue 17 #9: it
// reached PostgreSQL and came back INTERNAL).
func TestUnstorableStrings(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	const marker = "nul-marker"
	nul := marker + "\x00"
	for name, tc := range map[string]struct {
		query string
		vars  map[string]any
	}{
		"search variable":  {`query($s: String) { users(filter: {search: $s}) { totalCount } }`, map[string]any{"s": nul}},
		"filter variable":  {`query($f: AuditFilter) { auditLog(filter: $f) { totalCount } }`, map[string]any{"f": map[string]any{"target": nul}}},
		"action variable":  {`query($f: AuditFilter) { auditLog(filter: $f) { totalCount } }`, map[string]any{"f": map[string]any{"action": nul}}},
		"reason variable":  {`mutation($r: String!) { disableUser(id: "0193a5e2-7c1d-7b3e-9f00-5c2a8d41e6b7", reason: $r) { id } }`, map[string]any{"r": nul}},
		"username":         {`mutation($u: String!) { adminLogin(username: $u, password: "p") { token } }`, map[string]any{"u": nul}},
		"unused variable":  {`{ me { id } }`, map[string]any{"x": []any{"a", nul}}},
		"search literal":   {`{ users(filter: {search: "` + marker + `\u0000"}) { totalCount } }`, nil},
		"target literal":   {`{ auditLog(filter: {target: "` + marker + `\u0000"}) { totalCount } }`, nil},
		"reason literal":   {`mutation { disableUser(id: "0193a5e2-7c1d-7b3e-9f00-5c2a8d41e6b7", reason: "` + marker + `\u0000") { id } }`, nil},
		"username literal": {`mutation { adminLogin(username: "` + marker + `\u0000", password: "p") { token } }`, nil},
		"default value":    {`query($s: String = "` + marker + `\u0000") { users(filter: {search: $s}) { totalCount } }`, nil},
		"directive":        {`{ me @include(if: true) { id } ... on Query @skip(if: false) { me { id } } }`, nil},
		"in a fragment":    {`{ ...F } fragment F on Query { users(filter: {search: """` + marker + `\u0000"""}) { totalCount } }`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			b, _ := json.Marshal(map[string]any{"query": tc.query, "variables": tc.vars})
			a := post(t, srv, "application/json", string(b))
			if name == "directive" {
				// No string in it: the walk must not refuse such a document.
				if a.code() == "BAD_USER_INPUT" {
					t.Fatalf("refused: %s", a.body)
				}
				return
			}
			if name == "in a fragment" {
				// """…""" holds \u0000 as six characters: no NUL, not refused.
				if a.code() == "BAD_USER_INPUT" {
					t.Fatalf("a block string's \\u0000 is no NUL: %s", a.body)
				}
				return
			}
			if a.code() != "BAD_USER_INPUT" || !strings.Contains(a.Errors[0].Message, "NUL") || strings.Contains(a.body, marker) {
				t.Fatalf("HTTP %d %s", a.status, a.body)
			}
		})
	}
}

func TestCheckLiterals_Unit(t *testing.T) {
	t.Parallel()
	for q, bad := range map[string]bool{
		`{ a(x: "ok") }`:                              false,
		`{ a(x: "\u0000") }`:                          true,
		`{ a(x: ["ok", {y: "\u0000"}]) }`:             true,
		`{ a @d(x: "\u0000") }`:                       true,
		`query($v: S = "\u0000") { a }`:               true,
		`{ ... on Q { a(x: "\u0000") } }`:             true,
		`{ ...F } fragment F on Q { a(x: "\u0000") }`: true,
	} {
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got := walkDocument(doc).unstorable; got != bad {
			t.Errorf("%s: refused %v, want %v", q, got, bad)
		}
	}
	if checkVariables(map[string]any{"v": map[string]any{"k\x00": "x"}}) == nil || checkVariables(map[string]any{"v": "\xff"}) == nil ||
		checkVariables(map[string]any{"v": []any{1.0, true, nil, "ok"}}) != nil {
		t.Error("checkVariables")
	}
}
