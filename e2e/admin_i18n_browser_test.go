package e2e_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"wxlogin/app/apptest"
	"wxlogin/web/webtest"
)

// foreignText lists what on the page is not in its language: with zh,
// every run of two or more Latin letters in a text node or in a
// placeholder, aria-label, title, alt or data-label (a phone's card
// label), apart from a few words Chinese operators use as they are
// (OpenID, IP …); with en, every Chinese character. Hidden elements,
// <noscript>, and elements marked translate="no" (data: nicknames, ids,
// IPs, user agents, audit details) or with another lang (a language's own
// name in the switch) are skipped, and so are the data strings given (the
// seeded nicknames, cities and reason, which also fill sentences: "Avatar
// of 李雷").
const foreignText = `((mode, data) => {
	const found = [];
	const allowed = new Set(['wxlogin', 'OpenID', 'UnionID', 'AppID', 'ID', 'IP', 'UA', 'KB', 'JSON', 'CSV', 'JavaScript']);
	const lang = document.documentElement.lang;
	const skip = (el) => el.closest('script,style,noscript,[hidden],[translate=no]') || el.closest('[lang]').lang !== lang;
	// Data on the page fills attributes too ("Avatar of 李雷", "通过：Lucy"): stripped from them.
	const shown = [...document.querySelectorAll('[translate=no]')].map((e) => e.textContent.trim()).filter((d) => d.length > 1);
	const check = (text, where, attr) => {
		for (const d of attr ? [...data, ...shown] : data) text = text.split(d).join(' ');
		const words = mode === 'zh' ? (text.match(/[A-Za-z]{2,}/g) || []).filter((w) => !allowed.has(w)) : text.match(/[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]+/g) || [];
		if (words.length) found.push(where + ' ' + JSON.stringify(text.trim().slice(0, 100)) + ': ' + words.join(' '));
	};
	const walk = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
	for (let n; (n = walk.nextNode()); ) if (n.parentElement && !skip(n.parentElement)) check(n.data, '<' + n.parentElement.tagName.toLowerCase() + '>');
	for (const el of document.querySelectorAll('[placeholder],[aria-label],[title],[alt],[data-label]'))
		if (!skip(el)) for (const a of ['placeholder', 'aria-label', 'title', 'alt', 'data-label']) if (el.hasAttribute(a)) check(el.getAttribute(a), el.tagName.toLowerCase() + '@' + a, true);
	check(document.title, 'document.title', true);
	return found;
})`

// settled is a screen done loading: no spinner, nothing busy, a heading.
const settled = `!!document.querySelector('main h1') && !document.querySelector('main .loading, [aria-busy]')`

// seeded is the data TestAdminBrowser_Chinese puts in the database, which
// the page shows as it is in either language.
var seeded = []string{"译测李雷", "译测韩梅梅", "译测张伟", "译测王小明", "译测赵敏", "译测待审小王", "深圳", "广东", "中国", "发布广告"}

// speaks fails the test if the page shows text not in mode ("zh" or "en"),
// the seeded data aside.
func (b *tab) speaks(mode, screen string) {
	b.t.Helper()
	data := make([]string, len(seeded))
	for i, s := range seeded {
		data[i] = jsString(s)
	}
	if bad := eval[[]string](b, foreignText+`('`+mode+`', [`+strings.Join(data, ",")+`])`); len(bad) > 0 {
		b.t.Errorf("%s: %d texts not in %s:\n%s", screen, len(bad), mode, strings.Join(bad, "\n"))
	}
}

// Languages the screenshots are taken in (lib/i18n.js LANGS).
var shotLangs = []string{"zh-CN", "en"}

// shots saves the screen on show as four pictures into $SCREENSHOTS_DIR,
// when set: <name>.<lang>.png at 1280 px and <name>.<lang>.390.png on a
// 390 px phone, for each of shotLangs. Each is taken after a reload in that
// language (set as the language switch remembers it) and width, so the
// screen must come back from its URL; prepare, when given, runs after each
// reload (to open a dialog, say). The tab is then reloaded in the
// browser's own language at 1280 px, and prepared again: the test goes on
// from where it was.
func (b *tab) shots(name string, prepare ...func()) {
	b.t.Helper()
	if os.Getenv("SCREENSHOTS_DIR") == "" {
		return
	}
	load := func(lang string) {
		b.t.Helper()
		set := `localStorage.removeItem('wxlogin.lang')`
		if lang != "" {
			set = `localStorage.setItem('wxlogin.lang', '` + lang + `')`
		}
		b.do("reload in "+lang, chromedp.Evaluate[chromedp.Void](set), chromedp.Reload())
		if lang != "" {
			b.waitFor("the page in "+lang, `document.documentElement.lang === '`+lang+`'`)
		}
		b.waitFor("the screen", settled+` && ![...document.querySelectorAll('#users-count')].some((e) => !e.textContent)`)
	}
	for _, lang := range shotLangs {
		for _, w := range []int64{1280, 390} {
			if w == 390 {
				b.do("a 390 px phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
			} else {
				b.do("1280 px", chromedp.EmulateViewport(1280, 900))
			}
			load(lang)
			for _, p := range prepare {
				p()
			}
			file := name + "." + lang
			if w == 390 {
				file += ".390"
			}
			b.shot(file)
		}
	}
	b.do("1280 px", chromedp.EmulateViewport(1280, 900))
	load("")
	for _, p := range prepare {
		p()
	}
}

// waitReloaded is waitFor across a reload the page makes itself (the
// language switch): a poll cut off by the navigation is started again.
func (b *tab) waitReloaded(what, cond string) {
	b.t.Helper()
	for range 5 {
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(stepTimeout)))
		cancel()
		if err == nil {
			return
		}
		if e := err.Error(); !strings.Contains(e, "navigated") && !strings.Contains(e, "context was destroyed") && !strings.Contains(e, "Cannot find context") {
			b.t.Fatalf("waiting for %s (%s): %v", what, cond, err)
		}
	}
	b.t.Fatalf("waiting for %s: the page kept navigating", what)
}

