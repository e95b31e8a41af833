package graph

import (
	"context"
	"io"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"wxlogin/graph/gqlmodel"
	"wxlogin/models"
	"wxlogin/store"
)

// FastUsers answers the root field `users` of plain data — the dashboard's
// users page — without gqlgen's per-field execution of its edges (issue
// 21: at 20 users a page, the executor's goroutine per edge, its field
// contexts and its 100+ field resolutions were the largest part of the
// request's CPU). Everything that decides anything is still gqlgen's or
// ours as the executor runs it: the arguments are parsed by the generated
// code from the request's coerced variables, the @hasRole directive and
// the resolver are the same functions the generated _Query_users calls
// (in the same field context), and every value is written by the
// generated marshaler of its type. Only the walk over the selection is
// done here, for selections of nothing but plain fields:
//
//	users(…) { __typename totalCount
//	  edges { __typename cursor node { <fastUserFields> } }
//	  pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor } }
//
// each response key once, no fragments, no directives. Anything else — and
// any error, a null where the schema says non-null, a panic — is left to
// the executor, which answers as it always has (it then runs the resolver
// once more; errors are rare and cheap). fastusers_schema_test.go holds
// the field lists to the schema, and e2e's TestFastUsers_SameAnswer holds
// the answers to the executor's byte for byte.
//
// It must not be used where field interceptors run (tracing's spans):
// those would not see the fields it writes.
//
// answered, when not nil, is told of each root field it answers (the
// graphql_fast_path_total metric).
func FastUsers(es graphql.ExecutableSchema, answered func(ctx context.Context)) graphql.HandlerExtension {
	return fastUsers{es: es.(*executableSchema), answered: answered}
}

type fastUsers struct {
	es       *executableSchema
	answered func(ctx context.Context)
}

func (fastUsers) ExtensionName() string                   { return "FastUsers" }
func (fastUsers) Validate(graphql.ExecutableSchema) error { return nil }
func (f fastUsers) InterceptRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	rfc := graphql.GetRootFieldContext(ctx)
	// (gqlgen sets rfc.Object to the field's name, not the type's.)
	if rfc == nil || rfc.Field.Field == nil || rfc.Field.Name != "users" || rfc.Field.ObjectDefinition == nil || rfc.Field.ObjectDefinition.Name != "Query" {
		return next(ctx)
	}
	p, ok := planUsers(rfc.Field)
	if !ok {
		return next(ctx)
	}
	m, ok := f.answer(ctx, rfc.Field, p)
	if !ok {
		return next(ctx)
	}
	if f.answered != nil {
		f.answered(ctx)
	}
	return m
}

// fastUserFields are the User fields a plan may hold: read from
// models.User as the generated code reads them, or (avatarUrl) by the same
// UserResolver method. disabled, disabledAt, disabledReason and the
// deletion fields carry @hasRole(role: VIEWER), the very check `users`
// itself passed in this request, for the same caller (resolved once per
// request).
var fastUserFields = map[string]bool{
	"__typename": true, "id": true, "nickname": true, "avatarUrl": true, "gender": true,
	"city": true, "province": true, "country": true, "language": true, "phone": true,
	"createdAt": true, "lastLoginAt": true, "disabled": true, "disabledAt": true, "disabledReason": true,
	"deletionRequestedAt": true, "erasesAt": true, "deletedAt": true,
}

// fastUserColumns are the columns of users each of fastUserFields is read
// from (id is always read): a page of a planned selection reads only
// those (store.PageColumns).
var fastUserColumns = map[string]store.PageColumns{
	"__typename": 0, "id": 0, "nickname": store.ColNickname, "avatarUrl": store.ColAvatarURL,
	"gender": store.ColGender, "city": store.ColCity, "province": store.ColProvince,
	"country": store.ColCountry, "language": store.ColLanguage, "phone": store.ColPhone,
	"createdAt": store.ColCreatedAt, "lastLoginAt": store.ColLastLoginAt, "disabled": store.ColDisabledAt,
	"disabledAt": store.ColDisabledAt, "disabledReason": store.ColDisabledReason,
	"deletionRequestedAt": store.ColDeletionRequestedAt, "erasesAt": store.ColErasesAt, "deletedAt": store.ColDeletedAt,
}

// usersColumns returns the columns of users the users field being
// resolved in ctx reads: those of its nodes' fields when planUsers
// understands its selection (whoever then writes it, the fast path or the
// executor, reads nothing else of each user), else every column (0).
func usersColumns(ctx context.Context) store.PageColumns {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return 0
	}
	p, ok := planUsers(fc.Field)
	if !ok {
		return 0
	}
	cols := store.ColCreatedAt // never 0, which would be every column
	for _, f := range p.node {
		c, ok := fastUserColumns[f.Name]
		if !ok {
			return 0
		}
		cols |= c
	}
	return cols
}

