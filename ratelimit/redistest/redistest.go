// Package redistest gives tests a Redis server and a key prefix of their
// own. Like storetest, it never skips: without a Redis that answers, the
// test fails and says how to get one.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is used when TEST_REDIS_URL is unset: `make test` finds or
// starts a Redis there, or exports TEST_REDIS_URL naming the one it started.
const DefaultURL = "redis://127.0.0.1:6379/0"

// URL returns TEST_REDIS_URL (else DefaultURL) once its server answers
// PING, and fails tb otherwise.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("TEST_REDIS_URL")
	if u == "" {
		u = DefaultURL
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		tb.Fatalf("redistest: TEST_REDIS_URL is not a Redis URL: %v", err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		redacted := u
		if p, err := url.Parse(u); err == nil {
			redacted = p.Redacted()
		}
		tb.Fatalf("redistest: no Redis answers at %s (%v): set TEST_REDIS_URL to one, or run `make test`, which finds or starts one", redacted, err)
	}
	return u
}

// Prefix returns a key prefix unique to this test, whose keys are deleted
// when it ends, so that tests (and concurrent runs) sharing a Redis never
// see each other's counters.
func Prefix(tb testing.TB, rawURL string) string {
	tb.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "wxlogin_test:" + hex.EncodeToString(b) + ":"
	tb.Cleanup(func() {
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			return
		}
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}
