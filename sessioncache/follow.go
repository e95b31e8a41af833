package sessioncache

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"

	"wxlogin/store"
)

// Timing of Follow.
const (
	// pingEvery is how long a quiet listener waits before pinging itself;
	// a ping unanswered for pingEvery more counts as a lost connection, so
	// a silently dead connection stops the cache within 2×pingEvery.
	pingEvery = 2 * time.Second
	// retryMin and retryMax bound the wait between attempts to listen.
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// Target is what Follow keeps in step with the database.
type Target interface {
	InvalidateToken(hash []byte)
	InvalidateUser(userID string)
	SetUp(up bool)
}

// Follow keeps c in step with st's session notifications until ctx ends:
// it turns c up once its listener has proved it hears the channel, applies
// every notification, and turns c down (emptied, bypassed) the moment the
// connection fails or stops answering its pings, until a new one is
// confirmed. It returns when ctx ends, leaving c down.
func Follow(ctx context.Context, st *store.Store, c Target, log *slog.Logger) {
	defer c.SetUp(false)
	wait := retryMin
	for ctx.Err() == nil {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		l, err := st.ListenSessions(lctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("session cache off: cannot listen for session changes", "err", err, "retry_in", wait)
			}
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			wait = min(2*wait, retryMax)
			continue
		}
		wait = retryMin
		c.SetUp(true)
		err = follow(ctx, l, c)
		c.SetUp(false)
		_ = l.Close()
		if ctx.Err() == nil {
			log.Warn("session cache off until the session-change listener is back", "err", err)
		}
	}
}

var errPingLost = errors.New("sessioncache: the listener's ping did not come back")

// follow applies l's notifications to c until l fails or ctx ends.
func follow(ctx context.Context, l *store.SessionListener, c Target) error {
	// The receive timeout is short so that ctx's end is noticed soon.
	const tick = 250 * time.Millisecond
	quiet := time.Duration(0)
	pinged := false
	for ctx.Err() == nil {
		p, err := l.Receive(ctx, tick)
		if errors.Is(err, store.ErrListenTimeout) {
			quiet += tick
			if quiet < pingEvery {
				continue
			}
			if pinged {
				return errPingLost
			}
			if err := l.Ping(ctx); err != nil {
				return err
			}
			pinged, quiet = true, 0
			continue
		}
		if err != nil {
			return err
		}
		pinged, quiet = false, 0
		apply(c, p)
	}
	return ctx.Err()
}

// apply acts on one payload; an unknown one empties the whole cache.
func apply(c Target, p string) {
	switch {
	case p == "":
	case strings.HasPrefix(p, "t:"):
		h, err := hex.DecodeString(p[2:])
		if err != nil {
			c.SetUp(true)
			return
		}
		c.InvalidateToken(h)
	case strings.HasPrefix(p, "u:"):
		c.InvalidateUser(p[2:])
	case strings.HasPrefix(p, "p:"):
		// our own ping
	default:
		c.SetUp(true) // unknown: drop everything, keep serving
	}
}
