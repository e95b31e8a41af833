// Package storetest gives each test package its own freshly created and
// migrated PostgreSQL database, dropped when the package's tests end, so
// packages run in parallel and leave nothing behind.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"wxlogin/store"
)

// DefaultServerURL is used when TEST_DATABASE_URL is unset: the server `make test`
// finds or starts answers there on a developer machine.
const DefaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var dsn string

// Main is a package's TestMain: it creates and migrates a database named
// after the package on the server of TEST_DATABASE_URL, runs the tests, and
// drops it. Without a reachable server it fails loudly; it never skips.
func Main(m *testing.M) {
	os.Exit(run(m))
}

// serverURL names the server the tests create their databases on:
// TEST_DATABASE_URL, else DefaultServerURL. DATABASE_URL is never read: it
// may name a server (staging, say) that is nobody's to create databases on.
func serverURL(getenv func(string) string) string {
	if s := getenv("TEST_DATABASE_URL"); s != "" {
		return s
	}
	return DefaultServerURL
}

func run(m *testing.M) int {
	server := serverURL(os.Getenv)
	u, err := url.Parse(server)
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest: TEST_DATABASE_URL is not a URL")
		return 2
	}
	u.Path = "/" + databaseName()
	dsn = u.String()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := store.CreateDatabase(ctx, dsn); err != nil {
		fmt.Fprintf(os.Stderr, "storetest: cannot create a test database on %s: %v\n"+
			"storetest: set TEST_DATABASE_URL to a server where we may CREATE DATABASE (DATABASE_URL is not used), or run `make test`, which finds or starts one\n",
			u.Redacted(), err)
		return 2
	}
	defer drop(dsn)
	st, err := store.Open(ctx, dsn, store.Options{MaxConns: 2})
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 2
	}
	_, err = st.Migrate(ctx)
	_ = st.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 2
	}
	return m.Run()
}

// drop removes the package's database, closing whatever still holds it open.
func drop(dsn string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := store.DropDatabase(ctx, dsn); err != nil {
		fmt.Fprintln(os.Stderr, "storetest: dropping test database:", err)
	}
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseName is wxlogin_test_<package>_<random>: recognisable in
// pg_database if a killed run ever leaves one behind, and unique per run.
func databaseName() string {
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	pkg = unsafeChars.ReplaceAllString(strings.ToLower(pkg), "_")
	if len(pkg) > 20 {
		pkg = pkg[:20]
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "wxlogin_test_" + pkg + "_" + hex.EncodeToString(b)
}

// DSN returns the URL of this package's test database. Main must have run.
func DSN(tb testing.TB) string {
	tb.Helper()
	if dsn == "" {
		tb.Fatal("storetest: call storetest.Main(m) from the package's TestMain")
	}
	return dsn
}

// Open returns a Store on this package's test database, closed at cleanup.
func Open(tb testing.TB) *store.Store {
	tb.Helper()
	st, err := store.Open(context.Background(), DSN(tb), store.Options{MaxConns: 20})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

// OpenFresh returns a Store on a database of its own (FreshDatabase),
// migrated, for a test that must see every row of a table (a count, a walk
// over the whole table) without the package's other tests' rows.
func OpenFresh(tb testing.TB) *store.Store {
	tb.Helper()
	fresh, _ := FreshDatabase(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, fresh, store.Options{MaxConns: 4})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return st
}
