package gqlhttp

import "github.com/vektah/gqlparser/v2/ast"

// docStats is what one walk over a parsed document finds, for the checks
// made before it runs and for the query cache's cost of keeping it.
type docStats struct {
	// nodes counts definitions, selections, arguments, directives,
	// variable definitions and values: what the parsed document holds.
	nodes int
	// written is what the document spells out, fragments not expanded:
	// what validation walks.
	written written
	// unstorable is whether a string literal or an object key anywhere a
	// value may stand (arguments, directives' arguments, variables'
	// defaults) is one PostgreSQL cannot store (see unstorable).
	unstorable bool
}

type written struct{ fields, aliases, directives int }

// walkDocument walks doc once, operations and fragments alike.
func walkDocument(doc *ast.QueryDocument) docStats {
	var st docStats
	if doc == nil {
		return st
	}
	var value func(*ast.Value)
	value = func(v *ast.Value) {
		if v == nil {
			return
		}
		st.nodes++
		if (v.Kind == ast.StringValue || v.Kind == ast.BlockValue) && unstorable(v.Raw) {
			st.unstorable = true
		}
		for _, c := range v.Children {
			st.nodes++
			if unstorable(c.Name) {
				st.unstorable = true
			}
			value(c.Value)
		}
	}
	directives := func(ds ast.DirectiveList) {
		st.written.directives += len(ds)
		for _, d := range ds {
			st.nodes++
			for _, a := range d.Arguments {
				st.nodes++
				value(a.Value)
			}
		}
	}
	var selections func(ast.SelectionSet)
	selections = func(set ast.SelectionSet) {
		for _, sel := range set {
			st.nodes++
			switch s := sel.(type) {
			case *ast.Field:
				st.written.fields++
				if s.Alias != "" && s.Alias != s.Name {
					st.written.aliases++
				}
				for _, a := range s.Arguments {
					st.nodes++
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
		st.nodes++
		for _, vd := range op.VariableDefinitions {
			st.nodes++
			value(vd.DefaultValue)
			directives(vd.Directives)
		}
		directives(op.Directives)
		selections(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		st.nodes++
		directives(f.Directives)
		selections(f.SelectionSet)
	}
	return st
}
