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
	// First and After page forward; Last and Before backward (the previous
	// page, or with Before unset the last one). Mixing the two is refused.
	First, Last                 *int
	After, Before               *string
	Search                      string
	CreatedAfter, CreatedBefore *time.Time
	Disabled                    *bool
	// Deletion is "NONE", "PENDING" or "ERASED"; empty is every user not
	// erased.
	Deletion string
	// NeedsReview keeps users whose nickname or avatar awaits an admin
	// (true), or the others (false).
	NeedsReview *bool
	// Order is "CREATED_AT", "LAST_LOGIN_AT" or (with Disabled true)
	// "DISABLED_AT"; empty is CREATED_AT.
	Order string
	Desc  bool
	// CountOnly skips the page, for a client that selected only the count.
	CountOnly bool
	// WithTotal asks for the total count, which costs a COUNT over every
	// match: only when the client selected it.
	WithTotal bool
	// Columns, when not zero, are the only columns a page without filters
	// must read: the others' fields of each user are left zero.
	Columns store.PageColumns
}

// Users returns a page of users by keyset pagination. Errors: BAD_USER_INPUT
// for first outside 1..100, a cursor that does not decode (or belongs to
// another order), an overlong search, the DISABLED_AT order without the
// filter disabled: true; INTERNAL.
func (s *Service) Users(ctx context.Context, in UsersInput) (*models.Page[*models.User], error) {
	q := store.UserQuery{
		First: DefaultPageSize, Search: strings.TrimSpace(in.Search), CreatedAfter: in.CreatedAfter,
		CreatedBefore: in.CreatedBefore, Disabled: in.Disabled, Deletion: in.Deletion, NeedsReview: in.NeedsReview, Order: store.UserOrder(in.Order), Desc: in.Desc,
		WithTotal: in.WithTotal, CountOnly: in.CountOnly && in.WithTotal, Columns: in.Columns,
	}
	if q.Order == "" {
		q.Order = store.OrderCreatedAt
	}
	var err error
	if q.First, q.Backward, err = pageSize(in.First, in.Last, in.After, in.Before); err != nil {
		return nil, err
	}
	if len(q.Search) > maxSearchLen {
		return nil, models.Errorf(models.CodeBadUserInput, "search must be at most %d bytes", maxSearchLen)
	}
	if err := checkOrder(q); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		arg  string
		in   *string
		into **store.Cursor
	}{{"after", in.After, &q.After}, {"before", in.Before, &q.Before}} {
		if c.in == nil || *c.in == "" {
			continue
		}
		cur, err := store.DecodeCursor(*c.in)
		if err != nil || cur.Order != q.Order || cur.Desc != q.Desc {
			return nil, models.Errorf(models.CodeBadUserInput, "%s is not a cursor of this ordering; start again without it", c.arg)
		}
		*c.into = cur
	}
	page, err := s.store.ListUsers(ctx, q)
	if errors.Is(err, store.ErrBadCursor) {
		return nil, models.Errorf(models.CodeBadUserInput, "the cursor is not one of this ordering; start again without it")
	} else if store.IsStatementTimeout(err) {
		return nil, models.WrapError(err, models.CodeQueryTimeout, "the search took too long and was stopped; narrow it: more of the nickname, a whole phone number, openid or user id, or a creation date range")
	} else if err != nil {
		return nil, internal(err)
	}
	return page, nil
}

// checkOrder refuses the DISABLED_AT order for a listing that is not of
// disabled users only: other users have no disable date to sort by.
func checkOrder(q store.UserQuery) error {
	if q.Order == store.OrderDisabledAt && (q.Disabled == nil || !*q.Disabled) {
		return models.Errorf(models.CodeBadUserInput, "the DISABLED_AT order lists disabled users only: filter by disabled: true")
	}
	return nil
}

// pageSize checks a connection's paging arguments: forward (first, after)
// or backward (last, before), never both, and a size from 1 to MaxPageSize
// (DefaultPageSize when neither is given).
func pageSize(first, last *int, after, before *string) (size int, backward bool, err error) {
	given := func(s *string) bool { return s != nil && *s != "" }
	if first != nil && last != nil {
		return 0, false, models.Errorf(models.CodeBadUserInput, "give first or last, not both")
	}
	if given(after) && given(before) {
		return 0, false, models.Errorf(models.CodeBadUserInput, "give after or before, not both")
	}
	backward = last != nil || given(before)
	if (first != nil && given(before)) || (last != nil && given(after)) {
		return 0, false, models.Errorf(models.CodeBadUserInput, "page forward with first and after, or backward with last and before")
	}
	size, arg := DefaultPageSize, "first"
	switch {
	case first != nil:
		size = *first
	case last != nil:
		size, arg = *last, "last"
	}
	if size < 1 || size > MaxPageSize {
		return 0, false, models.Errorf(models.CodeBadUserInput, "%s must be from 1 to %d", arg, MaxPageSize)
	}
	return size, backward, nil
}

// AuditInput is a request for a page of the audit log.
type AuditInput struct {
	// As in UsersInput: forward with First and After, backward with Last
	// and Before.
	First, Last             *int
	After, Before           *string
	ActorID, Action, Target string
	// Admin is an admin's username or its start, any case; User a user's
	// id or a search as the users list's. Each keeps the entries its
	// admins or users did or had done to them.
	Admin, User string
	// Since is inclusive, Until exclusive.
	Since, Until *time.Time
	WithTotal    bool
}

// AuditLog returns a page of the audit log, newest first, each entry's
// actor and target named (one statement for the page). Errors:
// BAD_USER_INPUT for first outside 1..100, a cursor that does not decode,
// an actorId that is no id, an overlong or malformed filter, since not
// before until, or a user search that more than 100 users match;
// QUERY_TIMEOUT; INTERNAL.
func (s *Service) AuditLog(ctx context.Context, in AuditInput) (*models.Page[*models.AuditEntry], error) {
	q := store.AuditQuery{ActorID: in.ActorID, Action: in.Action, Target: in.Target,
		Since: in.Since, Until: in.Until, WithTotal: in.WithTotal}
	if err := checkAuditFilter(in); err != nil {
		return nil, err
	}
	var err error
	if q.First, q.Backward, err = pageSize(in.First, in.Last, in.After, in.Before); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		arg  string
		in   *string
		into **store.AuditCursor
	}{{"after", in.After, &q.After}, {"before", in.Before, &q.Before}} {
		if c.in == nil || *c.in == "" {
			continue
		}
		cur, err := store.DecodeAuditCursor(*c.in)
		if err != nil {
			return nil, models.Errorf(models.CodeBadUserInput, "%s is not an audit log cursor; start again without it", c.arg)
		}
		*c.into = cur
	}
	if q.AdminIDs, err = s.auditAdmins(ctx, strings.TrimSpace(in.Admin)); err != nil {
		return nil, err
	}
	if q.UserIDs, err = s.auditUsers(ctx, strings.TrimSpace(in.User)); err != nil {
		return nil, err
	}
	page, err := s.store.ListAudit(ctx, q)
	if err != nil {
		return nil, internal(err)
	}
	if err := s.nameParties(ctx, page.Items); err != nil {
		return nil, internal(err)
	}
	return page, nil
}
