package store_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// randomMobile is a mainland mobile number in E.164 that no other test
// uses: numbers are unique across users, and the package shares one database.
func randomMobile(t *testing.T) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1e9))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("+8613%09d", n)
}

func bindAudit(userID string) *models.AuditEntry {
	return &models.AuditEntry{ActorKind: "user", ActorID: &userID, Action: "user.bind_phone", Target: &userID,
		Detail: map[string]any{"countryCode": "86", "phone": "+86138****0000", "method": "code"}}
}

func phoneOf(t *testing.T, st *store.Store, userID string) string {
	t.Helper()
	var p *string
	if err := st.DB().QueryRowContext(context.Background(), "SELECT phone FROM users WHERE id = ?", userID).Scan(&p); err != nil {
		t.Fatal(err)
	}
	if p == nil {
		return ""
	}
	return *p
}

// A number belongs to one user: a second user's bind is refused and
// changes nothing; the holder may bind it again; once the holder moves to
// another number, it is free.
func TestStore_SetPhone_OneUserPerNumber(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	alice := mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t)}).User.ID
	bob := mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t)}).User.ID
	p, q, r := randomMobile(t), randomMobile(t), randomMobile(t)

	if _, err := st.SetPhone(ctx, alice, p, "86", bindAudit(alice)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetPhone(ctx, bob, q, "86", bindAudit(bob)); err != nil {
		t.Fatal(err)
	}
	u, err := st.SetPhone(ctx, bob, p, "86", bindAudit(bob))
	if !errors.Is(err, store.ErrPhoneInUse) || u != nil {
		t.Fatalf("bob binding alice's number: %+v, %v; want ErrPhoneInUse", u, err)
	}
	if phoneOf(t, st, bob) != q || phoneOf(t, st, alice) != p {
		t.Fatal("a refused bind changed a number")
	}
	if n := count(t, st, "SELECT count(*) FROM audit_log WHERE action = 'user.bind_phone' AND target = ?", bob); n != 1 {
		t.Fatalf("bob has %d bind audit rows, want 1: the refused bind wrote one", n)
	}
	if _, err := st.SetPhone(ctx, alice, p, "86", bindAudit(alice)); err != nil {
		t.Fatalf("alice binding her own number again: %v", err)
	}
	if _, err := st.SetPhone(ctx, alice, r, "86", bindAudit(alice)); err != nil {
		t.Fatal(err)
	}
	if u, err := st.SetPhone(ctx, bob, p, "86", bindAudit(bob)); err != nil || *u.Phone != p {
		t.Fatalf("bob binding the number alice left: %+v, %v", u, err)
	}
}

