package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"wxlogin/admin"
	"wxlogin/store"
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

// TestBanner_AdminLine: every start names the way back into the dashboard.
// The first start in dev mode shows the account it made; a restart says
// the account exists; both print the exact command that resets its
// password, with this server's DATABASE_URL and the binary's path, and
// that command, run by a shell as printed, works.
func TestBanner_AdminLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "wxlogin"), "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dsn, _ := storetest.FreshDatabase(t)
	start := func() (*Main, string) {
		t.Helper()
		cfg := DefaultConfig()
		cfg.Host, cfg.Port, cfg.AvatarDir, cfg.DatabaseURL, cfg.DevWechat = "127.0.0.1", 0, t.TempDir(), dsn, true
		cfg.WechatAppID, cfg.WechatSecret, cfg.SecretKey = "wx2222222222222222", "secret", bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 4)
		m := &Main{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: envOf(nil), executable: "bin/wxlogin"}
		if err := m.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close(context.Background()) })
		var text bytes.Buffer
		m.printBanner(&text)
		return m, text.String()
	}
	reset := regexp.MustCompile(`\n +[^\n]*?(?:change it|reset it): (printf .*\| DATABASE_URL=(\S+) bin/wxlogin admin passwd admin)\n`)

	first, text := start()
	if first.devAdminPassword == "" || !strings.Contains(text, "password "+first.devAdminPassword) {
		t.Fatalf("the first start does not show the admin it made:\n%s", text)
	}
	if m := reset.FindStringSubmatch(text); m == nil || m[2] != shellQuote(dsn) {
		t.Fatalf("no reset command with DATABASE_URL=%s bin/wxlogin:\n%s", shellQuote(dsn), text)
	}

	// A restart: the account exists, and its reset command runs as printed.
	_, text = start()
	if !strings.Contains(text, "Admin account:    admin exists") {
		t.Fatalf("a restart does not say the admin exists:\n%s", text)
	}
	m := reset.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("a restart prints no reset command:\n%s", text)
	}
	cmd := strings.Replace(m[1], "'a new long password'", "'the password the banner set'", 1)
	sh := exec.Command("bash", "-c", cmd)
	sh.Dir, sh.Env = dir, []string{"PATH=/usr/bin:/bin"}
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	st, err := store.Open(context.Background(), dsn, store.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := admin.NewService(st, admin.Config{}).Login(context.Background(), admin.LoginInput{Username: "admin", Password: "the password the banner set", IP: "127.0.0.1"}); err != nil {
		t.Fatalf("the password the printed command set does not sign in: %v", err)
	}

	// A DATABASE_URL with a password prints it as ****, and says so.
	first.Config.DatabaseURL = "postgres://wx:s3cr%40t@db.internal:5432/wxlogin?sslmode=verify-full&sslpassword=k3y"
	var out bytes.Buffer
	first.printBanner(&out)
	if strings.Contains(out.String(), "s3cr") || strings.Contains(out.String(), "k3y") ||
		!strings.Contains(out.String(), `DATABASE_URL='postgres://wx:****@db.internal:5432/wxlogin?sslmode=verify-full&sslpassword=****' bin/wxlogin admin passwd admin`) ||
		!strings.Contains(out.String(), "shown as ****") {
		t.Fatalf("the banner with a password in DATABASE_URL:\n%s", out.String())
	}
	first.Config.LogFormat = "json"
	out.Reset()
	first.printBanner(&out)
	if strings.Contains(out.String(), "s3cr") || !strings.Contains(out.String(), `DATABASE_URL='postgres://wx:****@db.internal`) {
		t.Fatalf("the json banner: %s", out.String())
	}
}

// TestBanner_NoAdmin: outside dev mode no account is made, and the banner
// says how to make the first.
func TestBanner_NoAdmin(t *testing.T) {
	t.Parallel()
	dsn, _ := storetest.FreshDatabase(t)
	cfg := DefaultConfig()
	cfg.Host, cfg.Port, cfg.AvatarDir, cfg.DatabaseURL, cfg.LogFormat = "127.0.0.1", 0, t.TempDir(), dsn, "text"
	cfg.WechatAppID, cfg.WechatSecret, cfg.SecretKey = "wx2222222222222222", "secret", bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 4)
	m := &Main{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: envOf(nil), executable: "/opt/wxlogin/wxlogin"}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	var text bytes.Buffer
	m.printBanner(&text)
	if want := "Admin account:    none yet; make one:\n                    printf '%s\\n' 'a new long password' | DATABASE_URL=" + shellQuote(dsn) + " /opt/wxlogin/wxlogin admin create <username> -role admin\n"; !strings.Contains(text.String(), want) {
		t.Fatalf("banner without admins:\n%s\nwant:\n%s", text.String(), want)
	}
}

// TestRedactDSN: a password in any of the places PostgreSQL takes one.
func TestRedactDSN(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"postgres://postgres@127.0.0.1:5432/wxlogin?sslmode=disable", "postgres://postgres@127.0.0.1:5432/wxlogin?sslmode=disable"},
		{"postgres://u:p@ss@h/db", "postgres://u:****@h/db"},
		{"postgresql://h:5432/db?user=u&password=pw&sslmode=require", "postgresql://h:5432/db?user=u&password=****&sslmode=require"},
		{"host=h user=u password='a b' dbname=d", "host=h user=u password=**** dbname=d"},
		{"host=h password=secret", "host=h password=****"},
	} {
		got, hidden := redactDSN(c.in)
		if got != c.want || hidden != (c.in != c.want) {
			t.Errorf("redactDSN(%q) = %q, %v; want %q", c.in, got, hidden, c.want)
		}
	}
}
