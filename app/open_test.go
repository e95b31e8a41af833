package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"wxlogin/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestOpen_FailureLeavesNothingOpen: an Open that fails at its last step
// (METRICS_ADDR's port is taken) has closed everything it opened before:
// both pools (no connection left to the database), the main listener and
// the Redis client.
func TestOpen_FailureLeavesNothingOpen(t *testing.T) {
	t.Parallel()
	dsn, name := storetest.FreshDatabase(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := DefaultConfig()
	cfg.Host, cfg.Port, cfg.AvatarDir = "127.0.0.1", 0, t.TempDir()
	cfg.WechatAppID, cfg.WechatSecret, cfg.WechatAPIBase = "wx2222222222222222", "secret", "http://127.0.0.1:1"
	cfg.SecretKey = make([]byte, 32)
	cfg.DatabaseURL, cfg.MetricsAddr, cfg.RedisURL = dsn, taken.Addr().String(), "redis://127.0.0.1:6379/0"
	m := &Main{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: envOf(nil)}
	if err := m.Open(context.Background()); err == nil || !strings.Contains(err.Error(), "address already in use") {
		_ = m.Close(context.Background())
		t.Fatalf("Open = %v, want the metrics port taken", err)
	}
	storetest.WaitNoBackends(t, name)
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
