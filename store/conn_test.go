package store_test

import (
	"context"
	"errors"
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
