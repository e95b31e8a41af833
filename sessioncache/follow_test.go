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

// fakeListener stands in for a store.SessionListener: what is queued is
// delivered in order, pongs included, unless it is stalled (as a listener
// whose connection or goroutine is stuck).
type fakeListener struct {
	mu      sync.Mutex
	queue   []string
	stalled bool
	seq     int
	sent    map[string]time.Time
	wake    chan struct{}
}

func newFakeListener() *fakeListener {
	return &fakeListener{sent: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

func (f *fakeListener) notify(p string) {
	f.mu.Lock()
	f.queue = append(f.queue, p)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fakeListener) stall(on bool) {
	f.mu.Lock()
	f.stalled = on
	f.mu.Unlock()
	f.notify("")
}

func (f *fakeListener) Ping(context.Context) error {
	f.mu.Lock()
	f.seq++
	p := "p:fake:" + strconv.Itoa(f.seq)
	f.sent[p] = time.Now()
	f.mu.Unlock()
	f.notify(p)
	return nil
}

func (f *fakeListener) Pong(p string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.sent[p]
	return at, ok
}

func (f *fakeListener) Receive(ctx context.Context, timeout time.Duration) (string, error) {
	end := time.After(timeout)
	for {
		f.mu.Lock()
		if !f.stalled && len(f.queue) > 0 {
			p := f.queue[0]
			f.queue = f.queue[1:]
			f.mu.Unlock()
			return p, nil
		}
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-end:
			return "", store.ErrListenTimeout
		case <-f.wake:
		}
	}
}

// A revocation stuck behind a stalled listener is honoured anyway once
// MaxLag has passed since it committed: the cache stops serving because
// no pong has come back, and serves again, without the revoked entry,
// once the listener catches up.
func TestFollow_StalledListenerStopsServingWithinMaxLag(t *testing.T) {
	c := New[string](time.Minute, 10)
	f := newFakeListener()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	c.SetUp(true)
	go func() { done <- follow(ctx, f, c, slog.New(slog.DiscardHandler)) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("follow ended with %v", err)
		}
	}()
	c.Put(key(1), "u1", time.Now().Add(time.Hour), "revoked", c.Gen())
	c.Put(key(2), "u2", time.Now().Add(time.Hour), "live", c.Gen())

	f.stall(true)
	committed := time.Now()
	f.notify("t:" + hex.EncodeToString(key(1)))
	// However late this test gets here, no pong sent after the stall has
	// come back, so the cache must refuse from committed+MaxLag on.
	time.Sleep(time.Until(committed.Add(MaxLag + 10*time.Millisecond)))
	for i := range 2 {
		if _, ok := c.Get(key(i + 1)); ok {
			t.Fatalf("key %d served %v after the revocation, its listener stalled", i+1, time.Since(committed))
		}
	}

	f.stall(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := c.Get(key(2)); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cache did not serve again after the listener caught up")
		}
		time.Sleep(time.Millisecond)
	}
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("the revoked entry is served after the listener caught up")
	}
}

// follow gives up on a listener whose pongs stop for lostAfter, so that
// Follow empties the cache and dials again.
func TestFollow_LostPongsEndTheListener(t *testing.T) {
	if testing.Short() {
		t.Skip("waits lostAfter")
	}
	c := New[string](time.Minute, 10)
	f := newFakeListener()
	f.stall(true)
	err := follow(context.Background(), f, c, slog.New(slog.DiscardHandler))
	if !errors.Is(err, errPingLost) {
		t.Fatalf("follow ended with %v, want errPingLost", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.queue); n < 2 || !strings.HasPrefix(f.queue[len(f.queue)-1], "p:") {
		t.Fatalf("follow pinged %d times", n)
	}
}
