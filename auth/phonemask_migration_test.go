package auth_test

import (
	"context"
	"encoding/json"
	"testing"

	"wxlogin/auth"
	"wxlogin/store"
	"wxlogin/store/storetest"
	"wxlogin/wechat"
)

// The migration that made phone numbers unique writes a masked number in
// its audit rows with SQL of its own; it must mask as MaskPhone does, at
// every length whose rule differs and without a country code. The test
// runs the migration itself on a table with a duplicate of each number.
func TestMaskPhone_MatchesMigration20261206000014(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t)
	ctx := context.Background()
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := st.DB().ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	// The table as it was before the migration, so that numbers can be on
	// two users again.
	exec("DROP INDEX users_phone_key")
	exec("DELETE FROM bun_migrations WHERE name = '20261206000014'")

	cases := []struct {
		name string
		cc   any // the phone_country_code column; nil is NULL
		p    wechat.Phone
	}{
		{"6", "86", wechat.Phone{CountryCode: "86", National: "123456"}},
		{"7", "354", wechat.Phone{CountryCode: "354", National: "4211234"}},
		{"8", "852", wechat.Phone{CountryCode: "852", National: "91234567"}},
		{"10", "44", wechat.Phone{CountryCode: "44", National: "7700900123"}},
		{"11", "86", wechat.Phone{CountryCode: "86", National: "13800138000"}},
		{"12", "49", wechat.Phone{CountryCode: "49", National: "151234567890"}},
		// Without a country code the number after '+' is all national.
		{"EmptyCountryCode", "", wechat.Phone{National: "8613912345678"}},
		{"NullCountryCode", nil, wechat.Phone{National: "8613712345678"}},
	}
	losers := make([]string, len(cases))
	for i, c := range cases {
		phone := "+" + c.p.CountryCode + c.p.National
		keeper := store.NewID()
		losers[i] = store.NewID()
		exec("INSERT INTO users (id, phone, phone_country_code, created_at) VALUES (?, ?, ?, '2026-01-01')", keeper, phone, c.cc)
		exec("INSERT INTO users (id, phone, phone_country_code, created_at) VALUES (?, ?, ?, '2026-01-02')", losers[i], phone, c.cc)
	}
	if names, err := st.Migrate(ctx); err != nil || len(names) != 1 || names[0] != "20261206000014" {
		t.Fatalf("migrate applied %v, %v; want 20261206000014", names, err)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var detail []byte
			err := st.DB().QueryRowContext(ctx, `SELECT detail FROM audit_log
				WHERE action = 'user.unbind_phone' AND target = ?`, losers[i]).Scan(&detail)
			if err != nil {
				t.Fatalf("unbind audit row: %v", err)
			}
			var d struct{ Phone string }
			if err := json.Unmarshal(detail, &d); err != nil {
				t.Fatal(err)
			}
			if want := auth.MaskPhone(&c.p); d.Phone != want {
				t.Fatalf("the migration masks +%s%s as %q, MaskPhone as %q", c.p.CountryCode, c.p.National, d.Phone, want)
			}
		})
	}
}
