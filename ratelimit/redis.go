package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix starts every key the Redis limiter writes.
const DefaultRedisPrefix = "wxlogin:rl:"

// Redis keeps counters in Redis, shared by every instance using it: one key
// per counter, which expires when its window ends.
type Redis struct {
	c      *redis.Client
	prefix string
}

// Timeouts of the Redis client, short: a limiter that stalls would stall
// every login behind it, and the Guard fails open instead.
const (
	redisDialTimeout = time.Second
	redisIOTimeout   = 500 * time.Millisecond
)

// CheckRedisURL reports whether s is a redis:// or rediss:// URL the client
// can use. Its errors never quote s, which may hold a password.
func CheckRedisURL(s string) error {
	_, err := redisOptions(s)
	return err
}

func redisOptions(s string) (*redis.Options, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return nil, errors.New("REDIS_URL must be redis://[user:password@]host:port/db, or rediss:// for TLS")
	}
	opt, err := redis.ParseURL(s)
	if err != nil {
		return nil, errors.New("REDIS_URL is not a Redis URL the client understands (check its port, database number and query parameters)")
	}
	// rediss:// verifies the server's certificate against the system's
	// roots and the URL's host name; only ?skip_verify=true turns that off.
	if opt.DialTimeout == 0 {
		opt.DialTimeout = redisDialTimeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = redisIOTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = redisIOTimeout
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = redisDialTimeout
	}
	// An INCR whose answer was lost may have counted: never send it twice.
	// One dial per attempt, so a Redis that is down fails fast.
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.ContextTimeoutEnabled = true
	opt.DisableIdentity = true
	return opt, nil
}

// NewRedis returns a Limiter on the Redis server at rawURL (redis:// or
// rediss://), its keys starting with prefix (DefaultRedisPrefix when
// empty). It does not connect until first used; see Ping.
func NewRedis(rawURL, prefix string) (*Redis, error) {
	opt, err := redisOptions(rawURL)
	if err != nil {
		return nil, err
	}
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &Redis{c: redis.NewClient(opt), prefix: prefix}, nil
}

// allowScript counts a hit and returns the count and the key's time left
// in milliseconds. A new key (INCR made it 1, without a TTL) gets the
// window as its TTL; so does a key that lost its TTL somehow, so no counter
// lives for ever. A script runs atomically: concurrent hits get distinct counts.
var allowScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// Allow counts one hit of key and decides it against limit.
func (r *Redis) Allow(ctx context.Context, key string, limit Limit) (Decision, error) {
	if limit.Off() {
		return Decision{Allowed: true}, nil
	}
	res, err := allowScript.Run(ctx, r.c, []string{r.prefix + key}, limit.Window.Milliseconds()).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(res) != 2 {
		return Decision{}, fmt.Errorf("ratelimit: redis: the script returned %d values", len(res))
	}
	return decide(limit, res[0], time.Duration(res[1])*time.Millisecond), nil
}

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}

// Close closes the client's connections.
func (r *Redis) Close() error { return r.c.Close() }
