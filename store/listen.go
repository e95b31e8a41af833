package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"
)

// SessionChannel is the LISTEN/NOTIFY channel on which the database's
// triggers (migration 20261203000001_session_notify) announce every change
// that ends a session or alters its user: payload "t:<token hash hex>" or
// "u:<user id>"; and, for admins (migration
// 20261210000003_admin_session_notify), "at:<token hash hex>" or
// "a:<admin id>". The session caches of every instance follow it.
const SessionChannel = "wxlogin_session"

// ListenerAppName is the application_name of a SessionListener's two
// connections (the one that LISTENs, the one its pings go over), as
// pg_stat_activity shows it.
const ListenerAppName = "wxlogin listener"

// ErrListenTimeout is ReceiveSession's error when nothing arrived in time;
// the connection is still good.
var ErrListenTimeout = errors.New("store: no notification within the timeout")

// SessionListener is a dedicated connection LISTENing on SessionChannel.
// It is not safe for concurrent use. Its connection never reconnects by
// itself: after any error but ErrListenTimeout close it and open another,
// and treat everything announced in between as lost.
type SessionListener struct {
	st    *Store
	db    *bun.DB
	ln    *pgdriver.Listener
	nonce string

	// seq numbers the pings; sent holds the send times of those whose
	// pong has not come back yet, oldest first.
	seq  uint64
	sent []sentPing
}

type sentPing struct {
	seq uint64
	at  time.Time
}

// ListenSessions opens a connection, LISTENs on SessionChannel and returns
// only once a notification it sent itself after the LISTEN has come back:
// from then on no commit's notification can be missed while the connection
// lives.
//
// The listener has a second connection of its own for its pings, so that
// they neither wait for nor add to the shared pool: a busy pool must not
// hold back the proof that this listener is up to date.
func (s *Store) ListenSessions(ctx context.Context) (*SessionListener, error) {
	conf := *s.connector.Config()
	conf.AppName = ListenerAppName
	conf.ReadTimeout = 0
	sqldb := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithConfig(&conf)))
	sqldb.SetMaxOpenConns(1) // the pings'; pgdriver.Listener dials its own
	sqldb.SetMaxIdleConns(1)
	db := bun.NewDB(sqldb, pgdialect.New())
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	l := &SessionListener{st: s, db: db, ln: pgdriver.NewListener(db), nonce: hex.EncodeToString(b)}
	if err := l.ln.Listen(ctx, SessionChannel); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("store: listening on %s: %w", SessionChannel, err)
	}
	// LISTEN is sent without waiting for its answer, so a ping may commit
	// before the server has processed it: ping again until one comes back.
	for {
		if err := l.Ping(ctx); err != nil {
			_ = l.Close()
			return nil, err
		}
		payload, err := l.receive(ctx, 100*time.Millisecond)
		for err == nil {
			if _, ok := l.Pong(payload); ok {
				return l, nil
			}
			payload, err = l.receive(ctx, 100*time.Millisecond)
		}
		if !errors.Is(err, ErrListenTimeout) {
			_ = l.Close()
			return nil, fmt.Errorf("store: listening on %s: %w", SessionChannel, err)
		}
		if ctx.Err() != nil {
			_ = l.Close()
			return nil, fmt.Errorf("store: listening on %s: own notification did not come back: %w", SessionChannel, ctx.Err())
		}
	}
}

// Ping sends a notification that this listener will receive as a pong
// (Pong): it proves the connection still hears the channel, and that
// every notification committed before the ping was sent has arrived.
func (l *SessionListener) Ping(ctx context.Context) error {
	l.seq++
	// The time is taken before the statement: the ping commits after it,
	// so everything committed before it is delivered before the pong. It
	// keeps Go's monotonic reading (see Pong).
	at := time.Now()
	payload := "p:" + l.nonce + ":" + strconv.FormatUint(l.seq, 10)
	if _, err := l.db.ExecContext(ctx, "SELECT pg_notify(?, ?)", SessionChannel, payload); err != nil {
		return fmt.Errorf("store: notifying %s: %w", SessionChannel, err)
	}
	// A ping whose pong never came (an error above, a lost notification)
	// is forgotten once 64 newer ones wait.
	if len(l.sent) >= 64 {
		l.sent = slices.Delete(l.sent, 0, 1)
	}
	l.sent = append(l.sent, sentPing{l.seq, at})
	return nil
}

// Pong reports whether payload is one of this listener's own pings, and
// when that ping was sent: every notification committed before that time
// has been received before this one. The time carries Go's monotonic clock
// reading: measure from it with Sub or Since, never with its wall-clock
// value (UnixNano), which a step of the clock would shift.
//
// The payload names the ping (this listener's random nonce and sequence
// number), and the time is the one kept here: another listener's ping,
// whose payload every listener receives, is never taken for one of ours.
func (l *SessionListener) Pong(payload string) (sentAt time.Time, ok bool) {
	rest, found := strings.CutPrefix(payload, "p:"+l.nonce+":")
	if !found {
		return time.Time{}, false
	}
	seq, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	for i, p := range l.sent {
		if p.seq == seq {
			l.sent = slices.Delete(l.sent, 0, i+1)
			return p.at, true
		}
	}
	return time.Time{}, false
}

// Receive waits up to timeout for the next notification's payload. Pings
// of other listeners are skipped (they do not extend the wait: every
// instance pings several times a second); its own come back (see Pong).
func (l *SessionListener) Receive(ctx context.Context, timeout time.Duration) (string, error) {
	end := time.Now().Add(timeout)
	for {
		p, err := l.receive(ctx, timeout)
		if err != nil || !strings.HasPrefix(p, "p:") || strings.HasPrefix(p, "p:"+l.nonce+":") {
			return p, err
		}
		if timeout = time.Until(end); timeout <= 0 {
			return "", ErrListenTimeout
		}
	}
}

func (l *SessionListener) receive(ctx context.Context, timeout time.Duration) (string, error) {
	channel, payload, err := l.ln.ReceiveTimeout(ctx, timeout)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "", ErrListenTimeout
	}
	if err != nil {
		return "", err
	}
	if channel != SessionChannel {
		return "", nil
	}
	return payload, nil
}

// Close closes the connection.
func (l *SessionListener) Close() error {
	return errors.Join(l.ln.Close(), l.db.Close())
}
