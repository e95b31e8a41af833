package admin

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"wxlogin/models"
	"wxlogin/store"
)

// maxReasonLen bounds, in characters, the note an admin leaves when
// disabling or deleting a user.
const maxReasonLen = 500

// User returns the user with id, or nil when there is none.
func (s *Service) User(ctx context.Context, id string) (*models.User, error) {
	if !validID(id) {
		return nil, nil
	}
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, internal(err)
	}
	return u, nil
}

// SetUserDisabled disables (ending all their sessions at once) or enables
// a user, recording who did it in the audit log in the same transaction
// and, for a disable, on the user (who, when, why: User.disabledBy,
// disabledAt, disabledReason). A disable needs a reason, 1 to maxReasonLen
// characters once trimmed, which other operators read on the user's page:
// the nickname's text rule (models.TextProblem), line breaks allowed. An
// enable takes none and clears all three. Errors: BAD_USER_INPUT for an
// unknown user or a missing, overlong or refused reason, INTERNAL.
func (s *Service) SetUserDisabled(ctx context.Context, c *Caller, id string, disabled bool, reason, ip string) (*models.User, error) {
	reason = strings.TrimSpace(reason)
	if disabled {
		if reason == "" {
			return nil, models.Errorf(models.CodeBadUserInput, "give the reason for disabling the user")
		}
		if utf8.RuneCountInString(reason) > maxReasonLen {
			return nil, models.Errorf(models.CodeBadUserInput, "the reason must be at most %d characters", maxReasonLen)
		}
		if p := models.TextProblem(reason, true); p != "" {
			return nil, models.Errorf(models.CodeBadUserInput, "the reason %s", p)
		}
	} else {
		reason = ""
	}
	if !validID(id) {
		return nil, models.Errorf(models.CodeBadUserInput, "no user has the id %q", id)
	}
	action, detail := "user.enable", map[string]any{}
	if disabled {
		action = "user.disable"
		detail["reason"] = reason
	}
	audit := &models.AuditEntry{ActorKind: "admin", ActorID: &c.Admin.ID, ActorName: &c.Admin.Username,
		Action: action, Target: &id, IP: nonEmpty(ip), Detail: detail}
	u, err := s.store.SetUserDisabled(ctx, id, disabled, reason, c.Admin.ID, audit)
	if errors.Is(err, store.ErrNotFound) {
		return nil, models.Errorf(models.CodeBadUserInput, "no user has the id %q", id)
	} else if err != nil {
		return nil, internal(err)
	}
	s.forget(id)
	return u, nil
}

// validID reports whether id can be a user id (a UUID), so that junk never
// reaches a uuid column as a query error.
func validID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range id {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'):
			return false
		}
	}
	return true
}

// RevokeSession ends one user session, recording who did it. Errors:
// BAD_USER_INPUT when no live session has that id, INTERNAL.
func (s *Service) RevokeSession(ctx context.Context, c *Caller, id, ip string) error {
	if !validID(id) {
		return models.Errorf(models.CodeBadUserInput, "no live session has the id %q", id)
	}
	audit := &models.AuditEntry{ActorKind: "admin", ActorID: &c.Admin.ID, ActorName: &c.Admin.Username,
		Action: "session.revoke", Target: &id, IP: nonEmpty(ip), Detail: map[string]any{}}
	userID, err := s.store.RevokeSession(ctx, id, "", audit)
	if errors.Is(err, store.ErrNotFound) {
		return models.Errorf(models.CodeBadUserInput, "no live session has the id %q", id)
	} else if err != nil {
		return internal(err)
	}
	s.forget(userID)
	return nil
}

// RevokeUserSessions ends every live session of a user and returns how many;
// when none was live nothing is audited, the action having changed nothing.
func (s *Service) RevokeUserSessions(ctx context.Context, c *Caller, userID, ip string) (int, error) {
	if !validID(userID) {
		return 0, models.Errorf(models.CodeBadUserInput, "no user has the id %q", userID)
	}
	audit := &models.AuditEntry{ActorKind: "admin", ActorID: &c.Admin.ID, ActorName: &c.Admin.Username,
		Action: "user.revoke_sessions", Target: &userID, IP: nonEmpty(ip)}
	n, err := s.store.RevokeUserSessions(ctx, userID, "", audit)
	if errors.Is(err, store.ErrNotFound) {
		return 0, models.Errorf(models.CodeBadUserInput, "no user has the id %q", userID)
	} else if err != nil {
		return 0, internal(err)
	}
	s.forget(userID)
	return n, nil
}

// IdentitiesOf returns each user's identities, for a page of users at once.
func (s *Service) IdentitiesOf(ctx context.Context, userIDs []string) (map[string][]*models.Identity, error) {
	list, err := s.store.IdentitiesOfUsers(ctx, userIDs)
	if err != nil {
		return nil, internal(err)
	}
	out := make(map[string][]*models.Identity, len(userIDs))
	for _, i := range list {
		out[i.UserID] = append(out[i.UserID], i)
	}
	return out, nil
}

// LiveSessionsOf returns each user's live sessions, for a page of users at once.
func (s *Service) LiveSessionsOf(ctx context.Context, userIDs []string) (map[string][]*models.Session, error) {
	list, err := s.store.LiveSessionsOfUsers(ctx, userIDs)
	if err != nil {
		return nil, internal(err)
	}
	out := make(map[string][]*models.Session, len(userIDs))
	for _, sess := range list {
		out[sess.UserID] = append(out[sess.UserID], sess)
	}
	return out, nil
}

// DisabledByOf returns who disabled each of a page of users: the admin, by
// user id; users enabled, or whose admin is gone, are absent.
func (s *Service) DisabledByOf(ctx context.Context, userIDs []string) (map[string]*models.Admin, error) {
	m, err := s.store.DisabledByOf(ctx, userIDs)
	if err != nil {
		return nil, internal(err)
	}
	return m, nil
}
