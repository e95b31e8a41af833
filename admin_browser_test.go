package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"wxlogin/web/webtest"
	"wxlogin/wechat"
)

// stepTimeout bounds each browser step; a step that waits longer has failed.
const stepTimeout = 15 * time.Second

// tab drives one browser tab of the dashboard.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// do runs actions with a deadline of their own.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval returns a JavaScript expression's value.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds.
func (b *tab) waitFor(what, cond string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		b.t.Fatalf("waiting for %s (%s): %v; page at %s shows: %.400s", what, cond, err, eval[string](b, "location.href"), eval[string](b, "document.body.innerText"))
	}
}

func (b *tab) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

func (b *tab) location() string {
	b.t.Helper()
	return eval[string](b, "location.pathname + location.search")
}

// rowIDs are the user ids of the users table's rows, once it has settled.
func (b *tab) rowIDs(table string) []string {
	b.t.Helper()
	b.waitFor("settled "+table, `document.querySelector('`+table+` tbody tr') && !document.querySelector('[aria-busy]')`)
	return eval[[]string](b, `[...document.querySelectorAll('`+table+` tbody tr')].map(r => r.dataset.userId || r.dataset.entryId)`)
}

func (b *tab) signIn(user, pw string) {
	b.t.Helper()
	b.waitFor("the sign-in form", `!!document.querySelector('#username')`)
	b.do("sign in as "+user,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#username').value = ''`),
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS(".signin-form button[type=submit]")),
	)
}

