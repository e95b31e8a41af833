package e2e

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/wechat"
)

// marker is a word no other test's nickname holds: this test's users are
// found by searching for it.
func marker(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "mk" + hex.EncodeToString(b)
}

// uniquePhone is a mainland mobile number (E.164) no other test binds.
func uniquePhone(t *testing.T) string {
	t.Helper()
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000_000))
	return fmt.Sprintf("+8619%09d", n.Int64())
}

// seedUser logs in a new WeChat user with nickname and returns the id.
func seedUser(t *testing.T, ts *apptest.Server, login, nickname string) string {
	t.Helper()
	code := ts.Code(t, login)
	ui, err := ts.Sim.UserInfo("", login, wechat.Profile{NickName: nickname, City: "Shenzhen", Country: "China"})
	if err != nil {
		t.Fatal(err)
	}
	return ts.MustLogin(t, map[string]any{"code": code, "rawData": ui.RawData, "signature": ui.Signature}).User.ID
}

// setPhone gives a user a phone number behind the server's back, as
// bindPhoneNumber would have stored it.
func setPhone(t *testing.T, ts *apptest.Server, id, e164, cc string) {
	t.Helper()
	if _, err := ts.Main.Store().DB().ExecContext(context.Background(),
		"UPDATE users SET phone = ?, phone_country_code = ? WHERE id = ?", e164, cc, id); err != nil {
		t.Fatal(err)
	}
}

// export fetches the users CSV with token and the query parameters q.
func export(t *testing.T, ts *apptest.Server, token string, q url.Values) (*http.Response, string) {
	t.Helper()
	var hdr []string
	if token != "" {
		hdr = []string{"Authorization", "Bearer " + token}
	}
	return ts.Fetch(t, http.MethodGet, "/admin/export/users.csv?"+q.Encode(), "", hdr...)
}

// parseCSV checks the byte order mark and returns the records.
func parseCSV(t *testing.T, body string) [][]string {
	t.Helper()
	rest, ok := strings.CutPrefix(body, "\uFEFF")
	if !ok {
		t.Fatalf("no UTF-8 byte order mark: %q", body[:min(len(body), 20)])
	}
	r := csv.NewReader(strings.NewReader(rest))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, rest)
	}
	return recs
}

