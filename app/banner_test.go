package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"wxlogin/store/storetest"
)

// In json log mode the banner is one record, and the password dev mode
// made for its first admin is not in it: a log record goes wherever the
// logs are shipped. The text banner shows it on the terminal.
func TestBanner_JSONHoldsNoPassword(t *testing.T) {
	t.Parallel()
	dsn, _ := storetest.FreshDatabase(t)
	cfg := DefaultConfig()
	cfg.Host, cfg.Port, cfg.AvatarDir, cfg.DatabaseURL, cfg.DevWechat = "127.0.0.1", 0, t.TempDir(), dsn, true
	cfg.WechatAppID, cfg.WechatSecret, cfg.SecretKey = "wx2222222222222222", "secret", bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 4)
	m := &Main{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: envOf(nil)}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if m.devAdminPassword == "" {
		t.Fatal("dev mode made no admin: the test would prove nothing")
	}
	var text, js bytes.Buffer
	m.printBanner(&text)
	m.Config.LogFormat = "json"
	m.printBanner(&js)
	if !strings.Contains(text.String(), m.devAdminPassword) {
		t.Errorf("the text banner does not show the dev admin's password:\n%s", text.String())
	}
	var rec map[string]any
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil || strings.Count(js.String(), "\n") != 1 {
		t.Fatalf("the json banner is not one record: %q (%v)", js.String(), err)
	}
	if strings.Contains(js.String(), m.devAdminPassword) {
		t.Errorf("the json banner holds the dev admin's password: %s", js.String())
	}
}
