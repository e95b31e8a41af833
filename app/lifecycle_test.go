package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/store/storetest"
)

func TestStartup_PoolOfOne(t *testing.T) {
	t.Parallel()
	// The migration lock once held the pool's only connection while the
	// migrator waited for another, for ever.
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.DBMaxConns = 1; c.StartupTimeout = 20 * time.Second }))
	p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "solo")})
	if me := ts.Do(t, p.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
		t.Fatal(me.Raw)
	}
}

func TestStartup_Deadline(t *testing.T) {
	t.Parallel()
	// Another instance holds the migration lock and never lets go.
	storetest.HoldMigrationLock(t)
	start := time.Now()
	_, err := apptest.Open(t, apptest.WithConfig(func(c *app.Config) {
		c.WechatTimeout, c.DBMaxConns, c.StartupTimeout = time.Second, 1, time.Second
	}))
	took := time.Since(start)
	if err == nil {
		t.Fatal("started while the migration lock was held")
	}
	if !strings.Contains(err.Error(), "STARTUP_TIMEOUT") || strings.Contains(err.Error(), "\n") || took > 15*time.Second {
		t.Fatalf("after %v: %v", took, err)
	}
	t.Logf("start-up refused after %v: %v", took, err)
}

// TestSignals_SecondOneExitsAtOnce runs the real binary: the first SIGTERM
// drains in-flight requests (up to SHUTDOWN_TIMEOUT); a second one must not wait.
func TestSignals_SecondOneExitsAtOnce(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "wxlogin")
	if out, err := exec.Command("go", "build", "-o", bin, "wxlogin").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+storetest.DSN(t), "DEV_WECHAT=1", "PORT=0", "HOST=127.0.0.1", "LOG_LEVEL=error")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	addr := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := regexp.MustCompile(`listening on http://([^\s"]+)`).FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if addr == "" {
		t.Fatal("the server printed no address")
	}
	// A request in flight: headers sent, body still coming.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	time.Sleep(200 * time.Millisecond)

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		t.Fatalf("exited before draining the request in flight: %v", err)
	case <-time.After(time.Second):
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("a second SIGTERM did not end the drain")
	}
}

// TestE2E_LoginSurvivesKilledConnections: after a PostgreSQL restart every
// pooled connection is dead; a login whose code WeChat already accepted
// must still be recorded, not answered INTERNAL.
func TestE2E_LoginSurvivesKilledConnections(t *testing.T) {
	// Not parallel: it kills every connection named "wxlogin" in the
	// package's database, which the parallel tests' servers share.
	ts := apptest.Start(t)
	var warm *apptest.LoginPayload
	for i := range 3 {
		warm = ts.MustLogin(t, map[string]any{"code": ts.Code(t, fmt.Sprintf("warm%d", i))})
	}
	killer := storetest.Open(t)
	var killed int
	if err := killer.DB().QueryRowContext(context.Background(),
		`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		  WHERE datname = current_database() AND application_name = 'wxlogin' AND pid <> pg_backend_pid()`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no pooled connection to kill; the test would prove nothing")
	}
	// A read on a dead connection is tried again too.
	if me := ts.Do(t, warm.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
		t.Fatalf("me after the connections died: %s", me.Raw)
	}
	p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "after-restart")})
	if me := ts.Do(t, p.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
		t.Fatal(me.Raw)
	}
}

func TestE2E_EndedSessionsPurged(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	old := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "purge-old")})
	recent := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "purge-recent")})
	db := ts.Store().DB()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `UPDATE sessions SET expires_at = now() - interval '8 days', created_at = now() - interval '40 days'
		WHERE user_id = ?`, old.User.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE sessions SET revoked_at = now() - interval '1 day' WHERE user_id = ?`, recent.User.ID); err != nil {
		t.Fatal(err)
	}
	apptest.Start(t) // an instance purges at start
	count := func(userID string) int {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sessions WHERE user_id = ?", userID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); count(old.User.ID) != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a session that expired 8 days ago was not purged")
		}
	}
	if count(recent.User.ID) != 1 {
		t.Fatal("a session revoked a day ago was purged: it is kept 7 days")
	}
}