// shot saves a full-page screenshot into $SCREENSHOTS_DIR, when set.
func (b *tab) shot(name string) {
	b.t.Helper()
	dir := os.Getenv("SCREENSHOTS_DIR")
	if dir == "" {
		return
	}
	// Fonts and images settle before the picture is taken.
	b.waitFor("fonts", `document.fonts.status === 'loaded' && !document.querySelector('[aria-busy]')`)
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func sameIDs(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// browserUser is a user made through the WeChat simulator, with a live token.
type browserUser struct {
	id, token, nickname string
}

func makeUser(t *testing.T, ts *testServer, login, nickname string) browserUser {
	t.Helper()
	code := ts.code(t, login)
	ui, err := ts.sim.UserInfo("", login, wechat.Profile{NickName: nickname, City: "Shenzhen", Country: "China", Language: "zh_CN"})
	if err != nil {
		t.Fatal(err)
	}
	p := mustLogin(t, ts, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature})
	return browserUser{id: p.User.ID, token: p.Token, nickname: nickname}
}

// TestAdminBrowser drives the dashboard in headless Chromium against the
// real server: sign-in, the users screen, a user's page, disabling, the
// audit log, the overview, roles, and text from the database kept as text.
func TestAdminBrowser(t *testing.T) {
	t.Parallel()
	start := time.Now()
	ts := startServer(t, nil)
	adminPw := mustAdmin(t, "brw-admin", "admin")
	viewerPw := mustAdmin(t, "brw-viewer", "viewer")
	_ = viewerPw
	// 25 users whose nicknames only this test uses: three pages of 10.
	var people []browserUser
	for i := range 25 {
		people = append(people, makeUser(t, ts, fmt.Sprintf("brw-%02d", i), fmt.Sprintf("Browser_%02d 李雷", i)))
	}
	const xssName = `<img src=x onerror="window.__xss=1"> brw-xss`
	xss := makeUser(t, ts, "brw-xss", xssName)

	ctx := webtest.Browser(t, 1280, 900)
	b := &tab{t: t, ctx: ctx, base: ts.URL()}
	t.Logf("set-up: %v", time.Since(start))
	// Each step builds on the one before: the first failure ends the test.
	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, func(t *testing.T) { b.t = t; fn(t) }) {
			t.FailNow()
		}
	}

	step("SignInReturnsToPage", func(t *testing.T) {
		b.open("/admin/users?q=Browser_")
		b.waitFor("the sign-in screen", `location.pathname === '/admin/signin'`)
		b.shot("signin")
		b.signIn("brw-admin", "not the password")
		b.waitFor("the wrong-password message", `document.querySelector('#signin-msg [data-code=INVALID_CREDENTIALS]')?.textContent.includes('Wrong username or password')`)
		if got := b.location(); got != "/admin/signin" {
			t.Fatalf("after a wrong password at %s", got)
		}
		b.signIn("brw-admin", adminPw)
		b.waitFor("the users table", `!!document.querySelector('#users-table tbody tr')`)
		if got := b.location(); got != "/admin/users?q=Browser_" {
			t.Fatalf("after signing in at %s, want the page asked for", got)
		}
		for _, where := range []string{"localStorage", "document.cookie", "location.href"} {
			if eval[bool](b, `String(`+where+` && JSON.stringify(`+where+`)).includes('wxa_')`) {
				t.Fatalf("the admin token is in %s", where)
			}
		}
	})

	step("SearchAndPaging", func(t *testing.T) {
		b.open("/admin/users")
		b.waitFor("the users table", `!!document.querySelector('#users-table tbody tr')`)
		b.do("search", chromedp.SendKeys(chromedp.CSS("#user-search"), "browser_"))
		b.waitFor("the search in the URL", `new URLSearchParams(location.search).get('q') === 'browser_'`)
		b.do("page size 10", chromedp.Evaluate[chromedp.Void](`(s => { s.value = '10'; s.dispatchEvent(new Event('change')); })(document.querySelector('#page-size'))`))
		b.waitFor("10 matching rows", `document.querySelectorAll('#users-table tbody tr').length === 10 && [...document.querySelectorAll('#users-table tbody tr')].every(r => r.textContent.includes('Browser_'))`)
		b.waitFor("the count", `document.querySelector('#users-count').textContent === '25 users match'`)
		page1 := b.rowIDs("#users-table")
		b.shot("users")

		b.do("next page", chromedp.Click(chromedp.CSS("a[data-pager=next]")))
		b.waitFor("a cursor in the URL", `new URLSearchParams(location.search).has('after')`)
		page2 := b.rowIDs("#users-table")
		if len(page2) != 10 || sameIDs(page1, page2) {
			t.Fatalf("page 2 %v, page 1 %v", page2, page1)
		}
		page2URL := b.location()

		b.do("previous page", chromedp.Click(chromedp.CSS("a[data-pager=prev]")))
		b.waitFor("a backward cursor in the URL", `new URLSearchParams(location.search).has('before')`)
		if back := b.rowIDs("#users-table"); !sameIDs(back, page1) {
			t.Fatalf("previous from page 2 = %v, want page 1 %v", back, page1)
		}
		// The browser's back button walks the same views.
		b.do("history back", chromedp.Evaluate[chromedp.Void](`history.back()`))
		b.waitFor("page 2's URL", `location.pathname + location.search === `+jsString(page2URL))
		if again := b.rowIDs("#users-table"); !sameIDs(again, page2) {
			t.Fatalf("back to page 2 = %v, want %v", again, page2)
		}
		b.do("history back", chromedp.Evaluate[chromedp.Void](`history.back()`))
		b.waitFor("page 1's URL", `!/[?&](after|before)=/.test(location.search) && location.search.includes('size=10')`)
		if again := b.rowIDs("#users-table"); !sameIDs(again, page1) {
			t.Fatalf("back to page 1 = %v, want %v", again, page1)
		}
		// A bookmarked page-2 URL opens on page 2.
		b.open(page2URL)
		if again := b.rowIDs("#users-table"); !sameIDs(again, page2) {
			t.Fatalf("page 2 opened from its URL = %v, want %v", again, page2)
		}
		// Sorting by created, oldest first, from its column header.
		b.open("/admin/users?q=browser_&size=10")
		b.rowIDs("#users-table")
		b.do("sort", chromedp.Click(chromedp.CSS("th[data-sort=created] button")))
		b.waitFor("ascending order", `document.querySelector('th[data-sort=created]').getAttribute('aria-sort') === 'ascending' && location.search.includes('dir=asc')`)
		if asc := b.rowIDs("#users-table"); asc[0] != people[0].id {
			t.Fatalf("oldest first starts with %s, want %s", asc[0], people[0].id)
		}
	})

	step("NicknameIsText", func(t *testing.T) {
		b.open("/admin/users?q=brw-xss")
		b.waitFor("the row", `document.querySelectorAll('#users-table tbody tr').length === 1`)
		if got := eval[string](b, `document.querySelector('#users-table .cell-name a').textContent`); got != xssName {
			t.Fatalf("nickname rendered as %q, want the literal %q", got, xssName)
		}
		if n := eval[int](b, `document.querySelectorAll('#users-table img').length`); n != 0 {
			t.Fatalf("%d <img> elements in the table: the nickname became markup", n)
		}
		b.open("/admin/users/" + xss.id)
		b.waitFor("the user's page", `document.querySelector('h1')?.textContent.includes('brw-xss')`)
		if n := eval[int](b, `document.querySelectorAll('main img').length`); n != 0 {
			t.Fatalf("%d <img> elements on the user's page", n)
		}
		if eval[bool](b, `window.__xss !== undefined`) {
			t.Fatal("the nickname's script ran")
		}
	})
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
