package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"wxlogin/store"
	"wxlogin/store/storetest"
)

func open(t *testing.T, opts store.Options) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), storetest.DSN(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestOpen_StatementTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ServerCancelsLongStatement", func(t *testing.T) {
		t.Parallel()
		st := open(t, store.Options{MaxConns: 1, StatementTimeout: 200 * time.Millisecond})
		_, err := st.DB().ExecContext(ctx, "SELECT pg_sleep(2)")
		var pgErr pgdriver.Error
		if !errors.As(err, &pgErr) || pgErr.Field('C') != "57014" {
			t.Fatalf("err = %v; want SQLSTATE 57014 (query_canceled) from the server", err)
		}
		// The connection survives a server-side cancel.
		if err := st.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("LongerTimeoutAllowsIt", func(t *testing.T) {
		t.Parallel()
		st := open(t, store.Options{MaxConns: 1, StatementTimeout: 5 * time.Second})
		if _, err := st.DB().ExecContext(ctx, "SELECT pg_sleep(0.5)"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("SessionSettings", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			opts       store.Options
			stmt, idle string
		}{
			{store.Options{}, "10s", "30s"},
			{store.Options{StatementTimeout: -1, IdleInTxTimeout: -1}, "0", "0"},
			{store.Options{StatementTimeout: 1500 * time.Millisecond, IdleInTxTimeout: time.Minute}, "1500ms", "1min"},
		} {
			tc.opts.MaxConns = 1
			st := open(t, tc.opts)
			var stmt, idle string
			if err := st.DB().QueryRowContext(ctx, "SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')").Scan(&stmt, &idle); err != nil {
				t.Fatal(err)
			}
			if stmt != tc.stmt || idle != tc.idle {
				t.Errorf("%+v: statement_timeout %s, idle_in_transaction_session_timeout %s; want %s, %s", tc.opts, stmt, idle, tc.stmt, tc.idle)
			}
		}
	})

	t.Run("IdleInTransactionEndsSession", func(t *testing.T) {
		t.Parallel()
		st := open(t, store.Options{MaxConns: 1, IdleInTxTimeout: 200 * time.Millisecond})
		tx, err := st.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		time.Sleep(time.Second) // idle in the transaction past its limit
		if _, err := tx.ExecContext(ctx, "SELECT 1"); err == nil {
			t.Fatal("a transaction idle past idle_in_transaction_session_timeout still works")
		}
	})
}

// A pool of one connection used to hang in Migrate: the lock held the only
// connection the migrator was waiting for.
func TestStore_Migrate_MaxConns1(t *testing.T) {
	t.Parallel()
	dsn := strings.Replace(storetest.DSN(t), "wxlogin_test_", "wxlogin_test_one_", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := store.CreateDatabase(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.DropDatabase(context.Background(), dsn); err != nil {
			t.Error(err)
		}
	})
	st, err := store.Open(ctx, dsn, store.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	names, err := st.Migrate(ctx)
	if err != nil || len(names) == 0 {
		t.Fatalf("applied %v, err %v; want the migrations", names, err)
	}
	names, err = st.Migrate(ctx)
	if err != nil || len(names) != 0 {
		t.Fatalf("second migrate applied %v, err %v; want nothing", names, err)
	}
	if err := st.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// While another instance holds the migration lock, Migrate waits for it only
// as long as its ctx lets it, and says what it was waiting for.
func TestStore_Migrate_WaitsForLockUntilCtxEnds(t *testing.T) {
	t.Parallel()
	holder := storetest.Open(t)
	conn, err := holder.DB().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "SELECT pg_advisory_lock(?)", store.MigrationLockID); err != nil {
		t.Fatal(err)
	}
	st := open(t, store.Options{MaxConns: 2})

	check := func(t *testing.T, ctx context.Context, want error) {
		t.Helper()
		done := make(chan error, 1)
		go func() {
			_, err := st.Migrate(ctx)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, want) || !strings.Contains(err.Error(), "waiting for the migration lock, held by another instance") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v; want one line about waiting for the migration lock, wrapping %v", err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Migrate still waiting 10s after its ctx ended")
		}
	}
	t.Run("Deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		check(t, ctx, context.DeadlineExceeded)
	})
	t.Run("Canceled", func(t *testing.T) {
		// No deadline: pgdriver would not notice this ctx in a blocked query.
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		check(t, ctx, context.Canceled)
	})

	if _, err := conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(?)", store.MigrationLockID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatalf("after the lock was released: %v", err)
	}
}
