package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"wxlogin/store"
)

// revocationRound logs a user in on A, has A cache the token, revokes it
// elsewhere (revoke) and asks A for it, one request after another, until A
// refuses it. lastOK is how long after the revocation was answered the
// last request A accepted was sent (negative when A accepted none),
// refused when the first it refused was sent.
func (d *driver) revocationRound(ctx context.Context, user string, between func(), revoke func(tok, id string) error) (lastOK, refused time.Duration, err error) {
	tok, id, g := d.login(ctx, d.a, user, d.nextIP())
	if g.kind != "" {
		return 0, 0, fmt.Errorf("login on A: %s", g.kind)
	}
	for range 2 {
		if _, g := d.meID(ctx, d.a, tok); g.kind != "" {
			return 0, 0, fmt.Errorf("me on A: %s", g.kind)
		}
	}
	if between != nil {
		between()
	}
	if err := revoke(tok, id); err != nil {
		return 0, 0, err
	}
	done := time.Now()
	lastOK = -1
	for {
		sent := time.Now()
		_, g := d.meID(ctx, d.a, tok)
		switch {
		case g.kind == "UNAUTHENTICATED":
			return lastOK, sent.Sub(done), nil
		case g.kind != "":
			return lastOK, 0, fmt.Errorf("me on A: %s", g.kind)
		}
		lastOK = sent.Sub(done)
		if lastOK > d.maxLag+5*time.Second {
			return lastOK, 0, fmt.Errorf("instance A still accepts the token %v after the logout", lastOK)
		}
	}
}

// How checkRevocationBound revokes.
const (
	byLogout  = iota // logout on B
	byStalled        // logout on B, A's LISTEN connection stopped
	byDisable        // the user disabled by a hand-written UPDATE
)

// checkRevocationBound is the promise of schema.graphqls and docs/operations.md:
// a token logged out on B is refused by A for every request sent maxLag
// or more after the logout was answered (its commit is earlier still).
// byStalled runs the rounds with A's LISTEN connection stopped (SIGSTOP to
// its PostgreSQL backend), so no notification reaches A at all; byDisable
// disables the user in SQL instead (the user-wide notification).
func (d *driver) checkRevocationBound(ctx context.Context, rounds, how int) {
	name := fmt.Sprintf("logout on B refused by A within %v", d.maxLag)
	var between, resume func()
	stopFailed := ""
	stalled := how == byStalled
	revoke := func(tok, _ string) error {
		if g := d.gql(ctx, d.b, tok, d.nextIP(), qLogout, nil); g.kind != "" {
			return fmt.Errorf("logout on B: %s", g.kind)
		}
		return nil
	}
	if how == byDisable {
		name = fmt.Sprintf("a user disabled by hand in SQL, refused by A within %v", d.maxLag)
		db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(os.Getenv("DATABASE_URL"))))
		defer db.Close()
		revoke = func(_, id string) error {
			_, err := db.ExecContext(ctx, "UPDATE users SET disabled_at = now() WHERE id = $1", id)
			return err
		}
	}
	if stalled {
		name = fmt.Sprintf("logout on B, A's LISTEN connection stopped, refused by A within %v", d.maxLag)
		// Found again every round: a listener given up is replaced.
		if _, err := d.listenerBackend(ctx); err != nil {
			fmt.Printf("  skip %s: %v\n", name, err)
			return
		}
		pid := 0
		between = func() {
			var err error
			if pid, err = d.listenerBackend(ctx); err == nil {
				err = syscall.Kill(pid, syscall.SIGSTOP)
			}
			if err != nil && stopFailed == "" {
				stopFailed = "stopping A's LISTEN connection: " + err.Error()
			}
		}
		resume = func() {
			if pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGCONT)
			}
		}
		defer resume()
	}
	var accepted, refused []time.Duration
	late, failed := 0, ""
	for i := range rounds {
		lastOK, no, err := d.revocationRound(ctx, fmt.Sprintf("revoke-%s-%d-%d", d.run, how, i), between, revoke)
		if resume != nil {
			resume()
			// Let A's listener catch up and prove it has, so that the next
			// round starts from a serving cache.
			time.Sleep(d.maxLag / 2)
		}
		if err != nil {
			failed = err.Error()
			break
		}
		if lastOK >= 0 {
			accepted = append(accepted, lastOK)
		}
		if lastOK >= d.maxLag {
			late++
		}
		refused = append(refused, no)
	}
	if failed == "" {
		failed = stopFailed
	}
	slices.Sort(accepted)
	slices.Sort(refused)
	ms := func(x time.Duration) string { return strconv.FormatFloat(float64(x)/1e6, 'f', 1, 64) + " ms" }
	got := fmt.Sprintf("%d rounds: A accepted the revoked token in %d", len(refused), len(accepted))
	if len(accepted) > 0 {
		got += ", sent at most " + ms(accepted[len(accepted)-1]) + " after the revocation was answered"
	}
	if len(refused) > 0 {
		got += fmt.Sprintf("; first refusal p50 %s, max %s", ms(refused[len(refused)/2]), ms(refused[len(refused)-1]))
	}
	if failed != "" {
		got += "; stopped: " + failed
	}
	d.check(name, failed == "" && late == 0 && len(refused) == rounds, "%s", got)
}

// listenerBackend finds the PostgreSQL backend of A's LISTEN connection:
// A's sockets to the server (from /proc) matched to pg_stat_activity's
// client ports. It needs the server on this machine.
func (d *driver) listenerBackend(ctx context.Context) (int, error) {
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		return 0, fmt.Errorf("DATABASE_URL is not set")
	}
	raw, err := os.ReadFile(filepath.Join(d.state, "a.pid"))
	if err != nil {
		return 0, err
	}
	apid := strings.TrimSpace(string(raw))
	ports, err := localPorts(apid)
	if err != nil {
		return 0, err
	}
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn)))
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT pid, client_port, host(client_addr) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE 'LISTEN%' AND datname = current_database()`, store.ListenerAppName)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var pid, port int
		var addr sql.NullString
		if err := rows.Scan(&pid, &port, &addr); err != nil {
			return 0, err
		}
		if ports[port] && (addr.String == "127.0.0.1" || addr.String == "::1") {
			if err := syscall.Kill(pid, 0); err != nil {
				return 0, fmt.Errorf("cannot signal PostgreSQL backend %d: %v", pid, err)
			}
			return pid, nil
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no LISTEN connection of A's on a PostgreSQL server on this machine")
}

// localPorts answers the local TCP ports of process pid's sockets.
func localPorts(pid string) (map[int]bool, error) {
	fds, err := os.ReadDir("/proc/" + pid + "/fd")
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink("/proc/" + pid + "/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	ports := map[int]bool{}
	for _, f := range []string{"tcp", "tcp6"} {
		raw, err := os.ReadFile("/proc/" + pid + "/net/" + f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 10 || !inodes[fields[9]] {
				continue
			}
			local := fields[1]
			port, err := strconv.ParseUint(local[strings.LastIndexByte(local, ':')+1:], 16, 16)
			if err == nil {
				ports[int(port)] = true
			}
		}
	}
	return ports, nil
}
