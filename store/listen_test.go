package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wxlogin/store"
	"wxlogin/store/storetest"
)

// A pong names the ping it answers, so the listener knows when the ping
// was sent: everything committed before then has been received. The time
// carries the monotonic reading (String shows it as "m="), so that what
// is measured from it ignores steps of the wall clock; and another
// listener's ping, received by every listener, is not taken for one's own.
func TestSessionListener_PongCarriesSendTime(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	l, err := st.ListenSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	other, err := st.ListenSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := st.DB().ExecContext(ctx, "SELECT pg_notify(?, 't:00')", store.SessionChannel); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := l.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		p, err := l.Receive(ctx, 10*time.Second)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, p)
	}
	if got[0] != "t:00" {
		t.Fatalf("first %q, want the notification committed before the ping", got[0])
	}
	// The other listener's pings carry the sequence numbers that l's carry
	// (one or two to confirm, then one): only the nonce tells them apart.
	for range 5 {
		if err := other.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for n := 0; n < 5; {
		theirs, err := other.Receive(ctx, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(theirs, "p:") {
			continue // the t:00 above
		}
		n++
		if at, ok := l.Pong(theirs); ok {
			t.Fatalf("Pong(%q), another listener's ping, = %v, true", theirs, at)
		}
	}
	at, ok := l.Pong(got[1])
	if !ok || at.Before(before) || at.After(time.Now()) {
		t.Fatalf("Pong(%q) = %v, %v; want the ping's send time", got[1], at, ok)
	}
	if !strings.Contains(at.String(), " m=") {
		t.Fatalf("Pong's time %v has no monotonic reading", at)
	}
	if _, ok := l.Pong(got[1]); ok {
		t.Fatal("a pong was taken twice")
	}
}

// Other listeners' pings (every instance sends several a second) must not
// keep Receive from timing out, or a listener among busy peers would never
// get to send its own.
func TestSessionListener_OthersPingsDoNotExtendTheWait(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	l, err := st.ListenSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Other instances' pings, from several connections at once so that
	// they arrive far more often than the wait below.
	var stop, ranOut atomic.Bool
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for end := time.Now().Add(20 * time.Second); !stop.Load(); {
				if time.Now().After(end) {
					ranOut.Store(true)
					return
				}
				_, _ = st.DB().ExecContext(ctx, "SELECT pg_notify(?, 'p:someone-else:1')", store.SessionChannel)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	_, err = l.Receive(ctx, 300*time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if !errors.Is(err, store.ErrListenTimeout) {
		t.Fatalf("Receive: %v, want ErrListenTimeout", err)
	}
	if ranOut.Load() {
		t.Fatal("Receive returned only after the other listener stopped pinging")
	}
}
