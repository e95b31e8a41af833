package auth

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"wxlogin/models"
	"wxlogin/store"
)

// Bounds of Sessions: a mini program keeps its token, so a user has a
// handful of live sessions; past MaxOwnSessions the list shows the most
// recently used and LogoutEverywhere ends the rest.
const (
	DefaultOwnSessions = 20
	MaxOwnSessions     = 50
)

// OwnSession is one of the caller's live sessions, as the mini program's
// "devices" screen shows it. Nothing here opens anything: no token, token
// hash or session_key, and only the network of the address.
type OwnSession struct {
	ID    string
	AppID string
	// CreatedAt is when the session's login happened.
	CreatedAt time.Time
	// LastSeenAt is the last request the database recorded, at most
	// touchEvery plus the session cache's TTL behind the last use.
	LastSeenAt time.Time
	ExpiresAt  time.Time
	// Current marks the session the request came with.
	Current bool
	// IP is the login's network: an IPv4 /24 or IPv6 /48 prefix.
	IP *string
	// UserAgent is the login request's.
	UserAgent *string
}

// Sessions returns up to first (1 to MaxOwnSessions, else BAD_USER_INPUT)
// of the caller's live sessions, the current one first, then the most
// recently used.
func (s *Service) Sessions(ctx context.Context, c *Caller, first int) ([]*OwnSession, error) {
	if first < 1 || first > MaxOwnSessions {
		return nil, models.Errorf(models.CodeBadUserInput, "first must be from 1 to %d", MaxOwnSessions)
	}
	list, err := s.store.LiveSessionsOfUser(ctx, c.User.ID, c.Session.ID, first)
	if err != nil {
		return nil, models.WrapError(err, models.CodeInternal, "internal error")
	}
	out := make([]*OwnSession, len(list))
	for i, o := range list {
		out[i] = &OwnSession{ID: o.ID, AppID: o.AppID, CreatedAt: o.CreatedAt, LastSeenAt: o.LastSeenAt, ExpiresAt: o.ExpiresAt,
			Current: o.ID == c.Session.ID, IP: maskIP(o.IP), UserAgent: o.UserAgent}
	}
	return out, nil
}

// errNoSuchSession answers every id that is not one of the caller's live
// sessions alike — malformed, unknown, ended, or another user's — so that
// it tells nothing about sessions not theirs.
var errNoSuchSession = models.Errorf(models.CodeBadUserInput, "you have no live session with that id")

// RevokeSession ends one of the caller's own sessions (the current one
// included, which is a logout), recording it in the audit log as
// session.revoke. Its token is refused on this instance's very next
// request; the others hear of it by NOTIFY. Errors: BAD_USER_INPUT
// (errNoSuchSession), INTERNAL.
func (s *Service) RevokeSession(ctx context.Context, c *Caller, id, ip string) error {
	u, err := uuid.Parse(id)
	if err != nil {
		return errNoSuchSession
	}
	id = u.String() // PostgreSQL's form: uuid.Parse takes more than it does
	audit := &models.AuditEntry{ActorKind: "user", ActorID: &c.User.ID, Action: "session.revoke", Target: &id,
		IP: nonEmpty(ip), Detail: map[string]any{"current": id == c.Session.ID}}
	_, err = s.store.RevokeSession(ctx, id, c.User.ID, audit)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSuchSession
	} else if err != nil {
		return models.WrapError(err, models.CodeInternal, "internal error")
	}
	s.ForgetUser(c.User.ID)
	if id == c.Session.ID {
		endRequest(ctx)
	}
	return nil
}

// LogoutEverywhere ends every live session of the caller, or every other
// one when keepCurrent, and returns how many it ended. When any ended, it
// is recorded in the audit log as user.revoke_sessions (as an admin's
// revokeUserSessions is, the actor telling them apart).
func (s *Service) LogoutEverywhere(ctx context.Context, c *Caller, keepCurrent bool, ip string) (int, error) {
	keep := ""
	if keepCurrent {
		keep = c.Session.ID
	}
	audit := &models.AuditEntry{ActorKind: "user", ActorID: &c.User.ID, Action: "user.revoke_sessions", Target: &c.User.ID,
		IP: nonEmpty(ip), Detail: map[string]any{"keepCurrent": keepCurrent, "session": c.Session.ID}}
	n, err := s.store.RevokeUserSessions(ctx, c.User.ID, keep, audit)
	if errors.Is(err, store.ErrNotFound) {
		n, err = 0, nil // the user is gone (merged away): nothing of theirs is live
	}
	if err != nil {
		return 0, models.WrapError(err, models.CodeInternal, "internal error")
	}
	if n > 0 {
		s.ForgetUser(c.User.ID)
	}
	if !keepCurrent {
		endRequest(ctx)
	}
	return n, nil
}

// maskIP keeps an address's network, enough to place it roughly (a city,
// a carrier) but not to single out a household to whoever holds a token.
func maskIP(ip *string) *string {
	if ip == nil {
		return nil
	}
	a, err := netip.ParseAddr(*ip)
	if err != nil {
		return nil
	}
	a = a.Unmap().WithZone("")
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return nil
	}
	s := p.String()
	return &s
}
