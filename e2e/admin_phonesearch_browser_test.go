package e2e_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"wxlogin/app/apptest"
	"wxlogin/web/webtest"
)

// TestAdminBrowser_PhoneSearch types a mainland number into the users
// search the ways operators do (issue 21, item 3) — bare, spaced, dashed,
// with 86, +86 or 0086, in full-width digits — and each finds the one user
// who has it; the last four digits find them too (among any others whose
// number ends so).
func TestAdminBrowser_PhoneSearch(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	pw := apptest.CreateAdmin(t, "phone-admin", "viewer")
	u := makeUser(t, ts, "phonesearch", "PhoneSearch 李雷")
	n, _ := rand.Int(rand.Reader, big.NewInt(100_000_000))
	national := fmt.Sprintf("137%08d", n.Int64())
	if _, err := ts.Store().DB().ExecContext(context.Background(), "UPDATE users SET phone = ?, phone_country_code = '86' WHERE id = ?", "+86"+national, u.id); err != nil {
		t.Fatal(err)
	}
	spaced := national[:3] + " " + national[3:7] + " " + national[7:]
	dashed := strings.ReplaceAll(spaced, " ", "-")
	fullWidth := strings.Map(func(r rune) rune { return r - '0' + '０' }, national)

	b := &tab{t: t, ctx: webtest.Browser(t, 1280, 900), base: ts.URL()}
	b.open("/admin/users")
	b.signIn("phone-admin", pw)
	b.waitFor("the users screen", `!!document.querySelector('#user-search')`)

	// Typed into the search box, as an operator reading it off a ticket.
	b.do("type a spaced number", chromedp.SendKeys(chromedp.CSS("#user-search"), spaced))
	b.waitFor("the search in the URL", `new URLSearchParams(location.search).get('q') === `+jsString(spaced))
	if got := b.rowIDs("#users-table"); !slices.Equal(got, []string{u.id}) {
		t.Fatalf("typed %q: rows %v, want only %s", spaced, got, u.id)
	}

	for _, form := range []string{national, dashed, "86" + national, "+86 " + spaced, "0086" + national, "+86-" + dashed, fullWidth} {
		b.open("/admin/users?q=" + url.QueryEscape(form))
		if got := b.rowIDs("#users-table"); !slices.Equal(got, []string{u.id}) {
			t.Fatalf("%q: rows %v, want only %s", form, got, u.id)
		}
	}
	tail := national[len(national)-4:]
	b.open("/admin/users?q=" + tail)
	if got := b.rowIDs("#users-table"); !slices.Contains(got, u.id) {
		t.Fatalf("the last four digits %s: rows %v, want %s among them", tail, got, u.id)
	}
}
