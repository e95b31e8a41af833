package web

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The dashboard's two catalogues (admin/i18n/en.js, admin/i18n/zh-CN.js)
// hold every word the page shows. These tests keep them whole: the same
// keys in both, each used, none empty, the same {placeholders}; every audit
// action the server writes and every error code it answers with named in
// both; every key the scripts ask for present.

// catalogueEntry is one line of a catalogue: 'key': 'text',
var catalogueEntry = regexp.MustCompile(`^\t'((?:[^'\\]|\\.)+)': '((?:[^'\\]|\\.)*)',$`)

// readCatalogue parses a catalogue, one entry per line between
// "export default {" and "};" (comments aside), and fails on anything else.
func readCatalogue(t *testing.T, name, src string) map[string]string {
	t.Helper()
	out := map[string]string{}
	in := false
	for i, line := range strings.Split(src, "\n") {
		switch {
		case line == "export default {":
			in = true
		case line == "};":
			in = false
		case !in || strings.HasPrefix(strings.TrimSpace(line), "//") || strings.TrimSpace(line) == "":
		default:
			m := catalogueEntry.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("%s:%d is not one 'key': 'text', entry: %q", name, i+1, line)
				continue
			}
			if _, dup := out[m[1]]; dup {
				t.Errorf("%s:%d: key %q twice", name, i+1, m[1])
			}
			out[m[1]] = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(m[2])
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no entries", name)
	}
	return out
}

// catalogues returns the catalogues by language tag.
func catalogues(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for name, src := range adminFiles(t) {
		if path.Dir(name) == "admin/i18n" {
			out[strings.TrimSuffix(path.Base(name), ".js")] = readCatalogue(t, name, src)
		}
	}
	if out["en"] == nil || out["zh-CN"] == nil {
		t.Fatalf("catalogues found: %d, want en and zh-CN", len(out))
	}
	return out
}

// repoFiles returns the repository's files (from web/, its parent) whose
// names end in ext, skipping tests and the end-to-end tests: what the
// server itself runs.
func repoFiles(t *testing.T, ext string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != ".." && (strings.HasPrefix(n, ".") || n == "e2e" || n == "node_modules" || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ext) && !strings.HasSuffix(p, "_test.go") {
			b, err := os.ReadFile(p)
			out[p] = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	// An action in Go: "user.login"-shaped, with a user., admin. or
	// session. prefix, or any prefix on a line that speaks of an action.
	goAction  = regexp.MustCompile(`"([a-z]+\.[a-z_]+)"`)
	sqlAction = regexp.MustCompile(`'((?:user|admin|session|wechat)\.[a-z_]+)'`)
	errorCode = regexp.MustCompile(`(?m)^\s*Code\w+\s*=\s*"([A-Z_]+)"`)
	jsQuoted  = regexp.MustCompile(`'((?:[^'\\\n]|\\.)*)'`)
)

// serverActions returns every audit action the server writes: the Go code's
// (AuditEntry{Action: …}, operatorAudit("…"), the login's action list …)
// and the migrations' SQL.
func serverActions(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for p, src := range repoFiles(t, ".go") {
		for i, line := range strings.Split(src, "\n") {
			for _, m := range goAction.FindAllStringSubmatch(line, -1) {
				prefix := m[1][:strings.IndexByte(m[1], '.')]
				if prefix == "user" || prefix == "admin" || prefix == "session" || strings.Contains(strings.ToLower(line), "action") {
					out[m[1]] = p + ":" + strconv.Itoa(i+1)
				}
			}
		}
	}
	for p, src := range repoFiles(t, ".sql") {
		if !strings.Contains(p, "migrations") {
			continue
		}
		for _, m := range sqlAction.FindAllStringSubmatch(src, -1) {
			out[m[1]] = p
		}
	}
	if out["user.login"] == "" || out["admin.login"] == "" {
		t.Fatalf("found no user.login or admin.login among the server's actions (%d found): is the scan broken?", len(out))
	}
	return out
}

// clientCodes are the error codes the page makes itself (lib/api.js): no
// server, no GraphQL answer, no code in it.
var clientCodes = []string{"NETWORK", "HTTP", "UNKNOWN"}

// serverCodes returns the public error codes of models/error.go.
func serverCodes(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../models/error.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range errorCode.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	if !slices.Contains(out, "INTERNAL") || !slices.Contains(out, "BAD_USER_INPUT") {
		t.Fatalf("codes found in models/error.go: %v; is the scan broken?", out)
	}
	return out
}

// scriptStrings returns every single-quoted string in the dashboard's
// scripts (the catalogues aside), with where it is.
func scriptStrings(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, src := range adminFiles(t) {
		if path.Ext(name) != ".js" || path.Dir(name) == "admin/i18n" {
			continue
		}
		for i, line := range strings.Split(src, "\n") {
			for _, m := range jsQuoted.FindAllStringSubmatch(line, -1) {
				out[m[1]] = name + ":" + strconv.Itoa(i+1)
			}
		}
	}
	return out
}

func TestAdminI18n_SameKeys(t *testing.T) {
	t.Parallel()
	c := catalogues(t)
	for a, ca := range c {
		for b, cb := range c {
			for k := range ca {
				if _, ok := cb[k]; !ok {
					t.Errorf("%q is in %s.js, not in %s.js", k, a, b)
				}
			}
		}
	}
}

var placeholder = regexp.MustCompile(`\{\w+\}`)

func TestAdminI18n_TextsAndPlaceholders(t *testing.T) {
	t.Parallel()
	c := catalogues(t)
	holes := func(s string) string {
		p := placeholder.FindAllString(s, -1)
		sort.Strings(p)
		return strings.Join(slices.Compact(p), " ")
	}
	for lang, cat := range c {
		for k, v := range cat {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s.js: %q is empty", lang, k)
			}
			if en, ok := c["en"][k]; ok && holes(v) != holes(en) {
				t.Errorf("%q: %s.js fills in %q, en.js %q", k, lang, holes(v), holes(en))
			}
		}
	}
}

