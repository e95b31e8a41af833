package graph

import (
	"context"
	"io"
	"strconv"
	"time"

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
// (in the same field context), and every value is written in the bytes
// of the generated marshaler of its type (appended to one buffer: see
// writeUsers). Only the walk over the selection is done here, for
// selections of nothing but plain fields:
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
// in objects have (and must have) a selection of their own, and each of
// those appears once.
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
			// An object field under a second response key would get the
			// first one's plan (usersPlan holds one selection per object).
			if g.Alias == f.Alias || isObject && g.Name == f.Name {
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
	return graphql.WriterFunc(func(w io.Writer) { writeUsers(w, p, conn, avatars) }), true
}

// writeUsers writes conn as the executor would: the same response keys
// in the same order, each value in the bytes of the generated marshaler
// the executor's field function uses (gqlgen's for String, ID, Int and
// Boolean, scalar.MarshalTime for Time, models.Gender's MarshalGQL),
// appended to one buffer instead of a Marshaler allocated per value
// (pprof: those closures, the quoting and the keys written afresh for
// every user were a quarter of the page's allocations).
// fastusers_internal_test.go holds the appenders to the marshalers.
func writeUsers(w io.Writer, p usersPlan, conn *gqlmodel.UserConnection, avatars []*string) {
	keys := func(fields []*ast.Field) [][]byte {
		out := make([][]byte, len(fields))
		for i, f := range fields {
			out[i] = append(appendQuoted(nil, f.Alias), ':')
		}
		return out
	}
	nodeKeys := keys(p.node)
	b := make([]byte, 0, 256+len(conn.Edges)*(64+48*len(p.node)))
	b = append(b, '{')
	for i, c := range p.conn {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendQuoted(b, c.Alias), ':')
		switch c.Name {
		case "__typename":
			b = append(b, `"UserConnection"`...)
		case "totalCount":
			b = strconv.AppendInt(b, int64(conn.TotalCount), 10)
		case "pageInfo":
			b = appendPageInfo(b, p.pageInfo, conn.PageInfo)
		case "edges":
			edgeKeys := keys(p.edge)
			b = append(b, '[')
			for j, e := range conn.Edges {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, '{')
				for k, ef := range p.edge {
					if k > 0 {
						b = append(b, ',')
					}
					b = append(b, edgeKeys[k]...)
					switch ef.Name {
					case "__typename":
						b = append(b, `"UserEdge"`...)
					case "cursor":
						b = appendQuoted(b, e.Cursor)
					case "node":
						var avatar *string
						if avatars != nil {
							avatar = avatars[j]
						}
						b = appendUser(b, p.node, nodeKeys, e.Node, avatar)
					}
				}
				b = append(b, '}')
			}
			b = append(b, ']')
		}
	}
	b = append(b, '}')
	_, _ = w.Write(b)
}

func appendPageInfo(b []byte, fields []*ast.Field, pi *gqlmodel.PageInfo) []byte {
	b = append(b, '{')
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendQuoted(b, f.Alias), ':')
		switch f.Name {
		case "__typename":
			b = append(b, `"PageInfo"`...)
		case "hasNextPage":
			b = strconv.AppendBool(b, pi.HasNextPage)
		case "hasPreviousPage":
			b = strconv.AppendBool(b, pi.HasPreviousPage)
		case "startCursor":
			b = appendOptQuoted(b, pi.StartCursor)
		case "endCursor":
			b = appendOptQuoted(b, pi.EndCursor)
		}
	}
	return append(b, '}')
}

func appendUser(b []byte, fields []*ast.Field, keys [][]byte, u *models.User, avatar *string) []byte {
	b = append(b, '{')
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, keys[i]...)
		switch f.Name {
		case "__typename":
			b = append(b, `"User"`...)
		case "id":
			b = appendQuoted(b, u.ID)
		case "nickname":
			b = appendOptQuoted(b, u.Nickname)
		case "avatarUrl":
			b = appendOptQuoted(b, avatar)
		case "gender":
			if u.Gender == nil {
				b = append(b, "null"...)
			} else {
				b = strconv.AppendQuote(b, u.Gender.String()) // models.Gender.MarshalGQL
			}
		case "city":
			b = appendOptQuoted(b, u.City)
		case "province":
			b = appendOptQuoted(b, u.Province)
		case "country":
			b = appendOptQuoted(b, u.Country)
		case "language":
			b = appendOptQuoted(b, u.Language)
		case "phone":
			b = appendOptQuoted(b, u.Phone)
		case "createdAt":
			b = appendTime(b, &u.CreatedAt)
		case "lastLoginAt":
			b = appendTime(b, u.LastLoginAt)
		case "disabled":
			b = strconv.AppendBool(b, u.Disabled())
		case "disabledAt":
			b = appendTime(b, u.DisabledAt)
		case "disabledReason":
			b = appendOptQuoted(b, u.DisabledReason)
		case "deletionRequestedAt":
			b = appendTime(b, u.DeletionRequestedAt)
		case "erasesAt":
			b = appendTime(b, u.ErasesAt)
		case "deletedAt":
			b = appendTime(b, u.DeletedAt)
		}
	}
	return append(b, '}')
}

// appendTime is scalar.MarshalTime's text (gqlgen's MarshalTime:
// strconv.Quote of RFC 3339 with nanoseconds, null for nil or the zero
// time). The formatted time is ASCII digits, letters and punctuation that
// strconv.Quote leaves as they are.
func appendTime(b []byte, t *time.Time) []byte {
	if t == nil || t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendOptQuoted(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendQuoted(b, *s)
}

// upperHex is gqlgen's encodeHex.
const upperHex = "0123456789ABCDEF"

// appendQuoted is gqlgen's MarshalString (and MarshalID): a quote, then \t,
// \r, \n, \\, \" and \u00XX (upper-case hex) for the other control
// characters, every other byte as it is (invalid UTF-8 included), a
// quote. Its HTML escaping is the transport's, as for the executor's
// answer.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, `\t`...)
		case '\r':
			b = append(b, `\r`...)
		case '\n':
			b = append(b, `\n`...)
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		default:
			b = append(b, '\\', 'u', '0', '0', upperHex[c>>4], upperHex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
