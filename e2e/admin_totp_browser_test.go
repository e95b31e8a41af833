package e2e_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/web/webtest"
)

// codeAt is the TOTP code of secret offset steps of 30 s from now.
func codeAt(t *testing.T, secret string, offset int) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, time.Now().Add(time.Duration(offset)*30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolInBrowser sets up two-step sign-in on the page the tab shows
// (/admin/account/2fa, signed in), computing the code from the secret the
// page shows, and returns the secret and the recovery codes shown once.
func (b *tab) enrolInBrowser(shot string) (string, []string) {
	b.t.Helper()
	begin := func() {
		b.t.Helper()
		b.waitFor("the set-up button", `!!document.querySelector('[data-twostep-start]')`)
		b.click("start", "[data-twostep-start]")
		b.waitFor("the QR code and the key", `(i => !!i && i.complete && i.naturalWidth === 256)(document.querySelector('img.twostep-qr')) && !!document.querySelector('[data-twostep-secret]')`)
	}
	begin()
	b.speaks(map[string]string{"zh-CN": "zh", "en": "en"}[eval[string](b, "document.documentElement.lang")], "the set-up page")
	// Each picture's reload begins a fresh enrolment; the last one stays.
	b.shots(shot+"-setup", begin)
	secret := eval[string](b, `document.querySelector('[data-twostep-secret]').dataset.twostepSecret`)
	b.do("confirm with the app's code",
		chromedp.SendKeys(chromedp.CSS("#twostep-code"), codeAt(b.t, secret, 0)))
	b.click("confirm", "[data-twostep-submit]")
	b.waitFor("ten recovery codes", `document.querySelectorAll('[data-recovery-codes] li').length === 10`)
	codes := eval[[]string](b, `[...document.querySelectorAll('[data-recovery-codes] li')].map(li => li.textContent)`)
	if !eval[bool](b, `(a => !!a && a.hasAttribute('download') && a.href.startsWith('blob:'))(document.querySelector('.twostep-actions a'))`) {
		b.t.Fatal("no download link for the recovery codes")
	}
	b.shot(shot + "-codes")
	return secret, codes
}

// click clicks the element css selects, from the page's script.
func (b *tab) click(what, css string) {
	b.t.Helper()
	b.do(what, chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(css)+`).click()`))
}

// signOutInBrowser signs out from the header.
func (b *tab) signOutInBrowser() {
	b.t.Helper()
	b.click("sign out", ".who button")
	b.waitFor("the sign-in screen", `location.pathname === '/admin/signin' && !!document.querySelector('#username')`)
}

// secondStep types otp into the sign-in page's code field, which the
// server's TOTP_REQUIRED opened, and submits.
func (b *tab) secondStep(otp string) {
	b.t.Helper()
	b.waitFor("the code field", `(d => !!d && !d.hidden)(document.querySelector('[data-signin-code]'))`)
	b.do("enter the code "+otp,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#otp').value = ''`),
		chromedp.SendKeys(chromedp.CSS("#otp"), otp))
	b.click("submit the code", ".signin-form button[type=submit]")
}

// TestAdminBrowser_TwoStep drives two-step sign-in in headless Chromium:
// set-up from the QR page (the code computed from the key it shows), the
// recovery codes shown once, signing in again with the app's code after a
// wrong one, then with a recovery code; and, on a server with
// ADMIN_REQUIRE_TOTP=on, in Chinese, an admin without it sent to set-up
// from any page until it is on.
func TestAdminBrowser_TwoStep(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	pw := apptest.CreateAdmin(t, "brw-totp", "admin")
	b := &tab{t: t, ctx: webtest.Browser(t, 1280, 900), base: ts.URL()}
	step := func(b *tab, name string, fn func(t *testing.T)) {
		if !t.Run(name, func(t *testing.T) { b.t = t; fn(t) }) {
			t.FailNow()
		}
	}
	var secret string
	var codes []string

	step(b, "Enrol", func(t *testing.T) {
		b.open("/admin/account/2fa")
		b.signIn("brw-totp", pw)
		b.waitFor("the two-step page, off", `location.pathname === '/admin/account/2fa' && document.querySelector('main .badge')?.textContent === 'Off'`)
		b.shots("twostep-off")
		secret, codes = b.enrolInBrowser("twostep")
		b.click("done", "[data-twostep-done]")
		b.waitFor("the overview", `location.pathname === '/admin/'`)
	})

	step(b, "SignInWithCode", func(t *testing.T) {
		b.signOutInBrowser()
		b.signIn("brw-totp", pw)
		asked := func() {
			b.t.Helper()
			b.waitFor("the server asking for the code", `!!document.querySelector('#signin-msg [data-code=TOTP_REQUIRED]')`)
		}
		asked()
		b.shots("signin-code", func() { b.signIn("brw-totp", pw); asked() })
		wrong := "000000"
		if wrong == codeAt(t, secret, 1) || wrong == codeAt(t, secret, 0) || wrong == codeAt(t, secret, -1) {
			wrong = "999999"
		}
		b.secondStep(wrong)
		b.waitFor("the wrong code refused", `document.querySelector('#signin-msg [data-code=TOTP_INVALID]')?.textContent.includes('The code is wrong')`)
		if got := b.location(); got != "/admin/signin" {
			t.Fatalf("after a wrong code at %s", got)
		}
		// The set-up spent the current step's code: the next one is accepted.
		b.secondStep(codeAt(t, secret, 1))
		b.waitFor("the overview", `location.pathname === '/admin/' && !!document.querySelector('.who')`)
	})

	step(b, "SignInWithRecoveryCode", func(t *testing.T) {
		b.signOutInBrowser()
		b.signIn("brw-totp", pw)
		b.secondStep(codes[0])
		b.waitFor("the overview", `location.pathname === '/admin/' && !!document.querySelector('.who')`)
		b.open("/admin/account/2fa")
		b.waitFor("the two-step page, on", `!!document.querySelector('#twostep-code') && document.querySelector('main .badge')?.textContent === 'On'`)
		b.shots("twostep-on")
	})

	// A server that requires it, seen by a Chinese browser.
	forced := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.AdminRequireTOTP = true }))
	fpw := apptest.CreateAdmin(t, "brw-forced", "viewer")
	zh := &tab{t: t, ctx: webtest.BrowserLang(t, 390, 844, "zh-CN"), base: forced.URL()}
	step(zh, "ForcedEnrolment", func(t *testing.T) {
		zh.open("/admin/users")
		zh.signIn("brw-forced", fpw)
		zh.waitFor("the set-up page, required", `location.pathname === '/admin/account/2fa' && !!document.querySelector('[data-twostep-required]') && document.body.innerText.includes('两步验证')`)
		zh.speaks("zh", "the set-up page, required")
		zh.shots("twostep-required")
		zh.open("/admin/users")
		zh.waitFor("sent back to set-up from another page", `location.pathname === '/admin/account/2fa' && !!document.querySelector('[data-twostep-start]')`)
		zh.enrolInBrowser("twostep-required")
		zh.speaks("zh", "the recovery codes")
		zh.do("done", chromedp.Click(chromedp.CSS("[data-twostep-done]")))
		zh.open("/admin/users")
		zh.waitFor("the users page, now allowed", `location.pathname === '/admin/users' && !document.querySelector('[data-twostep-required]') && !!document.querySelector('#users-table, .state')`)
	})
}