// lastExportAudit is the newest admin.export_users entry of the admin named name.
func lastExportAudit(t *testing.T, ts *apptest.Server, name string) map[string]any {
	t.Helper()
	var raw string
	if err := ts.Main.Store().DB().QueryRowContext(context.Background(),
		"SELECT detail::text FROM audit_log WHERE action = 'admin.export_users' AND actor_name = ? ORDER BY id DESC LIMIT 1", name).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAdmin_ExportUsersCSV(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	adminTok, _ := ts.AdminLogin(t, "csv-admin", apptest.CreateAdmin(t, "csv-admin", "admin"))
	viewerTok, _ := ts.AdminLogin(t, "csv-viewer", apptest.CreateAdmin(t, "csv-viewer", "viewer"))
	mk := marker(t)
	plain := seedUser(t, ts, "exporter-plain", "王小明 "+mk)
	formula := seedUser(t, ts, "exporter-formula", "=HYPERLINK(\"http://x\") "+mk)
	withPhone := seedUser(t, ts, "exporter-phone", "@phone "+mk)
	phone := uniquePhone(t)
	setPhone(t, ts, withPhone, phone, "86")
	if r := ts.Do(t, adminTok, `mutation($id: ID!) { disableUser(id: $id, reason: "-spam") { id } }`, map[string]any{"id": plain}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	masked := "'" + phone[:6] + "****" + phone[len(phone)-4:]

	resp, body := export(t, ts, adminTok, url.Values{"search": {mk}, "direction": {"ASC"}})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="users-`) {
		t.Fatalf("HTTP %d %v: %s", resp.StatusCode, resp.Header, body)
	}
	recs := parseCSV(t, body)
	wantHeader := []string{"id", "nickname", "phone", "gender", "country", "province", "city", "language",
		"created_at (UTC)", "last_login_at (UTC)", "disabled_at (UTC)", "disabled_reason", "disabled_by"}
	if !slices.Equal(recs[0], wantHeader) {
		t.Fatalf("header %q, want %q", recs[0], wantHeader)
	}
	if len(recs) != 4 {
		t.Fatalf("%d rows, want 3:\n%s", len(recs)-1, body)
	}
	byID := map[string][]string{}
	for _, r := range recs[1:] {
		byID[r[0]] = r
	}
	// In the page's order (created, ascending here), phones masked, and
	// every cell a spreadsheet would take for a formula made text.
	if got := []string{recs[1][0], recs[2][0], recs[3][0]}; !slices.Equal(got, []string{plain, formula, withPhone}) {
		t.Fatalf("order %v, want %v", got, []string{plain, formula, withPhone})
	}
	if r := byID[withPhone]; r[2] != masked || r[1] != "'@phone "+mk {
		t.Fatalf("phone row %q, want the phone %q and the nickname escaped", r, masked)
	}
	if r := byID[formula]; r[1] != "'=HYPERLINK(\"http://x\") "+mk {
		t.Fatalf("formula nickname written as %q", r[1])
	}
	if r := byID[plain]; r[1] != "王小明 "+mk || r[10] == "" || r[11] != "'-spam" || r[12] != "csv-admin" || r[6] != "Shenzhen" {
		t.Fatalf("plain row %q", r)
	}
	d := lastExportAudit(t, ts, "csv-admin")
	if d["rows"] != 3.0 || d["fullPhones"] != false || d["finished"] != true || d["truncated"] != false {
		t.Fatalf("audit detail %v", d)
	}
	if f, _ := d["filter"].(map[string]any); f["search"] != mk || f["desc"] != false {
		t.Fatalf("audit filter %v", d["filter"])
	}

	t.Run("FullPhones", func(t *testing.T) {
		_, body := export(t, ts, adminTok, url.Values{"search": {mk}, "fullPhones": {"1"}})
		recs := parseCSV(t, body)
		found := false
		for _, r := range recs[1:] {
			found = found || (r[0] == withPhone && r[2] == "'"+phone)
		}
		if !found {
			t.Fatalf("no whole phone %s:\n%s", phone, body)
		}
		if d := lastExportAudit(t, ts, "csv-admin"); d["fullPhones"] != true || d["rows"] != 3.0 {
			t.Fatalf("audit detail %v", d)
		}
		// A searched number is kept masked in the audit log.
		export(t, ts, adminTok, url.Values{"search": {phone[3:6] + " " + phone[6:10] + " " + phone[10:]}})
		if d := lastExportAudit(t, ts, "csv-admin"); d["filter"].(map[string]any)["search"] != masked[1:] || d["rows"] != 1.0 {
			t.Fatalf("audit detail %v, want the search %s", d, masked[1:])
		}
	})

	t.Run("FilterApplied", func(t *testing.T) {
		_, body := export(t, ts, adminTok, url.Values{"search": {mk}, "disabled": {"true"}})
		if recs := parseCSV(t, body); len(recs) != 2 || recs[1][0] != plain {
			t.Fatalf("disabled only: %q", recs)
		}
		_, body = export(t, ts, adminTok, url.Values{"search": {phone[3:]}})
		if recs := parseCSV(t, body); len(recs) != 2 || recs[1][0] != withPhone {
			t.Fatalf("by phone: %q", recs)
		}
	})

	t.Run("ChineseAndZone", func(t *testing.T) {
		_, body := export(t, ts, adminTok, url.Values{"search": {mk}, "lang": {"zh-CN"}, "tz": {"Asia/Shanghai"}, "direction": {"ASC"}})
		recs := parseCSV(t, body)
		if recs[0][1] != "昵称" || recs[0][8] != "注册时间 (Asia/Shanghai)" {
			t.Fatalf("header %q", recs[0])
		}
		_, utc := export(t, ts, adminTok, url.Values{"search": {mk}, "direction": {"ASC"}})
		if parseCSV(t, utc)[1][8] == recs[1][8] {
			t.Fatalf("created_at %s in both zones", recs[1][8])
		}
	})

	t.Run("Refused", func(t *testing.T) {
		for name, c := range map[string]struct {
			token  string
			q      url.Values
			status int
			code   string
		}{
			"Viewer":        {viewerTok, url.Values{"search": {mk}}, 403, "FORBIDDEN"},
			"NoToken":       {"", nil, 401, "UNAUTHENTICATED"},
			"UserToken":     {"not a token", nil, 401, "UNAUTHENTICATED"},
			"UnknownParam":  {adminTok, url.Values{"serch": {mk}}, 400, "BAD_USER_INPUT"},
			"TwiceParam":    {adminTok, url.Values{"search": {mk, "x"}}, 400, "BAD_USER_INPUT"},
			"BadZone":       {adminTok, url.Values{"tz": {"../../etc/passwd"}}, 400, "BAD_USER_INPUT"},
			"BadTime":       {adminTok, url.Values{"createdAfter": {"yesterday"}}, 400, "BAD_USER_INPUT"},
			"BadOrder":      {adminTok, url.Values{"order": {"NICKNAME"}}, 400, "BAD_USER_INPUT"},
			"BadFullPhones": {adminTok, url.Values{"fullPhones": {"yes"}}, 400, "BAD_USER_INPUT"},
			"NUL":           {adminTok, url.Values{"search": {"a\x00b"}}, 400, "BAD_USER_INPUT"},
			"NotUTF8":       {adminTok, url.Values{"search": {"\xff\xfe"}}, 400, "BAD_USER_INPUT"},
			"LongSearch":    {adminTok, url.Values{"search": {strings.Repeat("x", 101)}}, 400, "BAD_USER_INPUT"},
		} {
			resp, body := export(t, ts, c.token, c.q)
			var r apptest.Response
			_ = json.Unmarshal([]byte(body), &r)
			if resp.StatusCode != c.status || r.Code() != c.code {
				t.Errorf("%s: HTTP %d %s, want %d %s", name, resp.StatusCode, body, c.status, c.code)
			}
		}
		if d := lastExportAudit(t, ts, "csv-admin"); d["filter"].(map[string]any)["search"] != mk {
			t.Fatalf("a refused export was audited: %v", d)
		}
	})
}

// ADMIN_EXPORT_MAX_ROWS cuts the file, and the audit entry says so.
func TestAdmin_ExportUsersMaxRows(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.AdminExportMaxRows = 2 }))
	tok, _ := ts.AdminLogin(t, "export-capped", apptest.CreateAdmin(t, "export-capped", "admin"))
	mk := marker(t)
	for i := range 3 {
		seedUser(t, ts, fmt.Sprintf("exporter-capped-%d", i), fmt.Sprintf("capped %d %s", i, mk))
	}
	_, body := export(t, ts, tok, url.Values{"search": {mk}})
	if recs := parseCSV(t, body); len(recs) != 3 {
		t.Fatalf("%d rows, want 2", len(recs)-1)
	}
	if d := lastExportAudit(t, ts, "export-capped"); d["rows"] != 2.0 || d["truncated"] != true || d["maxRows"] != 2.0 {
		t.Fatalf("audit detail %v", d)
	}
}

