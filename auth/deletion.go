package auth

import (
	"context"
	"errors"
	"time"

	"wxlogin/blob"
	"wxlogin/models"
	"wxlogin/store"
)

// Deletion is the answer to deleteAccount: when the account is erased.
type Deletion struct {
	// ErasesAt is when the erasure job erases the account, or when it was
	// erased (a grace of 0).
	ErasesAt time.Time
	// Erased reports that the account is already erased.
	Erased bool
}

// DeleteAccount deletes the caller's account (注销账号): in one
// transaction every session of theirs is revoked (this instance forgets
// them at once, the others on the sessions trigger's NOTIFY) and the
// erasure is scheduled after the cooling-off period, audited as
// user.delete_requested. A second call keeps the first schedule. With a
// grace of 0 the account is erased before the answer, the user as the
// erasure's actor. A user disabled while the deletion is pending stays
// scheduled: their login is refused (USER_DISABLED) and cancels nothing.
// (A user disabled before has no session to call this with: the store
// refuses every session of a disabled user. An operator's deleteUser
// erases them; see docs/decisions.md.) Errors: RATE_LIMITED (retryAfter 1) when a grace of 0 meets logins of
// the user holding it; INTERNAL.
func (s *Service) DeleteAccount(ctx context.Context, c *Caller, ip string) (*Deletion, error) {
	id := c.User.ID
	audit := &models.AuditEntry{ActorKind: "user", ActorID: &id, Action: "user.delete_requested", Target: &id,
		IP: nonEmpty(ip), Detail: map[string]any{"session": c.Session.ID}}
	// The request outlives a client that hangs up: its sessions are
	// revoked, and it must not be left half done.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.record)
	defer cancel()
	u, err := s.store.RequestDeletion(ctx, id, s.grace, audit)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errSessionEnded // erased (or merged away) a moment ago
	} else if err != nil {
		return nil, models.WrapError(err, models.CodeInternal, "internal error")
	}
	s.ForgetUser(id)
	endRequest(ctx)
	d := &Deletion{ErasesAt: *u.ErasesAt}
	if u.ErasesAt.After(time.Now()) {
		return d, nil
	}
	// A grace of 0 (or a schedule already due): erase now. Should this
	// fail, the erasure job finds the account due and erases it.
	e, err := s.EraseUser(ctx, id, &models.AuditEntry{ActorKind: "user", ActorID: &id, Action: "user.erase"})
	if errors.Is(err, store.ErrNotFound) {
		d.Erased = true // erased already, by the job or an admin
		return d, nil
	} else if err != nil {
		return nil, err
	}
	d.ErasesAt, d.Erased = *e.User.DeletedAt, true
	return d, nil
}

// EraseUser erases user id at once (store.EraseUser) with audit as the
// user.erase entry, and deletes the avatar files no one else uses.
// Errors: store.ErrNotFound as it is (unknown or already erased);
// RATE_LIMITED (models.ErrErasureBusy) when logins of the user kept it
// busy; INTERNAL.
func (s *Service) EraseUser(ctx context.Context, id string, audit *models.AuditEntry) (*store.Erasure, error) {
	e, err := s.store.EraseUser(ctx, id, audit)
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	} else if errors.Is(err, store.ErrErasureBusy) {
		return nil, models.ErrErasureBusy
	} else if err != nil {
		return nil, models.WrapError(err, models.CodeInternal, "internal error")
	}
	s.ForgetUser(id)
	if err := blob.DeleteAll(ctx, s.blobs, e.AvatarKeys); err != nil {
		// The file is left with no user pointing at it: the log names it
		// for an operator to delete by hand.
		s.log.WarnContext(ctx, "deleting an erased user's avatar file; delete it by hand", "err", err)
	}
	return e, nil
}
