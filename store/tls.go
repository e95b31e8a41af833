package store

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// pgTarget is where pgdriver will connect for a DSN, worked out the way
// pgdriver v1.2.18 does it (config.go newDefaultConfig and parseDSN):
//
//   - start from PGHOST (default localhost) and PGPORT (default 5432) over tcp;
//   - a postgres:// URL host replaces both, with port 5432 when it names
//     none (PGPORT is then ignored);
//   - a host query parameter (its last value) replaces that address verbatim,
//     and makes it a unix socket when it starts with '/';
//   - a unix:// URL is the socket at its path.
type pgTarget struct {
	network string // "tcp" or "unix"
	host    string // for tcp: the host name or IP, without port
	from    string // where host came from, for messages
}

func resolveTarget(u *url.URL) (pgTarget, error) {
	t := pgTarget{network: "tcp", host: "localhost", from: "the default"}
	if h := os.Getenv("PGHOST"); h != "" {
		t.host, t.from = h, "PGHOST"
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		if u.Host != "" {
			t.host, t.from = hostOf(u.Host), "the URL"
		}
		if h := lastValue(u.Query(), "host"); h != "" {
			t.host, t.from = hostOf(h), "the host parameter"
			if h[0] == '/' {
				t.network, t.host = "unix", h
			}
		}
	case "unix":
		if u.Path == "" {
			return pgTarget{}, fmt.Errorf("store: DATABASE_URL unix:// names no socket path")
		}
		t = pgTarget{network: "unix", host: u.Path, from: "the URL"}
	default:
		return pgTarget{}, fmt.Errorf("store: DATABASE_URL must be a postgres:// or unix:// URL")
	}
	return t, nil
}

// hostOf drops the port from a host[:port] address; pgdriver passes the
// address to net.Dial, so that is how it splits.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
}

// local reports whether no network lies between us and the server: a unix
// socket, or a loopback address. An empty host is loopback too: net.Dial
// assumes the local system for ":5432".
func (t pgTarget) local() bool {
	if t.network == "unix" || t.host == "" || t.host == "localhost" {
		return true
	}
	ip := net.ParseIP(t.host)
	return ip != nil && ip.IsLoopback()
}

// lastValue is the value pgdriver reads for a repeated query parameter: the
// last one, where url.Values.Get returns the first.
func lastValue(q url.Values, key string) string {
	if vs := q[key]; len(vs) > 0 {
		return vs[len(vs)-1]
	}
	return ""
}

// checkTLS refuses DSNs whose TLS would not verify the server on a network
// path: a missing sslmode, or prefer/allow/require, make pgdriver encrypt
// without checking the certificate, which a man in the middle defeats. On a
// local target a missing sslmode means disable: TLS adds nothing there, and
// pgdriver, unlike libpq, does not fall back to plain text when the server
// has no TLS. It returns the DSN to connect with.
//
// pgdriver honours PGHOST and PGPORT but not PGSSLMODE or PGSSLROOTCERT, so
// sslmode can only come from the DSN.
func checkTLS(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("store: DATABASE_URL is not a URL")
	}
	t, err := resolveTarget(u)
	if err != nil {
		return "", err
	}
	q := u.Query()
	mode := lastValue(q, "sslmode")
	if mode == "verify-ca" && lastValue(q, "sslrootcert") == "" {
		// pgdriver then checks the chain against the system roots and never
		// the host name: any publicly trusted certificate for any site passes.
		return "", fmt.Errorf("store: DATABASE_URL sslmode=verify-ca without sslrootcert accepts any publicly signed certificate; " +
			"add sslrootcert=/path/ca.pem or use sslmode=verify-full")
	}
	switch mode {
	case "verify-full", "verify-ca", "disable":
		return dsn, nil
	}
	if t.local() {
		if mode == "" {
			q.Set("sslmode", "disable")
			u.RawQuery = q.Encode()
			return u.String(), nil
		}
		return dsn, nil
	}
	hint := ""
	if mode == "" {
		mode = "(unset)"
		if os.Getenv("PGSSLMODE") != "" {
			hint = " (PGSSLMODE is ignored by the driver)"
		}
	}
	return "", fmt.Errorf("store: DATABASE_URL sslmode=%s would not verify the certificate of %s (host from %s)%s; "+
		"use sslmode=verify-full (add sslrootcert=/path/ca.pem for a private CA), "+
		"or sslmode=disable on a network you trust", mode, t.host, t.from, hint)
}
