package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"wxlogin/admin"
	"wxlogin/graph/model"
	"wxlogin/store"
)

// selects reports whether the field being resolved selects child name, so
// that costly parts of an answer (a total count) are computed only when
// asked for.
func selects(ctx context.Context, name string) bool {
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == name {
			return true
		}
	}
	return false
}

// usersInput maps the users field's arguments onto the admin service's input.
func usersInput(ctx context.Context, first *int, after *string, filter *model.UserFilter, orderBy *model.UserOrder) admin.UsersInput {
	in := admin.UsersInput{First: first, After: after, Desc: true, WithTotal: selects(ctx, "totalCount")}
	if filter != nil {
		in.Search = deref(filter.Search)
		in.CreatedAfter, in.CreatedBefore, in.Disabled = filter.CreatedAfter, filter.CreatedBefore, filter.Disabled
	}
	if orderBy != nil {
		in.Order = string(orderBy.Field)
		in.Desc = orderBy.Direction == model.OrderDirectionDesc
	}
	return in
}

// userConnection shapes a page of users as a Relay connection.
func userConnection(page *store.UserPage) *model.UserConnection {
	c := &model.UserConnection{PageInfo: &model.PageInfo{HasNextPage: page.HasNextPage}, TotalCount: page.TotalCount,
		Edges: make([]*model.UserEdge, len(page.Users))}
	for i, u := range page.Users {
		c.Edges[i] = &model.UserEdge{Cursor: page.Cursors[i], Node: u}
	}
	if n := len(page.Cursors); n > 0 {
		c.PageInfo.EndCursor = &page.Cursors[n-1]
	}
	return c
}

// auditInput maps the auditLog field's arguments onto the admin service's input.
func auditInput(ctx context.Context, first *int, after *string, filter *model.AuditFilter) admin.AuditInput {
	in := admin.AuditInput{First: first, After: after, WithTotal: selects(ctx, "totalCount")}
	if filter != nil {
		in.ActorID, in.Action, in.Target, in.Since = deref(filter.ActorID), deref(filter.Action), deref(filter.Target), filter.Since
	}
	return in
}

// auditConnection shapes a page of the audit log as a Relay connection.
func auditConnection(page *store.AuditPage) *model.AuditConnection {
	c := &model.AuditConnection{PageInfo: &model.PageInfo{HasNextPage: page.HasNextPage}, TotalCount: page.TotalCount,
		Edges: make([]*model.AuditEdge, len(page.Entries))}
	for i, e := range page.Entries {
		c.Edges[i] = &model.AuditEdge{Cursor: page.Cursors[i], Node: e}
	}
	if n := len(page.Cursors); n > 0 {
		c.PageInfo.EndCursor = &page.Cursors[n-1]
	}
	return c
}
