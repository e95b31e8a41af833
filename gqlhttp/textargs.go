package gqlhttp

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"wxlogin/models"
)

// Every string argument of the schema ends up in a PostgreSQL text column
// or parameter, and PostgreSQL refuses NUL (and invalid UTF-8) in text:
// the query fails, the client got INTERNAL and the log line quoted the
// value (issue 17 #9). No argument has a use for either, so they are
// refused here, once for every field, before anything runs: in the
// document's string literals when it is first checked (checkQuery; a
// cached document has passed), and in every request's variables.

// unstorable reports whether s holds what no text column takes.
func unstorable(s string) bool {
	return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)
}

const unstorableMessage = "holds a NUL character (\\u0000) or invalid UTF-8, which no argument accepts"

func unstorableError(format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...) + " " + unstorableMessage,
		Extensions: map[string]any{"code": models.CodeBadUserInput}}
}

// checkVariables refuses variables holding an unstorable string at any
// depth, naming the variable (when its name is a GraphQL name: the client
// chose the JSON key) but never the value.
func checkVariables(vars map[string]any) *gqlerror.Error {
	for name, v := range vars {
		if unstorableValue(v) {
			if safeOperationName.MatchString(name) {
				return unstorableError("variable $%s", name)
			}
			return unstorableError("a variable")
		}
	}
	return nil
}

func unstorableValue(v any) bool {
	switch v := v.(type) {
	case string:
		return unstorable(v)
	case []any:
		for _, e := range v {
			if unstorableValue(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if unstorable(k) || unstorableValue(e) {
				return true
			}
		}
	}
	return false
}

// checkLiterals refuses a document with an unstorable string literal
// anywhere a value may stand: arguments, directives' arguments and
// variables' defaults, in operations and fragments.
func checkLiterals(doc *ast.QueryDocument) *gqlerror.Error {
	bad := false
	var value func(*ast.Value)
	value = func(v *ast.Value) {
		if v == nil || bad {
			return
		}
		switch v.Kind {
		case ast.StringValue, ast.BlockValue:
			bad = unstorable(v.Raw)
		case ast.ListValue, ast.ObjectValue:
			for _, c := range v.Children {
				if unstorable(c.Name) {
					bad = true
				}
				value(c.Value)
			}
		}
	}
	directives := func(ds ast.DirectiveList) {
		for _, d := range ds {
			for _, a := range d.Arguments {
				value(a.Value)
			}
		}
	}
	var selections func(ast.SelectionSet)
	selections = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				for _, a := range s.Arguments {
					value(a.Value)
				}
				directives(s.Directives)
				selections(s.SelectionSet)
			case *ast.FragmentSpread:
				directives(s.Directives)
			case *ast.InlineFragment:
				directives(s.Directives)
				selections(s.SelectionSet)
			}
		}
	}
	for _, op := range doc.Operations {
		for _, vd := range op.VariableDefinitions {
			value(vd.DefaultValue)
			directives(vd.Directives)
		}
		directives(op.Directives)
		selections(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		directives(f.Directives)
		selections(f.SelectionSet)
	}
	if bad {
		return unstorableError("a string in the query")
	}
	return nil
}
