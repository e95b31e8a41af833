package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"wxlogin/store"
)

// HoldMigrationLock takes the migration lock on a connection of its own,
// as another instance migrating would, until cleanup: a server started
// meanwhile waits for it.
func HoldMigrationLock(tb testing.TB) {
	tb.Helper()
	conn, err := Open(tb).DB().Conn(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "SELECT pg_advisory_lock(?)", store.MigrationLockID); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(?)", store.MigrationLockID)
		_ = conn.Close()
	})
}

// FreshDatabase creates an empty database of its own on this package's
// test server, dropped at cleanup, so that its rows and its backends in
// pg_stat_activity are one test's alone. It returns the URL and the name.
func FreshDatabase(tb testing.TB) (dsn, name string) {
	tb.Helper()
	u, err := url.Parse(DSN(tb))
	if err != nil {
		tb.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	u.Path = u.Path + "_" + hex.EncodeToString(b)
	dsn, name = u.String(), strings.TrimPrefix(u.Path, "/")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := store.CreateDatabase(ctx, dsn); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { drop(dsn) })
	return dsn, name
}

// Backends counts the connections to database name.
func Backends(tb testing.TB, name string) int {
	tb.Helper()
	var n int
	if err := Open(tb).DB().QueryRowContext(context.Background(),
		"SELECT count(*) FROM pg_stat_activity WHERE datname = ?", name).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// WaitNoBackends fails tb unless database name has no connection left
// within 5 s: what a server that closed its pools leaves.
func WaitNoBackends(tb testing.TB, name string) {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n := Backends(tb, name)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d connections to %s left after the server stopped: the pool was not closed", n, name)
		}
	}
}