// The other objects' plain fields.
var (
	fastConnectionFields = map[string]bool{"__typename": true, "totalCount": true, "edges": true, "pageInfo": true}
	fastEdgeFields       = map[string]bool{"__typename": true, "cursor": true, "node": true}
	fastPageInfoFields   = map[string]bool{"__typename": true, "hasNextPage": true, "hasPreviousPage": true, "startCursor": true, "endCursor": true}
)

// usersPlan is a checked selection: the fields of each object, in order.
type usersPlan struct {
	conn, edge, node, pageInfo []*ast.Field
}

// planUsers checks users' selection, or reports false.
func planUsers(f graphql.CollectedField) (usersPlan, bool) {
	var p usersPlan
	var ok bool
	if len(f.Directives) > 0 {
		return p, false
	}
	if p.conn, ok = plainFields(f.Selections, fastConnectionFields, "edges", "pageInfo"); !ok {
		return p, false
	}
	for _, c := range p.conn {
		switch c.Name {
		case "edges":
			if p.edge, ok = plainFields(c.SelectionSet, fastEdgeFields, "node"); !ok {
				return p, false
			}
			for _, e := range p.edge {
				if e.Name == "node" {
					if p.node, ok = plainFields(e.SelectionSet, fastUserFields); !ok {
						return p, false
					}
				}
			}
		case "pageInfo":
			if p.pageInfo, ok = plainFields(c.SelectionSet, fastPageInfoFields); !ok {
				return p, false
			}
		}
	}
	return p, true
}

// plainFields returns sel's fields when each is in allowed, has no
// arguments or directives, and a response key of its own; only those named
// in objects have (and must have) a selection of their own.
func plainFields(sel ast.SelectionSet, allowed map[string]bool, objects ...string) ([]*ast.Field, bool) {
	if len(sel) == 0 {
		return nil, false
	}
	out := make([]*ast.Field, 0, len(sel))
	for i, s := range sel {
		f, ok := s.(*ast.Field)
		if !ok || !allowed[f.Name] || len(f.Arguments) > 0 || len(f.Directives) > 0 {
			return nil, false
		}
		isObject := false
		for _, o := range objects {
			isObject = isObject || f.Name == o
		}
		if isObject != (len(f.SelectionSet) > 0) {
			return nil, false
		}
		for _, g := range out[:i] {
			if g.Alias == f.Alias {
				return nil, false
			}
		}
		out = append(out, f)
	}
	return out, true
}

// answer runs users as _Query_users does — arguments, directive, resolver —
// and writes the result, or reports false having written nothing and
// recorded no error.
func (f fastUsers) answer(ctx context.Context, field graphql.CollectedField, p usersPlan) (m graphql.Marshaler, ok bool) {
	defer func() {
		if recover() != nil {
			m, ok = nil, false // the executor runs it again, under its guard
		}
	}()
	ec := newExecutionContext(graphql.GetOperationContext(ctx), f.es, nil)
	if _, err := ec.field_Query_users_args(ctx, field.ArgumentMap(ec.Variables)); err != nil {
		return nil, false
	}
	fc, err := ec.fieldContext_Query_users(ctx, field)
	if err != nil {
		return nil, false
	}
	ctx = graphql.WithFieldContext(ctx, fc)
	if ec.Directives.HasRole == nil {
		return nil, false
	}
	res, err := ec.Directives.HasRole(ctx, nil, func(ctx context.Context) (any, error) {
		return ec.Resolvers.Query().Users(ctx, fc.Args["first"].(*int), fc.Args["after"].(*string), fc.Args["last"].(*int), fc.Args["before"].(*string), fc.Args["filter"].(*gqlmodel.UserFilter), fc.Args["orderBy"].(*gqlmodel.UserOrder))
	}, models.RoleViewer)
	conn, _ := res.(*gqlmodel.UserConnection)
	if err != nil || conn == nil || conn.PageInfo == nil {
		return nil, false
	}
	// Everything the writer needs is computed first: nothing may fail
	// once it writes.
	var avatars []*string
	for _, e := range conn.Edges {
		if e == nil || e.Node == nil || e.Node.CreatedAt.IsZero() {
			return nil, false // the executor's non-null errors
		}
	}
	for _, n := range p.node {
		if n.Name == "avatarUrl" {
			avatars = make([]*string, len(conn.Edges))
			for i, e := range conn.Edges {
				if avatars[i], err = ec.Resolvers.User().AvatarURL(ctx, e.Node); err != nil {
					return nil, false
				}
			}
			break
		}
	}
	return graphql.WriterFunc(func(w io.Writer) { writeUsers(ctx, ec, w, p, conn, avatars) }), true
}

var (
	openBrace    = []byte{'{'}
	closeBrace   = []byte{'}'}
	openBracket  = []byte{'['}
	closeBracket = []byte{']'}
	comma        = []byte{','}
	colon        = []byte{':'}
)

