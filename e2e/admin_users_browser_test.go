package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"wxlogin/app/apptest"
	"wxlogin/web/webtest"
)

// TestAdminUsersBrowser drives issue 21's users screens in headless
// Chromium: a disable needs a reason and the user's page shows who, when
// and why; the disabled list's columns and its disable-date order; the CSV
// export downloaded (BOM, rows, masked phones, the audited full-phone
// opt-in; none for a VIEWER); and the phone layout at 390×844.
func TestAdminUsersBrowser(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	adminPw := apptest.CreateAdmin(t, "usr-admin", "admin")
	viewerPw := apptest.CreateAdmin(t, "usr-viewer", "viewer")
	var people []browserUser
	for i := range 4 {
		people = append(people, makeUser(t, ts, fmt.Sprintf("usrbrw-%d", i), fmt.Sprintf("UsrBrw_%d 韩梅梅", i)))
	}
	makeUser(t, ts, "usrbrw-other", "Elsewhere") // a user no view here matches
	n, _ := rand.Int(rand.Reader, big.NewInt(100_000_000))
	phone := fmt.Sprintf("+86139%08d", n.Int64())
	if _, err := ts.Store().DB().ExecContext(context.Background(), "UPDATE users SET phone = ?, phone_country_code = '86' WHERE id = ?", phone, people[0].id); err != nil {
		t.Fatal(err)
	}

	ctx := webtest.Browser(t, 1280, 900)
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	b := &tab{t: t, ctx: ctx, base: ts.URL()}
	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, func(t *testing.T) { b.t = t; fn(t) }) {
			t.FailNow()
		}
	}

	step("DisableNeedsReason", func(t *testing.T) {
		victim := people[1]
		b.open("/admin/users/" + victim.id)
		b.signIn("usr-admin", adminPw)
		b.waitFor("the user's page", `location.pathname === '/admin/users/`+victim.id+`' && !!document.querySelector('[data-action=disable]')`)
		b.do("disable", chromedp.Click(chromedp.CSS("[data-action=disable]")))
		b.waitFor("the dialog", `document.querySelector('dialog')?.open === true`)
		if !eval[bool](b, `document.querySelector('dialog [data-confirm]').disabled`) {
			t.Fatal("the confirm button is enabled before a reason is typed")
		}
		b.do("spaces", chromedp.SendKeys(chromedp.CSS("dialog textarea"), "   "))
		if !eval[bool](b, `document.querySelector('dialog [data-confirm]').disabled`) {
			t.Fatal("a reason of spaces enabled the confirm button")
		}
		// A reason the server refuses (a bidi override): its error shows, the dialog stays.
		b.do("a refused reason", chromedp.Evaluate[chromedp.Void](`(a => { a.value = 'spam\u202e'; a.dispatchEvent(new Event('input')); })(document.querySelector('dialog textarea'))`),
			chromedp.Click(chromedp.CSS("dialog [data-confirm]")))
		b.waitFor("the server's error", `!!document.querySelector('dialog [role=alert][data-code=BAD_USER_INPUT]') && document.querySelector('dialog')?.open`)
		b.do("a good reason",
			chromedp.Evaluate[chromedp.Void](`(a => { a.value = ''; a.dispatchEvent(new Event('input')); })(document.querySelector('dialog textarea'))`),
			chromedp.SendKeys(chromedp.CSS("dialog textarea"), "刷单 spam"),
			chromedp.Click(chromedp.CSS("dialog [data-confirm]")))
		b.waitFor("who, when and why on the page", `!document.querySelector('dialog') && document.querySelector('#disabled-by')?.textContent === 'usr-admin'
			&& document.querySelector('#disabled-reason')?.textContent === '刷单 spam' && !!document.querySelector('[data-action=enable]')`)
	})

	step("DisabledColumnsAndSort", func(t *testing.T) {
		// Disabled after people[1]: people[3], then people[2].
		for _, p := range []browserUser{people[3], people[2]} {
			if r := ts.Do(t, adminToken(t, ts, adminPw), `mutation($id: ID!) { disableUser(id: $id, reason: "bulk") { id } }`, map[string]any{"id": p.id}); len(r.Errors) > 0 {
				t.Fatal(r.Raw)
			}
		}
		b.open("/admin/users?q=UsrBrw_&disabled=yes")
		if got := b.rowIDs("#users-table"); len(got) != 3 {
			t.Fatalf("%d disabled rows, want 3", len(got))
		}
		heads := eval[[]string](b, `[...document.querySelectorAll('#users-table thead th')].map(th => th.textContent.replace(/[▲▼↕]/g, '').trim())`)
		for _, want := range []string{"Disabled at", "Disabled by", "Reason"} {
			if !slices.Contains(heads, want) {
				t.Fatalf("columns %q, want %q among them", heads, want)
			}
		}
		if by := eval[[]string](b, `[...document.querySelectorAll('#users-table [data-col=disabled-by]')].map(td => td.textContent)`); !slices.Equal(by, []string{"usr-admin", "usr-admin", "usr-admin"}) {
			t.Fatalf("disabled by %q", by)
		}
		b.shots("users-disabled")
		b.do("oldest disable first", chromedp.Evaluate[chromedp.Void](`(s => { s.value = 'disabledAt asc'; s.dispatchEvent(new Event('change')); })(document.querySelector('#sort'))`))
		b.waitFor("the order in the URL", `location.search.includes('sort=disabledAt') && location.search.includes('dir=asc')`)
		if got, want := b.rowIDs("#users-table"), []string{people[1].id, people[3].id, people[2].id}; !slices.Equal(got, want) {
			t.Fatalf("by disable date, oldest first: %v, want %v", got, want)
		}
		b.do("newest disable first, by the column", chromedp.Click(chromedp.CSS(`#users-table th[data-sort=disabledAt] button`)))
		b.waitFor("descending", `location.search.includes('sort=disabledAt') && !location.search.includes('dir=asc') && !document.querySelector('[aria-busy]')`)
		if got, want := b.rowIDs("#users-table"), []string{people[2].id, people[3].id, people[1].id}; !slices.Equal(got, want) {
			t.Fatalf("by disable date, newest first: %v, want %v", got, want)
		}
		// Without the disabled filter there is no such order, nor columns.
		b.do("any status", chromedp.Evaluate[chromedp.Void](`(s => { s.value = ''; s.dispatchEvent(new Event('change')); })(document.querySelector('#disabled-filter'))`))
		b.waitFor("created order again", `!location.search.includes('disabled=') && !location.search.includes('sort=') && !document.querySelector('[aria-busy]')
			&& !document.querySelector('#users-table [data-col=disabled-by]') && [...document.querySelectorAll('#sort [data-disabled-only]')].every(o => o.hidden)`)
	})

	step("ExportCSV", func(t *testing.T) {
		b.open("/admin/users?q=UsrBrw_")
		b.rowIDs("#users-table")
		b.waitFor("the export button, phones masked by default", `!!document.querySelector('#export-csv') && !document.querySelector('#export-full-phones').checked`)
		b.do("export", chromedp.Click(chromedp.CSS("#export-csv")))
		body := downloaded(t, downloads, 1)
		if !bytes.HasPrefix(body, []byte("\uFEFF")) {
			t.Fatalf("the file does not start with a BOM: %q", body[:min(len(body), 16)])
		}
		recs, err := csv.NewReader(bytes.NewReader(body[3:])).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 5 || recs[0][0] != "id" {
			t.Fatalf("%d records, header %q; want the 4 users of the search:\n%s", len(recs), recs[0], body)
		}
		masked := "'" + phone[:6] + "****" + phone[len(phone)-4:]
		if !strings.Contains(string(body), masked) || strings.Contains(string(body), phone) {
			t.Fatalf("phones not masked as %s:\n%s", masked, body)
		}
		b.do("full phones", chromedp.Click(chromedp.CSS("#export-full-phones")), chromedp.Click(chromedp.CSS("#export-csv")))
		if body := downloaded(t, downloads, 2); !strings.Contains(string(body), "'"+phone) {
			t.Fatalf("no whole phone %s in the opted-in file:\n%s", phone, body)
		}
		var full bool
		if err := ts.Store().DB().QueryRowContext(context.Background(), `SELECT (detail->>'fullPhones')::bool FROM audit_log
			WHERE action = 'admin.export_users' AND actor_name = 'usr-admin' ORDER BY at DESC LIMIT 1`).Scan(&full); err != nil || !full {
			t.Fatalf("the full-phone export audited with fullPhones %v (%v)", full, err)
		}

		// A VIEWER sees no export.
		vctx, cancel := chromedp.NewContext(ctx) // a tab of its own: its own sessionStorage
		defer cancel()
		// The first run opens the tab and ties it to its context: no deadline here.
		if err := chromedp.Do(vctx); err != nil {
			t.Fatal(err)
		}
		v := &tab{t: t, ctx: vctx, base: ts.URL()}
		v.open("/admin/users?q=UsrBrw_")
		v.signIn("usr-viewer", viewerPw)
		v.rowIDs("#users-table")
		if eval[bool](v, `!!document.querySelector('#export-csv')`) {
			t.Fatal("a VIEWER sees the export button")
		}
	})

	step("PhoneLayout", func(t *testing.T) {
		b.do("a 390 px phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		defer b.do("back to 1280 px", chromedp.EmulateViewport(1280, 900))
		b.open("/admin/users?q=UsrBrw_&disabled=yes")
		b.rowIDs("#users-table")
		if top := eval[float64](b, `document.querySelector('#users-table tbody tr').getBoundingClientRect().top - window.innerHeight`); top >= 0 {
			t.Fatalf("the first user card starts %.0f px below the screen's bottom", top)
		}
		if w := eval[int](b, `document.documentElement.scrollWidth`); w > 390 {
			t.Fatalf("the users screen is %d px wide", w)
		}
		// One header row, with sign-out and the language switch on screen.
		if hgt := eval[float64](b, `document.querySelector('.top').getBoundingClientRect().height`); hgt > 60 {
			t.Fatalf("the header is %.0f px tall: more than one row", hgt)
		}
		for _, sel := range []string{".top .who button", ".top [data-lang-switch]"} {
			if !eval[bool](b, `(r => r.width > 0 && r.left >= 0 && r.right <= 390 && r.top >= 0)(document.querySelector('`+sel+`').getBoundingClientRect())`) {
				t.Fatalf("%s is off screen at 390 px", sel)
			}
		}
		// The filters but the search are folded, saying how many are set.
		if !eval[bool](b, `!document.querySelector('#more-filters').open && !document.querySelector('#created-from').checkVisibility()`) {
			t.Fatal("the filter panel is open at 390 px")
		}
		if got := eval[string](b, `document.querySelector('#filters-active').textContent`); got != "1 on" {
			t.Fatalf("the folded panel says %q, want \"1 on\"", got)
		}
		b.do("open the filters", chromedp.Click(chromedp.CSS("#more-filters summary")))
		b.waitFor("the filters shown", `document.querySelector('#more-filters').open && document.querySelector('#disabled-filter').checkVisibility()`)
	})
}

// adminToken signs usr-admin in over the API, for changes made beside the browser.
func adminToken(t *testing.T, ts *apptest.Server, pw string) string {
	t.Helper()
	tok, r := ts.AdminLogin(t, "usr-admin", pw)
	if tok == "" {
		t.Fatal(r.Raw)
	}
	return tok
}

// downloaded waits for the n-th finished file in dir and returns it.
func downloaded(t *testing.T, dir string, n int) []byte {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		var done []string
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".crdownload") {
				done = append(done, e.Name())
			}
		}
		if len(done) >= n {
			// The newest (files are named by their download's GUID).
			slices.SortFunc(done, func(a, b string) int {
				ia, _ := os.Stat(filepath.Join(dir, a))
				ib, _ := os.Stat(filepath.Join(dir, b))
				return ia.ModTime().Compare(ib.ModTime())
			})
			body, err := os.ReadFile(filepath.Join(dir, done[len(done)-1]))
			if err != nil {
				t.Fatal(err)
			}
			return body
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %d. download in %s", n, dir)
	return nil
}
