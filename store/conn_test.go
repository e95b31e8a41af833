package store_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"wxlogin/models"
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

// uniqueAppName tells this test's connections apart in pg_stat_activity.
func uniqueAppName(prefix string) string { return prefix + "-" + store.NewID() }

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

// killBackends terminates every connection named app and waits until the
// server has let them go.
func killBackends(t *testing.T, admin *store.Store, app string) {
	t.Helper()
	ctx := context.Background()
	var killed int
	if err := admin.DB().QueryRowContext(ctx,
		"SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ? AND pid <> pg_backend_pid()", app,
	).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no connection to kill: the test would prove nothing")
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if count(t, admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", app) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("terminated backends still there after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// After the server killed every pooled connection (a restart, an operator),
// a login still goes through, once.
func TestStore_Login_RetriesOnDeadConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := uniqueAppName("wxlogin-retry")
	st := open(t, store.Options{MaxConns: 3, ApplicationName: app})
	admin := storetest.Open(t)

	// Fill the pool with idle connections: hold three at once, give them back.
	var conns []bun.Conn
	for range 3 {
		c, err := st.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		_ = c.Close()
	}
	if n := count(t, admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", app); n != 3 {
		t.Fatalf("%d pooled connections, want 3", n)
	}
	killBackends(t, admin, app)

	openid := uniqueOpenID(t)
	sess := newSession()
	res, err := st.Login(ctx, store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: "wxretry", OpenID: openid, Session: sess})
	if err != nil {
		t.Fatalf("login on a pool of dead connections: %v", err)
	}
	if !res.Created {
		t.Fatal("first login not reported as created")
	}
	if n := count(t, admin, "SELECT count(*) FROM sessions WHERE id = ? AND user_id = ?", sess.ID, res.User.ID); n != 1 {
		t.Fatalf("sessions = %d, want 1", n)
	}
	if n := count(t, admin, "SELECT count(*) FROM identities WHERE appid = 'wxretry' AND openid = ?", openid); n != 1 {
		t.Fatalf("identities = %d, want 1", n)
	}
	if n := count(t, admin, "SELECT count(*) FROM users WHERE id = ?", res.User.ID); n != 1 {
		t.Fatalf("users = %d, want 1", n)
	}
}

// If the connection died during COMMIT after the server committed, the
// retry finds the session already recorded and returns that login.
func TestStore_Login_RetryAfterLostCommit(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	for _, returning := range []bool{false, true} {
		t.Run(fmt.Sprintf("returning=%v", returning), func(t *testing.T) {
			openid := uniqueOpenID(t)
			if returning {
				mustLogin(t, st, store.LoginParams{OpenID: openid})
			}
			sess := newSession()
			p := store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: "wxapp1", OpenID: openid, Session: sess}
			first, err := st.Login(ctx, p) // committed, but say the answer was lost
			if err != nil {
				t.Fatal(err)
			}
			retry := *sess
			retry.UserID, retry.IdentityID, retry.CreatedAt = "", "", time.Time{}
			p.Session = &retry
			again, err := st.LoginRetry(ctx, p)
			if err != nil {
				t.Fatalf("retry of a committed login: %v", err)
			}
			if again.User.ID != first.User.ID || again.Identity.ID != first.Identity.ID || again.Created != first.Created || again.Created == returning {
				t.Fatalf("retry = %+v, %+v; first = %+v, %+v", again, again.User, first, first.User)
			}
			if retry.UserID != sess.UserID || retry.IdentityID != sess.IdentityID || !retry.CreatedAt.Equal(sess.CreatedAt) {
				t.Fatalf("session filled as %+v, want %+v", retry, sess)
			}
			if n := count(t, st, "SELECT count(*) FROM sessions WHERE token_hash = ?", sess.TokenHash); n != 1 {
				t.Fatalf("sessions = %d, want 1", n)
			}
		})
	}
	t.Run("SomeoneElsesToken", func(t *testing.T) {
		sess := newSession()
		mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t), Session: sess})
		clash := newSession()
		clash.TokenHash = sess.TokenHash // another session id with the same token hash
		_, err := st.LoginRetry(ctx, store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: "wxapp1", OpenID: uniqueOpenID(t), Session: clash})
		if err == nil {
			t.Fatal("a retry colliding with another session's token succeeded")
		}
	})
}

func TestConnDied(t *testing.T) {
	t.Parallel()
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{fmt.Errorf("inserting session: %w", io.EOF), true},
		{io.ErrUnexpectedEOF, true},
		{driver.ErrBadConn, true},
		{net.ErrClosed, true},
		{reset, true},
		{&net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}, true},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, false},
		{store.ErrUserDisabled, false},
		{errors.New("something else"), false},
	} {
		if got := store.ConnDied(tc.err); got != tc.want {
			t.Errorf("ConnDied(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}

	// Server errors, as pgdriver returns them.
	st := storetest.Open(t)
	ctx := context.Background()
	_, err := st.DB().ExecContext(ctx, "SELECT 1/0")
	if store.ConnDied(err) {
		t.Errorf("ConnDied(%v) = true", err)
	}
	app := uniqueAppName("wxlogin-died")
	victim := open(t, store.Options{MaxConns: 1, ApplicationName: app})
	if err := victim.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	killBackends(t, st, app)
	err = victim.Ping(ctx)
	var pgErr pgdriver.Error
	if !errors.As(err, &pgErr) || pgErr.Field('C') != "57P01" || !store.ConnDied(err) {
		t.Errorf("on a terminated connection: err = %v, ConnDied = %v; want 57P01, true", err, store.ConnDied(err))
	}
}
