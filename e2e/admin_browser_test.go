package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"wxlogin/admin"
	"wxlogin/app/apptest"
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

// do runs actions with a deadline of their own. A node the page replaced
// between being found and being clicked (a re-render in flight) is looked
// up again: the click had not happened, so trying once more is safe.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	var err error
	for range 3 {
		if err = chromedp.Do(ctx, actions...); err == nil || !strings.Contains(err.Error(), "Could not find node") {
			break
		}
	}
	if err != nil {
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
	b.waitFor("fonts and images", `document.fonts.status === 'loaded' && !document.querySelector('[aria-busy]') && [...document.images].every((i) => i.complete)`)
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

func makeUser(t *testing.T, ts *apptest.Server, login, nickname string) browserUser {
	t.Helper()
	code := ts.Code(t, login)
	ui, err := ts.Sim.UserInfo("", login, wechat.Profile{NickName: nickname, City: "Shenzhen", Country: "China", Language: "zh_CN"})
	if err != nil {
		t.Fatal(err)
	}
	p := ts.MustLogin(t, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature})
	return browserUser{id: p.User.ID, token: p.Token, nickname: nickname}
}

// TestAdminBrowser drives the dashboard in headless Chromium against the
// real server: sign-in, the users screen, a user's page, disabling, the
// audit log, the overview, roles, and text from the database kept as text.
func TestAdminBrowser(t *testing.T) {
	t.Parallel()
	start := time.Now()
	ts := apptest.Start(t)
	adminPw := apptest.CreateAdmin(t, "brw-admin", "admin")
	viewerPw := apptest.CreateAdmin(t, "brw-viewer", "viewer")
	_ = viewerPw
	// 25 users whose nicknames only this test uses: three pages of 10.
	var people []browserUser
	for i := range 25 {
		people = append(people, makeUser(t, ts, fmt.Sprintf("brw-%02d", i), fmt.Sprintf("Browser_%02d 李雷", i)))
	}
	const xssName = `<img src=x onerror="window.__xss=1"> brw-xss`
	xss := makeUser(t, ts, "brw-xss", xssName)
	nameless := makeUser(t, ts, "brw-nameless", "")

	if os.Getenv("SCREENSHOTS_DIR") != "" {
		// Pictures of a lived-in database: users made over two years, whose
		// logins fill the chart's month and agree with their lastLoginAt
		// (the seed's rules, TestStore_SeedHoldsTogether).
		if err := ts.Store().Seed(context.Background(), 4000, apptest.AppID); err != nil {
			t.Fatal(err)
		}
	}
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
		b.shots("signin")
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
		b.shots("users")

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

	step("CountOnceAndKeyboard", func(t *testing.T) {
		// Every request for a count the page sends, from before the users
		// screen first mounts: the overview, then the users in the app.
		b.open("/admin/")
		b.waitFor("the overview", `!!document.querySelector('[data-stat=total] dd')`)
		b.do("count the count requests", chromedp.Evaluate[chromedp.Void](`(() => { window.__counts = 0; const real = window.fetch; window.fetch = (u, o) => {
			if (String(o && o.body).includes('totalCount')) window.__counts++;
			return real(u, o);
		}; })()`))
		b.do("a search, in the app", chromedp.Evaluate[chromedp.Void](`history.pushState(null, '', '/admin/users?q=Browser_&size=10'); dispatchEvent(new PopStateEvent('popstate'))`))
		b.waitFor("the count", `document.querySelector('#users-count')?.textContent === '25 users match'`)
		b.rowIDs("#users-table")
		// Enter on a user's link: their page, with its heading focused.
		b.do("Enter on a user", chromedp.Focus(chromedp.CSS("#users-table .cell-name a")), chromedp.KeyEvent(kb.Enter))
		b.waitFor("the user's page", `location.pathname.startsWith('/admin/users/') && !!document.querySelector('#profile')`)
		if got := eval[string](b, `document.activeElement.tagName + ' ' + document.activeElement.textContent`); !strings.HasPrefix(got, "H1 Browser_") {
			t.Fatalf("after Enter on a user's link the focus is on %q, want the user's heading", got)
		}
		// Back: the same search, counted once.
		b.do("back", chromedp.Evaluate[chromedp.Void](`history.back()`))
		b.waitFor("the users and their count", `!!document.querySelector('#users-table tbody tr') && document.querySelector('#users-count').textContent === '25 users match'`)
		if n := eval[int](b, `window.__counts`); n != 1 {
			t.Fatalf("the page asked for the count %d times, want once", n)
		}
		// Enter on Next: page 2, and the focus stays on Next.
		b.do("Enter on Next", chromedp.Focus(chromedp.CSS("a[data-pager=next]")), chromedp.KeyEvent(kb.Enter))
		b.waitFor("page 2", `new URLSearchParams(location.search).has('after') && !document.querySelector('[aria-busy]')`)
		if got := eval[string](b, `document.activeElement.dataset.pager || document.activeElement.tagName`); got != "next" {
			t.Fatalf("after Enter on Next the focus is on %q, want the Next link", got)
		}
		// Enter on a sort header: sorted, and the focus stays on the header.
		b.do("Enter on Created", chromedp.Focus(chromedp.CSS("th[data-sort=created] button")), chromedp.KeyEvent(kb.Enter))
		b.waitFor("ascending order", `document.querySelector('th[data-sort=created]').getAttribute('aria-sort') === 'ascending' && !document.querySelector('[aria-busy]')`)
		if !eval[bool](b, `document.activeElement === document.querySelector('th[data-sort=created] button')`) {
			t.Fatalf("after Enter on a sort header the focus is on %q", eval[string](b, `document.activeElement.outerHTML.slice(0, 80)`))
		}
		if n := eval[int](b, `window.__counts`); n != 1 {
			t.Fatalf("paging and sorting asked for the count again: %d requests", n)
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

	step("DisableUser", func(t *testing.T) {
		victim := people[7]
		if me := ts.Do(t, victim.token, `{ me { id } }`, nil); len(me.Errors) > 0 {
			t.Fatalf("before disabling, me = %s", me.Raw)
		}
		b.open("/admin/users?q=Browser_07")
		b.waitFor("the row", `document.querySelectorAll('#users-table tbody tr').length === 1`)
		b.do("open the user", chromedp.Click(chromedp.CSS("#users-table .cell-name a")))
		b.waitFor("the user's page with a session", `location.pathname === '/admin/users/`+victim.id+`' && document.querySelectorAll('#sessions tbody tr').length === 1`)
		b.shots("user")
		// Cancelling the confirmation changes nothing.
		b.do("disable, then cancel", chromedp.Click(chromedp.CSS("[data-action=disable]")))
		b.waitFor("the dialog", `document.querySelector('dialog')?.open === true`)
		b.do("cancel", chromedp.Click(chromedp.CSS("dialog .actions button:not([data-confirm])")))
		b.waitFor("the dialog gone", `!document.querySelector('dialog') && !!document.querySelector('[data-action=disable]')`)
		b.do("disable", chromedp.Click(chromedp.CSS("[data-action=disable]")))
		b.waitFor("the dialog", `document.querySelector('dialog')?.open === true`)
		b.do("confirm with a reason",
			chromedp.SendKeys(chromedp.CSS("dialog textarea"), "spam, seen in the browser test"),
			chromedp.Click(chromedp.CSS("dialog [data-confirm]")))
		b.waitFor("the user disabled, without sessions", `!document.querySelector('dialog') && document.querySelector('h1 .badge')?.textContent === 'Disabled'
			&& !document.querySelector('#sessions tbody tr') && !!document.querySelector('[data-action=enable]')`)
		if me := ts.Do(t, victim.token, `{ me { id } }`, nil); me.Code() != "UNAUTHENTICATED" {
			t.Fatalf("the disabled user's token = %s", me.Raw)
		}
	})

	step("AuditRow", func(t *testing.T) {
		victim := people[7]
		b.do("the user's audit link", chromedp.Click(chromedp.CSS("a[data-audit-link]")))
		b.waitFor("the audit screen for the user", `location.pathname === '/admin/audit' && new URLSearchParams(location.search).get('user') === '`+victim.id+`'`)
		b.rowIDs("#audit-table")
		row := eval[map[string]string](b, `(r => ({action: r.dataset.auditAction, actor: r.querySelector('.cell-actor').textContent,
			target: r.querySelector('.cell-target a')?.getAttribute('href'), detail: r.querySelector('.cell-detail').textContent}))(document.querySelector('#audit-table tbody tr'))`)
		if row["action"] != "user.disable" || !strings.Contains(row["actor"], "brw-admin") || row["target"] != "/admin/users/"+victim.id ||
			!strings.Contains(row["detail"], "spam, seen in the browser test") {
			t.Fatalf("newest entry for the user = %v", row)
		}
		// The unfiltered log, narrowed by the action select; the row links to the user.
		b.do("audit from the menu", chromedp.Click(chromedp.CSS(`.top nav a[href="/admin/audit"]`)))
		b.waitFor("the whole log", `location.search === '' && !!document.querySelector('#audit-table tbody tr')`)
		b.do("pick user.disable", chromedp.Evaluate[chromedp.Void](`(s => { s.value = 'user.disable'; s.dispatchEvent(new Event('change')); })(document.querySelector('#audit-action-select'))`))
		b.waitFor("only disables", `location.search === '?action=user.disable' && !document.querySelector('[aria-busy]') &&
			[...document.querySelectorAll('#audit-table tbody tr')].every(r => r.dataset.auditAction === 'user.disable')`)
		b.shots("audit")
		b.do("follow the target", chromedp.Click(chromedp.CSS(`#audit-table a[href="/admin/users/`+victim.id+`"]`)))
		b.waitFor("the user's page", `location.pathname === '/admin/users/`+victim.id+`' && !!document.querySelector('#profile')`)
	})

	step("NoNicknameWording", func(t *testing.T) {
		// A user without a nickname is "this user" mid-sentence, "This user" at the start of one.
		b.open("/admin/users/" + nameless.id)
		b.waitFor("the user's page", `document.querySelector('#user-name')?.textContent === '(no nickname)' && !!document.querySelector('[data-action=disable]')`)
		b.do("disable", chromedp.Click(chromedp.CSS("[data-action=disable]")))
		b.waitFor("the dialog", `document.querySelector('dialog h2')?.textContent === 'Disable this user?'`)
		b.do("confirm", chromedp.SendKeys(chromedp.CSS("dialog textarea"), "no nickname"), chromedp.Click(chromedp.CSS("dialog [data-confirm]")))
		b.waitFor("the message", `document.querySelector('#user-msg')?.textContent === 'This user is disabled and signed out everywhere.'`)
		b.do("enable", chromedp.Click(chromedp.CSS("[data-action=enable]")))
		b.waitFor("the message", `document.querySelector('#user-msg')?.textContent === 'This user may log in again.'`)
	})

	step("RevokeSession", func(t *testing.T) {
		u := people[9]
		b.open("/admin/users/" + u.id)
		b.waitFor("a session", `document.querySelectorAll('#sessions tbody tr').length === 1`)
		b.do("revoke", chromedp.Click(chromedp.CSS("#sessions [data-action=revoke]")))
		b.waitFor("no sessions", `!document.querySelector('#sessions tbody tr') && document.querySelector('#user-msg').textContent.includes('Session revoked')`)
		if me := ts.Do(t, u.token, `{ me { id } }`, nil); me.Code() != "UNAUTHENTICATED" {
			t.Fatalf("a revoked session's token = %s", me.Raw)
		}
	})

	step("DownloadData", func(t *testing.T) {
		u := people[9]
		b.open("/admin/users/" + u.id)
		b.waitFor("the download button", `!!document.querySelector('[data-action=download]') && !document.querySelector('[aria-busy]')`)
		b.do("download", chromedp.Click(chromedp.CSS("[data-action=download]")))
		b.waitFor("the message and the audit entry", `document.querySelector('#user-msg')?.textContent.includes('data is downloaded')
			&& [...document.querySelectorAll('.activity li')].some(li => li.dataset.auditAction === 'admin.user_data')`)
		if n := ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE action = 'admin.user_data' AND target = ?`, u.id); n != 1 {
			t.Fatalf("%d admin.user_data rows, want 1", n)
		}
	})

	step("PendingDeletion", func(t *testing.T) {
		// A user who asked to delete their account shows as pending, in the
		// list, under the pending filter and on their page, with the dates.
		u := people[13]
		if r := ts.Do(t, u.token, `mutation { deleteAccount { erasesAt erased } }`, nil); len(r.Errors) > 0 || strings.Contains(r.Raw, `"erased":true`) {
			t.Fatalf("deleteAccount = %s", r.Raw)
		}
		b.open("/admin/users?q=Browser_13")
		b.waitFor("the row, marked pending", `document.querySelectorAll('#users-table tbody tr').length === 1 && !document.querySelector('[aria-busy]')
			&& document.querySelector('#users-table tr[data-deletion=pending] .badge-warn')?.textContent === 'Pending deletion'`)
		b.do("pending only", chromedp.Evaluate[chromedp.Void](`(s => { s.value = 'pending'; s.dispatchEvent(new Event('change')); })(document.querySelector('#deletion-filter'))`))
		b.waitFor("the filter in the URL", `new URLSearchParams(location.search).get('deletion') === 'pending'`)
		if ids := b.rowIDs("#users-table"); !sameIDs(ids, []string{u.id}) {
			t.Fatalf("pending users matching Browser_13 = %v, want %s", ids, u.id)
		}
		b.open("/admin/users/" + u.id)
		b.waitFor("the user's page, pending", `document.querySelector('h1 .badge-warn')?.textContent === 'Pending deletion'
			&& document.querySelectorAll('#deletion-pending time').length === 2 && /To be erased/.test(document.querySelector('#profile').textContent)`)
		b.shots("user-pending")
		// Seven days ahead, give or take the clock.
		days := eval[float64](b, `(new Date(document.querySelectorAll('#deletion-pending time')[1].getAttribute('datetime')) - Date.now()) / 864e5`)
		if days < 6.9 || days > 7.1 {
			t.Fatalf("the page says the user is erased in %.2f days, want 7", days)
		}
	})

	step("DeleteUser", func(t *testing.T) {
		victim, other := people[12], people[14]
		b.open("/admin/users/" + victim.id)
		b.waitFor("the delete button", `!!document.querySelector('[data-action=delete]') && !document.querySelector('[aria-busy]')`)
		b.do("delete", chromedp.Click(chromedp.CSS("[data-action=delete]")))
		b.waitFor("the dialog, warning", `document.querySelector('dialog')?.open === true && document.querySelector('dialog [data-warning]')?.textContent.includes('cannot be undone')`)
		// No reason, or only spaces: the button stays disabled, and a click does nothing.
		if !eval[bool](b, `document.querySelector('dialog [data-confirm]').disabled && document.querySelector('dialog textarea').maxLength === 500`) {
			t.Fatal("the confirm button is enabled before a reason is typed, or the reason is not capped at 500")
		}
		b.do("spaces only", chromedp.SendKeys(chromedp.CSS("dialog textarea"), "   "))
		if !eval[bool](b, `document.querySelector('dialog [data-confirm]').disabled`) {
			t.Fatal("a reason of spaces enabled the confirm button")
		}
		// Submitting anyway (Enter, a script) sends nothing: fetch would be
		// called before requestSubmit returns.
		b.do("submit anyway", chromedp.Evaluate[chromedp.Void](`(() => { window.__sent = 0; const real = window.fetch;
			window.fetch = (u, o) => (window.__sent++, real(u, o)); document.querySelector('dialog form').requestSubmit(); window.fetch = real; })()`))
		if n := eval[int](b, `window.__sent`); n != 0 || !eval[bool](b, `document.querySelector('dialog')?.open === true`) {
			t.Fatalf("a reason of spaces was submitted (%d requests), or closed the dialog", n)
		}
		b.do("a reason", chromedp.SendKeys(chromedp.CSS("dialog textarea"), "asked by e-mail, ticket 42"))
		b.waitFor("the button enabled", `!document.querySelector('dialog [data-confirm]').disabled`)
		b.shots("user-delete", func() {
			b.do("delete…", chromedp.Click(chromedp.CSS("[data-action=delete]")))
			b.do("a reason", chromedp.SendKeys(chromedp.CSS("dialog textarea"), "asked by e-mail, ticket 42"))
			b.waitFor("the button enabled", `!document.querySelector('dialog [data-confirm]')?.disabled`)
		})
		b.do("erase", chromedp.Click(chromedp.CSS("dialog [data-confirm]")))
		b.waitFor("the tombstone", `!document.querySelector('dialog') && document.querySelector('h1')?.textContent.startsWith('Erased user')
			&& document.querySelector('#user-msg').textContent === 'The user is erased.'`)
		shown := eval[string](b, `[...document.querySelectorAll('#tombstone dt')].map(e => e.textContent).join(',')`)
		if shown != "User ID,Created,Erased" || eval[int](b, `document.querySelectorAll('main [data-action]').length`) != 0 ||
			strings.Contains(eval[string](b, `document.querySelector('main').textContent`), victim.nickname) {
			t.Fatalf("the tombstone shows %q, or buttons, or the nickname: %s", shown, eval[string](b, `document.querySelector('main').textContent`))
		}
		b.shots("user-erased")
		if me := ts.Do(t, victim.token, `{ me { id } }`, nil); me.Code() != "UNAUTHENTICATED" {
			t.Fatalf("the erased user's token = %s", me.Raw)
		}
		if n := ts.CountRows(t, `SELECT count(*) FROM audit_log WHERE action = 'user.erase' AND target = ? AND detail->>'reason' = 'asked by e-mail, ticket 42'`, victim.id); n != 1 {
			t.Fatalf("%d user.erase rows with the reason, want 1", n)
		}
		// The default view leaves erased users out; the erased filter finds them.
		b.open("/admin/users?q=" + victim.id)
		b.waitFor("no match", `!document.querySelector('[aria-busy]') && document.querySelector('#users-results .empty')?.textContent === 'No users match these filters.'`)
		b.do("erased only", chromedp.Evaluate[chromedp.Void](`(s => { s.value = 'erased'; s.dispatchEvent(new Event('change')); })(document.querySelector('#deletion-filter'))`))
		b.waitFor("the filter in the URL", `new URLSearchParams(location.search).get('deletion') === 'erased'`)
		if ids := b.rowIDs("#users-table"); !sameIDs(ids, []string{victim.id}) {
			t.Fatalf("erased users matching the id = %v, want %s", ids, victim.id)
		}
		if got := eval[string](b, `(r => r.dataset.deletion + ' ' + r.querySelector('.cell-name').textContent)(document.querySelector('#users-table tbody tr'))`); got != "erased Erased user" {
			t.Fatalf("the erased row shows %q", got)
		}

		// Erased behind the dialog's back: the error is shown in it, and the
		// dialog stays open.
		b.open("/admin/users/" + other.id)
		b.waitFor("the delete button", `!!document.querySelector('[data-action=delete]') && !document.querySelector('[aria-busy]')`)
		b.do("delete", chromedp.Click(chromedp.CSS("[data-action=delete]")))
		b.waitFor("the dialog", `document.querySelector('dialog')?.open === true`)
		b.do("a reason", chromedp.SendKeys(chromedp.CSS("dialog textarea"), "duplicate"))
		b.do("erase it elsewhere", chromedp.Evaluate[chromedp.Void](`fetch('/graphql', {method: 'POST', headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + sessionStorage.getItem('wxadmin.token')},
			body: JSON.stringify({query: 'mutation($id: ID!) { deleteUser(id: $id, reason: "elsewhere") { id } }', variables: {id: '`+other.id+`'}})}).then(r => r.json()).then(d => (window.__erased = d))`))
		b.waitFor("the other erasure", `window.__erased?.data?.deleteUser?.id === '`+other.id+`'`)
		b.do("erase", chromedp.Click(chromedp.CSS("dialog [data-confirm]")))
		b.waitFor("the error in the dialog", `document.querySelector('dialog [role=alert][data-code=BAD_USER_INPUT]')?.textContent.length > 0
			&& !document.querySelector('dialog [data-confirm]').disabled`)
		b.do("cancel", chromedp.Click(chromedp.CSS("dialog .actions button:not([data-confirm])")))
		b.waitFor("the dialog gone", `!document.querySelector('dialog')`)
	})

	step("Overview", func(t *testing.T) {
		b.do("overview from the menu", chromedp.Click(chromedp.CSS(`.top nav a[href="/admin/"]`)))
		b.waitFor("figures and 30 bars", `document.querySelector('[data-stat=active30] dd')?.textContent.match(/\d/) &&
			document.querySelectorAll('#logins-chart svg rect.bar').length === 30`)
		total := eval[string](b, `document.querySelector('[data-stat=total] dd').textContent.replace(/\D/g, '')`)
		today := eval[int](b, `+[...document.querySelectorAll('#logins-chart rect.bar')].pop().dataset.count`)
		label := eval[string](b, `document.querySelector('#logins-chart svg').getAttribute('aria-labelledby').split(' ').map(id => document.getElementById(id).textContent).join(' ')`)
		if n := len(total); n == 0 || today < len(people) || !strings.Contains(label, "logins in 30 days") {
			t.Fatalf("total users %q, today's logins %d, chart label %q", total, today, label)
		}
		// Pending deletions and erased users are counted apart; this test made one of each, and erased two.
		pending := eval[int](b, `+document.querySelector('[data-stat=pending] dd').textContent.replace(/\D/g, '')`)
		erased := eval[int](b, `+document.querySelector('[data-stat=deleted] dd').textContent.replace(/\D/g, '')`)
		if pending < 1 || erased < 2 {
			t.Fatalf("pending deletion %d, erased %d", pending, erased)
		}
		// The days are STATS_TIME_ZONE's, and the page names it.
		if zone := eval[string](b, `document.getElementById('stats-zone').textContent`); !strings.Contains(zone, "Asia/Shanghai") {
			t.Fatalf("the overview names the zone of its days as %q", zone)
		}
		b.shots("overview")
	})

	step("SessionEndsAndReturns", func(t *testing.T) {
		// The admin session ends under the page: sign in again, and come back.
		b.do("a dead token", chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('wxadmin.token', 'wxa_' + 'A'.repeat(43))`))
		b.open("/admin/audit?action=user.disable")
		b.waitFor("the sign-in screen with a notice", `location.pathname === '/admin/signin' && document.querySelector('.alert-info')?.textContent.includes('session has ended')`)
		b.signIn("brw-admin", adminPw)
		b.waitFor("the page asked for", `location.pathname + location.search === '/admin/audit?action=user.disable' && !!document.querySelector('#audit-table tbody tr')`)
	})

	step("SignOut", func(t *testing.T) {
		b.do("sign out", chromedp.Click(chromedp.CSS(".who button")))
		b.waitFor("the sign-in screen", `location.pathname === '/admin/signin' && sessionStorage.getItem('wxadmin.token') === null`)
		b.open("/admin/users")
		b.waitFor("still signed out", `location.pathname === '/admin/signin'`)
		// Strangers have spent the username's failures: this browser signed
		// in before, and its device cookie (which the page cannot read) still
		// gets the admin in.
		if _, err := ts.Store().DB().ExecContext(context.Background(), `INSERT INTO login_attempts (key, window_start, count)
			VALUES ('user:brw-admin', now(), 10) ON CONFLICT (key) DO UPDATE SET window_start = now(), count = 10`); err != nil {
			t.Fatal(err)
		}
		if eval[bool](b, `document.cookie.includes('`+admin.DeviceCookieName+`')`) {
			t.Fatal("the page can read the device cookie")
		}
		b.signIn("brw-admin", adminPw)
		b.waitFor("back in", `location.pathname === '/admin/users'`)
	})

	step("InternalErrorShowsRequestID", func(t *testing.T) {
		// The server's INTERNAL errors cannot be had on demand: the page's
		// next users query gets one from a stand-in fetch.
		b.open("/admin/")
		b.waitFor("the overview", `!!document.querySelector('[data-stat=total] dd')`)
		b.do("fail the next users query", chromedp.Evaluate[chromedp.Void](`(() => { const real = window.fetch; window.fetch = (u, o) => {
			if (!String(o && o.body).includes('query Users(')) return real(u, o);
			window.fetch = real;
			return Promise.resolve(new Response(JSON.stringify({errors: [{message: 'internal error', extensions: {code: 'INTERNAL', requestId: 'req-test-42'}}]}), {headers: {'Content-Type': 'application/json'}}));
		}; })()`))
		b.do("users from the menu", chromedp.Click(chromedp.CSS(`.top nav a[href="/admin/users"]`)))
		b.waitFor("the request id", `document.querySelector('#users-results [role=alert] .request-id')?.textContent === 'req-test-42'`)
		b.do("try again", chromedp.Click(chromedp.CSS("#users-results [role=alert] button")))
		b.waitFor("the users", `!!document.querySelector('#users-table tbody tr')`)
	})

	step("FirstRender", func(t *testing.T) {
		// From navigation start to the users table on screen, signed in, on
		// localhost: the page's own mark, made when the rows are in the DOM.
		b.open("/admin/users?size=50")
		b.rowIDs("#users-table")
		ms := eval[[]float64](b, `[performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd, performance.getEntriesByName('wx:users-rendered')[0].startTime]`)
		t.Logf("after navigation start: scripts ran at %.0f ms, the users table was on screen at %.0f ms", ms[0], ms[1])
	})

	step("Narrow", func(t *testing.T) {
		b.do("a 390 px phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		defer b.do("back to 1280 px", chromedp.EmulateViewport(1280, 900))
		b.open("/admin/users?q=Browser_&size=10")
		b.rowIDs("#users-table")
		// Rows become cards: nothing wider than the screen, the header row hidden.
		if w := eval[int](b, `document.documentElement.scrollWidth`); w > 390 {
			t.Fatalf("the users screen is %d px wide at 390 px", w)
		}
		if eval[bool](b, `document.querySelector('#users-table thead').getBoundingClientRect().height > 1`) {
			t.Fatal("the table header shows at 390 px: no cards")
		}
		// Cards have no column headers: the sort select orders them.
		b.do("oldest first", chromedp.Evaluate[chromedp.Void](`(s => { s.value = s.options[1].value; s.dispatchEvent(new Event('change')); })(document.querySelector('#sort'))`))
		b.waitFor("ascending order", `location.search.includes('dir=asc') && !document.querySelector('[aria-busy]')`)
		if asc := b.rowIDs("#users-table"); asc[0] != people[0].id {
			t.Fatalf("oldest first at 390 px starts with %s, want %s", asc[0], people[0].id)
		}
		b.do("newest first", chromedp.Evaluate[chromedp.Void](`history.back()`))
		b.waitFor("newest first again", `!location.search.includes('dir=asc') && !document.querySelector('[aria-busy]')`)

		// The overview: the chart's labels readable, the figures inside their cards.
		b.open("/admin/")
		b.waitFor("figures and 30 bars", `document.querySelector('[data-stat=active30] dd')?.textContent.match(/\d/) &&
			document.querySelectorAll('#logins-chart svg rect.bar').length === 30`)
		if h := eval[float64](b, `Math.min(...[...document.querySelectorAll('#logins-chart .axis')].map(e => e.getBoundingClientRect().height))`); h < 9 {
			t.Fatalf("the chart's axis labels are %.1f px tall at 390 px", h)
		}
		if overlap := eval[bool](b, `[...document.querySelectorAll('#logins-chart .axis[text-anchor=middle]')].map(e => e.getBoundingClientRect()).some((r, i, a) => i > 0 && r.left < a[i - 1].right)`); overlap {
			t.Fatal("the chart's day labels overlap at 390 px")
		}
		// A big figure in every card: a million users is seven digits, and
		// one more leaves room for fonts wider than this machine's.
		b.do("a big figure", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('.stat dd').forEach(d => d.textContent = '12,345,678')`))
		if wide := eval[[]string](b, `[...document.querySelectorAll('.stat')].filter(c => c.scrollWidth > c.clientWidth).map(c => c.dataset.stat + ': ' + c.scrollWidth + ' > ' + c.clientWidth)`); len(wide) > 0 {
			t.Fatalf("figures wider than their cards at 390 px: %v", wide)
		}

		// Audit cards: every cell labelled, no gutter for an avatar they lack.
		b.open("/admin/audit?action=user.disable")
		b.rowIDs("#audit-table")
		if label := eval[string](b, `(td => getComputedStyle(td, '::before').display === 'none' ? '' : getComputedStyle(td, '::before').content)(document.querySelector('#audit-table tbody td[data-label=Action]'))`); label != `"Action"` {
			t.Fatalf("the action's label at 390 px is %q, want \"Action\"", label)
		}
		if gutter := eval[float64](b, `(r => r.querySelector('td').getBoundingClientRect().left - r.getBoundingClientRect().left)(document.querySelector('#audit-table tbody tr'))`); gutter > 20 {
			t.Fatalf("audit cards are indented %.0f px, as if for an avatar", gutter)
		}
	})

	step("ViewerAndRateLimit", func(t *testing.T) {
		tabCtx, cancel := chromedp.NewContext(ctx) // a second tab: its own sessionStorage
		defer cancel()
		// The first run opens the tab and ties it to its context: no deadline here.
		if err := chromedp.Do(tabCtx); err != nil {
			t.Fatal(err)
		}
		v := &tab{t: t, ctx: tabCtx, base: ts.URL()}
		// A username past its limit of failures: the wait is shown in minutes.
		if _, err := ts.Store().DB().ExecContext(context.Background(),
			"INSERT INTO login_attempts (key, window_start, count) VALUES ('user:brw-limited', now(), 10)"); err != nil {
			t.Fatal(err)
		}
		v.open("/admin/signin")
		v.signIn("brw-limited", "some password or other")
		v.waitFor("the wait", `document.querySelector('#signin-msg [data-code=RATE_LIMITED]')?.textContent === 'Too many attempts. Try again in 15 minutes.'`)

		v.signIn("brw-viewer", viewerPw)
		v.waitFor("the overview", `location.pathname === '/admin/' && document.querySelector('[data-role]')?.textContent === 'Viewer'`)
		u := people[8]
		v.open("/admin/users/" + u.id)
		v.waitFor("the user's sessions", `document.querySelectorAll('#sessions tbody tr').length === 1`)
		if n := eval[int](v, `document.querySelectorAll('main [data-action]:not([data-action=download])').length`); n != 0 {
			t.Fatalf("a viewer sees %d disable/enable/revoke buttons", n)
		}
		// Reading is a viewer's: the data download is theirs too.
		if n := eval[int](v, `document.querySelectorAll('main [data-action=download]').length`); n != 1 {
			t.Fatalf("a viewer sees %d download buttons, want 1", n)
		}
		if n := eval[int](v, `document.querySelectorAll('[data-action=delete]').length`); n != 0 {
			t.Fatalf("a viewer sees %d Delete buttons", n)
		}
		// The same page for an admin has them: the checks above can fail.
		b.open("/admin/users/" + u.id)
		b.waitFor("an admin's buttons", `!!document.querySelector('#sessions [data-action=revoke]') && !!document.querySelector('[data-action=disable]') && !!document.querySelector('[data-action=delete]')`)
	})
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

// TestAdminBrowser_Review drives the "Needs review" view on a server with
// content checks on: a nickname WeChat sent for review is listed with its
// avatar, Approve takes it off the list and keeps it, Reject clears it, the
// user's page shows the state, and a VIEWER sees the list without buttons.
func TestAdminBrowser_Review(t *testing.T) {
	t.Parallel()
	cs := startChecked(t)
	adminName, viewerName := cs.name("brw-rv-admin"), cs.name("brw-rv-viewer")
	adminPw := apptest.CreateAdmin(t, adminName, "admin")
	viewerPw := apptest.CreateAdmin(t, viewerName, "viewer")
	adminTok, _ := cs.AdminLogin(t, adminName, adminPw)
	inReview := func(user string) string {
		t.Helper()
		tok, id := cs.signedIn(t, user)
		if r := cs.Do(t, tok, setNickname, map[string]any{"n": "review " + user}); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		return id
	}
	approveID, rejectID := inReview("brw-rv-approve"), inReview("brw-rv-reject")
	keptID := inReview("brw-rv-kept")
	keptTok, _ := cs.signedIn(t, "brw-rv-kept")
	cs.upload(t, keptTok, solidPNG(t, yellow)) // the simulator: yellow is review
	cs.apply(t, cs.verdict(t))
	// An avatar whose verdict has not come: PENDING, shown as such.
	pendingTok, pendingID := cs.signedIn(t, "brw-rv-pending")
	cs.upload(t, pendingTok, solidPNG(t, gray))

	b := &tab{t: t, ctx: webtest.Browser(t, 1280, 900), base: cs.URL()}
	row := func(id string) string { return `document.querySelector('#review-table tr[data-user-id="` + id + `"]')` }
	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, func(t *testing.T) { b.t = t; fn(t) }) {
			t.FailNow()
		}
	}

	step("Listed", func(t *testing.T) {
		b.open("/admin/review")
		b.signIn(adminName, adminPw)
		b.waitFor("the three users", `!!(`+row(approveID)+` && `+row(rejectID)+` && `+row(keptID)+`)`)
		b.waitFor("the nickname and its state", row(approveID)+`.textContent.includes('review brw-rv-approve') && `+row(approveID)+`.textContent.includes('In review · other')`)
		b.waitFor("the avatar image, loaded", `(i => !!i && i.complete && i.naturalWidth > 0)(`+row(keptID)+`.querySelector('img'))`)
		b.shots("review")
	})

	step("Approve", func(t *testing.T) {
		b.do("approve", chromedp.Click(chromedp.CSS(`#review-table tr[data-user-id="`+approveID+`"] [data-action=approve]`)))
		b.waitFor("the row gone", `!document.querySelector('[aria-busy]') && !`+row(approveID)+` && !!`+row(rejectID))
		if v := cs.moderationOf(t, adminTok, approveID); str(v.Moderation.Nickname) != "APPROVED" || str(v.Nickname) != "review brw-rv-approve" {
			t.Fatalf("after approve: %+v", v)
		}
	})

	step("Reject", func(t *testing.T) {
		b.do("reject", chromedp.Click(chromedp.CSS(`#review-table tr[data-user-id="`+rejectID+`"] [data-action=reject]`)))
		b.do("confirm", chromedp.Click(chromedp.CSS(`dialog [data-confirm]`)))
		b.waitFor("the row gone", `!document.querySelector('dialog') && !document.querySelector('[aria-busy]') && !`+row(rejectID)+` && !!`+row(keptID))
		if v := cs.moderationOf(t, adminTok, rejectID); v.Nickname != nil || v.Moderation.Nickname != nil {
			t.Fatalf("after reject: %+v", v)
		}
	})

	step("UserPage", func(t *testing.T) {
		b.open("/admin/users/" + keptID)
		b.waitFor("the moderation state", `(m => !!m && m.querySelector('[data-content=nickname]')?.textContent.includes('In review') && m.querySelector('[data-content=avatar]')?.textContent.includes('In review'))(document.querySelector('#moderation'))`)
		b.open("/admin/users/" + pendingID)
		b.waitFor("the pending avatar", `document.querySelector('#moderation [data-content=avatar]')?.textContent.includes('Pending check') && !!document.querySelector('.user-head img')`)
	})

	step("ViewerSeesNoButtons", func(t *testing.T) {
		b.do("sign out", chromedp.Evaluate[chromedp.Void](`sessionStorage.clear()`))
		b.open("/admin/review")
		b.signIn(viewerName, viewerPw)
		b.waitFor("the list", `!!`+row(keptID)+` && !document.querySelector('[aria-busy]')`)
		if n := eval[int](b, `document.querySelectorAll('main [data-action]').length`); n != 0 {
			t.Fatalf("a viewer sees %d approve/reject buttons", n)
		}
	})
}
