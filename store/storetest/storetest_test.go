package storetest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The package's own database doubles as `make test`'s probe of the test
// server: `go test -run '^$' ./store/storetest` creates, migrates and drops one.
func TestMain(m *testing.M) { Main(m) }

func TestServerURL(t *testing.T) {
	t.Parallel()
	const staging = "postgres://app:secret@staging.example.com/wxlogin?sslmode=verify-full"
	const mine = "postgres://me@db.example.com/anything?sslmode=verify-full"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"Unset", nil, DefaultServerURL},
		{"DatabaseURLIgnored", map[string]string{"DATABASE_URL": staging}, DefaultServerURL},
		{"TestDatabaseURL", map[string]string{"TEST_DATABASE_URL": mine}, mine},
		{"TestDatabaseURLWins", map[string]string{"TEST_DATABASE_URL": mine, "DATABASE_URL": staging}, mine},
		{"EmptyTestDatabaseURL", map[string]string{"TEST_DATABASE_URL": "", "DATABASE_URL": staging}, DefaultServerURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := serverURL(func(k string) string { return tc.env[k] }); got != tc.want {
				t.Errorf("serverURL = %q, want %q", got, tc.want)
			}
		})
	}
}

// Main creates its database on TEST_DATABASE_URL's server even when
// DATABASE_URL names a usable one, and says what to set when it cannot.
func TestMain_UsesOnlyTestDatabaseURL(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+DSN(t), // reachable: the server this test runs on
		"TEST_DATABASE_URL=postgres://postgres@127.0.0.1:1/postgres?sslmode=disable",
	)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("Main with an unreachable TEST_DATABASE_URL: err = %v, want exit status 2; output:\n%s", err, out)
	}
	for _, want := range []string{"127.0.0.1:1", "set TEST_DATABASE_URL"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not mention %q:\n%s", want, out)
		}
	}
}

func TestMain_MigratedDatabase(t *testing.T) {
	t.Parallel()
	if !strings.Contains(DSN(t), "/wxlogin_test_storetest_") {
		t.Errorf("DSN %s does not name this package's database", DSN(t))
	}
	var applied int
	if err := Open(t).DB().QueryRowContext(context.Background(),
		"SELECT count(*) FROM bun_migrations").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied == 0 {
		t.Error("no migrations applied")
	}
}
