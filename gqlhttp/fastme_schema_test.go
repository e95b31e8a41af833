package gqlhttp

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"wxlogin/graph"
	"wxlogin/models"
)

// The fast path (fastme.go) answers `me { … }` for the User fields in
// meFields without the executor. These tests hold those lists to the schema,
// so that a schema change (a field removed, retyped, given an argument or an
// auth directive, or a resolver) fails here instead of making the two paths
// answer differently.

// fastMeTypes is each field of meFields (but __typename) with its type in
// the schema, as appendResponse writes it: a nullable String as a string or
// null, Time! as a time, and so on. A field whose type changes must change
// the fast path too.
var fastMeTypes = map[string]string{
	"id": "ID!", "nickname": "String", "avatarUrl": "String", "gender": "Gender",
	"city": "String", "province": "String", "country": "String", "language": "String",
	"phone": "String", "createdAt": "Time!", "lastLoginAt": "Time",
}

// fastMeResolved are the fields of meFields that the executor gets from a
// UserResolver method, and that appendResponse computes as that method does
// (avatarUrl: profile.AvatarURL with PUBLIC_URL, gqlgen.yml's
// `resolver: true`). Every other one is read straight from models.User.
var fastMeResolved = map[string]bool{"avatarUrl": true}

// fastMeSchemaProblems lists where schema and meFields disagree: me must be
// a plain field of Query, and each field of meFields one of User with no
// argument, no directive, and the plain scalar or enum type fastMeTypes
// gives it.
func fastMeSchemaProblems(schema *ast.Schema) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	fields := slices.DeleteFunc(sortedKeys(meFields), func(n string) bool { return n == "__typename" })
	if got := sortedKeys(fastMeTypes); !slices.Equal(got, fields) {
		add("fastMeTypes has %v, meFields %v: give every field of meFields its type", got, fields)
	}
	me := schema.Query.Fields.ForName("me")
	switch {
	case me == nil:
		add("Query.me is gone")
	case len(me.Arguments) > 0 || len(me.Directives) > 0:
		add("Query.me has arguments or directives (%s): planMe does not see them", directiveNames(me.Directives))
	case me.Type.Name() != "User" || me.Type.Elem != nil:
		add("Query.me is %s, not User", me.Type)
	}
	user := schema.Types["User"]
	if user == nil || user.Kind != ast.Object {
		add("type User is gone")
		return problems
	}
	if len(user.Directives) > 0 {
		add("type User has directives %s", directiveNames(user.Directives))
	}
	for _, name := range fields {
		f := user.Fields.ForName(name)
		if f == nil {
			add("User.%s is in meFields but not in the schema", name)
			continue
		}
		if len(f.Arguments) > 0 {
			add("User.%s takes arguments: the fast path ignores them", name)
		}
		if len(f.Directives) > 0 {
			add("User.%s has directives %s: the fast path skips them (an auth check, say)", name, directiveNames(f.Directives))
		}
		if def := schema.Types[f.Type.Name()]; f.Type.Elem != nil || def == nil || (def.Kind != ast.Scalar && def.Kind != ast.Enum) {
			add("User.%s is %s, not a scalar or enum: not plain data", name, f.Type)
		}
		if want, ok := fastMeTypes[name]; ok && f.Type.String() != want {
			add("User.%s is %s, but appendResponse writes it as %s", name, f.Type, want)
		}
	}
	return problems
}

// TestFastMe_MatchesTheSchema checks meFields against the schema the
// executor runs (generated.go's) and against schema.graphqls itself, which
// may be ahead of it until `go generate` runs.
func TestFastMe_MatchesTheSchema(t *testing.T) {
	src, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	fromFile, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(src)})
	if gerr != nil {
		t.Fatal(gerr)
	}
	for _, s := range []struct {
		name   string
		schema *ast.Schema
	}{{"the executor's schema", graph.NewExecutableSchema(graph.Config{}).Schema()}, {"schema.graphqls", fromFile}} {
		for _, p := range fastMeSchemaProblems(s.schema) {
			t.Errorf("%s: %s", s.name, p)
		}
		// A query of every field in meFields is valid, and planned whole.
		names := sortedKeys(meFields)
		query := "{ me { " + strings.Join(names, " ") + " } }"
		doc, errs := gqlparser.LoadQueryWithRules(s.schema, query, validationRules(false)())
		if errs != nil {
			t.Errorf("%s: %s: %v", s.name, query, errs)
			continue
		}
		p := planMe(doc.Operations.ForName(""))
		if p == nil || len(p.fields) != len(names) {
			t.Errorf("%s: %s is not planned whole: %+v", s.name, query, p)
		}
	}
}

