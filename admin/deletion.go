package admin

import (
	"context"

	"wxlogin/models"
)

// DeleteUser erases a user at once, the admin as the audited actor.
func (s *Service) DeleteUser(ctx context.Context, c *Caller, id, reason, ip string) (*models.User, error) {
	return nil, models.Errorf(models.CodeInternal, "not built yet")
}

// PendingDeletion counts the users whose deletion is pending.
func (s *Service) PendingDeletion(ctx context.Context) (int, error) {
	return 0, models.Errorf(models.CodeInternal, "not built yet")
}

// DeletedUsers counts the erased users (tombstones).
func (s *Service) DeletedUsers(ctx context.Context) (int, error) {
	return 0, models.Errorf(models.CodeInternal, "not built yet")
}
