package admin

import (
	"context"
	"errors"
	"strings"
	"time"

	"wxlogin/models"
	"wxlogin/store"
)

// Page sizes of the admin connections.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	maxSearchLen    = 100
)

// UsersInput is a request for a page of users, as the GraphQL layer parsed it.
type UsersInput struct {
	First                       *int
	After                       *string
	Search                      string
	CreatedAfter, CreatedBefore *time.Time
	Disabled                    *bool
	// Order is "CREATED_AT" or "LAST_LOGIN_AT"; empty is CREATED_AT.
	Order string
	Desc  bool
	// WithTotal asks for the total count, which costs a COUNT over every
	// match: only when the client selected it.
	WithTotal bool
}

// Users returns a page of users by keyset pagination. Errors: BAD_USER_INPUT
// for first outside 1..100, a cursor that does not decode (or belongs to
// another order), an overlong search; INTERNAL.
func (s *Service) Users(ctx context.Context, in UsersInput) (*store.UserPage, error) {
	q := store.UserQuery{
		First: DefaultPageSize, Search: strings.TrimSpace(in.Search), CreatedAfter: in.CreatedAfter,
		CreatedBefore: in.CreatedBefore, Disabled: in.Disabled, Order: store.UserOrder(in.Order), Desc: in.Desc,
		WithTotal: in.WithTotal,
	}
	if q.Order == "" {
		q.Order = store.OrderCreatedAt
	}
	if in.First != nil {
		q.First = *in.First
	}
	if q.First < 1 || q.First > MaxPageSize {
		return nil, models.Errorf(models.CodeBadUserInput, "first must be from 1 to %d", MaxPageSize)
	}
	if len(q.Search) > maxSearchLen {
		return nil, models.Errorf(models.CodeBadUserInput, "search must be at most %d bytes", maxSearchLen)
	}
	if in.After != nil && *in.After != "" {
		c, err := store.DecodeCursor(*in.After)
		if err != nil || c.Order != q.Order || c.Desc != q.Desc {
			return nil, models.Errorf(models.CodeBadUserInput, "after is not a cursor of this ordering; start again without it")
		}
		q.After = c
	}
	page, err := s.store.ListUsers(ctx, q)
	if errors.Is(err, store.ErrBadCursor) {
		return nil, models.Errorf(models.CodeBadUserInput, "after is not a cursor of this ordering; start again without it")
	} else if err != nil {
		return nil, internal(err)
	}
	return page, nil
}

// AuditInput is a request for a page of the audit log.
type AuditInput struct {
	First                   *int
	After                   *string
	ActorID, Action, Target string
	Since                   *time.Time
	WithTotal               bool
}

// AuditLog returns a page of the audit log, newest first. Errors:
// BAD_USER_INPUT for first outside 1..100 or a cursor that does not decode;
// INTERNAL.
func (s *Service) AuditLog(ctx context.Context, in AuditInput) (*store.AuditPage, error) {
	q := store.AuditQuery{First: DefaultPageSize, ActorID: in.ActorID, Action: in.Action, Target: in.Target,
		Since: in.Since, WithTotal: in.WithTotal}
	if in.First != nil {
		q.First = *in.First
	}
	if q.First < 1 || q.First > MaxPageSize {
		return nil, models.Errorf(models.CodeBadUserInput, "first must be from 1 to %d", MaxPageSize)
	}
	if in.After != nil && *in.After != "" {
		c, err := store.DecodeAuditCursor(*in.After)
		if err != nil {
			return nil, models.Errorf(models.CodeBadUserInput, "after is not an audit log cursor; start again without it")
		}
		q.After = c
	}
	page, err := s.store.ListAudit(ctx, q)
	if err != nil {
		return nil, internal(err)
	}
	return page, nil
}
