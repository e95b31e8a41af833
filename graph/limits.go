package graph

import (
	"fmt"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"

	"wxlogin/models"
)

// Limits bound what one GraphQL request may cost. They are checked on the
// parsed document before gqlgen validates it: validation's overlapping-fields
// rule is quadratic in the number of fields, and gqlgen's complexity count
// expands fragments without memoizing, so an unchecked 60 KB query could
// burn seconds of CPU without a token.
type Limits struct {
	// MaxBodyBytes bounds a JSON request body.
	MaxBodyBytes int64
	// MaxTokens bounds the lexer: a query with more tokens is not parsed further.
	MaxTokens int
	// MaxFields bounds the fields of the executed operation, fragments
	// expanded, and separately the fields written in the document.
	MaxFields int
	// MaxDepth bounds the nesting of selections, fragments expanded.
	MaxDepth int
	// MaxAliases bounds the aliased fields written in the document.
	MaxAliases int
	// MaxDirectives bounds the directives written in the document.
	MaxDirectives int
	// MaxErrors bounds the errors in one response; the rest are summarized.
	MaxErrors int
	// MaxComplexity is gqlgen's complexity limit for the executed operation.
	MaxComplexity int
	// MaxNameLen bounds every name in the document (fields, aliases,
	// variables, fragments): error messages quote names, and an answer must
	// not repeat a client's megabyte back twenty times.
	MaxNameLen int
}

// DefaultLimits fit every query the mini program, the admin screens and the
// dev-mode playground's introspection send, with room to spare.
var DefaultLimits = Limits{
	MaxBodyBytes:  64 << 10,
	MaxTokens:     2000,
	MaxFields:     300,
	MaxDepth:      15,
	MaxAliases:    30,
	MaxDirectives: 30,
	MaxErrors:     20,
	MaxComplexity: 200,
	MaxNameLen:    128,
}

// onePerRequestDirective marks fields that cost a WeChat call, a password
// hash or a session: a request may select at most one of them.
const onePerRequestDirective = "onePerRequest"

// saturate caps expanded counts: nested fragment spreads double per level.
const saturate = 1 << 30

// cost is what a selection set expands to.
type cost struct {
	fields, depth, onePerRequest int
	introspection                bool
}

func (c *cost) add(o cost) {
	c.fields = min(c.fields+o.fields, saturate)
	c.onePerRequest = min(c.onePerRequest+o.onePerRequest, saturate)
	c.depth = max(c.depth, o.depth)
	c.introspection = c.introspection || o.introspection
}

// checkQuery parses query within the token limit and measures it against
// the limits. It returns nil when gqlgen may go on to validate and run any
// operation of it: every operation is measured, not only the one this
// request names, because a document that passed once skips the check (it is
// in the query cache) whatever operationName a later request picks.
// Introspection is refused here unless allowed, so that it is a client's
// validation error rather than an INTERNAL one logged by the executor.
func (l Limits) checkQuery(schema *ast.Schema, query string, introspection bool) *gqlerror.Error {
	if err := l.checkNames(query); err != nil {
		return err
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, l.MaxTokens)
	if err != nil {
		gqlErr, ok := err.(*gqlerror.Error)
		if !ok {
			gqlErr = gqlerror.Errorf("the query could not be parsed")
		}
		code := "GRAPHQL_PARSE_FAILED"
		if gqlErr.Message == fmt.Sprintf("exceeded token limit of %d", l.MaxTokens) {
			code = models.CodeQueryTooComplex
			gqlErr.Message = fmt.Sprintf("the query has more than %d tokens", l.MaxTokens)
		}
		gqlErr.Extensions = map[string]any{"code": code}
		return gqlErr
	}

	w := walker{schema: schema, doc: doc, memo: map[string]cost{}, visiting: map[string]bool{}}
	written := w.countWritten()
	switch {
	case written.fields > l.MaxFields:
		return tooComplex("the query has %d fields; at most %d are allowed", written.fields, l.MaxFields)
	case written.aliases > l.MaxAliases:
		return tooComplex("the query has %d aliases; at most %d are allowed", written.aliases, l.MaxAliases)
	case written.directives > l.MaxDirectives:
		return tooComplex("the query has %d directives; at most %d are allowed", written.directives, l.MaxDirectives)
	}
	for _, op := range doc.Operations {
		root := w.rootType(op.Operation)
		c := w.selectionSet(op.SelectionSet, root)
		switch {
		case w.cycle:
			return nil // validation reports the fragment cycle
		case c.fields > l.MaxFields:
			return tooComplex("the operation selects more than %d fields once its fragments are expanded", l.MaxFields)
		case c.depth > l.MaxDepth:
			return tooComplex("the operation nests %d levels deep; at most %d are allowed", c.depth, l.MaxDepth)
		case c.onePerRequest > 1:
			return tooComplex("a request may hold only one login or other WeChat-calling mutation; send them as separate requests")
		case c.onePerRequest == 1 && w.rootFields(op.SelectionSet, map[string]bool{}) > 1:
			// A failing neighbour (a non-null field) would null the whole
			// answer, and with it the token of a login already recorded.
			return tooComplex("a login or other WeChat-calling mutation must be the only field of its request")
		case !introspection && c.introspection:
			return &gqlerror.Error{Message: "introspection is disabled on this server",
				Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}}
		}
	}
	return nil
}

