package web

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"wxlogin/web/webtest"
)

// manifestLine is one file of web/playground/vendor/MANIFEST.
type manifestLine struct{ pkg, file, sum string }

func readManifest(t *testing.T) []manifestLine {
	t.Helper()
	b, err := files.ReadFile("playground/vendor/MANIFEST")
	if err != nil {
		t.Fatal(err)
	}
	var lines []manifestLine
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 3 || !strings.Contains(f[0][1:], "@") || len(f[2]) != 64 {
			t.Fatalf("MANIFEST line %d: %q is not package@version file sha256", n, l)
		}
		lines = append(lines, manifestLine{f[0], f[1], f[2]})
	}
	if len(lines) == 0 {
		t.Fatal("MANIFEST lists no files")
	}
	return lines
}

// TestPlaygroundVendor_MatchesManifest proves the vendored GraphiQL and React
// are the files scripts/vendor-playground.sh fetched: each embedded file's
// sha256 is the one in MANIFEST, every file in vendor/ is listed, each
// package has its LICENSE beside it, and the versions are the script's pins.
// A hand-edited, added or stale file fails here; rerun the script to fix.
func TestPlaygroundVendor_MatchesManifest(t *testing.T) {
	t.Parallel()
	const dir = "playground/vendor/"
	listed := map[string]bool{}
	licensed := map[string]bool{}
	pkgs := map[string]bool{}
	for _, l := range readManifest(t) {
		if listed[l.file] {
			t.Errorf("MANIFEST lists %s twice", l.file)
		}
		listed[l.file] = true
		pkgs[l.pkg] = true
		b, err := files.ReadFile(dir + l.file)
		if err != nil {
			t.Errorf("MANIFEST lists %s (%s), which is not embedded: %v", l.file, l.pkg, err)
			continue
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != l.sum {
			t.Errorf("%s: sha256 %x, MANIFEST says %s (%s): edited by hand or stale; run scripts/vendor-playground.sh",
				l.file, sum, l.sum, l.pkg)
		}
		if strings.HasSuffix(l.file, "/LICENSE") {
			licensed[l.pkg] = true
		}
	}
	err := fs.WalkDir(files, strings.TrimSuffix(dir, "/"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if name := strings.TrimPrefix(p, dir); name != "MANIFEST" && !listed[name] {
			t.Errorf("vendor/%s is not in MANIFEST", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range pkgs {
		if !licensed[p] {
			t.Errorf("%s has no LICENSE in vendor/", p)
		}
	}

	// The script's pins and MANIFEST agree, so a version bumped in the script
	// without rerunning it fails too.
	script, err := os.ReadFile("../scripts/vendor-playground.sh")
	if err != nil {
		t.Fatal(err)
	}
	pins := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(graphiql|react)=(\S+)$`).FindAllStringSubmatch(string(script), -1) {
		pins[m[1]] = m[2]
	}
	want := []string{"graphiql@" + pins["graphiql"], "react@" + pins["react"], "react-dom@" + pins["react"]}
	var got []string
	for p := range pkgs {
		got = append(got, p)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("MANIFEST has %v, scripts/vendor-playground.sh pins %v: rerun the script", got, want)
	}
}

// TestPlayground_PageIsSelfContained checks the markup: every script is a
// file of this origin (no inline code, which the CSP would refuse, and no
// CDN), every referenced file is embedded, and the CSP refuses eval.
func TestPlayground_PageIsSelfContained(t *testing.T) {
	t.Parallel()
	h := Playground()
	w := get(t, h, "GET", "/playground/", nil)
	if w.Code != 200 {
		t.Fatalf("GET /playground/ = %d", w.Code)
	}
	page := w.Body.String()
	if !strings.Contains(page, "<title>wxlogin playground</title>") {
		t.Error("title is not wxlogin playground")
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q: scripts must be 'self' only", csp)
	}
	scripts := regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(page, -1)
	if len(scripts) == 0 {
		t.Fatal("no <script> in index.html")
	}
	for _, s := range scripts {
		if strings.TrimSpace(s[2]) != "" || !strings.Contains(s[1], "src=") {
			t.Errorf("inline script %q: the CSP refuses it; put it in a file", s[0])
		}
	}
	refs := regexp.MustCompile(`(?i)\s(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	for _, r := range refs {
		ref := r[1]
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		if strings.Contains(ref, "//") || strings.HasPrefix(ref, "/") {
			t.Errorf("%q is not a relative URL of an embedded file", ref)
			continue
		}
		if got := get(t, h, "GET", "/playground/"+ref, nil); got.Code != 200 {
			t.Errorf("GET /playground/%s = %d", ref, got.Code)
		}
	}
}

// graphqlStub answers the playground's two kinds of request: GraphiQL's
// introspection, with a small schema holding the login mutation, and any
// other operation, with a canned login. It records the other operations.
type graphqlStub struct {
	mu   sync.Mutex
	seen []stubRequest
}

type stubRequest struct {
	Operation     string
	Authorization string
	Variables     map[string]any
}

const stubToken = "wx_canned-token-from-the-stub"

func (s *graphqlStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query         string         `json:"query"`
		OperationName string         `json:"operationName"`
		Variables     map[string]any `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if strings.Contains(req.Query, "__schema") {
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"__schema": stubSchema()}})
		return
	}
	s.mu.Lock()
	s.seen = append(s.seen, stubRequest{req.OperationName, r.Header.Get("Authorization"), req.Variables})
	s.mu.Unlock()
	fmt.Fprintf(w, `{"data":{"login":{"token":%q,"expiresAt":"2030-01-01T00:00:00Z","created":true,"user":{"id":"u-1"}}}}`, stubToken)
}

func (s *graphqlStub) requests() []stubRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stubRequest(nil), s.seen...)
}

// stubSchema is the introspection of a schema with just enough of wxlogin's
// for the playground's default query to validate.
func stubSchema() map[string]any {
	type m = map[string]any
	named := func(kind, name string) m { return m{"kind": kind, "name": name, "ofType": nil} }
	nonNull := func(t m) m { return m{"kind": "NON_NULL", "name": nil, "ofType": t} }
	str, id, boolean, tm := named("SCALAR", "String"), named("SCALAR", "ID"), named("SCALAR", "Boolean"), named("SCALAR", "Time")
	input := func(name string, t m) m {
		return m{"name": name, "description": nil, "type": t, "defaultValue": nil, "isDeprecated": false, "deprecationReason": nil}
	}
	field := func(name string, t m, args ...m) m {
		if args == nil {
			args = []m{}
		}
		return m{"name": name, "description": nil, "args": args, "type": t, "isDeprecated": false, "deprecationReason": nil}
	}
	object := func(name string, fields ...m) m {
		return m{"kind": "OBJECT", "name": name, "description": nil, "fields": fields, "inputFields": nil,
			"interfaces": []m{}, "enumValues": nil, "possibleTypes": nil}
	}
	scalar := func(name string) m {
		return m{"kind": "SCALAR", "name": name, "description": nil, "fields": nil, "inputFields": nil,
			"interfaces": nil, "enumValues": nil, "possibleTypes": nil}
	}
	return m{
		"description":      nil,
		"queryType":        m{"name": "Query"},
		"mutationType":     m{"name": "Mutation"},
		"subscriptionType": nil,
		"directives":       []m{},
		"types": []m{
			scalar("String"), scalar("ID"), scalar("Boolean"), scalar("Time"),
			object("Query", field("me", nonNull(named("OBJECT", "User")))),
			object("Mutation", field("login", nonNull(named("OBJECT", "AuthPayload")),
				input("input", nonNull(named("INPUT_OBJECT", "LoginInput"))))),
			object("User", field("id", nonNull(id))),
			object("AuthPayload", field("token", nonNull(str)), field("expiresAt", nonNull(tm)),
				field("created", nonNull(boolean)), field("user", nonNull(named("OBJECT", "User")))),
			{"kind": "INPUT_OBJECT", "name": "LoginInput", "description": nil, "fields": nil,
				"inputFields": []m{input("code", nonNull(str))}, "interfaces": nil, "enumValues": nil, "possibleTypes": nil},
		},
	}
}

// browserLog records what the page did that the test must check: every
// request it made, and every console message, exception and browser log
// entry (a CSP refusal is a log entry of source "security" or a console
// error).
type browserLog struct {
	mu       sync.Mutex
	requests []string
	problems []string
	notes    []string
}

func (b *browserLog) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		msg := fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			b.problems = append(b.problems, msg)
		} else {
			b.notes = append(b.notes, msg)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		desc := d.Text
		if d.Exception != nil {
			desc += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, desc))
	case *log.EventEntryAdded:
		e := ev.Entry
		msg := fmt.Sprintf("log %s/%s: %s (%s)", e.Source, e.Level, e.Text, e.URL)
		if e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning || e.Source == log.EntrySourceSecurity {
			b.problems = append(b.problems, msg)
		} else {
			b.notes = append(b.notes, msg)
		}
	}
}

func (b *browserLog) snapshot() (requests, problems, notes []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...), append([]string(nil), b.problems...), append([]string(nil), b.notes...)
}

// TestPlayground_WorksOffline loads the embedded playground in headless
// Chromium, under its real CSP, and proves it works with no network:
// GraphiQL renders, every request the page makes goes to this server (data:
// URLs aside), the console and the browser log show no error, warning or CSP
// refusal, the header editor's headers reach /graphql, and the run button
// runs the default login mutation and shows the answer. It logs the page's
// weight and the time to the editor.
func TestPlayground_WorksOffline(t *testing.T) {
	t.Parallel()
	stub := &graphqlStub{}
	mux := http.NewServeMux()
	pg := Playground()
	mux.Handle("/playground/", pg)
	mux.Handle("POST /graphql", stub)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx := webtest.Browser(t, 1280, 800)
	var bl browserLog
	if err := chromedp.Listen(ctx, bl.listen); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	// The query editor is GraphiQL's last piece to appear: React, ReactDOM,
	// GraphiQL and init.js have all run.
	const editor = ".graphiql-container .graphiql-query-editor .CodeMirror"
	start := time.Now()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/playground/"),
		chromedp.WaitVisible(chromedp.CSS(editor)),
	); err != nil {
		_, problems, _ := bl.snapshot()
		t.Fatalf("GraphiQL did not render: %v\nbrowser problems:\n%s", err, strings.Join(problems, "\n"))
	}
	toEditor := time.Since(start)
	// The page's own clock: navigation start to the editor, and to load.
	timing, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](
		`(() => { const n = performance.getEntriesByType('navigation')[0];
		          return {now: performance.now(), dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if title, err := chromedp.Run(ctx, chromedp.Title()); err != nil || title != "wxlogin playground" {
		t.Errorf("title = %q, %v", title, err)
	}

	// The header editor: open its tab, type a header as a developer would
	// paste it, and see it on the request.
	const headerEditor = `.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror`
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(`//button[normalize-space()="Headers"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(headerEditor)),
		// CodeMirror 5 keeps its instance on its element; setValue fires the
		// change GraphiQL listens to, as a paste does.
		chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(headerEditor)+`).CodeMirror.setValue('{"Authorization": "Bearer test-token"}')`),
		chromedp.Click(chromedp.CSS(".graphiql-execute-button"), chromedp.NodeVisible),
	); err != nil {
		t.Fatal(err)
	}
	// The answer appears in the result pane.
	result, err := chromedp.Run(ctx, chromedp.Poll[string](
		`(() => { const r = document.querySelector('.graphiql-response .result-window');
		          return r && r.innerText.includes(`+jsString(stubToken)+`) ? r.innerText : null; })()`,
		chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		_, problems, _ := bl.snapshot()
		t.Fatalf("the result pane never showed the login answer: %v\nbrowser problems:\n%s", err, strings.Join(problems, "\n"))
	}
	if !strings.Contains(result, `"created": true`) {
		t.Errorf("result pane = %q", result)
	}
	reqs := stub.requests()
	if len(reqs) != 1 || reqs[0].Operation != "Login" || reqs[0].Authorization != "Bearer test-token" ||
		reqs[0].Variables["code"] != "paste the code here" {
		t.Errorf("/graphql got %+v, want one Login with the default variables and the typed header", reqs)
	}

	// The developer's edits survive a reload: the first visit's default
	// variables are not forced on later visits.
	const toolEditors = `[...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].map(e => e.CodeMirror)`
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](toolEditors+`[0].setValue('{"code": "edited"}')`),
		// GraphiQL saves its tabs half a second after the last edit.
		chromedp.Poll[chromedp.Void](`(localStorage.getItem('graphiql:tabState') || '').includes('edited') || null`,
			chromedp.WithPollingTimeout(5*time.Second)),
	); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(editor))); err != nil {
		t.Fatal(err)
	}
	toEditorAgain := time.Since(start)
	vars, err := chromedp.Run(ctx, chromedp.Evaluate[string](toolEditors+`[0].getValue()`))
	if err != nil || vars != `{"code": "edited"}` {
		t.Errorf("variables after a reload = %q, %v; want the edited ones", vars, err)
	}

	// Nothing left the origin, and the browser complained of nothing.
	requests, problems, notes := bl.snapshot()
	origin := srv.URL + "/"
	var raw, gz int
	fetched := map[string]bool{}
	for _, u := range requests {
		switch {
		case strings.HasPrefix(u, "data:"):
		case strings.HasPrefix(u, origin):
			name, ok := strings.CutPrefix(u, origin+"playground/")
			if !ok || fetched[name] {
				continue
			}
			fetched[name] = true
			if name == "" {
				name = "index.html"
			}
			if a := pg.(*site).assets[name]; a != nil {
				raw += len(a.body)
				if a.gz != nil {
					gz += len(a.gz)
				} else {
					gz += len(a.body)
				}
			}
		default:
			t.Errorf("the page requested %s, outside %s", u, srv.URL)
		}
	}
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
	for _, n := range notes {
		t.Logf("browser: %s", n)
	}
	t.Logf("page: %d files, %d bytes raw, %d gzipped as served; editor visible %v after Navigate began "+
		"(page clock: DOMContentLoaded %.0f ms, load %.0f ms, editor by %.0f ms); after a reload (304s) %v",
		len(fetched), raw, gz, toEditor.Round(time.Millisecond), timing["dcl"], timing["load"], timing["now"],
		toEditorAgain.Round(time.Millisecond))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
