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