// checkNames refuses a document with an overlong name before it is parsed:
// parse and validation errors quote names.
func (l Limits) checkNames(query string) *gqlerror.Error {
	lex := lexer.New(&ast.Source{Input: query})
	for range l.MaxTokens + 1 {
		tok, err := lex.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return nil // the parser reports lexing errors, or the token limit
		}
		if tok.Kind == lexer.Name && len(tok.Value) > l.MaxNameLen {
			return tooComplex("the query has a name longer than %d characters", l.MaxNameLen)
		}
	}
	return nil
}

// rootFields counts the fields an operation selects at its root, fragments
// expanded; __typename does not count.
func (w *walker) rootFields(set ast.SelectionSet, seen map[string]bool) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name != "__typename" {
				n++
			}
		case *ast.InlineFragment:
			n += w.rootFields(s.SelectionSet, seen)
		case *ast.FragmentSpread:
			if def := w.doc.Fragments.ForName(s.Name); def != nil && !seen[s.Name] {
				seen[s.Name] = true
				n += w.rootFields(def.SelectionSet, seen)
			}
		}
	}
	return n
}

func tooComplex(format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": models.CodeQueryTooComplex}}
}

// walker measures a parsed (not yet validated) document. Unknown fields and
// types are measured as if untyped; validation refuses them later.
type walker struct {
	schema   *ast.Schema
	doc      *ast.QueryDocument
	memo     map[string]cost
	visiting map[string]bool
	cycle    bool
}

type written struct{ fields, aliases, directives int }

// countWritten counts what the document spells out, fragments not expanded:
// this is what validation walks.
func (w *walker) countWritten() written {
	var n written
	var visit func(ast.SelectionSet)
	visit = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				n.fields++
				n.directives += len(s.Directives)
				if s.Alias != "" && s.Alias != s.Name {
					n.aliases++
				}
				visit(s.SelectionSet)
			case *ast.InlineFragment:
				n.directives += len(s.Directives)
				visit(s.SelectionSet)
			case *ast.FragmentSpread:
				n.directives += len(s.Directives)
			}
		}
	}
	for _, op := range w.doc.Operations {
		n.directives += len(op.Directives)
		for _, v := range op.VariableDefinitions {
			n.directives += len(v.Directives)
		}
		visit(op.SelectionSet)
	}
	for _, f := range w.doc.Fragments {
		n.directives += len(f.Directives)
		visit(f.SelectionSet)
	}
	return n
}

func (w *walker) rootType(op ast.Operation) *ast.Definition {
	switch op {
	case ast.Mutation:
		return w.schema.Mutation
	case ast.Subscription:
		return w.schema.Subscription
	}
	return w.schema.Query
}

// selectionSet measures set with its fragments expanded, each fragment
// measured once: the walk is linear in the document even when spreads nest.
func (w *walker) selectionSet(set ast.SelectionSet, parent *ast.Definition) cost {
	var c cost
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			var child *ast.Definition
			fc := cost{fields: 1, introspection: s.Name == "__schema" || s.Name == "__type"}
			if parent != nil {
				if def := parent.Fields.ForName(s.Name); def != nil {
					child = w.schema.Types[def.Type.Name()]
					if def.Directives.ForName(onePerRequestDirective) != nil {
						fc.onePerRequest = 1
					}
				}
			}
			sub := w.selectionSet(s.SelectionSet, child)
			fc.fields = min(fc.fields+sub.fields, saturate)
			fc.onePerRequest = min(fc.onePerRequest+sub.onePerRequest, saturate)
			fc.depth = sub.depth + 1
			fc.introspection = fc.introspection || sub.introspection
			c.add(fc)
		case *ast.InlineFragment:
			typ := parent
			if s.TypeCondition != "" {
				typ = w.schema.Types[s.TypeCondition]
			}
			c.add(w.selectionSet(s.SelectionSet, typ))
		case *ast.FragmentSpread:
			c.add(w.fragment(s.Name))
		}
	}
	return c
}

func (w *walker) fragment(name string) cost {
	if c, ok := w.memo[name]; ok {
		return c
	}
	def := w.doc.Fragments.ForName(name)
	if def == nil {
		return cost{}
	}
	if w.visiting[name] {
		w.cycle = true
		return cost{}
	}
	w.visiting[name] = true
	c := w.selectionSet(def.SelectionSet, w.schema.Types[def.TypeCondition])
	delete(w.visiting, name)
	w.memo[name] = c
	return c
}
