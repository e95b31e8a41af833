package e2e_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"wxlogin/app/apptest"
	"wxlogin/models"
	"wxlogin/web/webtest"
)

// TestAdminBrowser_Audit drives the audit screen: actors and targets by
// name with the id on hover and a copy button (a user's own login names
// the user once, an erased user says so), IPs on one line, and each filter
// — admin name, user, action, a range of days in the viewer's zone — kept
// in the URL.
func TestAdminBrowser_Audit(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	pw := apptest.CreateAdmin(t, "aud-brw-admin", "admin")
	other := apptest.CreateAdmin(t, "aud-brw-other", "admin")
	adm, _ := ts.AdminLogin(t, "aud-brw-admin", pw)
	oth, _ := ts.AdminLogin(t, "aud-brw-other", other)
	named := makeUser(t, ts, "aud-brw-named", "审计浏览器小红")
	gone := makeUser(t, ts, "aud-brw-gone", "审计浏览器将注销")
	bystander := makeUser(t, ts, "aud-brw-by", "审计浏览器路人")
	for _, m := range []struct{ tok, q, id string }{
		{adm, `mutation($id: ID!) { disableUser(id: $id, reason: "browser audit") { id } }`, named.id},
		{oth, `mutation($id: ID!) { disableUser(id: $id, reason: "browser audit") { id } }`, bystander.id},
		{adm, `mutation($id: ID!) { deleteUser(id: $id, reason: "browser audit") { id } }`, gone.id},
	} {
		if r := ts.Do(t, m.tok, m.q, map[string]any{"id": m.id}); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
	}
	var admID string
	if err := ts.Store().DB().QueryRow("SELECT id FROM admins WHERE username = 'aud-brw-admin'").Scan(&admID); err != nil {
		t.Fatal(err)
	}

	b := &tab{t: t, ctx: webtest.Browser(t, 1280, 900), base: ts.URL()}
	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, func(t *testing.T) { b.t = t; fn(t) }) {
			t.FailNow()
		}
	}
	row := func(action, userID string) string {
		return `[...document.querySelectorAll('#audit-table tbody tr[data-audit-action="` + action + `"]')].find(r => r.querySelector('[data-party-id="` + userID + `"]'))`
	}
	const idle = `!document.querySelector('[aria-busy]')`
	// No actor or target cell shows an id as its text (ids are on hover).
	const noIDText = `[...document.querySelectorAll('#audit-table .cell-actor, #audit-table .cell-target')].every(c => !/[0-9a-f]{8}-[0-9a-f]{4}-/.test(c.innerText))`

	step("Names", func(t *testing.T) {
		b.open("/admin/audit")
		b.signIn("aud-brw-admin", pw)
		b.waitFor("the log", `!!document.querySelector('#audit-table tbody tr') && `+idle)
		b.waitFor("the disable, by name", `(r => !!r && r.querySelector('.cell-actor').innerText.includes('aud-brw-admin') && r.querySelector('.cell-target').innerText.includes('审计浏览器小红'))(`+row("user.disable", named.id)+`)`)
		if got := eval[string](b, `(r => r.querySelector('.cell-actor .party-name').title)(`+row("user.disable", named.id)+`)`); got != admID {
			t.Fatalf("the admin's id on hover = %q, want %s", got, admID)
		}
		if got := eval[string](b, `(r => r.querySelector('.cell-target [data-copy]').dataset.copy)(`+row("user.disable", named.id)+`)`); got != named.id {
			t.Fatalf("the target's copy button copies %q, want %s", got, named.id)
		}
		b.waitFor("a login names the user once", `(r => !!r && r.querySelector('.cell-actor').innerText.includes('审计浏览器小红') && !!r.querySelector('.cell-target [data-self]') && !r.querySelector('.cell-target .party'))(`+row("user.login", named.id)+`)`)
		b.waitFor("the erased user named as erased", `(r => !!r && r.querySelector('.cell-target .party').dataset.state === 'ERASED' && r.querySelector('.cell-target').innerText.includes('Erased user'))(`+row("user.erase", gone.id)+`)`)
		if !eval[bool](b, noIDText) {
			t.Fatalf("an actor or target shows an id: %s", eval[string](b, `document.querySelector('#audit-table tbody').innerText.slice(0, 600)`))
		}
	})

	step("IPOnOneLine", func(t *testing.T) {
		// The IP cells' text is one line box, at the desktop width and at
		// a narrow one where the table is squeezed.
		oneLine := `(cs => cs.length > 0 && cs.every(c => c.getClientRects().length === 1 && c.getBoundingClientRect().height < 2 * parseFloat(getComputedStyle(c).fontSize) * 1.3))([...document.querySelectorAll('#audit-table .cell-ip span')])`
		for _, w := range []int64{1280, 900, 780} {
			b.do(fmt.Sprintf("%d px", w), chromedp.EmulateViewport(w, 900))
			b.waitFor(fmt.Sprintf("IPs on one line at %d px", w), oneLine)
		}
		b.do("back to 1280 px", chromedp.EmulateViewport(1280, 900))
	})

	step("AdminFilter", func(t *testing.T) {
		b.open("/admin/audit")
		b.waitFor("the log", `!!document.querySelector('#audit-table tbody tr') && `+idle)
		b.do("type an admin's name's start", chromedp.SendKeys(chromedp.CSS("#audit-admin"), "aud-brw-oth"))
		b.waitFor("the name in the URL", `new URLSearchParams(location.search).get('admin') === 'aud-brw-oth'`)
		b.waitFor("only the other admin's entries", idle+` && !!`+row("user.disable", bystander.id)+` && [...document.querySelectorAll('#audit-table tbody tr')].every(r => r.innerText.includes('aud-brw-other'))`)
	})

	step("UserFilter", func(t *testing.T) {
		b.open("/admin/audit")
		b.waitFor("the log", `!!document.querySelector('#audit-table tbody tr') && `+idle)
		b.do("type a nickname", chromedp.SendKeys(chromedp.CSS("#audit-user"), "审计浏览器小红"))
		b.waitFor("the user in the URL", `new URLSearchParams(location.search).get('user') === '审计浏览器小红'`)
		b.waitFor("only the user's entries", idle+` && document.querySelectorAll('#audit-table tbody tr').length === 3 && [...document.querySelectorAll('#audit-table tbody tr')].every(r => !!r.querySelector('[data-party-id="`+named.id+`"]') || !!r.querySelector('[data-self]'))`)
		if got := eval[string](b, `[...document.querySelectorAll('#audit-table tbody tr')].map(r => r.dataset.auditAction).join(' ')`); got != "user.disable user.login user.create" {
			t.Fatalf("the user's entries: %s", got)
		}
		// By id, as the user's page links to it.
		b.open("/admin/audit?user=" + gone.id)
		b.waitFor("the erased user's entries", idle+` && document.querySelectorAll('#audit-table tbody tr').length === 3 && document.querySelector('#audit-user').value === '`+gone.id+`'`)
	})

	step("ActionFilter", func(t *testing.T) {
		b.open("/admin/audit?user=" + url.QueryEscape("审计浏览器"))
		b.waitFor("the log", `!!document.querySelector('#audit-table tbody tr') && `+idle)
		if n := eval[int](b, `document.querySelectorAll('#audit-action-select option').length`); n != len(models.AuditActions)+1 {
			t.Fatalf("the action select offers %d options, want %d actions and any", n, len(models.AuditActions))
		}
		b.waitFor("actions by name", `[...document.querySelectorAll('#audit-action-select option')].some(o => o.value === 'user.bind_phone' && o.textContent === 'Phone bound') && [...document.querySelectorAll('#audit-action-select option')].some(o => o.value === 'user.merge' && o.textContent === 'Accounts merged')`)
		b.do("pick user.disable", chromedp.Evaluate[chromedp.Void](`(s => { s.value = 'user.disable'; s.dispatchEvent(new Event('change')); })(document.querySelector('#audit-action-select'))`))
		b.waitFor("the action and the user in the URL", `(q => q.get('action') === 'user.disable' && q.get('user') === '审计浏览器')(new URLSearchParams(location.search))`)
		b.waitFor("the two disables", idle+` && document.querySelectorAll('#audit-table tbody tr').length === 2 && [...document.querySelectorAll('#audit-table tbody tr')].every(r => r.dataset.auditAction === 'user.disable')`)
	})

	step("DateRange", func(t *testing.T) {
		today := time.Now().Format(time.DateOnly) // the browser's zone is the machine's
		b.open("/admin/audit?user=" + url.QueryEscape("审计浏览器小红") + "&from=2020-01-01&to=2020-01-31")
		b.waitFor("nothing in January 2020", idle+` && !document.querySelector('#audit-table') && !!document.querySelector('.state.empty')`)
		if got := eval[string](b, `document.querySelector('#audit-from').value + ' ' + document.querySelector('#audit-to').value`); got != "2020-01-01 2020-01-31" {
			t.Fatalf("the date inputs hold %q", got)
		}
		b.do("to today", chromedp.Evaluate[chromedp.Void](`(i => { i.value = '`+today+`'; i.dispatchEvent(new Event('change')); })(document.querySelector('#audit-to'))`))
		b.waitFor("today in the URL", `new URLSearchParams(location.search).get('to') === '`+today+`'`)
		b.waitFor("the user's three entries, today's included", idle+` && document.querySelectorAll('#audit-table tbody tr').length === 3`)
		b.do("from today", chromedp.Evaluate[chromedp.Void](`(i => { i.value = '`+today+`'; i.dispatchEvent(new Event('change')); })(document.querySelector('#audit-from'))`))
		b.waitFor("still three", `new URLSearchParams(location.search).get('from') === '`+today+`' && `+idle+` && document.querySelectorAll('#audit-table tbody tr').length === 3`)
		b.shots("audit-filtered")
	})
}
