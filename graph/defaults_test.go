package graph

import (
	"testing"

	"wxlogin/auth"
)

// The schema's default page of mySessions and auth.DefaultOwnSessions (what
// the resolver and the complexity limit take when first is null) are
// written in two places; they must say the same number.
func TestSchemaDefault_MySessionsFirst(t *testing.T) {
	s := NewExecutableSchema(Config{}).Schema()
	f := s.Query.Fields.ForName("mySessions")
	if f == nil {
		t.Fatal("the schema has no Query.mySessions")
	}
	arg := f.Arguments.ForName("first")
	if arg == nil || arg.DefaultValue == nil {
		t.Fatal("mySessions(first) has no default")
	}
	v, err := arg.DefaultValue.Value(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := v.(int64); !ok || got != int64(auth.DefaultOwnSessions) {
		t.Fatalf("mySessions(first: Int = %v), auth.DefaultOwnSessions = %d", v, auth.DefaultOwnSessions)
	}
}
