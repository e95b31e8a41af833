package admin

import (
	"context"
	"errors"

	"wxlogin/models"
	"wxlogin/store"
)

// ModerateUser decides on the user's content that awaits an admin: a
// nickname WeChat's check sent for review, an avatar in review or still
// pending WeChat's verdict. approve marks them APPROVED; otherwise they are
// removed (nickname and avatarUrl null, the avatar's file deleted unless
// another user has the same content). Written to the audit log
// (user.moderate, with what was decided) in the same transaction. Errors:
// BAD_USER_INPUT for an unknown user or one with nothing awaiting a
// decision; INTERNAL.
func (s *Service) ModerateUser(ctx context.Context, c *Caller, id string, approve bool, ip string) (*models.User, error) {
	if !validID(id) {
		return nil, models.Errorf(models.CodeBadUserInput, "no user has the id %q", id)
	}
	audit := &models.AuditEntry{ActorKind: "admin", ActorID: &c.Admin.ID, ActorName: &c.Admin.Username,
		Action: "user.moderate", Target: &id, IP: nonEmpty(ip), Detail: map[string]any{}}
	u, _, err := s.store.ModerateUser(ctx, id, approve, audit, s.deleteAvatar)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, models.Errorf(models.CodeBadUserInput, "no user has the id %q", id)
	case errors.Is(err, store.ErrNothingToModerate):
		return nil, models.Errorf(models.CodeBadUserInput, "nothing of this user awaits review: their nickname and avatar are approved, unchecked or absent")
	case err != nil:
		return nil, internal(err)
	}
	s.forget(id)
	return u, nil
}

// Moderations returns the moderation rows of the users with ids that have
// one, for User.moderation; read on the admin pool.
func (s *Service) Moderations(ctx context.Context, ids []string) (map[string]*models.Moderation, error) {
	m, err := s.store.Moderations(ctx, ids)
	if err != nil {
		return nil, internal(err)
	}
	return m, nil
}
