package sessioncache

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func key(i int) []byte { return []byte(fmt.Sprintf("%032d", i)) }

// testClock is a clock for a Cache that only the test moves.
type testClock struct{ t atomic.Int64 }

func (c *testClock) now() time.Duration      { return time.Duration(c.t.Load()) }
func (c *testClock) advance(d time.Duration) { c.t.Add(int64(d)) }

// newTestCache returns a cache on a clock of its own, up at time 0.
func newTestCache(ttl time.Duration) (*Cache[string], *testClock) {
	clk := &testClock{}
	c := New[string](ttl, 10)
	c.now = clk.now
	c.SetUp(true)
	return c, clk
}

func TestCache_DownServesNothing(t *testing.T) {
	c := New[string](time.Minute, 10)
	c.Put(key(1), "u1", time.Now().Add(time.Hour), "v", c.Gen())
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("a cache that was never up served an entry")
	}
	c.SetUp(true)
	c.Put(key(1), "u1", time.Now().Add(time.Hour), "v", c.Gen())
	if v, ok := c.Get(key(1)); !ok || v != "v" {
		t.Fatal("miss after Put")
	}
	c.SetUp(false)
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("served while down")
	}
	c.SetUp(true)
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("an entry from before the outage survived it")
	}
}

// A value read from the database before an invalidation must not be cached
// after it: the invalidation may have been about that very value.
func TestCache_PutAfterInvalidationIsDropped(t *testing.T) {
	c := New[string](time.Minute, 10)
	c.SetUp(true)
	for name, inval := range map[string]func(){
		"token": func() { c.InvalidateToken(key(1)) },
		"user":  func() { c.InvalidateUser("someone else") },
		"clear": c.Clear,
		"down":  func() { c.SetUp(false); c.SetUp(true) },
	} {
		gen := c.Gen()
		inval()
		c.Put(key(1), "u1", time.Now().Add(time.Hour), "stale", gen)
		if _, ok := c.Get(key(1)); ok {
			t.Errorf("%s: a value read before the invalidation was cached", name)
		}
	}
}

func TestCache_InvalidateUserAndExpiry(t *testing.T) {
	c := New[string](time.Minute, 10)
	c.SetUp(true)
	c.Put(key(1), "u1", time.Now().Add(time.Hour), "a", c.Gen())
	c.Put(key(2), "u1", time.Now().Add(time.Hour), "b", c.Gen())
	c.Put(key(3), "u2", time.Now().Add(time.Hour), "c", c.Gen())
	c.Put(key(4), "u2", time.Now().Add(-time.Second), "expired session", c.Gen())
	c.InvalidateUser("u1")
	for i, want := range []bool{false, false, true, false} {
		if _, ok := c.Get(key(i + 1)); ok != want {
			t.Errorf("key %d: cached %v, want %v", i+1, ok, want)
		}
	}
	c.InvalidateToken(key(3))
	if _, ok := c.Get(key(3)); ok {
		t.Error("InvalidateToken left the entry")
	}
	short, clk := newTestCache(20 * time.Millisecond)
	short.Put(key(1), "u1", time.Now().Add(time.Hour), "a", short.Gen())
	clk.advance(20*time.Millisecond - time.Nanosecond)
	if _, ok := short.Get(key(1)); !ok {
		t.Error("not served within the TTL")
	}
	clk.advance(time.Nanosecond)
	if _, ok := short.Get(key(1)); ok {
		t.Error("served at the end of the TTL")
	}
}

func TestCache_Bounded(t *testing.T) {
	c := New[int](time.Minute, 100)
	c.SetUp(true)
	for i := range 1000 {
		c.Put(key(i), fmt.Sprint(i%7), time.Now().Add(time.Hour), i, c.Gen())
	}
	if s := c.Stats(); s.Entries != 100 {
		t.Fatalf("%d entries, want 100", s.Entries)
	}
	n := 0
	for _, keys := range c.byUser {
		n += len(keys)
	}
	if n != 100 {
		t.Fatalf("user index holds %d keys, want 100", n)
	}
}

// A cache whose listener has not proved within MaxLag that it is up to
// date serves nothing, keeps its entries, and serves them again once a
// pong arrives: that pong proves every change before it was applied.
func TestCache_LaggingListenerServesNothing(t *testing.T) {
	c, clk := newTestCache(time.Minute)
	clk.advance(time.Hour)
	c.Heard(clk.now())
	c.Put(key(1), "u1", time.Now().Add(time.Hour), "v", c.Gen())
	clk.advance(MaxLag)
	if _, ok := c.Get(key(1)); !ok {
		t.Fatal("not served MaxLag after the last pong's ping")
	}
	clk.advance(time.Nanosecond)
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("served although the last pong's ping is older than MaxLag")
	}
	if s := c.Stats(); s.Lagging != 1 || s.Entries != 1 {
		t.Fatalf("stats %+v, want 1 lagging lookup and the entry kept", s)
	}
	c.Heard(clk.now() - 2*MaxLag) // an older pong moves nothing
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("an older pong made the cache serve")
	}
	c.Heard(clk.now() - MaxLag)
	if v, ok := c.Get(key(1)); !ok || v != "v" {
		t.Fatal("a fresh pong did not bring the entry back")
	}
}

// Turning the cache on counts as a proof at that instant (Follow relies on
// it instead of its listener's confirming ping): the cache is empty then,
// and whatever is put afterwards was read afterwards.
func TestCache_SetUpCountsAsHeard(t *testing.T) {
	c, clk := newTestCache(time.Minute)
	clk.advance(time.Hour)
	c.SetUp(true)
	c.Put(key(1), "u1", time.Now().Add(time.Hour), "v", c.Gen())
	clk.advance(MaxLag)
	if _, ok := c.Get(key(1)); !ok {
		t.Fatal("not served MaxLag after SetUp")
	}
	clk.advance(time.Nanosecond)
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("served past MaxLag after SetUp with no pong")
	}
}

// The cache's clock, and so MaxLag, must not follow the wall clock: a
// step back of X would serve entries for X + MaxLag with no pong, a step
// forward stop the cache for nothing. time.Since reads the monotonic clock
// only when its origin carries a monotonic reading; so must the pongs'
// send times (store's tests check theirs), which are measured from it.
func TestMonotonic_OriginHasAMonotonicReading(t *testing.T) {
	if !strings.Contains(epoch.String(), " m=") {
		t.Fatalf("epoch %v has no monotonic reading: the cache's clock is the wall clock", epoch)
	}
	if a, b := monotonic(), monotonic(); b < a {
		t.Fatalf("monotonic went back from %v to %v", a, b)
	}
}

// BenchmarkCache_Get is the hot path of an authenticated request.
func BenchmarkCache_Get(b *testing.B) {
	c := New[int](time.Minute, 100_000)
	c.SetUp(true)
	c.maxLag = int64(time.Hour) // no listener here to keep it fresh
	for i := range 10_000 {
		c.Put(key(i), fmt.Sprint(i), time.Now().Add(time.Hour), i, c.Gen())
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Get(key(i % 10_000))
			i++
		}
	})
}

// TestCache_MemoryPerEntry reports the heap an entry costs (key, entry and
// index; the cached value is the caller's).
func TestCache_MemoryPerEntry(t *testing.T) {
	const n = 50_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := New[*[0]byte](time.Minute, n)
	c.SetUp(true)
	for i := range n {
		c.Put(key(i), fmt.Sprintf("%036d", i), time.Now().Add(time.Hour), nil, c.Gen())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d bytes per entry, without the value", (after.HeapAlloc-before.HeapAlloc)/n)
	runtime.KeepAlive(c)
}
