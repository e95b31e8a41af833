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
	// pingEvery is how often the listener pings itself. Each pong that
	// comes back within MaxLag-pingEvery of the previous one keeps the
	// cache serving without a gap.
	pingEvery = MaxLag / 5
	// lostAfter without a pong counts as a lost connection: the cache is
	// emptied and a new one made. (After MaxLag it is already bypassed.)
	lostAfter = 4 * time.Second
	// retryMin and retryMax bound the wait between attempts to listen.
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// Target is what Follow keeps in step with the database.
type Target interface {
	InvalidateToken(hash []byte)
	InvalidateUser(userID string)
	SetUp(up bool)
	// Heard is given send times on the clock monotonic reads.
	Heard(sent time.Duration)
}

// AdminTarget is a Target that also holds admin sessions (Pair): Follow
// gives it the admin payloads, which a plain Target has nothing to drop for.
type AdminTarget interface {
	Target
	InvalidateAdminToken(hash []byte)
	InvalidateAdmin(adminID string)
}

// Pair is the Target of an instance with both caches: users' sessions and
// admins' sessions, kept in step by one listener. Both go up and down
// together.
type Pair struct{ Users, Admins Target }

// InvalidateToken drops a user session.
func (p Pair) InvalidateToken(hash []byte) { p.Users.InvalidateToken(hash) }

// InvalidateUser drops a user's sessions.
func (p Pair) InvalidateUser(userID string) { p.Users.InvalidateUser(userID) }

// InvalidateAdminToken drops an admin session.
func (p Pair) InvalidateAdminToken(hash []byte) { p.Admins.InvalidateToken(hash) }

// InvalidateAdmin drops an admin's sessions (keyed by admin id).
func (p Pair) InvalidateAdmin(adminID string) { p.Admins.InvalidateUser(adminID) }

// SetUp turns both on or off.
func (p Pair) SetUp(up bool) { p.Users.SetUp(up); p.Admins.SetUp(up) }

// Heard tells both.
func (p Pair) Heard(sent time.Duration) { p.Users.Heard(sent); p.Admins.Heard(sent) }

// listener is what follow needs of a *store.SessionListener, with send
// times on follow's clock (see storeListener).
type listener interface {
	Ping(ctx context.Context) error
	Pong(payload string) (sentAt time.Duration, ok bool)
	Receive(ctx context.Context, timeout time.Duration) (string, error)
}

// storeListener gives follow a store listener's send times on the clock
// monotonic reads. They carry Go's monotonic reading, as epoch does, so
// Sub ignores the wall clock.
type storeListener struct{ *store.SessionListener }

func (l storeListener) Pong(payload string) (time.Duration, bool) {
	at, ok := l.SessionListener.Pong(payload)
	return at.Sub(epoch), ok
}

// Follow keeps c in step with st's session notifications until ctx ends:
// it turns c up once its listener has proved it hears the channel, applies
// every notification, tells c of every pong (Heard: c stops serving when
// they are late), and turns c down (emptied, bypassed) the moment the
// connection fails or its pings stop coming back for lostAfter, until a
// new one is confirmed. It returns when ctx ends, leaving c down.
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
		// This counts as hearing from the listener now (see SetUp), which
		// is after its confirming ping was sent.
		c.SetUp(true)
		err = follow(ctx, storeListener{l}, c, monotonic, log)
		c.SetUp(false)
		_ = l.Close()
		if ctx.Err() == nil {
			log.Warn("session cache off until the session-change listener is back", "err", err)
		}
	}
}

var errPingLost = errors.New("sessioncache: the listener's ping did not come back")

// follow applies l's notifications to c, and pings every pingEvery, until
// l fails, a pong is lostAfter late, or ctx ends. now is the clock of c and
// of l's send times.
func follow(ctx context.Context, l listener, c Target, now func() time.Duration, log *slog.Logger) error {
	next := now() + pingEvery
	lastPong := now()
	lagging := false
	for ctx.Err() == nil {
		if t := now(); t >= next {
			if t-lastPong > lostAfter {
				return errPingLost
			}
			// Said once, so that slower answers (every request reads the
			// database meanwhile) have a cause in the log.
			if !lagging && t-lastPong > MaxLag-pingEvery {
				lagging = true
				log.Warn("session cache bypassed: the session-change listener's pings come back late", "since_last", (t - lastPong).Round(time.Millisecond))
			}
			pctx, cancel := context.WithTimeout(ctx, lostAfter)
			err := l.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			next = t + pingEvery
		}
		// Never wait past the next ping, nor so short the wait is all
		// overhead.
		p, err := l.Receive(ctx, max(next-now(), time.Millisecond))
		if errors.Is(err, store.ErrListenTimeout) {
			continue
		}
		if err != nil {
			return err
		}
		if sent, ok := l.Pong(p); ok {
			c.Heard(sent)
			lastPong = now()
			if lagging {
				lagging = false
				log.Info("session cache serving again: the listener's pings are back", "ping_age", (lastPong - sent).Round(time.Millisecond))
			}
			continue
		}
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
	case strings.HasPrefix(p, "at:"):
		// Admin payloads (migration 20261210000003): a target without
		// admin sessions has nothing to drop.
		a, ok := c.(AdminTarget)
		if !ok {
			return
		}
		h, err := hex.DecodeString(p[3:])
		if err != nil {
			c.SetUp(true)
			return
		}
		a.InvalidateAdminToken(h)
	case strings.HasPrefix(p, "a:"):
		if a, ok := c.(AdminTarget); ok {
			a.InvalidateAdmin(p[2:])
		}
	case strings.HasPrefix(p, "p:"):
		// our own ping
	default:
		c.SetUp(true) // unknown: drop everything, keep serving
	}
}
