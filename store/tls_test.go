package store_test

import (
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"wxlogin/store"
)

// pgdriverTargetIsLocal asks pgdriver itself where it would connect for dsn
// and says whether that is a unix socket or a loopback address, so the
// table below checks checkTLS against the driver, not against a copy of it.
func pgdriverTargetIsLocal(t *testing.T, dsn string) bool {
	t.Helper()
	conf := pgdriver.NewConnector(pgdriver.WithDSN(dsn)).Config()
	if conf.Network == "unix" {
		return true
	}
	host, _, err := net.SplitHostPort(conf.Addr)
	if err != nil {
		host = strings.Trim(conf.Addr, "[]")
	}
	if host == "" || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Not parallel: it sets PGHOST/PGPORT, which every Open reads.
func TestCheckTLS(t *testing.T) {
	const refused = "REFUSED"
	for _, tc := range []struct {
		name string
		dsn  string
		env  map[string]string
		want string // the sslmode connected with, or refused
		msg  string // part of the refusal
	}{
		{name: "RemoteUnset", dsn: "postgres://u@db.example.com:5432/x", want: refused, msg: "db.example.com"},
		{name: "RemoteRequire", dsn: "postgres://u@db.example.com/x?sslmode=require", want: refused, msg: "use sslmode=verify-full"},
		{name: "RemotePrefer", dsn: "postgres://u@10.0.0.5:5432/x?sslmode=prefer", want: refused},
		{name: "RemoteAllow", dsn: "postgres://u@10.0.0.5/x?sslmode=allow", want: refused},
		{name: "RemoteRequireWithRootCert", dsn: "postgres://u@10.0.0.5/x?sslmode=require&sslrootcert=/ca.pem", want: refused},
		{name: "RemoteVerifyFull", dsn: "postgres://u@db.example.com/x?sslmode=verify-full", want: "verify-full"},
		{name: "RemoteVerifyCAWithRootCert", dsn: "postgres://u@db.example.com/x?sslmode=verify-ca&sslrootcert=/ca.pem", want: "verify-ca"},
		{name: "RemoteDisable", dsn: "postgres://u@db.example.com/x?sslmode=disable", want: "disable"},
		{name: "RemoteVerifyCAPublicRoots", dsn: "postgres://u@db.example.com/x?sslmode=verify-ca", want: refused, msg: "add sslrootcert"},
		{name: "LoopbackVerifyCAPublicRoots", dsn: "postgres://u@127.0.0.1/x?sslmode=verify-ca", want: refused, msg: "add sslrootcert"},
		// pgdriver reads the last of repeated parameters.
		{name: "LastSSLModeCounts", dsn: "postgres://u@db.example.com/x?sslmode=verify-full&sslmode=require", want: refused},
		{name: "LastSSLModeCountsOK", dsn: "postgres://u@db.example.com/x?sslmode=require&sslmode=verify-full", want: "verify-full"},
		// The host query parameter replaces the URL's host.
		{name: "HostParam", dsn: "postgres://u@/x?host=db.prod", want: refused, msg: "db.prod (host from the host parameter)"},
		{name: "HostParamWithPort", dsn: "postgres://u@/x?host=db.prod:5432", want: refused},
		{name: "HostParamOverridesLoopbackURL", dsn: "postgres://u@127.0.0.1/x?host=db.prod:5432", want: refused},
		{name: "HostParamLast", dsn: "postgres://u@/x?host=127.0.0.1:5432&host=db.prod:5432", want: refused},
		{name: "HostParamLoopback", dsn: "postgres://u@db.prod/x?host=127.0.0.1:5432", want: "disable"},
		{name: "HostParamSocket", dsn: "postgres://u@db.prod/x?host=/var/run/postgresql/.s.PGSQL.5432", want: "disable"},
		// Without a URL host, PGHOST (default localhost) decides.
		{name: "PGHOSTRemote", dsn: "postgres://u@/x", env: map[string]string{"PGHOST": "db.prod"}, want: refused, msg: "db.prod (host from PGHOST)"},
		{name: "PGHOSTRemoteWithPGPORT", dsn: "postgres://u@/x", env: map[string]string{"PGHOST": "10.1.2.3", "PGPORT": "6432"}, want: refused},
		{name: "PGHOSTLoopback", dsn: "postgres://u@/x", env: map[string]string{"PGHOST": "127.0.0.1"}, want: "disable"},
		{name: "PGHOSTIgnoredForURLHost", dsn: "postgres://u@127.0.0.1/x", env: map[string]string{"PGHOST": "db.prod"}, want: "disable"},
		{name: "PGHOSTIgnoredForHostParam", dsn: "postgres://u@/x?host=localhost:5432", env: map[string]string{"PGHOST": "db.prod"}, want: "disable"},
		{name: "PGSSLMODEIgnored", dsn: "postgres://u@/x", env: map[string]string{"PGHOST": "db.prod", "PGSSLMODE": "verify-full"}, want: refused, msg: "PGSSLMODE is ignored"},
		{name: "DefaultLocalhost", dsn: "postgres://u@/x", want: "disable"},
		{name: "EmptyHostWithPort", dsn: "postgres://u@:5432/x", want: "disable"},
		{name: "Localhost", dsn: "postgres://u@localhost/x", want: "disable"},
		{name: "Loopback127Net", dsn: "postgres://u@127.1.2.3:5432/x", want: "disable"},
		{name: "LoopbackV6", dsn: "postgres://u@[::1]:5432/x", want: "disable"},
		{name: "LoopbackRequireKept", dsn: "postgres://u@127.0.0.1/x?sslmode=require", want: "require"},
		{name: "PostgresqlScheme", dsn: "postgresql://u@db.example.com/x", want: refused},
		{name: "UnixScheme", dsn: "unix://u@x/var/run/postgresql/.s.PGSQL.5432", want: "disable"},
		{name: "OtherScheme", dsn: "mysql://u@localhost/x", want: refused, msg: "postgres://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"PGHOST", "PGPORT", "PGSSLMODE"} {
				t.Setenv(k, tc.env[k])
			}
			got, err := store.CheckTLS(tc.dsn)
			if tc.want == refused {
				if err == nil {
					t.Fatalf("accepted as %s; want a refusal", got)
				}
				if !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %q; want one line containing %q", err, tc.msg)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				u, _ := url.Parse(got)
				if vs := u.Query()["sslmode"]; len(vs) == 0 || vs[len(vs)-1] != tc.want {
					t.Fatalf("connects with %s; want sslmode=%s", got, tc.want)
				}
			}
			// Cross-check against pgdriver: with no sslmode, we refuse
			// exactly the targets pgdriver would reach over a network.
			if u, _ := url.Parse(tc.dsn); u.Query().Get("sslmode") == "" && (u.Scheme == "postgres" || u.Scheme == "postgresql" || u.Scheme == "unix") {
				if local := pgdriverTargetIsLocal(t, tc.dsn); local != (err == nil) {
					t.Fatalf("pgdriver connects locally: %v, but checkTLS err = %v", local, err)
				}
			}
		})
	}
}

