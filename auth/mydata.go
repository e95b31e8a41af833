package auth

import (
	"context"
	"encoding/json"
	"errors"

	"wxlogin/models"
	"wxlogin/store"
)

// MyData returns everything stored about the caller as one JSON document
// (see store.UserData): the copy of one's personal data PIPL Art. 45
// grants. Errors: UNAUTHENTICATED when the user is gone, RATE_LIMITED
// (models.ErrExportBusy) when other exports kept it waiting, INTERNAL.
func (s *Service) MyData(ctx context.Context, c *Caller) (string, error) {
	d, err := s.store.UserData(ctx, c.User.ID, 0)
	if errors.Is(err, store.ErrNotFound) {
		return "", models.Errorf(models.CodeUnauthenticated, "sign in again")
	} else if errors.Is(err, store.ErrBusy) {
		return "", models.ErrExportBusy
	} else if err != nil {
		return "", models.WrapError(err, models.CodeInternal, "internal error")
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", models.WrapError(err, models.CodeInternal, "internal error")
	}
	return string(b), nil
}
