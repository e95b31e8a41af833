package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"wxlogin/models"
)

type fakeLimiter struct {
	d     Decision
	err   error
	calls int
	keys  []string
}

func (f *fakeLimiter) Allow(_ context.Context, key string, _ Limit) (Decision, error) {
	f.calls++
	f.keys = append(f.keys, key)
	return f.d, f.err
}

func TestGuard_RateLimited(t *testing.T) {
	t.Parallel()
	f := &fakeLimiter{d: Decision{Allowed: false, Count: 11, RetryAfter: 1500 * time.Millisecond}}
	g := NewGuard(f, slog.New(slog.DiscardHandler))
	err := g.Check(context.Background(), "login:openid", "o-secret-openid", Limit{N: 10, Window: time.Minute}, "wait %d seconds")
	var e *models.Error
	if !errors.As(err, &e) || e.Code != models.CodeRateLimited || e.Extensions["retryAfter"] != 2 || e.Message != "wait 2 seconds" {
		t.Fatalf("got %#v, want RATE_LIMITED with retryAfter 2 (1.5s rounded up)", err)
	}
	if len(f.keys) != 1 || strings.Contains(f.keys[0], "o-secret-openid") || !strings.HasPrefix(f.keys[0], "login:openid:") || len(f.keys[0]) > 64 {
		t.Fatalf("key %q: want the scope and a bounded hash, never the id", f.keys[0])
	}
	f.d = Decision{Allowed: true, Count: 1}
	if err := g.Check(context.Background(), "s", "id", Limit{N: 10, Window: time.Minute}, "%d"); err != nil {
		t.Fatal(err)
	}
	// Off: the store is not asked.
	calls := f.calls
	if err := g.Check(context.Background(), "s", "id", Limit{}, "%d"); err != nil || f.calls != calls {
		t.Fatalf("limit off: err %v, %d calls, want none", err, f.calls-calls)
	}
	var nilGuard *Guard
	if err := nilGuard.Check(context.Background(), "s", "id", Limit{N: 1, Window: time.Second}, "%d"); err != nil {
		t.Fatal(err)
	}
}

func TestGuard_FailsOpen(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	f := &fakeLimiter{err: errors.New("dial tcp 127.0.0.1:1: connection refused")}
	g := NewGuard(f, slog.New(slog.NewTextHandler(&logs, nil)))
	now := time.Unix(1000, 0)
	g.now = func() time.Time { return now }
	limit := Limit{N: 1, Window: time.Minute}
	for range 3 {
		if err := g.Check(context.Background(), "login:ip", "203.0.113.7", limit, "%d"); err != nil {
			t.Fatalf("store down: %v, want allowed", err)
		}
	}
	if f.calls != 1 || strings.Count(logs.String(), "level=WARN") != 1 || !strings.Contains(logs.String(), "failing open") {
		t.Fatalf("%d store calls and log %q: want one call, then a pause, and one WARN", f.calls, logs.String())
	}
	now = now.Add(pauseAfterError)
	_ = g.Check(context.Background(), "login:ip", "203.0.113.7", limit, "%d")
	if f.calls != 2 || !strings.Contains(logs.String(), "allowed_unchecked_since_last_warning=2") {
		t.Fatalf("after the pause: %d calls, log %q: want the store asked again and the skipped hits counted", f.calls, logs.String())
	}
	// A request that ended is no outage.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	now = now.Add(pauseAfterError)
	f.err = context.Canceled
	warns := strings.Count(logs.String(), "level=WARN")
	_ = g.Check(ctx, "login:ip", "x", limit, "%d")
	if strings.Count(logs.String(), "level=WARN") != warns {
		t.Fatal("a cancelled request logged a warning")
	}
}

func TestParseLimit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Limit{"600/1m": {600, time.Minute}, "10/1h": {10, time.Hour}, "off": {}} {
		if got, err := ParseLimit(in); err != nil || got != want {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10", "0/1m", "-1/1m", "10/0s", "10/500ms", "10/48h", "x/1m", "10/x", "OFF"} {
		if _, err := ParseLimit(in); err == nil {
			t.Errorf("ParseLimit(%q) accepted", in)
		}
	}
	if s := (Limit{30, 10 * time.Minute}).String(); s != "30/10m0s" {
		t.Errorf("String: %q", s)
	}
}

func TestClientNet(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"203.0.113.7":            "203.0.113.7",
		"::ffff:203.0.113.7":     "203.0.113.7",
		"2001:db8:1:2:3:4:5:6":   "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":   "2001:db8:1:2::/64",
		"fe80::1%eth0":           "fe80::/64",
		"not an ip":              "not an ip",
		"2001:db8:1:3:3:4:5:6":   "2001:db8:1:3::/64",
		"127.0.0.1":              "127.0.0.1",
		"::1":                    "::/64",
		"2001:0db8:0001:0002::9": "2001:db8:1:2::/64",
	} {
		if got := ClientNet(in); got != want {
			t.Errorf("ClientNet(%q) = %q, want %q", in, got, want)
		}
	}
}
