package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"wxlogin/admin"
	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
	"wxlogin/token"
)

// TestQueryTimeout: an admin read the pool's statement timeout stops is
// QUERY_TIMEOUT with a message saying what to do, never INTERNAL. The
// reads are made slow by a lock the test holds, so the timeout fires
// whatever the machine's speed. Not parallel: the lock would hold up the
// package's other tests.
func TestQueryTimeout(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.DSN(t), store.Options{MaxConns: 2, StatementTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc := admin.NewService(st, admin.Config{})

	locker := storetest.Open(t)
	tx, err := locker.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "LOCK TABLE users, audit_log IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	first := 20
	for name, call := range map[string]func() error{
		"Users": func() error {
			_, err := svc.Users(ctx, admin.UsersInput{First: &first, Search: "小明123", WithTotal: true})
			return err
		},
		"TotalUsers": func() error { _, err := svc.TotalUsers(ctx); return err },
		"AuditLog": func() error {
			_, err := svc.AuditLog(ctx, admin.AuditInput{First: &first})
			return err
		},
	} {
		err := call()
		if models.ErrorCode(err) != models.CodeQueryTimeout || !strings.Contains(models.ErrorMessage(err), "narrow") {
			t.Errorf("%s under a statement timeout = %v, want %s saying to narrow it", name, err, models.CodeQueryTimeout)
		}
	}
}

// TestQueryTimeout_PoolBusy: a request whose deadline passes while it waits
// for one of the admin pool's connections is QUERY_TIMEOUT too, saying to
// try again.
func TestQueryTimeout_PoolBusy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.DSN(t), store.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	conn, err := st.DB().Conn(ctx) // the pool's only connection
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	svc := admin.NewService(st, admin.Config{})
	wait, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = svc.Users(wait, admin.UsersInput{Search: "zq"})
	if models.ErrorCode(err) != models.CodeQueryTimeout || !strings.Contains(models.ErrorMessage(err), "try again") {
		t.Fatalf("Users waiting for a busy pool = %v, want %s saying to try again", err, models.CodeQueryTimeout)
	}
	// Every admin request looks its session up first, on the same pool.
	tok, _ := token.New(token.Admin)
	wait, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := svc.Authenticate(wait, tok); models.ErrorCode(err) != models.CodeQueryTimeout {
		t.Fatalf("Authenticate waiting for a busy pool = %v, want %s", err, models.CodeQueryTimeout)
	}
}