// Binds of one number by many users at once: exactly one wins, the others
// get ErrPhoneInUse (not a raw unique violation), and one audit row is written.
func TestStore_SetPhone_Concurrent(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	const n = 20
	users := make([]string, n)
	for i := range users {
		users[i] = mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t)}).User.ID
	}
	p := randomMobile(t)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, id := range users {
		wg.Go(func() {
			<-start
			_, errs[i] = st.SetPhone(ctx, id, p, "86", bindAudit(id))
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrPhoneInUse):
			t.Fatalf("bind %d: %v, want nil or ErrPhoneInUse", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d binds won, want exactly 1", won)
	}
	if c := count(t, st, "SELECT count(*) FROM users WHERE phone = ?", p); c != 1 {
		t.Fatalf("%d users have the number", c)
	}
	if c := count(t, st, "SELECT count(*) FROM audit_log WHERE action = 'user.bind_phone' AND target IN (?)", bun.List(users)); c != 1 {
		t.Fatalf("%d bind audit rows, want 1", c)
	}
}

// The migration that makes numbers unique runs on a table where some are
// on several users (what the hole left behind): the first to bind keeps
// the number, the others lose it with an audit row, and the index is built.
func TestStore_Migrate_PhoneUniqueWithDuplicates(t *testing.T) {
	t.Parallel()
	dsn, _ := storetest.FreshDatabase(t) // empty: the test migrates it itself
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := st.DB().ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	// The database as it was before the migration.
	unapply := func() {
		exec("DROP INDEX users_phone_key")
		exec("CREATE INDEX IF NOT EXISTS users_phone_idx ON users (phone) WHERE phone IS NOT NULL")
		exec("DELETE FROM bun_migrations WHERE name = '20261206000014'")
	}
	unapply()

	ids := map[string]string{}
	user := func(name, created, phone string) {
		ids[name] = store.NewID()
		var p, cc any
		if phone != "" {
			p, cc = phone, phone[1:3] // +86 and +44 only
		}
		exec("INSERT INTO users (id, nickname, phone, phone_country_code, created_at) VALUES (?, ?, ?, ?, ?)", ids[name], name, p, cc, created)
	}
	bound := func(name, at string) {
		exec("INSERT INTO audit_log (id, at, actor_kind, action, target) VALUES (?, ?, 'user', 'user.bind_phone', ?)", store.NewID(), at, ids[name])
	}
	// alice bound first, mallory later with alice's code; carol's came
	// from a merge (no bind row): alice keeps it.
	user("mallory", "2026-01-01", "+8613800138000")
	user("alice", "2026-02-01", "+8613800138000")
	user("carol", "2025-01-01", "+8613800138000")
	bound("alice", "2026-03-01")
	bound("mallory", "2026-03-02")
	bound("mallory", "2026-01-05") // an older bind of another number
	// Nobody's bind is known: the oldest user keeps it.
	user("dave", "2026-01-01", "+447700900123")
	user("erin", "2026-01-02", "+447700900123")
	// Alone with its number, or without one: untouched.
	user("frank", "2026-01-01", "+8613912345678")
	user("grace", "2026-01-01", "")

	names, err := st.Migrate(ctx)
	if err != nil || len(names) != 1 || names[0] != "20261206000014" {
		t.Fatalf("migrate applied %v, %v; want 20261206000014", names, err)
	}
	want := map[string]string{"alice": "+8613800138000", "mallory": "", "carol": "", "dave": "+447700900123", "erin": "",
		"frank": "+8613912345678", "grace": ""}
	for name, phone := range want {
		if got := phoneOf(t, st, ids[name]); got != phone {
			t.Errorf("%s has %q, want %q", name, got, phone)
		}
	}
	if c := count(t, st, "SELECT count(*) FROM users WHERE phone IS NULL AND phone_country_code IS NOT NULL"); c != 0 {
		t.Errorf("%d users keep a country code without a number", c)
	}
	for name, kept := range map[string]string{"mallory": "alice", "carol": "alice", "erin": "dave"} {
		var detail string
		err := st.DB().QueryRowContext(ctx, `SELECT detail::text FROM audit_log
			WHERE action = 'user.unbind_phone' AND target = ? AND actor_kind = 'system'`, ids[name]).Scan(&detail)
		if err != nil {
			t.Fatalf("%s's unbind audit row: %v", name, err)
		}
		mask := map[string]string{"alice": "+86138****8000", "dave": "+44******0123"}[kept]
		if !strings.Contains(detail, `"keptBy": "`+ids[kept]+`"`) || !strings.Contains(detail, `"phone": "`+mask+`"`) ||
			strings.Contains(detail, "13800138000") || strings.Contains(detail, "7700900123") {
			t.Errorf("%s's unbind audit detail: %s", name, detail)
		}
	}
	if c := count(t, st, "SELECT count(*) FROM audit_log WHERE action = 'user.unbind_phone'"); c != 3 {
		t.Errorf("%d unbind audit rows, want 3", c)
	}
	var unique, valid bool
	if err := st.DB().QueryRowContext(ctx, `SELECT i.indisunique, i.indisvalid FROM pg_index i
		WHERE i.indexrelid = 'users_phone_key'::regclass`).Scan(&unique, &valid); err != nil || !unique || !valid {
		t.Fatalf("users_phone_key: unique %v, valid %v, %v", unique, valid, err)
	}
	if c := count(t, st, "SELECT count(*) FROM pg_class WHERE relname = 'users_phone_idx'"); c != 0 {
		t.Error("users_phone_idx is still there")
	}

	// Run again, as after a failed build: nothing more changes.
	unapply()
	if names, err := st.Migrate(ctx); err != nil || len(names) != 1 {
		t.Fatalf("second run: %v, %v", names, err)
	}
	if c := count(t, st, "SELECT count(*) FROM audit_log WHERE action = 'user.unbind_phone'"); c != 3 {
		t.Errorf("second run: %d unbind audit rows, want still 3", c)
	}
}