// A phone number finds its user however it is typed.
func TestAdmin_PhoneSearchForms(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	tok, _ := ts.AdminLogin(t, "phone-searcher", apptest.CreateAdmin(t, "phone-searcher", "viewer"))
	mk := marker(t)
	mainland := seedUser(t, ts, "phone-search-cn", "cn "+mk)
	intl := seedUser(t, ts, "phone-search-uk", "uk "+mk)
	phone := uniquePhone(t)
	n, _ := rand.Int(rand.Reader, big.NewInt(100_000_000))
	uk := fmt.Sprintf("+447%09d", n.Int64()) // 12 digits: no mainland shape
	setPhone(t, ts, mainland, phone, "86")
	setPhone(t, ts, intl, uk, "44")
	nat := phone[3:]
	search := func(s string) []string {
		r := ts.Do(t, tok, `query($s: String) { users(first: 100, filter: {search: $s}) { edges { node { id phone nickname } } } }`, map[string]any{"s": s})
		var p struct {
			Edges []struct {
				Node struct{ ID, Phone, Nickname string }
			}
		}
		if len(r.Errors) > 0 || json.Unmarshal(r.Data["users"], &p) != nil {
			t.Fatalf("search %q: %s", s, r.Raw)
		}
		var ids []string
		for _, e := range p.Edges {
			ids = append(ids, e.Node.ID)
			tail := s[len(s)-4:]
			if len(s) == 4 && !strings.HasSuffix(e.Node.Phone, tail) && !strings.HasPrefix(strings.ToLower(e.Node.Nickname), tail) {
				t.Errorf("tail %s found %+v", s, e.Node)
			}
		}
		return ids
	}
	for _, s := range []string{
		nat, nat[:3] + " " + nat[3:7] + " " + nat[7:], nat[:3] + "-" + nat[3:7] + "-" + nat[7:],
		"86" + nat, "+86 " + nat, "0086" + nat, "+86-" + nat[:3] + "-" + nat[3:7] + "-" + nat[7:], phone,
		nat[7:],
	} {
		if ids := search(s); !slices.Contains(ids, mainland) {
			t.Errorf("search %q does not find %s (%s): %v", s, phone, mainland, ids)
		}
	}
	for _, s := range []string{uk, uk[1:], "+44 " + uk[3:7] + " " + uk[7:], "00" + uk[1:], uk[len(uk)-4:]} {
		if ids := search(s); !slices.Contains(ids, intl) {
			t.Errorf("search %q does not find %s (%s): %v", s, uk, intl, ids)
		}
	}
	// Part of a number is no number, and three or five digits no tail.
	for _, s := range []string{nat[:10], nat[8:], nat[6:]} {
		if ids := search(s); slices.Contains(ids, mainland) {
			t.Errorf("search %q finds %s", s, phone)
		}
	}
}

