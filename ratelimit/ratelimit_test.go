package ratelimit_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wxlogin/ratelimit"
	"wxlogin/ratelimit/redistest"
	"wxlogin/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// stores opens a limiter on each store; open may be called several times
// per test, each call a separate client with its own connections, as two
// server instances would have.
var stores = []struct {
	name string
	open func(t *testing.T) func() ratelimit.Limiter
}{
	{"Postgres", func(t *testing.T) func() ratelimit.Limiter {
		return func() ratelimit.Limiter { return ratelimit.NewPostgres(storetest.Open(t).DB()) }
	}},
	{"Redis", func(t *testing.T) func() ratelimit.Limiter {
		u := redistest.URL(t)
		prefix := redistest.Prefix(t, u)
		return func() ratelimit.Limiter {
			r, err := ratelimit.NewRedis(u, prefix)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Close() })
			return r
		}
	}},
}

// forEachStore runs test against each store. Postgres keys are made unique
// per test, as the tests of one package share a database.
func forEachStore(t *testing.T, test func(t *testing.T, open func() ratelimit.Limiter, key func(string) string)) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			open := s.open(t)
			id := fmt.Sprintf("%s:%d:", t.Name(), time.Now().UnixNano())
			test(t, open, func(k string) string { return id + k })
		})
	}
}

func allow(t *testing.T, l ratelimit.Limiter, key string, limit ratelimit.Limit) ratelimit.Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key, limit)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLimiter_ExactlyN(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func() ratelimit.Limiter, key func(string) string) {
		l, limit := open(), ratelimit.Limit{N: 5, Window: time.Minute}
		for i := 1; i <= limit.N; i++ {
			d := allow(t, l, key("a"), limit)
			if !d.Allowed || d.Count != int64(i) || d.Remaining != limit.N-i || d.RetryAfter != 0 {
				t.Fatalf("hit %d: %+v, want allowed with count %d, %d remaining", i, d, i, limit.N-i)
			}
		}
		for i := limit.N + 1; i <= limit.N+2; i++ {
			d := allow(t, l, key("a"), limit)
			if d.Allowed || d.Count != int64(i) || d.Remaining != 0 {
				t.Fatalf("hit %d: %+v, want refused", i, d)
			}
			if d.RetryAfter <= 0 || d.RetryAfter > limit.Window {
				t.Fatalf("hit %d: retryAfter %v, want in (0, %v]", i, d.RetryAfter, limit.Window)
			}
			if d.RetryAfter < limit.Window-10*time.Second {
				t.Errorf("hit %d: retryAfter %v, want about the whole window %v: it started a moment ago", i, d.RetryAfter, limit.Window)
			}
		}
		// Another key has its own count.
		if d := allow(t, l, key("b"), limit); !d.Allowed || d.Count != 1 {
			t.Fatalf("another key: %+v, want its first hit", d)
		}
		// Off counts nothing and allows.
		if d := allow(t, l, key("a"), ratelimit.Limit{}); !d.Allowed {
			t.Fatalf("limit off: %+v", d)
		}
	})
}

func TestLimiter_WindowRollover(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func() ratelimit.Limiter, key func(string) string) {
		l, limit := open(), ratelimit.Limit{N: 2, Window: 700 * time.Millisecond}
		start := time.Now()
		allow(t, l, key("a"), limit)
		allow(t, l, key("a"), limit)
		d := allow(t, l, key("a"), limit)
		if time.Since(start) >= limit.Window {
			t.Skip("the machine is too slow for a 700ms window") // rare; the other tests still ran
		}
		if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > limit.Window {
			t.Fatalf("third hit: %+v, want refused with retryAfter in (0, %v]", d, limit.Window)
		}
		time.Sleep(d.RetryAfter + 20*time.Millisecond)
		if d := allow(t, l, key("a"), limit); !d.Allowed || d.Count != 1 || d.Remaining != 1 {
			t.Fatalf("after retryAfter: %+v, want a new window's first hit", d)
		}
	})
}

// Two instances (two clients, two connection pools), 100 hits at once for
// one key with a limit of 10: exactly 10 pass, and every hit gets its own count.
func TestLimiter_ConcurrentInstances(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, open func() ratelimit.Limiter, key func(string) string) {
		instances := []ratelimit.Limiter{open(), open()}
		limit := ratelimit.Limit{N: 10, Window: time.Minute}
		const hits = 100
		var (
			allowed atomic.Int32
			mu      sync.Mutex
			counts  = map[int64]bool{}
			wg      sync.WaitGroup
			start   = make(chan struct{})
		)
		for i := range hits {
			wg.Go(func() {
				<-start
				d, err := instances[i%2].Allow(context.Background(), key("hot"), limit)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
				mu.Lock()
				counts[d.Count] = true
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		if n := allowed.Load(); n != int32(limit.N) {
			t.Errorf("%d of %d concurrent hits allowed, want exactly %d", n, hits, limit.N)
		}
		for c := int64(1); c <= hits; c++ {
			if !counts[c] {
				t.Errorf("no hit got count %d: counts must be 1..%d, each once", c, hits)
				break
			}
		}
	})
}

func TestPostgres_Purge(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	l := ratelimit.NewPostgres(st.DB())
	key := fmt.Sprintf("purge:%d", time.Now().UnixNano())
	allow(t, l, key+":old", ratelimit.Limit{N: 1, Window: time.Millisecond})
	allow(t, l, key+":live", ratelimit.Limit{N: 1, Window: time.Hour})
	time.Sleep(5 * time.Millisecond)
	if _, err := l.Purge(context.Background()); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := st.DB().NewRaw("SELECT key FROM rate_limits WHERE key LIKE ? ORDER BY key", key+"%").Scan(context.Background(), &keys); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != key+":live" {
		t.Fatalf("after purge: %v, want only the live counter", keys)
	}
}

// BenchmarkAllow is one hit's round trip on each store, one caller at a
// time (latency) and 16 at once on one key (the hottest row or key).
func BenchmarkAllow(b *testing.B) {
	limit := ratelimit.Limit{N: 1 << 30, Window: time.Hour}
	for _, s := range []struct {
		name string
		open func(b *testing.B) ratelimit.Limiter
	}{
		{"Postgres", func(b *testing.B) ratelimit.Limiter { return ratelimit.NewPostgres(storetest.Open(b).DB()) }},
		{"Redis", func(b *testing.B) ratelimit.Limiter {
			u := redistest.URL(b)
			r, err := ratelimit.NewRedis(u, redistest.Prefix(b, u))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = r.Close() })
			return r
		}},
	} {
		b.Run(s.name+"/Serial", func(b *testing.B) {
			l, key := s.open(b), fmt.Sprintf("bench:%d", time.Now().UnixNano())
			for b.Loop() {
				if _, err := l.Allow(context.Background(), key, limit); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(s.name+"/Parallel16OneKey", func(b *testing.B) {
			l, key := s.open(b), fmt.Sprintf("bench:%d", time.Now().UnixNano())
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Allow(context.Background(), key, limit); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