// TestFastMe_Resolvers: the fields of meFields with a resolver method in the
// generated UserResolver are exactly fastMeResolved, and every other one is
// a field of models.User, not a method (gqlgen would call the method).
func TestFastMe_Resolvers(t *testing.T) {
	resolved := map[string]bool{}
	ur := reflect.TypeFor[graph.UserResolver]()
	for i := range ur.NumMethod() {
		for name := range meFields {
			if strings.EqualFold(ur.Method(i).Name, name) {
				resolved[name] = true
			}
		}
	}
	if got, want := sortedKeys(resolved), sortedKeys(fastMeResolved); !slices.Equal(got, want) {
		t.Errorf("fields of meFields with a UserResolver method: %v, but appendResponse resolves exactly %v", got, want)
	}
	user := reflect.TypeFor[*models.User]()
	for name := range meFields {
		if name == "__typename" || resolved[name] {
			continue
		}
		for i := range user.NumMethod() {
			if strings.EqualFold(user.Method(i).Name, name) {
				t.Errorf("models.User has a method %s: the executor calls it for User.%s, appendResponse reads the field", user.Method(i).Name, name)
			}
		}
		if _, ok := user.Elem().FieldByNameFunc(func(f string) bool { return strings.EqualFold(f, name) }); !ok {
			t.Errorf("models.User has no field for User.%s", name)
		}
	}
}

// TestFastMeSchemaProblems_Found: each change to User or Query.me that
// would make the two paths differ is reported (schema.graphqls, edited).
func TestFastMeSchemaProblems_Found(t *testing.T) {
	b, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	start := strings.Index(src, "type User {")
	if start < 0 {
		t.Fatal("schema.graphqls has no type User")
	}
	end := start + strings.Index(src[start:], "\n}")
	for _, c := range []struct{ old, new, want string }{
		{"  nickname: String\n", "  nickname: String @hasRole(role: VIEWER)\n", "User.nickname has directives"},
		{"  city: String\n", "  city: [String]\n", "User.city is [String], not a scalar"},
		{"  phone: String\n", "  phone: String!\n", "User.phone is String!, but appendResponse writes it as String"},
		{"  country: String\n", "", "User.country is in meFields but not in the schema"},
		{"  language: String\n", "  language(short: Boolean): String\n", "User.language takes arguments"},
		{"  lastLoginAt: Time\n", "  lastLoginAt: Identity\n", "User.lastLoginAt is Identity, not a scalar"},
		{"type User {", "type User @hasRole(role: VIEWER) {", "type User has directives"},
	} {
		user := src[start:end]
		if !strings.Contains(user, c.old) {
			t.Fatalf("type User has no %q", c.old)
		}
		edited := src[:start] + strings.Replace(user, c.old, c.new, 1) + src[end:]
		if c.old == "type User {" { // allow @hasRole on the type for this edit
			edited = strings.Replace(edited, "@hasRole(role: Role!) on FIELD_DEFINITION", "@hasRole(role: Role!) on FIELD_DEFINITION | OBJECT", 1)
		}
		schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: edited})
		if gerr != nil {
			t.Fatalf("%q → %q: %v", c.old, c.new, gerr)
		}
		if problems := fastMeSchemaProblems(schema); !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
			t.Errorf("%q → %q: problems %q, want one saying %q", c.old, c.new, problems, c.want)
		}
	}
	edited := strings.Replace(src, "  me: User!\n", "  me: User! @hasRole(role: VIEWER)\n", 1)
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: edited})
	if gerr != nil || edited == src {
		t.Fatalf("me with @hasRole: %v", gerr)
	}
	if problems := fastMeSchemaProblems(schema); !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "Query.me has arguments or directives") }) {
		t.Errorf("me with @hasRole: problems %q", problems)
	}
}

// directiveNames is "@a @b", for messages.
func directiveNames(ds ast.DirectiveList) string {
	var names []string
	for _, d := range ds {
		names = append(names, "@"+d.Name)
	}
	return strings.Join(names, " ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