// The export filters by deletion state and "needs review" as the users
// page does.
func TestAdmin_ExportUsersDeletionAndReview(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	adminTok, _ := ts.AdminLogin(t, "export-state-admin", apptest.CreateAdmin(t, "export-state-admin", "admin"))
	mk := marker(t)
	pending := seedUser(t, ts, "exporter-state-pending", "pending "+mk)
	review := seedUser(t, ts, "exporter-state-review", "review "+mk)
	plain := seedUser(t, ts, "exporter-state-plain", "plain "+mk)
	db := ts.Main.Store().DB()
	if _, err := db.ExecContext(context.Background(), "UPDATE users SET erase_at = now() + interval '7 days' WHERE id = ?", pending); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(context.Background(), "INSERT INTO user_moderation (user_id, nickname, nickname_state) VALUES (?, ?, 'REVIEW')", review, "review "+mk); err != nil {
		t.Fatal(err)
	}
	ids := func(q url.Values) []string {
		t.Helper()
		q.Set("search", mk)
		q.Set("direction", "ASC")
		resp, body := export(t, ts, adminTok, q)
		if resp.StatusCode != 200 {
			t.Fatalf("%v: HTTP %d %s", q, resp.StatusCode, body)
		}
		var out []string
		for _, r := range parseCSV(t, body)[1:] {
			out = append(out, r[0])
		}
		return out
	}
	for _, c := range []struct {
		q    url.Values
		want []string
	}{
		{url.Values{}, []string{pending, review, plain}},
		{url.Values{"deletion": {"PENDING"}}, []string{pending}},
		{url.Values{"deletion": {"NONE"}}, []string{review, plain}},
		{url.Values{"deletion": {"ERASED"}}, nil},
		{url.Values{"needsReview": {"true"}}, []string{review}},
		{url.Values{"needsReview": {"false"}, "deletion": {"NONE"}}, []string{plain}},
	} {
		if got := ids(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.q, got, c.want)
		}
	}
	if f := lastExportAudit(t, ts, "export-state-admin")["filter"].(map[string]any); f["deletion"] != "NONE" || f["needsReview"] != false {
		t.Errorf("audited filter %v", f)
	}
	for _, bad := range []url.Values{{"deletion": {"GONE"}}, {"needsReview": {"yes"}}} {
		if resp, body := export(t, ts, adminTok, bad); resp.StatusCode != 400 || !strings.Contains(body, "BAD_USER_INPUT") {
			t.Errorf("%v: HTTP %d %s", bad, resp.StatusCode, body)
		}
	}
}
