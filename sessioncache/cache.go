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
//
// "Within milliseconds" is the usual case, not a bound: a notification is
// applied when this process gets to it. The bound is MaxLag. The listener
// pings itself every MaxLag/5, and a pong proves every change committed
// before its ping was sent has been applied (one connection delivers in
// commit order). An entry is served only while the latest pong's ping was
// sent at most MaxLag ago, so a change committed at t is honoured by
// every instance for every request it looks up after t+MaxLag, however
// slow its listener; while pongs are late, requests read the database.
//
// Every time here is read from the monotonic clock (see monotonic): a step
// of the wall clock, as NTP makes, must neither stretch nor cut MaxLag.
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

// MaxLag bounds how long after a session change commits on another
// instance (or in hand-written SQL) this one may still answer from what it
// cached before: see the package comment.
const MaxLag = time.Second

// epoch is the origin of monotonic.
var epoch = time.Now()

// monotonic is the default clock of Cache and Follow: the time since
// epoch, which Go measures on the monotonic clock, so it only ever moves
// forward at the pace of real time whatever is done to the wall clock.
func monotonic() time.Duration { return time.Since(epoch) }

// evictSample is how many entries a full cache looks at to pick the least
// recently used one to evict (sampled LRU, as Redis does).
const evictSample = 8

// Cache maps token hashes to values of type V. Safe for concurrent use.
type Cache[V any] struct {
	ttl int64 // nanoseconds
	max int
	// now is the clock every time below is read from (monotonic; tests
	// set their own).
	now func() time.Duration

	mu     sync.RWMutex
	m      map[string]*entry[V]
	byUser map[string]map[string]struct{}

	// gen changes whenever entries are dropped for a change in the
	// database (an invalidation, a Clear, the listener going down): a value
	// read from the database before such a change is not added after it.
	gen atomic.Uint64
	up  atomic.Bool
	// heard is when the newest ping whose pong has come back was sent
	// (now's nanoseconds): every change committed before it has been
	// applied. Entries are served only while it is at most maxLag old.
	heard  atomic.Int64
	maxLag int64

	hits, misses, invalidations, lagging atomic.Uint64
}

type entry[V any] struct {
	v       V
	user    string
	expires int64 // now's nanoseconds
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
	return &Cache[V]{ttl: int64(ttl), max: maxSize, now: monotonic, maxLag: int64(MaxLag), m: make(map[string]*entry[V]), byUser: make(map[string]map[string]struct{})}
}

// Get returns the live value for hash.
func (c *Cache[V]) Get(hash []byte) (v V, ok bool) {
	if !c.up.Load() {
		return v, false
	}
	now := int64(c.now())
	if now-c.heard.Load() > c.maxLag {
		// The listener has not proved it is up to date lately: a
		// revocation may be waiting in its socket.
		c.lagging.Add(1)
		return v, false
	}
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
	// The session's expiry is a wall-clock time (the database's): it
	// becomes a time on the monotonic clock by what is left of it now.
	now := int64(c.now())
	exp := now + min(int64(time.Until(expires)), c.ttl)
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
//
// Turning it on counts as hearing from the listener now: every entry is
// put afterwards, from a read that began afterwards (Gen), so a change
// committed before now is in that read and one committed later is covered
// by the pongs to come.
func (c *Cache[V]) SetUp(up bool) {
	c.mu.Lock()
	c.up.Store(false)
	c.gen.Add(1)
	clear(c.m)
	clear(c.byUser)
	c.heard.Store(int64(c.now()))
	c.up.Store(up)
	c.mu.Unlock()
}

// Heard records that every change committed before sent (a time on the
// cache's clock: see monotonic) has been applied, the listener's pong for a
// ping sent then having come back.
func (c *Cache[V]) Heard(sent time.Duration) {
	n := int64(sent)
	for {
		old := c.heard.Load()
		if n <= old || c.heard.CompareAndSwap(old, n) {
			return
		}
	}
}

// Up reports whether the cache is serving.
func (c *Cache[V]) Up() bool { return c.up.Load() }

// Stats are counters since New.
type Stats struct {
	Entries                     int
	Hits, Misses, Invalidations uint64
	// Lagging counts lookups refused because the listener had not
	// confirmed it was up to date within MaxLag.
	Lagging uint64
	Up      bool
}

// Stats returns the counters.
func (c *Cache[V]) Stats() Stats {
	c.mu.RLock()
	n := len(c.m)
	c.mu.RUnlock()
	return Stats{Entries: n, Hits: c.hits.Load(), Misses: c.misses.Load(), Invalidations: c.invalidations.Load(), Lagging: c.lagging.Load(), Up: c.up.Load()}
}
