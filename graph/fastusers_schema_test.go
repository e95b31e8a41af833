package graph

import (
	"reflect"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// fastUsersTypes is each field FastUsers writes (but __typename) with its
// type in the schema, as the writer's generated marshaler for it expects:
// a field whose type changes must change the fast path too.
var fastUsersTypes = map[string]map[string]string{
	"User": {
		"id": "ID!", "nickname": "String", "avatarUrl": "String", "gender": "Gender",
		"city": "String", "province": "String", "country": "String", "language": "String",
		"phone": "String", "createdAt": "Time!", "lastLoginAt": "Time", "disabled": "Boolean!",
		"disabledAt": "Time", "disabledReason": "String",
		"deletionRequestedAt": "Time", "erasesAt": "Time", "deletedAt": "Time",
	},
	"UserConnection": {"totalCount": "Int!", "edges": "[UserEdge!]!", "pageInfo": "PageInfo!"},
	"UserEdge":       {"cursor": "String!", "node": "User!"},
	"PageInfo":       {"hasNextPage": "Boolean!", "hasPreviousPage": "Boolean!", "startCursor": "String", "endCursor": "String"},
}

// fastUsersViewerOnly are the User fields whose one directive is
// @hasRole(role: VIEWER), which `users` itself passed in the request.
var fastUsersViewerOnly = map[string]bool{"disabled": true, "disabledAt": true, "disabledReason": true,
	"deletionRequestedAt": true, "erasesAt": true, "deletedAt": true}

// TestFastUsers_AgreesWithSchema holds graph.FastUsers's field lists to the
// schema: every field exists with the type its marshaler is for, without
// arguments, and without directives but the one `users` has; `users` is
// Query's, guarded by @hasRole(role: VIEWER) alone; and the User fields it
// reads from models.User have no UserResolver method (avatarUrl, the one
// that has, it calls).
func TestFastUsers_AgreesWithSchema(t *testing.T) {
	s := parsedSchema
	lists := map[string]map[string]bool{"User": fastUserFields, "UserConnection": fastConnectionFields,
		"UserEdge": fastEdgeFields, "PageInfo": fastPageInfoFields}
	for typ, fields := range lists {
		def := s.Types[typ]
		if def == nil {
			t.Errorf("type %s is gone", typ)
			continue
		}
		for name := range fields {
			if name == "__typename" {
				continue
			}
			want, ok := fastUsersTypes[typ][name]
			if !ok {
				t.Errorf("%s.%s: give it its type in fastUsersTypes", typ, name)
				continue
			}
			f := def.Fields.ForName(name)
			switch {
			case f == nil:
				t.Errorf("%s.%s is gone", typ, name)
			case f.Type.String() != want:
				t.Errorf("%s.%s is %s, the fast path writes %s", typ, name, f.Type, want)
			case len(f.Arguments) > 0:
				t.Errorf("%s.%s has arguments: the fast path does not read them", typ, name)
			case fastUsersViewerOnly[name] && typ == "User":
				if !viewerOnly(f.Directives) {
					t.Errorf("%s.%s: its directives are not exactly @hasRole(role: VIEWER)", typ, name)
				}
			case len(f.Directives) > 0:
				t.Errorf("%s.%s has a directive: the fast path would not apply it", typ, name)
			}
		}
	}
	users := s.Query.Fields.ForName("users")
	if users == nil || users.Type.String() != "UserConnection!" || !viewerOnly(users.Directives) {
		t.Errorf("Query.users is not UserConnection! under exactly @hasRole(role: VIEWER): %+v", users)
	}
	// The fields read from models.User must not have become resolvers.
	ur := reflect.TypeFor[UserResolver]()
	for i := range ur.NumMethod() {
		m := ur.Method(i).Name
		for name := range fastUserFields {
			if strings.EqualFold(m, name) && name != "avatarUrl" {
				t.Errorf("User.%s has a resolver (%s): the fast path reads it from models.User", name, m)
			}
		}
	}
	if _, ok := ur.MethodByName("AvatarURL"); !ok {
		t.Error("User.avatarUrl has no resolver: the fast path calls UserResolver.AvatarURL")
	}
}

func viewerOnly(ds ast.DirectiveList) bool {
	return len(ds) == 1 && ds[0].Name == "hasRole" && len(ds[0].Arguments) == 1 &&
		ds[0].Arguments[0].Name == "role" && ds[0].Arguments[0].Value.Raw == "VIEWER"
}
