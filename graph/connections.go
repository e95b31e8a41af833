package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"

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

// selectsPath reports whether the field being resolved selects the nested
// field at path (e.g. edges, node, identities).
func selectsPath(ctx context.Context, path ...string) bool {
	opCtx := graphql.GetOperationContext(ctx)
	fields := graphql.CollectFieldsCtx(ctx, nil)
	for i, name := range path {
		var next []graphql.CollectedField
		for _, f := range fields {
			if f.Name == name {
				if i == len(path)-1 {
					return true
				}
				next = append(next, graphql.CollectFields(opCtx, f.Selections, nil)...)
			}
		}
		fields = next
	}
	return false
}

// prefetchUsers loads the identities and sessions of a whole page of users
// in one query each when the query asks for them, and primes the loaders
// with them: the per-user resolvers then find them cached, however their
// goroutines are scheduled. On an error nothing is primed and the loaders
// fetch (and report) it themselves.
func prefetchUsers(ctx context.Context, adm *admin.Service, page *store.UserPage) {
	l := loadersFrom(ctx)
	if l == nil || len(page.Users) == 0 {
		return
	}
	ids := make([]string, len(page.Users))
	for i, u := range page.Users {
		ids[i] = u.ID
	}
	if selectsPath(ctx, "edges", "node", "identities") {
		if m, err := adm.IdentitiesOf(ctx, ids); err == nil {
			prime(l.identities, ids, m)
		}
	}
	if selectsPath(ctx, "edges", "node", "sessions") {
		if m, err := adm.LiveSessionsOf(ctx, ids); err == nil {
			prime(l.sessions, ids, m)
		}
	}
}

func prime[V any](l *dataloadgen.Loader[string, []V], ids []string, m map[string][]V) {
	for _, id := range ids {
		v := m[id]
		if v == nil {
			v = []V{}
		}
		l.Prime(id, v)
	}
}

// paging is a connection field's paging arguments.
type paging struct {
	first *int
	after *string
	last  *int
	// before is the startCursor to page back from.
	before *string
}

// usersInput maps the users field's arguments onto the admin service's input.
func usersInput(ctx context.Context, p paging, filter *model.UserFilter, orderBy *model.UserOrder) admin.UsersInput {
	in := admin.UsersInput{First: p.first, After: p.after, Last: p.last, Before: p.before, Desc: true, WithTotal: selects(ctx, "totalCount"),
		CountOnly: !selects(ctx, "edges") && !selects(ctx, "pageInfo")}
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

// pageInfo is a page's PageInfo: its first and last cursors, and whether
// more lies either way.
func pageInfo(cursors []string, next, previous bool) *model.PageInfo {
	pi := &model.PageInfo{HasNextPage: next, HasPreviousPage: previous}
	if n := len(cursors); n > 0 {
		pi.StartCursor, pi.EndCursor = &cursors[0], &cursors[n-1]
	}
	return pi
}

// userConnection shapes a page of users as a Relay connection.
func userConnection(page *store.UserPage) *model.UserConnection {
	c := &model.UserConnection{PageInfo: pageInfo(page.Cursors, page.HasNextPage, page.HasPreviousPage),
		TotalCount: page.TotalCount, Edges: make([]*model.UserEdge, len(page.Users))}
	for i, u := range page.Users {
		c.Edges[i] = &model.UserEdge{Cursor: page.Cursors[i], Node: u}
	}
	return c
}

// auditInput maps the auditLog field's arguments onto the admin service's input.
func auditInput(ctx context.Context, p paging, filter *model.AuditFilter) admin.AuditInput {
	in := admin.AuditInput{First: p.first, After: p.after, Last: p.last, Before: p.before, WithTotal: selects(ctx, "totalCount")}
	if filter != nil {
		in.ActorID, in.Action, in.Target, in.Since = deref(filter.ActorID), deref(filter.Action), deref(filter.Target), filter.Since
	}
	return in
}

// auditConnection shapes a page of the audit log as a Relay connection.
func auditConnection(page *store.AuditPage) *model.AuditConnection {
	c := &model.AuditConnection{PageInfo: pageInfo(page.Cursors, page.HasNextPage, page.HasPreviousPage),
		TotalCount: page.TotalCount, Edges: make([]*model.AuditEdge, len(page.Entries))}
	for i, e := range page.Entries {
		c.Edges[i] = &model.AuditEdge{Cursor: page.Cursors[i], Node: e}
	}
	return c
}
