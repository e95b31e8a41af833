package admin

import (
	"context"
	"encoding/json"
	"errors"

	"wxlogin/models"
	"wxlogin/store"
)

// UserData returns everything stored about the user with id as one JSON
// document (see store.UserData), for an operator answering a user's PIPL
// request, and records the read in the audit log as admin.user_data: an
// export of someone's personal data is itself worth a trace. Errors:
// BAD_USER_INPUT for an unknown user, INTERNAL.
func (s *Service) UserData(ctx context.Context, c *Caller, id, ip string) (string, error) {
	if !validID(id) {
		return "", models.Errorf(models.CodeBadUserInput, "no user has the id %q", id)
	}
	d, err := s.store.UserData(ctx, id, 0)
	if errors.Is(err, store.ErrNotFound) {
		return "", models.Errorf(models.CodeBadUserInput, "no user has the id %q", id)
	} else if errors.Is(err, store.ErrBusy) {
		return "", models.ErrExportBusy
	} else if err != nil {
		return "", internal(err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", internal(err)
	}
	audit := &models.AuditEntry{ActorKind: "admin", ActorID: &c.Admin.ID, ActorName: &c.Admin.Username,
		Action: "admin.user_data", Target: &id, IP: nonEmpty(ip), Detail: map[string]any{"bytes": len(b)}}
	if err := s.store.WriteAudit(ctx, s.store.DB(), audit); err != nil {
		return "", internal(err)
	}
	return string(b), nil
}