// emulate runs a DevTools Emulation command in the tab.
func emulate[P any](b *tab, cmd cdp.Command[P, cdp.Empty], p P) {
	b.t.Helper()
	b.do(cmd.Method, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, cmd, p)
		return err
	}))
}

// TestAdminBrowser_Chinese drives the dashboard in a Chromium whose
// language is zh-CN, in Asia/Shanghai, through every screen (sign-in,
// overview, users, a user disabled, one pending deletion, one awaiting a
// review, the confirmation dialogs, the audit log, the review list) and
// finds no English on them; then the switch turns the page English (no
// Chinese left), which a reload keeps, and back; and a browser in English
// gets English from the start.
func TestAdminBrowser_Chinese(t *testing.T) {
	t.Parallel()
	cs := startChecked(t)
	adminName := cs.name("i18n-admin")
	adminPw := apptest.CreateAdmin(t, adminName, "admin")
	adminTok, _ := cs.AdminLogin(t, adminName, adminPw)
	must := func(r *apptest.Response) {
		t.Helper()
		if len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
	}
	profile := `mutation($in: ProfileInput!) { updateProfile(input: $in) { id } }`
	person := func(login, nickname string) (tok, id string) {
		t.Helper()
		tok, id = cs.signedIn(t, login)
		must(cs.Do(t, tok, profile, map[string]any{"in": map[string]any{"nickname": nickname, "gender": "MALE", "city": "深圳", "province": "广东", "country": "中国"}}))
		return tok, id
	}
	// Nicknames start with 译测, for a search that finds them only: the
	// package's database has other tests' users (and, for screenshots, a
	// few thousand seeded ones).
	for i, n := range []string{"译测李雷", "译测韩梅梅", "译测张伟"} {
		person(fmt.Sprintf("i18n-%d", i), n)
	}
	_, disabledID := person("i18n-disabled", "译测王小明")
	must(cs.Do(t, adminTok, `mutation($id: ID!, $r: String!) { disableUser(id: $id, reason: $r) { id } }`, map[string]any{"id": disabledID, "r": "发布广告"}))
	pendingTok, pendingID := person("i18n-pending", "译测赵敏")
	must(cs.Do(t, pendingTok, `mutation { deleteAccount { erasesAt erased } }`, nil))
	// A nickname and an avatar WeChat sent for review (the simulator: 待审, yellow).
	reviewTok, reviewID := person("i18n-review", "译测待审小王")
	cs.upload(t, reviewTok, solidPNG(t, yellow))
	cs.apply(t, cs.verdict(t))

	b := &tab{t: t, ctx: webtest.BrowserLang(t, 1280, 900, "zh-CN"), base: cs.URL()}
	emulate(b, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Shanghai"})
	emulate(b, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "zh_CN"})
	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, func(t *testing.T) { b.t = t; fn(t) }) {
			t.FailNow()
		}
	}
	// screen opens path and checks it once what must be there is.
	screen := func(mode, path, ready string) {
		b.t.Helper()
		b.open(path)
		b.waitFor(path, settled+` && `+ready)
		b.speaks(mode, path)
	}
	// dialog opens the dialog of button, checks it and cancels it.
	dialog := func(mode, button string) {
		b.t.Helper()
		b.do("open "+button, chromedp.Click(chromedp.CSS(button)))
		b.waitFor("the dialog", `document.querySelector('dialog')?.open === true`)
		b.speaks(mode, "the dialog of "+button)
		b.do("cancel", chromedp.Click(chromedp.CSS("dialog .actions button:not([data-confirm])")))
		b.waitFor("the dialog gone", `!document.querySelector('dialog')`)
	}
	// every walks every screen in mode.
	every := func(mode string) {
		b.t.Helper()
		screen(mode, "/admin/", `document.querySelectorAll('#logins-chart svg rect.bar').length === 30 && !!document.querySelector('#stats-zone code')`)
		screen(mode, "/admin/users", `!!document.querySelector('#users-table tbody tr') && !!document.querySelector('#users-count').textContent`)
		screen(mode, "/admin/users?q=译测&disabled=yes&sort=lastLogin&dir=asc", `document.querySelectorAll('#users-table tbody tr').length === 1`)
		screen(mode, "/admin/users?q=译测&deletion=pending", `document.querySelectorAll('#users-table tbody tr').length === 1`)
		screen(mode, "/admin/users?q=nobody-has-this-name", `!!document.querySelector('#users-results .empty')`)
		screen(mode, "/admin/users/"+disabledID, `!!document.querySelector('#profile') && !!document.querySelector('[data-action=enable]')`)
		screen(mode, "/admin/users/"+pendingID, `!!document.querySelector('#deletion-pending time')`)
		dialog(mode, "[data-action=disable]")
		dialog(mode, "[data-action=delete]")
		screen(mode, "/admin/users/"+reviewID, `!!document.querySelector('#moderation [data-content=avatar] .badge')`)
		screen(mode, "/admin/users/00000000-0000-0000-0000-000000000000", `!!document.querySelector('main .empty')`)
		screen(mode, "/admin/audit?admin="+adminName, `!!document.querySelector('#audit-table tbody tr[data-audit-action="user.disable"]')`)
		screen(mode, "/admin/review", `!!document.querySelector('#review-table tr[data-user-id="`+reviewID+`"]')`)
		dialog(mode, `#review-table tr[data-user-id="`+reviewID+`"] [data-action=reject]`)
		screen(mode, "/admin/nowhere", `true`)
	}

	step("SignIn", func(t *testing.T) {
		b.open("/admin/signin")
		b.waitFor("the sign-in form", `!!document.querySelector('#username')`)
		if got := eval[string](b, `navigator.language + ' ' + document.documentElement.lang`); got != "zh-CN zh-CN" {
			t.Fatalf("navigator.language and <html lang> = %q, want zh-CN twice", got)
		}
		b.speaks("zh", "sign-in")
		b.signIn(adminName, "not the password")
		b.waitFor("the wrong-password message", `!!document.querySelector('#signin-msg [data-code=INVALID_CREDENTIALS]')`)
		b.speaks("zh", "sign-in, wrong password")
		b.signIn(adminName, adminPw)
		b.waitFor("the overview", `location.pathname === '/admin/' && !!document.querySelector('[data-role]')`)
	})

	step("EveryScreenInChinese", func(t *testing.T) {
		every("zh")
		if got := eval[string](b, `document.querySelector('[data-role]').textContent`); got != "管理员" {
			t.Errorf("the role badge says %q, want 管理员", got)
		}
	})

	step("SwitchToEnglish", func(t *testing.T) {
		b.open("/admin/users")
		b.waitFor("the users", settled)
		b.do("pick English", chromedp.Evaluate[chromedp.Void](`(s => { s.value = 'en'; s.dispatchEvent(new Event('change')); })(document.querySelector('.top [data-lang-switch]'))`))
		b.waitReloaded("the page in English", `document.documentElement.lang === 'en' && document.querySelector('main h1')?.textContent === 'Users'`)
		b.do("reload", chromedp.Reload())
		b.waitFor("English still", `document.documentElement.lang === 'en' && document.querySelector('main h1')?.textContent === 'Users'`)
		if got := eval[string](b, `document.querySelector('.top [data-lang-switch]').value`); got != "en" {
			t.Errorf("the switch shows %q, want en", got)
		}
		every("en")
	})

	step("SwitchBackOnSignIn", func(t *testing.T) {
		b.do("sign out", chromedp.Click(chromedp.CSS(".top .who button")))
		b.waitFor("the sign-in screen", `location.pathname === '/admin/signin' && !!document.querySelector('#username')`)
		b.speaks("en", "sign-in")
		b.do("pick 简体中文", chromedp.Evaluate[chromedp.Void](`(s => { s.value = 'zh-CN'; s.dispatchEvent(new Event('change')); })(document.querySelector('.signin [data-lang-switch]'))`))
		b.waitReloaded("the sign-in screen in Chinese", `document.documentElement.lang === 'zh-CN' && document.querySelector('main h1')?.textContent === '登录'`)
		b.speaks("zh", "sign-in")
	})

	step("EnglishBrowser", func(t *testing.T) {
		en := &tab{t: t, ctx: webtest.BrowserLang(t, 1280, 900, "en-US"), base: cs.URL()}
		en.open("/admin/signin")
		en.waitFor("the sign-in form", `!!document.querySelector('#username')`)
		if got := eval[string](en, `document.documentElement.lang + ' ' + document.querySelector('main h1').textContent`); got != "en Sign in" {
			t.Fatalf("an English browser gets <html lang> and heading %q, want \"en Sign in\"", got)
		}
		en.speaks("en", "sign-in")
	})
}
