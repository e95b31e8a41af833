package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"

	"wxlogin/admin"
	"wxlogin/graph/gqlmodel"
	"wxlogin/models"
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
func prefetchUsers(ctx context.Context, adm *admin.Service, page *models.Page[*models.User]) {
	l := loadersFrom(ctx)
	if l == nil || len(page.Items) == 0 {
		return
	}
	ids := make([]string, len(page.Items))
	for i, u := range page.Items {
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
func usersInput(ctx context.Context, p paging, filter *gqlmodel.UserFilter, orderBy *gqlmodel.UserOrder) admin.UsersInput {
	in := admin.UsersInput{First: p.first, After: p.after, Last: p.last, Before: p.before, Desc: true, WithTotal: selects(ctx, "totalCount"),
		CountOnly: !selects(ctx, "edges") && !selects(ctx, "pageInfo"), Columns: usersColumns(ctx)}
	if filter != nil {
		in.Search = deref(filter.Search)
		in.CreatedAfter, in.CreatedBefore, in.Disabled = filter.CreatedAfter, filter.CreatedBefore, filter.Disabled
		if filter.Deletion != nil {
			in.Deletion = string(*filter.Deletion)
		}
		in.NeedsReview = filter.NeedsReview
	}
	if orderBy != nil {
		in.Order = string(orderBy.Field)
		in.Desc = orderBy.Direction == gqlmodel.OrderDirectionDesc
	}
	return in
}

// connection shapes a page as a Relay connection's edges (one per item,
// made by edge from its cursor and node) and its PageInfo: its first and
// last cursors, and whether more lies either way.
func connection[T, E any](page *models.Page[T], edge func(cursor string, node T) E) ([]E, *gqlmodel.PageInfo) {
	pi := &gqlmodel.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: page.HasPreviousPage}
	if n := len(page.Cursors); n > 0 {
		pi.StartCursor, pi.EndCursor = &page.Cursors[0], &page.Cursors[n-1]
	}
	edges := make([]E, len(page.Items))
	for i, item := range page.Items {
		edges[i] = edge(page.Cursors[i], item)
	}
	return edges, pi
}

// userConnection shapes a page of users as a Relay connection.
func userConnection(page *models.Page[*models.User]) *gqlmodel.UserConnection {
	edges, pi := connection(page, func(cursor string, u *models.User) *gqlmodel.UserEdge {
		return &gqlmodel.UserEdge{Cursor: cursor, Node: u}
	})
	return &gqlmodel.UserConnection{Edges: edges, PageInfo: pi, TotalCount: page.TotalCount}
}

// auditInput maps the auditLog field's arguments onto the admin service's input.
func auditInput(ctx context.Context, p paging, filter *gqlmodel.AuditFilter) admin.AuditInput {
	in := admin.AuditInput{First: p.first, After: p.after, Last: p.last, Before: p.before, WithTotal: selects(ctx, "totalCount")}
	if filter != nil {
		in.ActorID, in.Action, in.Target, in.Since, in.Until = deref(filter.ActorID), deref(filter.Action), deref(filter.Target), filter.Since, filter.Until
		in.Admin, in.User = deref(filter.Admin), deref(filter.User)
	}
	return in
}

// auditConnection shapes a page of the audit log as a Relay connection.
func auditConnection(page *models.Page[*models.AuditEntry]) *gqlmodel.AuditConnection {
	edges, pi := connection(page, func(cursor string, e *models.AuditEntry) *gqlmodel.AuditEdge {
		return &gqlmodel.AuditEdge{Cursor: cursor, Node: e}
	})
	return &gqlmodel.AuditConnection{Edges: edges, PageInfo: pi, TotalCount: page.TotalCount}
}
