package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"wxlogin/store/storetest"
)

// migrationLockKey is store's pg_advisory_lock key for migrations.
const migrationLockKey = 7_263_540_912

func TestStartup_PoolOfOne(t *testing.T) {
	t.Parallel()
	// The migration lock once held the pool's only connection while the
	// migrator waited for another, for ever.
	ts := startServer(t, func(c *Config) { c.DBMaxConns = 1; c.StartupTimeout = 20 * time.Second })
	p := mustLogin(t, ts, map[string]any{"code": ts.code(t, "solo")})
	if me := ts.do(t, p.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
		t.Fatal(me.raw)
	}
}

func TestStartup_Deadline(t *testing.T) {
	t.Parallel()
	// Another instance holds the migration lock and never lets go.
	holder := storetest.Open(t)
	conn, err := holder.DB().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "SELECT pg_advisory_lock(?)", migrationLockKey); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(?)", migrationLockKey)
	}()

	cfg := DefaultConfig()
	cfg.DatabaseURL, cfg.Host, cfg.WechatAppID, cfg.WechatSecret = storetest.DSN(t), "127.0.0.1", e2eAppID, e2eSecret
	cfg.WechatTimeout, cfg.SessionTTL, cfg.DBMaxConns, cfg.StartupTimeout = time.Second, time.Hour, 1, time.Second
	cfg.SecretKey = bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 4)
	m := &Main{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	start := time.Now()
	err = m.Open(context.Background())
	took := time.Since(start)
	if err == nil {
		_ = m.Close(context.Background())
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
	ts := startServer(t, nil)
	var warm *loginPayload
	for i := range 3 {
		warm = mustLogin(t, ts, map[string]any{"code": ts.code(t, fmt.Sprintf("warm%d", i))})
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
	if me := ts.do(t, warm.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
		t.Fatalf("me after the connections died: %s", me.raw)
	}
	p := mustLogin(t, ts, map[string]any{"code": ts.code(t, "after-restart")})
	if me := ts.do(t, p.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
		t.Fatal(me.raw)
	}
}

func TestE2E_EndedSessionsPurged(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	old := mustLogin(t, ts, map[string]any{"code": ts.code(t, "purge-old")})
	recent := mustLogin(t, ts, map[string]any{"code": ts.code(t, "purge-recent")})
	db := ts.store.DB()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `UPDATE sessions SET expires_at = now() - interval '8 days', created_at = now() - interval '40 days'
		WHERE user_id = ?`, old.User.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE sessions SET revoked_at = now() - interval '1 day' WHERE user_id = ?`, recent.User.ID); err != nil {
		t.Fatal(err)
	}
	startServer(t, nil) // an instance purges at start
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

// TestOpen_FailureLeavesNothingOpen: an Open that fails at its last step
// (METRICS_ADDR's port is taken) has closed everything it opened before:
// both pools (no connection left to the database), the main listener and
// the Redis client.
func TestOpen_FailureLeavesNothingOpen(t *testing.T) {
	t.Parallel()
	dsn, name := freshDatabase(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := testConfig(t, e2eAppID, "http://127.0.0.1:1")
	cfg.DatabaseURL, cfg.MetricsAddr, cfg.RedisURL = dsn, taken.Addr().String(), "redis://127.0.0.1:6379/0"
	m := &Main{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: envOf(nil)}
	if err := m.Open(context.Background()); err == nil || !strings.Contains(err.Error(), "address already in use") {
		_ = m.Close(context.Background())
		t.Fatalf("Open = %v, want the metrics port taken", err)
	}
	waitNoBackends(t, name)
	if m.listener == nil {
		t.Fatal("Open failed before it listened: the test no longer covers the listener")
	}
	if _, err := m.listener.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the main listener is still open: Accept = %v", err)
	}
	if m.redis == nil {
		t.Fatal("Open failed before it made the Redis client")
	}
	if err := m.redis.Ping(context.Background()); err == nil {
		t.Error("the Redis client is still open")
	}
}