// Every key is used: named in a script as it is ('users.title'), a plural
// ('users.count' for users.count.one and .other), or, for action. and
// error. keys, which the page builds from what the server sends, one for
// each action the server writes and each code it answers with, and no more.
func TestAdminI18n_EveryKeyUsedAndKnown(t *testing.T) {
	t.Parallel()
	cat := catalogues(t)["en"]
	strs := scriptStrings(t)
	actions := serverActions(t)
	codes := append(serverCodes(t), clientCodes...)
	for _, code := range clientCodes {
		if strs[code] == "" {
			t.Errorf("the page's own error code %s is in no script: drop it from clientCodes", code)
		}
	}
	for _, prefix := range []string{"action.", "error."} {
		if strs[prefix] == "" {
			t.Errorf("no script builds a key from %q: its keys would be unused", prefix)
		}
	}
	plural := regexp.MustCompile(`\.(one|other)$`)
	for k := range cat {
		switch {
		case strings.HasPrefix(k, "action."):
			if actions[k[len("action."):]] == "" {
				t.Errorf("%q: the server writes no audit action %s", k, k[len("action."):])
			}
		case strings.HasPrefix(k, "error."):
			if !slices.Contains(codes, k[len("error."):]) {
				t.Errorf("%q: no such error code in models/error.go or the page's own (%v)", k, clientCodes)
			}
		case strs[k] == "" && strs[plural.ReplaceAllString(k, "")] == "":
			t.Errorf("%q is used by no script in web/admin", k)
		}
	}
	for a, where := range actions {
		if _, ok := cat["action."+a]; !ok {
			t.Errorf("the server writes the audit action %s (%s): the catalogues need action.%s", a, where, a)
		}
	}
	for _, code := range codes {
		if _, ok := cat["error."+code]; !ok {
			t.Errorf("error code %s has no error.%s in the catalogues", code, code)
		}
	}
	// A string in a script shaped like a key of a known area must be a key
	// (or a plural's stem, or an action the server writes).
	areas := map[string]bool{}
	for k := range cat {
		areas[k[:strings.IndexByte(k, '.')]] = true
	}
	keyish := regexp.MustCompile(`^([a-z]+)\.[A-Za-z0-9_]+$`)
	for s, where := range strs {
		m := keyish.FindStringSubmatch(s)
		if m == nil || !areas[m[1]] || actions[s] != "" || path.Ext(s) == ".js" {
			continue
		}
		if _, ok := cat[s]; !ok {
			if _, ok := cat[s+".other"]; !ok {
				t.Errorf("%s asks for %q, which is in no catalogue", where, s)
			}
		}
	}
}
