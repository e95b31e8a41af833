// Package sessioncache keeps recently resolved sessions in memory, keyed by
// token hash, so that an authenticated request need not ask PostgreSQL.
//
// Staleness is bounded twice. Every entry lives at most TTL (and never past
// its session's expiry), which bounds how old a cached profile may be; and
// every change that ends a session or alters its user is pushed by the
// database (LISTEN/NOTIFY, see Follow and store.SessionChannel) to every
// instance, which drops the entries concerned within milliseconds. While
// the notification connection is down, nothing is served from or added to
// the cache: it is emptied when the connection is lost and again once a new
// one has proved it hears the channel.
package sessioncache

import (
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of New.
const (
	DefaultTTL     = 5 * time.Second
	DefaultMaxSize = 50_000
)

// evictSample is how many entries a full cache looks at to pick the least
// recently used one to evict (sampled LRU, as Redis does).
const evictSample = 8

// Cache maps token hashes to values of type V. Safe for concurrent use.
type Cache[V any] struct {
	ttl int64 // nanoseconds
	max int

	mu     sync.RWMutex
	m      map[string]*entry[V]
	byUser map[string]map[string]struct{}

	// gen changes whenever entries are dropped for a change in the
	// database (an invalidation, a Clear, the listener going down): a value
	// read from the database before such a change is not added after it.
	gen atomic.Uint64
	up  atomic.Bool

	hits, misses, invalidations atomic.Uint64
}

type entry[V any] struct {
	v       V
	user    string
	expires int64 // unix nanoseconds
	used    atomic.Int64
}

// New returns an empty cache, down until SetUp(true) (Follow does that once
// its listener is confirmed). ttl and maxSize default when not positive.
func New[V any](ttl time.Duration, maxSize int) *Cache[V] {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	return &Cache[V]{ttl: int64(ttl), max: maxSize, m: make(map[string]*entry[V]), byUser: make(map[string]map[string]struct{})}
}

// Get returns the live value for hash.
func (c *Cache[V]) Get(hash []byte) (v V, ok bool) {
	if !c.up.Load() {
		return v, false
	}
	now := time.Now().UnixNano()
	c.mu.RLock()
	e := c.m[string(hash)]
	c.mu.RUnlock()
	if e == nil || e.expires <= now {
		c.misses.Add(1)
		return v, false
	}
	e.used.Store(now)
	c.hits.Add(1)
	return e.v, true
}

// Gen returns the generation to pass to Put: take it before reading what
// will be put.
func (c *Cache[V]) Gen() uint64 { return c.gen.Load() }

// Put caches v for hash (a session of user userID, ending at expires) unless
// the cache is down or anything was invalidated since gen was taken.
func (c *Cache[V]) Put(hash []byte, userID string, expires time.Time, v V, gen uint64) {
	if !c.up.Load() {
		return
	}
	now := time.Now().UnixNano()
	exp := min(expires.UnixNano(), now+c.ttl)
	if exp <= now {
		return
	}
	key := string(hash)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen || !c.up.Load() {
		return
	}
	if old := c.m[key]; old != nil {
		c.removeLocked(key, old)
	} else if len(c.m) >= c.max {
		c.evictLocked(now)
	}
	e := &entry[V]{v: v, user: userID, expires: exp}
	e.used.Store(now)
	c.m[key] = e
	keys := c.byUser[userID]
	if keys == nil {
		keys = make(map[string]struct{}, 1)
		c.byUser[userID] = keys
	}
	keys[key] = struct{}{}
}

// evictLocked drops an expired entry or the least recently used of a
// random sample.
func (c *Cache[V]) evictLocked(now int64) {
	var victim string
	var ve *entry[V]
	n := 0
	for k, e := range c.m { // map iteration starts at a random place
		if e.expires <= now {
			victim, ve = k, e
			break
		}
		if ve == nil || e.used.Load() < ve.used.Load() {
			victim, ve = k, e
		}
		if n++; n >= evictSample {
			break
		}
	}
	if ve != nil {
		c.removeLocked(victim, ve)
	}
}

func (c *Cache[V]) removeLocked(key string, e *entry[V]) {
	delete(c.m, key)
	if keys := c.byUser[e.user]; keys != nil {
		delete(keys, key)
		if len(keys) == 0 {
			delete(c.byUser, e.user)
		}
	}
}

// InvalidateToken drops the session with hash.
func (c *Cache[V]) InvalidateToken(hash []byte) {
	c.mu.Lock()
	c.gen.Add(1)
	if e := c.m[string(hash)]; e != nil {
		c.removeLocked(string(hash), e)
	}
	c.mu.Unlock()
	c.invalidations.Add(1)
}

// InvalidateUser drops every session of the user.
func (c *Cache[V]) InvalidateUser(userID string) {
	c.mu.Lock()
	c.gen.Add(1)
	for key := range c.byUser[userID] {
		delete(c.m, key)
	}
	delete(c.byUser, userID)
	c.mu.Unlock()
	c.invalidations.Add(1)
}

// Clear drops everything.
func (c *Cache[V]) Clear() {
	c.mu.Lock()
	c.gen.Add(1)
	clear(c.m)
	clear(c.byUser)
	c.mu.Unlock()
}

// SetUp turns the cache on or off. Either way it is emptied first: entries
// from before an outage may have missed invalidations.
func (c *Cache[V]) SetUp(up bool) {
	c.mu.Lock()
	c.up.Store(false)
	c.gen.Add(1)
	clear(c.m)
	clear(c.byUser)
	c.up.Store(up)
	c.mu.Unlock()
}

// Up reports whether the cache is serving.
func (c *Cache[V]) Up() bool { return c.up.Load() }

// Stats are counters since New.
type Stats struct {
	Entries                     int
	Hits, Misses, Invalidations uint64
	Up                          bool
}

// Stats returns the counters.
func (c *Cache[V]) Stats() Stats {
	c.mu.RLock()
	n := len(c.m)
	c.mu.RUnlock()
	return Stats{Entries: n, Hits: c.hits.Load(), Misses: c.misses.Load(), Invalidations: c.invalidations.Load(), Up: c.up.Load()}
}
