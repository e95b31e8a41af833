package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"
)

// SessionChannel is the LISTEN/NOTIFY channel on which the database's
// triggers (migration 20261203000001_session_notify) announce every change
// that ends a session or alters its user: payload "t:<token hash hex>" or
// "u:<user id>". The session cache of every instance follows it.
const SessionChannel = "wxlogin_session"

// ListenerAppName is the application_name of a SessionListener's
// connection, as pg_stat_activity shows it.
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
}

// ListenSessions opens a connection, LISTENs on SessionChannel and returns
// only once a notification it sent itself after the LISTEN has come back:
// from then on no commit's notification can be missed while the connection
// lives.
func (s *Store) ListenSessions(ctx context.Context) (*SessionListener, error) {
	conf := *s.connector.Config()
	conf.AppName = ListenerAppName
	conf.ReadTimeout = 0
	sqldb := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithConfig(&conf)))
	sqldb.SetMaxOpenConns(1)
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
		for err == nil && !l.IsPong(payload) {
			payload, err = l.receive(ctx, 100*time.Millisecond)
		}
		if err == nil {
			return l, nil
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
// (IsPong): it proves the connection still hears the channel.
func (l *SessionListener) Ping(ctx context.Context) error {
	if _, err := l.st.db.ExecContext(ctx, "SELECT pg_notify(?, ?)", SessionChannel, "p:"+l.nonce); err != nil {
		return fmt.Errorf("store: notifying %s: %w", SessionChannel, err)
	}
	return nil
}

// IsPong reports whether payload is this listener's own Ping.
func (l *SessionListener) IsPong(payload string) bool {
	return len(payload) == 2+len(l.nonce) && payload[:2] == "p:" && payload[2:] == l.nonce
}

// Receive waits up to timeout for the next notification's payload. Pings
// of other listeners are skipped; its own come back (IsPong).
func (l *SessionListener) Receive(ctx context.Context, timeout time.Duration) (string, error) {
	for {
		p, err := l.receive(ctx, timeout)
		if err != nil || len(p) < 2 || p[:2] != "p:" || l.IsPong(p) {
			return p, err
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