// key writes a field's response key as graphql's field sets do.
func key(w io.Writer, i int, f *ast.Field) {
	if i > 0 {
		w.Write(comma)
	}
	graphql.MarshalString(f.Alias).MarshalGQL(w)
	w.Write(colon)
}

// writeUsers writes conn as the executor would, each value by the
// generated marshaler the executor's field function uses.
func writeUsers(ctx context.Context, ec *executionContext, w io.Writer, p usersPlan, conn *gqlmodel.UserConnection, avatars []*string) {
	w.Write(openBrace)
	for i, c := range p.conn {
		key(w, i, c)
		switch c.Name {
		case "__typename":
			graphql.MarshalString("UserConnection").MarshalGQL(w)
		case "totalCount":
			ec.marshalNInt2int(ctx, nil, conn.TotalCount).MarshalGQL(w)
		case "pageInfo":
			writePageInfo(ctx, ec, w, p.pageInfo, conn.PageInfo)
		case "edges":
			w.Write(openBracket)
			for j, e := range conn.Edges {
				if j > 0 {
					w.Write(comma)
				}
				w.Write(openBrace)
				for k, ef := range p.edge {
					key(w, k, ef)
					switch ef.Name {
					case "__typename":
						graphql.MarshalString("UserEdge").MarshalGQL(w)
					case "cursor":
						ec.marshalNString2string(ctx, nil, e.Cursor).MarshalGQL(w)
					case "node":
						var avatar *string
						if avatars != nil {
							avatar = avatars[j]
						}
						writeUser(ctx, ec, w, p.node, e.Node, avatar)
					}
				}
				w.Write(closeBrace)
			}
			w.Write(closeBracket)
		}
	}
	w.Write(closeBrace)
}

func writePageInfo(ctx context.Context, ec *executionContext, w io.Writer, fields []*ast.Field, pi *gqlmodel.PageInfo) {
	w.Write(openBrace)
	for i, f := range fields {
		key(w, i, f)
		switch f.Name {
		case "__typename":
			graphql.MarshalString("PageInfo").MarshalGQL(w)
		case "hasNextPage":
			ec.marshalNBoolean2bool(ctx, nil, pi.HasNextPage).MarshalGQL(w)
		case "hasPreviousPage":
			ec.marshalNBoolean2bool(ctx, nil, pi.HasPreviousPage).MarshalGQL(w)
		case "startCursor":
			ec.marshalOString2ᚖstring(ctx, nil, pi.StartCursor).MarshalGQL(w)
		case "endCursor":
			ec.marshalOString2ᚖstring(ctx, nil, pi.EndCursor).MarshalGQL(w)
		}
	}
	w.Write(closeBrace)
}

func writeUser(ctx context.Context, ec *executionContext, w io.Writer, fields []*ast.Field, u *models.User, avatar *string) {
	w.Write(openBrace)
	for i, f := range fields {
		key(w, i, f)
		var m graphql.Marshaler
		switch f.Name {
		case "__typename":
			m = graphql.MarshalString("User")
		case "id":
			m = ec.marshalNID2string(ctx, nil, u.ID)
		case "nickname":
			m = ec.marshalOString2ᚖstring(ctx, nil, u.Nickname)
		case "avatarUrl":
			m = ec.marshalOString2ᚖstring(ctx, nil, avatar)
		case "gender":
			m = ec.marshalOGender2ᚖwxloginᚋmodelsᚐGender(ctx, nil, u.Gender)
		case "city":
			m = ec.marshalOString2ᚖstring(ctx, nil, u.City)
		case "province":
			m = ec.marshalOString2ᚖstring(ctx, nil, u.Province)
		case "country":
			m = ec.marshalOString2ᚖstring(ctx, nil, u.Country)
		case "language":
			m = ec.marshalOString2ᚖstring(ctx, nil, u.Language)
		case "phone":
			m = ec.marshalOString2ᚖstring(ctx, nil, u.Phone)
		case "createdAt":
			m = ec.marshalNTime2timeᚐTime(ctx, nil, u.CreatedAt)
		case "lastLoginAt":
			m = ec.marshalOTime2ᚖtimeᚐTime(ctx, nil, u.LastLoginAt)
		case "disabled":
			m = ec.marshalNBoolean2bool(ctx, nil, u.Disabled())
		case "disabledAt":
			m = ec.marshalOTime2ᚖtimeᚐTime(ctx, nil, u.DisabledAt)
		case "disabledReason":
			m = ec.marshalOString2ᚖstring(ctx, nil, u.DisabledReason)
		case "deletionRequestedAt":
			m = ec.marshalOTime2ᚖtimeᚐTime(ctx, nil, u.DeletionRequestedAt)
		case "erasesAt":
			m = ec.marshalOTime2ᚖtimeᚐTime(ctx, nil, u.ErasesAt)
		case "deletedAt":
			m = ec.marshalOTime2ᚖtimeᚐTime(ctx, nil, u.DeletedAt)
		}
		m.MarshalGQL(w)
	}
	w.Write(closeBrace)
}
