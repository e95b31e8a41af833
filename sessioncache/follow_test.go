package sessioncache

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"wxlogin/store"
)

// fakeListener stands in for a store.SessionListener, on a clock of its
// own that only the test moves: what is queued is delivered in order,
// pongs included, unless it is stalled (as a listener whose connection or
// goroutine is stuck); a wait for nothing ends when the clock reaches its
// timeout.
type fakeListener struct {
	mu      sync.Mutex
	cond    *sync.Cond
	clock   time.Duration
	queue   []string
	stalled bool
	seq     int
	sent    map[string]time.Duration
	// idle is set while Receive waits with nothing to deliver before its
	// timeout, ended once follow has returned: either way follow does
	// nothing until the test moves the clock or queues something.
	idle, ended bool
}

func newFakeListener() *fakeListener {
	f := &fakeListener{sent: map[string]time.Duration{}}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// change applies fn and wakes Receive to look again.
func (f *fakeListener) change(fn func()) {
	f.mu.Lock()
	fn()
	f.idle = false
	f.cond.Broadcast()
	f.mu.Unlock()
}

func (f *fakeListener) now() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

// advance moves the clock by d and waits for follow to have done what
// that time calls for.
func (f *fakeListener) advance(d time.Duration) {
	f.change(func() { f.clock += d })
	f.settle()
}

// settle waits until follow is idle or has returned.
func (f *fakeListener) settle() {
	f.mu.Lock()
	for !f.idle && !f.ended {
		f.cond.Wait()
	}
	f.mu.Unlock()
}

func (f *fakeListener) hasEnded() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ended
}

func (f *fakeListener) notify(p string) {
	f.change(func() { f.queue = append(f.queue, p) })
	f.settle()
}

func (f *fakeListener) stall(on bool) {
	f.change(func() { f.stalled = on })
	f.settle()
}

// follow runs follow on f and c (whose clock becomes f's) until the
// returned stop is called or it ends by itself; stop returns its error.
func (f *fakeListener) follow(ctx context.Context, c *Cache[string]) (stop func() error) {
	c.now = f.now
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		err := follow(ctx, f, c, f.now, slog.New(slog.DiscardHandler))
		f.change(func() { f.ended = true })
		done <- err
	}()
	f.settle()
	return func() error {
		cancel()
		return <-done
	}
}

func (f *fakeListener) Ping(context.Context) error {
	f.change(func() {
		f.seq++
		p := "p:fake:" + strconv.Itoa(f.seq)
		f.sent[p] = f.clock
		f.queue = append(f.queue, p)
	})
	return nil
}

func (f *fakeListener) Pong(p string) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.sent[p]
	return at, ok
}

func (f *fakeListener) Receive(ctx context.Context, timeout time.Duration) (string, error) {
	defer context.AfterFunc(ctx, func() { f.change(func() {}) })()
	f.mu.Lock()
	defer f.mu.Unlock()
	end := f.clock + timeout
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if !f.stalled && len(f.queue) > 0 {
			p := f.queue[0]
			f.queue = f.queue[1:]
			return p, nil
		}
		if f.clock >= end {
			return "", store.ErrListenTimeout
		}
		f.idle = true
		f.cond.Broadcast()
		f.cond.Wait()
	}
}

// A revocation stuck behind a stalled listener is honoured anyway once
// MaxLag has passed since the last pong's ping: the cache serves up to
// that instant and not after it, and serves again, without the revoked
// entry, once the listener catches up.
func TestFollow_StalledListenerStopsServingWithinMaxLag(t *testing.T) {
	c := New[string](time.Minute, 10)
	f := newFakeListener()
	stop := f.follow(context.Background(), c)
	defer func() {
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("follow ended with %v", err)
		}
	}()
	c.SetUp(true)
	c.Put(key(1), "u1", time.Now().Add(time.Hour), "revoked", c.Gen())
	c.Put(key(2), "u2", time.Now().Add(time.Hour), "live", c.Gen())

	f.advance(pingEvery) // a ping, and its pong: the last proof
	proof := f.now()
	if got := time.Duration(c.heard.Load()); got != proof {
		t.Fatalf("heard at %v, want the last pong's ping at %v", got, proof)
	}
	f.stall(true)
	f.notify("t:" + hex.EncodeToString(key(1)))

	f.advance(MaxLag - time.Nanosecond) // pings go out, nothing comes back
	for i := range 2 {
		if _, ok := c.Get(key(i + 1)); !ok {
			t.Fatalf("key %d not served at the last proof + MaxLag - 1ns", i+1)
		}
	}
	f.advance(2 * time.Nanosecond)
	for i := range 2 {
		if _, ok := c.Get(key(i + 1)); ok {
			t.Fatalf("key %d served at the last proof + MaxLag + 1ns, the revocation stuck behind it", i+1)
		}
	}

	f.stall(false)
	// The newest pong is that of the last ping sent while stalled; it
	// counts from when it was sent, not from when it came back.
	if got := time.Duration(c.heard.Load()); got != proof+MaxLag-time.Nanosecond {
		t.Fatalf("heard at %v, want the last ping's send time %v", got, proof+MaxLag-time.Nanosecond)
	}
	if _, ok := c.Get(key(2)); !ok {
		t.Fatal("the cache did not serve again after the listener caught up")
	}
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("the revoked entry is served after the listener caught up")
	}
}

// follow gives up on a listener whose pongs stop for lostAfter, at the
// first ping due after that, so that Follow empties the cache and dials
// again; until then it keeps pinging.
func TestFollow_LostPongsEndTheListener(t *testing.T) {
	c := New[string](time.Minute, 10)
	f := newFakeListener()
	f.stalled = true
	stop := f.follow(context.Background(), c)
	for range lostAfter / pingEvery {
		f.advance(pingEvery)
		if f.hasEnded() {
			t.Fatalf("follow gave up %v after the last pong, before lostAfter", f.now())
		}
	}
	f.mu.Lock()
	n := len(f.queue)
	f.mu.Unlock()
	if n != int(lostAfter/pingEvery) {
		t.Fatalf("follow pinged %d times in lostAfter, want one every pingEvery", n)
	}
	f.advance(pingEvery)
	if !f.hasEnded() {
		t.Fatalf("follow still runs %v after the last pong", f.now())
	}
	if err := stop(); !errors.Is(err, errPingLost) {
		t.Fatalf("follow ended with %v, want errPingLost", err)
	}
	if !strings.HasPrefix(f.queue[len(f.queue)-1], "p:") {
		t.Fatalf("last queued %q, want a ping", f.queue[len(f.queue)-1])
	}
}
