package store_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/uptrace/bun/driver/pgdriver"

	"wxlogin/store"
)

// TestDriverLog: pgdriver's own messages (a broken connection, a dropped
// listener) reach the server's structured log at WARN, not stderr with a
// source file and line.
func TestDriverLog(t *testing.T) {
	var buf bytes.Buffer
	store.SetDriverLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	defer store.SetDriverLog(nil)
	pgdriver.Logger.Printf(context.Background(), "pgdriver: Conn.Write failed: %s", "broken pipe")
	out := buf.String()
	if !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, `"msg":"database driver"`) ||
		!strings.Contains(out, "Conn.Write failed: broken pipe") || strings.Contains(out, ".go:") {
		t.Fatalf("driver log line: %q", out)
	}
}
