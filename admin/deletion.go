package admin

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"wxlogin/blob"
	"wxlogin/models"
	"wxlogin/store"
)

// DeleteUser erases user id at once (deleteUser), the admin as the
// audited actor with the reason: 1 to 500 characters once trimmed, under
// the rule of a disable reason. Returns the tombstone. Errors:
// BAD_USER_INPUT for a missing or bad reason, or an id of no user or of
// an erased one; RATE_LIMITED (retryAfter 1) when logins of the user kept
// it busy; INTERNAL.
func (s *Service) DeleteUser(ctx context.Context, c *Caller, id, reason, ip string) (*models.User, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, models.Errorf(models.CodeBadUserInput, "give the reason for deleting the user")
	}
	if utf8.RuneCountInString(reason) > maxReasonLen {
		return nil, models.Errorf(models.CodeBadUserInput, "the reason must be at most %d characters", maxReasonLen)
	}
	if p := models.TextProblem(reason, true); p != "" {
		return nil, models.Errorf(models.CodeBadUserInput, "the reason %s", p)
	}
	if !validID(id) {
		return nil, models.Errorf(models.CodeBadUserInput, "no user has the id %q", id)
	}
	audit := &models.AuditEntry{ActorKind: "admin", ActorID: &c.Admin.ID, ActorName: &c.Admin.Username,
		Action: "user.erase", IP: nonEmpty(ip), Detail: map[string]any{"reason": reason}}
	e, err := s.store.EraseUser(ctx, id, audit)
	if errors.Is(err, store.ErrNotFound) {
		return nil, models.Errorf(models.CodeBadUserInput, "no user has the id %q, or it is erased already", id)
	} else if errors.Is(err, store.ErrErasureBusy) {
		return nil, models.ErrErasureBusy
	} else if err != nil {
		return nil, internal(err)
	}
	s.forget(id)
	if err := blob.DeleteAll(ctx, s.blobs, e.AvatarKeys); err != nil {
		s.log.WarnContext(ctx, "deleting an erased user's avatar file; delete it by hand", "err", err)
	}
	return e.User, nil
}

// PendingDeletion counts the users whose deletion is pending.
func (s *Service) PendingDeletion(ctx context.Context) (int, error) {
	n, err := s.store.CountPendingDeletion(ctx)
	if err != nil {
		return 0, internal(err)
	}
	return n, nil
}

// DeletedUsers counts the erased users (tombstones).
func (s *Service) DeletedUsers(ctx context.Context) (int, error) {
	n, err := s.store.CountErasedUsers(ctx)
	if err != nil {
		return 0, internal(err)
	}
	return n, nil
}
