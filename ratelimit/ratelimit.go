// Package ratelimit counts requests per key in windows shared by every
// server instance, in PostgreSQL (NewPostgres) or Redis (NewRedis), and
// turns a count past its limit into RATE_LIMITED.
//
// The algorithm is a fixed window that starts at a key's first hit: one
// atomic increment per request (an upsert in PostgreSQL, a Lua script in
// Redis) returns the key's count in its window and how long the window has
// left, both by the store's clock, so instances with skewed clocks agree.
// Concurrent hits get distinct counts 1, 2, 3 …, so with a limit of N never
// more than N pass in one window, however many instances ask at once. A
// client can get up to 2N through across a window's end (N at its close, N
// at the next window's start); the limits are set with that in mind.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"wxlogin/models"
)

// Limit is at most N hits per Window. The zero Limit is off: nothing counted.
type Limit struct {
	N      int
	Window time.Duration
}

// Off reports whether l limits nothing.
func (l Limit) Off() bool { return l.N <= 0 || l.Window <= 0 }

// String renders l as ParseLimit reads it, e.g. "600/1m0s", or "off".
func (l Limit) String() string {
	if l.Off() {
		return "off"
	}
	return strconv.Itoa(l.N) + "/" + l.Window.String()
}

// ParseLimit reads "N/window" (e.g. "600/1m", "10/1h") or "off".
func ParseLimit(s string) (Limit, error) {
	if s == "off" {
		return Limit{}, nil
	}
	n, w, ok := strings.Cut(s, "/")
	if !ok {
		return Limit{}, fmt.Errorf("want N/window like 600/1m, or off, not %q", s)
	}
	l := Limit{}
	var err error
	if l.N, err = strconv.Atoi(n); err != nil || l.N < 1 {
		return Limit{}, fmt.Errorf("want a positive count before the slash, not %q", s)
	}
	if l.Window, err = time.ParseDuration(w); err != nil || l.Window < time.Second || l.Window > 24*time.Hour {
		return Limit{}, fmt.Errorf("want a window from 1s to 24h after the slash, like 600/1m, not %q", s)
	}
	return l, nil
}

// Decision is the outcome of one hit.
type Decision struct {
	// Allowed is whether this hit is within the limit.
	Allowed bool
	// Count is the key's hits in the window, this one included.
	Count int64
	// Remaining is how many more hits the window allows.
	Remaining int
	// RetryAfter is how long until the window ends, when the hit was refused;
	// more than zero and at most the window.
	RetryAfter time.Duration
}

// Limiter counts a hit of key against limit. Implementations are shared
// by every instance and safe for concurrent use; an error means the hit
// may not have been counted and nothing was decided.
type Limiter interface {
	Allow(ctx context.Context, key string, limit Limit) (Decision, error)
}

// decide makes a Decision from a count and the window's time left.
func decide(limit Limit, count int64, left time.Duration) Decision {
	d := Decision{Allowed: count <= int64(limit.N), Count: count, Remaining: int(max(int64(limit.N)-count, 0))}
	if !d.Allowed {
		// The store says how long its window has left; keep it in (0, window].
		d.RetryAfter = min(max(left, time.Millisecond), limit.Window)
	}
	return d
}

// Key is the counter key of id in scope: scope, a colon and a hash of id,
// so that keys are bounded and hold no identifier in the clear.
func Key(scope, id string) string {
	sum := sha256.Sum256([]byte(id))
	return scope + ":" + base64.RawURLEncoding.EncodeToString(sum[:16])
}

// ClientNet is what a per-IP limit counts for an address: an IPv4 address
// itself (carrier NAT puts many users behind one, so such limits must be
// generous), and for IPv6 its /64, which is one subscriber's: a phone gets
// a whole /64 and could otherwise take a fresh address per request.
// Anything that is not an IP address is returned as it is.
func ClientNet(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// Guard applies limits for a service: it hashes keys, turns a refusal into
// RATE_LIMITED, and fails open. When the store cannot answer, hits are
// allowed with a WARN in the log, and the store is left alone for
// pauseAfterError, so that an outage costs each request no timeout and
// the log one line per pause, not one per request: a limiter being down
// must not take logins down with it. A nil *Guard limits nothing.
type Guard struct {
	l   Limiter
	log *slog.Logger
	now func() time.Time

	mu         sync.Mutex
	pauseUntil time.Time
	skipped    int

	// limited, when set, is told the scope of every refused hit.
	limited func(ctx context.Context, scope string)
}

// OnLimited has f told the scope (e.g. "login:ip") of every hit Check
// refuses, for metrics. Call it before the Guard is used.
func (g *Guard) OnLimited(f func(ctx context.Context, scope string)) {
	if g != nil {
		g.limited = f
	}
}

// pauseAfterError is how long a Guard lets everything through without
// asking the store after the store failed.
const pauseAfterError = 5 * time.Second

// NewGuard returns a Guard over l, warning on log (slog.Default when nil).
func NewGuard(l Limiter, log *slog.Logger) *Guard {
	if log == nil {
		log = slog.Default()
	}
	return &Guard{l: l, log: log, now: time.Now}
}

// Check counts a hit of id in scope against limit. It returns nil when the
// hit is allowed, when limit is off, and when the store fails (see Guard);
// else a *models.Error RATE_LIMITED with extensions.retryAfter in whole
// seconds (at least 1) and message, in which %d is that number.
func (g *Guard) Check(ctx context.Context, scope, id string, limit Limit, message string) error {
	if g == nil || limit.Off() {
		return nil
	}
	if g.paused() {
		return nil
	}
	d, err := g.l.Allow(ctx, Key(scope, id), limit)
	if err != nil {
		if ctx.Err() != nil {
			return nil // the request is over anyway; the store is not at fault
		}
		g.failed(ctx, scope, err)
		return nil
	}
	if d.Allowed {
		return nil
	}
	if g.limited != nil {
		g.limited(ctx, scope)
	}
	return RateLimited(d.RetryAfter, message)
}

// RateLimited is RATE_LIMITED with extensions.retryAfter: wait rounded up
// to whole seconds, at least 1. In message, %d is that number.
func RateLimited(wait time.Duration, message string) *models.Error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return &models.Error{Code: models.CodeRateLimited, Message: fmt.Sprintf(message, secs),
		Extensions: map[string]any{"retryAfter": secs}}
}

func (g *Guard) paused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.now().Before(g.pauseUntil) {
		g.skipped++
		return true
	}
	return false
}

func (g *Guard) failed(ctx context.Context, scope string, err error) {
	g.mu.Lock()
	skipped := g.skipped
	g.skipped = 0
	g.pauseUntil = g.now().Add(pauseAfterError)
	g.mu.Unlock()
	g.log.WarnContext(ctx, "rate limiter unavailable: allowing requests unlimited (failing open)",
		"scope", scope, "err", redactErr(err), "pause", pauseAfterError, "allowed_unchecked_since_last_warning", skipped)
}

// redactErr keeps the log free of a store URL's credentials: the stores'
// errors name addresses at most, but be sure.
func redactErr(err error) string {
	if s := err.Error(); !strings.Contains(s, "://") {
		return s
	}
	return "store error (details withheld: it quoted a URL)"
}