// Not parallel: it sets PGHOST.
func TestConnectorConfig(t *testing.T) {
	const dsn = "postgres://u@127.0.0.1:5432/x?sslmode=disable"
	t.Run("Defaults", func(t *testing.T) {
		conf, err := store.ConnectorConfig(dsn, store.Options{ApplicationName: "app"})
		if err != nil {
			t.Fatal(err)
		}
		if p := conf.ConnParams; p["statement_timeout"] != int64(10_000) || p["idle_in_transaction_session_timeout"] != int64(30_000) {
			t.Fatalf("conn params = %v", p)
		}
		if conf.DialTimeout != 5*time.Second || conf.AppName != "app" {
			t.Fatalf("dial timeout %v, app %q", conf.DialTimeout, conf.AppName)
		}
		if conf.ReadTimeout < 10*time.Second {
			t.Fatalf("read timeout %v fires before the 10s statement timeout", conf.ReadTimeout)
		}
	})
	t.Run("LongStatementNotCutByClient", func(t *testing.T) {
		conf, err := store.ConnectorConfig(dsn, store.Options{StatementTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if conf.ConnParams["statement_timeout"] != int64(3_600_000) {
			t.Fatalf("conn params = %v", conf.ConnParams)
		}
		if conf.ReadTimeout != 0 && conf.ReadTimeout <= time.Hour {
			t.Fatalf("read timeout %v fires before the 1h statement timeout", conf.ReadTimeout)
		}
		// A read_timeout in the DSN would cut it too.
		conf, err = store.ConnectorConfig(dsn+"&read_timeout=1s", store.Options{StatementTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if conf.ReadTimeout != 0 && conf.ReadTimeout <= time.Hour {
			t.Fatalf("read timeout %v from the DSN fires before the 1h statement timeout", conf.ReadTimeout)
		}
	})
	t.Run("NoLimit", func(t *testing.T) {
		conf, err := store.ConnectorConfig(dsn, store.Options{StatementTimeout: -1, IdleInTxTimeout: -1})
		if err != nil {
			t.Fatal(err)
		}
		if p := conf.ConnParams; p["statement_timeout"] != int64(0) || p["idle_in_transaction_session_timeout"] != int64(0) || conf.ReadTimeout != 0 {
			t.Fatalf("conn params = %v, read timeout %v; want no limits", p, conf.ReadTimeout)
		}
	})
	t.Run("SubMillisecondIsNotNoLimit", func(t *testing.T) {
		conf, err := store.ConnectorConfig(dsn, store.Options{StatementTimeout: 100 * time.Microsecond})
		if err != nil {
			t.Fatal(err)
		}
		if conf.ConnParams["statement_timeout"] != int64(1) {
			t.Fatalf("statement_timeout = %v, want 1 (ms)", conf.ConnParams["statement_timeout"])
		}
	})
	t.Run("DSNParamsKept", func(t *testing.T) {
		conf, err := store.ConnectorConfig(dsn+"&search_path=app&connect_timeout=2", store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if conf.ConnParams["search_path"] != "app" || conf.ConnParams["statement_timeout"] != int64(10_000) || conf.DialTimeout != 2*time.Second {
			t.Fatalf("conn params = %v, dial timeout %v", conf.ConnParams, conf.DialTimeout)
		}
	})
	t.Run("DSNTimeoutParamsRefused", func(t *testing.T) {
		for _, p := range []string{"statement_timeout=1000", "idle_in_transaction_session_timeout=1000"} {
			if _, err := store.ConnectorConfig(dsn+"&"+p, store.Options{}); err == nil || !strings.Contains(err.Error(), "DATABASE_URL sets") {
				t.Errorf("%s: err = %v; want a refusal", p, err)
			}
		}
	})
	t.Run("BadDSNIsAnErrorNotAPanic", func(t *testing.T) {
		for _, bad := range []string{
			"postgres://u:hunter2@127.0.0.1/x?sslmode=bogus",
			"postgres://u:hunter2@db.example.com/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
		} {
			_, err := store.ConnectorConfig(bad, store.Options{})
			if err == nil || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%s: err = %v; want an error without the password", bad, err)
			}
		}
	})
	t.Run("VerifyFullServerNameFromPGHOST", func(t *testing.T) {
		t.Setenv("PGHOST", "db.prod")
		conf, err := store.ConnectorConfig("postgres://u@/x?sslmode=verify-full", store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if tc := conf.TLSConfig; tc == nil || tc.InsecureSkipVerify || tc.ServerName != "db.prod" {
			t.Fatalf("TLS config %v verifies server name %q; want db.prod", tc != nil, tc.ServerName)
		}
	})
}
