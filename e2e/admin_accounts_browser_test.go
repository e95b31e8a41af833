package e2e_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"wxlogin/web/webtest"
)

// speaksWithNames is speaks("zh", …) with the test's usernames as data:
// the screen-reader announcement and a count's sentence hold them as text.
func speaksWithNames(b *tab, screen string) {
	b.t.Helper()
	data := []string{}
	for _, s := range append([]string{"root", "setter", "newbie"}, seeded...) {
		data = append(data, jsString(s))
	}
	if bad := eval[[]string](b, foreignText+`('zh', [`+strings.Join(data, ",")+`])`); len(bad) > 0 {
		b.t.Errorf("%s: %d texts not in zh:\n%s", screen, len(bad), strings.Join(bad, "\n"))
	}
}

// TestAdminAccountsBrowser drives the admin accounts screens in headless
// Chromium: the list, a new admin with a generated password (who then
// signs in with it and must choose their own), one with a password the
// creator typed, a role change, disable and enable, a reset, ending
// sessions, one's own password, and the last ADMIN refused with a
// translated message, in English and in Chinese.
func TestAdminAccountsBrowser(t *testing.T) {
	t.Parallel()
	as := startAccounts(t)
	b := &tab{t: t, ctx: webtest.Browser(t, 1280, 900), base: as.URL()}
	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, func(t *testing.T) { b.t = t; fn(t) }) {
			t.FailNow()
		}
	}
	row := func(name string) string { return `#admins-table tr[data-username="` + name + `"]` }
	click := func(what, css string) { b.t.Helper(); b.do(what, chromedp.Click(chromedp.CSS(css))) }
	confirm := func(what string) { b.t.Helper(); click(what, "dialog [data-confirm]") }
	var generated string

	step("List", func(t *testing.T) {
		b.open("/admin/admins")
		b.signIn("root", "root's own long password")
		b.waitFor("the admins table", `!!document.querySelector('`+row("root")+`')`)
		if got := b.location(); got != "/admin/admins" {
			t.Fatalf("after signing in at %s", got)
		}
		if !eval[bool](b, `document.querySelector('nav a[href="/admin/admins"]')?.getAttribute('aria-current') === 'page'`) {
			t.Fatal("no current Admins link in the header")
		}
		// Root's own row: no disable, no reset (that is My account).
		if eval[bool](b, `!!document.querySelector('`+row("root")+` [data-action=disable], `+row("root")+` [data-action=reset]')`) {
			t.Fatal("root's own row offers disable or reset")
		}
		b.shots("admins")
	})

	step("LastAdminRefused", func(t *testing.T) {
		click("make myself viewer", row("root")+" [data-action=role]")
		confirm("confirm the role change")
		b.waitFor("the translated refusal", `document.querySelector('dialog [data-code=LAST_ADMIN]')?.textContent.includes('This is the last enabled admin')`)
		click("cancel", "dialog .btn:not([data-confirm])")
		b.waitFor("the dialog closed", `!document.querySelector('dialog')`)
		if as.CountRows(t, "SELECT count(*) FROM admins WHERE role = 'ADMIN' AND disabled_at IS NULL") != 1 {
			t.Fatal("the last ADMIN changed")
		}
	})

	step("CreateWithGeneratedPassword", func(t *testing.T) {
		b.do("fill in the new admin", chromedp.SendKeys(chromedp.CSS("#admin-create input[name=username]"), "newbie"))
		click("create", "#admin-create button[type=submit]")
		b.waitFor("the password shown once", `!!document.querySelector('[data-generated-password]') && document.querySelector('#admins-password [data-warning]')?.textContent.includes('It is shown only this once') && !!document.querySelector('#admins-password [data-action=copy]')`)
		generated = eval[string](b, `document.querySelector('[data-generated-password]').textContent`)
		as.AddToken(generated)
		if len(generated) != 24 {
			t.Fatalf("generated password %q", generated)
		}
		b.waitFor("newbie listed as a viewer who must change the password", `(r => r && r.textContent.includes('Viewer') && r.textContent.includes('Must change password'))(document.querySelector('`+row("newbie")+`'))`)
		click("dismiss the password", "#admins-password [data-action=dismiss]")
		b.waitFor("the password gone from the page", `!document.querySelector('[data-generated-password]') && !document.body.innerText.includes(`+jsString(generated)+`)`)
	})

	step("CreateWithOwnPasswordAndChangeRole", func(t *testing.T) {
		b.do("fill in the second admin",
			chromedp.SendKeys(chromedp.CSS("#admin-create input[name=username]"), "setter"),
			chromedp.Click(chromedp.CSS("#admin-create input[value=set]")),
			chromedp.SendKeys(chromedp.CSS("#admin-create input[name=password]"), "typed by the creator"),
		)
		click("create", "#admin-create button[type=submit]")
		b.waitFor("setter listed", `!!document.querySelector('`+row("setter")+`')`)
		if eval[bool](b, `!!document.querySelector('[data-generated-password]')`) {
			t.Fatal("a typed password was shown as generated")
		}
		click("make setter admin", row("setter")+" [data-action=role]")
		confirm("confirm")
		b.waitFor("setter an admin", `document.querySelector('`+row("setter")+`').textContent.includes('Admin') && document.querySelector('#admins-msg').textContent.includes('setter is now Admin')`)
	})

	step("DisableEnableEndSessions", func(t *testing.T) {
		tok, resp := as.AdminLogin(t, "setter", "typed by the creator")
		if tok == "" {
			t.Fatal(resp.Raw)
		}
		as.AddToken(tok)
		click("disable setter", row("setter")+" [data-action=disable]")
		confirm("confirm")
		b.waitFor("setter disabled", `document.querySelector('`+row("setter")+`').textContent.includes('Disabled') && !!document.querySelector('`+row("setter")+` [data-action=enable]')`)
		if c := as.code(t, tok, `{ stats { totalUsers } }`, nil); c != "UNAUTHENTICATED" {
			t.Fatalf("a disabled admin's session: %s", c)
		}
		click("enable setter", row("setter")+" [data-action=enable]")
		b.waitFor("setter enabled", `!!document.querySelector('`+row("setter")+` [data-action=disable]')`)

		tok = as.signIn(t, "setter", "typed by the creator")
		click("end setter's sessions", row("setter")+" [data-action=end-sessions]")
		confirm("confirm")
		b.waitFor("one session ended", `document.querySelector('#admins-msg').textContent.includes('1 session of setter ended')`)
		if c := as.code(t, tok, `{ admin { id } admins { id } }`, nil); c != "UNAUTHENTICATED" {
			t.Fatalf("an ended session: %s", c)
		}
	})

	step("Reset", func(t *testing.T) {
		click("reset newbie's password", row("newbie")+" [data-action=reset]")
		confirm("confirm (generated)")
		b.waitFor("a new one-time password", `(p => p && p.textContent !== `+jsString(generated)+`)(document.querySelector('[data-generated-password]'))`)
		generated = eval[string](b, `document.querySelector('[data-generated-password]').textContent`)
		as.AddToken(generated)
		b.waitFor("the reset said", `document.querySelector('#admins-msg').textContent.includes('The password of newbie was reset')`)
	})

	step("NewAdminSignsInAndChangesPassword", func(t *testing.T) {
		click("sign out", "#top .who button")
		b.waitFor("the sign-in screen", `location.pathname === '/admin/signin'`)
		b.signIn("newbie", generated)
		b.waitFor("My account, asking for a new password", `location.pathname === '/admin/account' && !!document.querySelector('[data-must-change]')`)
		if eval[bool](b, `!!document.querySelector('nav a[href="/admin/admins"]')`) {
			t.Fatal("a viewer sees the Admins link")
		}
		b.open("/admin/users")
		b.waitFor("sent back to My account", `location.pathname === '/admin/account'`)
		b.shots("account")
		fill := func(cur, next, again string) {
			b.t.Helper()
			b.do("fill in the password form",
				chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#password-form input').forEach(i => (i.value = ''))`),
				chromedp.SendKeys(chromedp.CSS("#password-form input[name=current]"), cur),
				chromedp.SendKeys(chromedp.CSS("#password-form input[name=new]"), next),
				chromedp.SendKeys(chromedp.CSS("#password-form input[name=again]"), again),
				chromedp.Click(chromedp.CSS("#password-form button[type=submit]")))
		}
		fill(generated, "newbie's own password", "newbie's own password")
		b.waitFor("the overview", `location.pathname === '/admin/' && !!document.querySelector('main h1')`)

		// A VIEWER has no admins screen at all.
		b.open("/admin/admins")
		b.waitFor("not found", `!!document.querySelector('main h1') && document.querySelector('main h1').textContent === 'Page not found'`)

		// Their own password again, from the header's link: a wrong
		// current one is said so, the right one changes it.
		click("My account", "#top a.who-name")
		b.waitFor("My account", `location.pathname === '/admin/account' && !!document.querySelector('#password-form') && !document.querySelector('[data-must-change]')`)
		fill("not my password at all", "a third password here", "a third password here")
		b.waitFor("the wrong current password said", `document.querySelector('#account-msg [data-code=INVALID_CREDENTIALS]')?.textContent === 'The current password is wrong.'`)
		fill("newbie's own password", "a third password here", "a third password here")
		b.waitFor("changed", `document.querySelector('#account-msg').textContent.includes('Your password was changed')`)
		if tok, resp := as.AdminLogin(t, "newbie", "a third password here"); tok == "" {
			t.Fatalf("the new password does not sign in: %s", resp.Raw)
		} else {
			as.AddToken(tok)
		}
	})

	step("LastAdminInChinese", func(t *testing.T) {
		zh := &tab{t: t, ctx: webtest.BrowserLang(t, 1280, 900, "zh-CN"), base: as.URL()}
		zh.open("/admin/admins")
		zh.signIn("root", "root's own long password")
		zh.waitFor("the admins table", `!!document.querySelector('`+row("root")+`') && `+settled)
		speaksWithNames(zh, "admins")
		// Disable setter, so that root is the last enabled ADMIN again.
		zh.do("disable setter", chromedp.Click(chromedp.CSS(row("setter")+" [data-action=disable]")))
		zh.do("confirm", chromedp.Click(chromedp.CSS("dialog [data-confirm]")))
		zh.waitFor("setter disabled", `!!document.querySelector('`+row("setter")+` [data-action=enable]')`)
		zh.do("make myself viewer", chromedp.Click(chromedp.CSS(row("root")+" [data-action=role]")))
		zh.do("confirm", chromedp.Click(chromedp.CSS("dialog [data-confirm]")))
		zh.waitFor("the refusal in Chinese", `document.querySelector('dialog [data-code=LAST_ADMIN]')?.textContent.includes('这是最后一个启用的管理员')`)
		speaksWithNames(zh, "admins: the last ADMIN refused")
		zh.do("cancel", chromedp.Click(chromedp.CSS("dialog .btn:not([data-confirm])")))
		zh.do("reset setter's password", chromedp.Click(chromedp.CSS(row("setter")+" [data-action=reset]")))
		zh.waitFor("the reset dialog", `!!document.querySelector('dialog input[value=set]')`)
		speaksWithNames(zh, "admins: reset")
		zh.do("confirm", chromedp.Click(chromedp.CSS("dialog [data-confirm]")))
		zh.waitFor("the one-time password", `!!document.querySelector('[data-generated-password]')`)
		as.AddToken(eval[string](zh, `document.querySelector('[data-generated-password]').textContent`))
		speaksWithNames(zh, "admins: a one-time password")
		zh.open("/admin/account")
		zh.waitFor("My account", `!!document.querySelector('#password-form') && `+settled)
		speaksWithNames(zh, "account")
	})
}
