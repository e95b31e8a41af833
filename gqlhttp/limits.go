package gqlhttp

import (
	"fmt"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"wxlogin/admin"
	"wxlogin/auth"
	"wxlogin/graph"
	"wxlogin/graph/gqlmodel"
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
	MaxComplexity: 2500,
	MaxNameLen:    128,
}

// orDefaults is l with each zero (or negative) field DefaultLimits'.
func (l Limits) orDefaults() Limits {
	d := DefaultLimits
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	pick(&l.MaxTokens, d.MaxTokens)
	pick(&l.MaxFields, d.MaxFields)
	pick(&l.MaxDepth, d.MaxDepth)
	pick(&l.MaxAliases, d.MaxAliases)
	pick(&l.MaxDirectives, d.MaxDirectives)
	pick(&l.MaxErrors, d.MaxErrors)
	pick(&l.MaxComplexity, d.MaxComplexity)
	pick(&l.MaxNameLen, d.MaxNameLen)
	return l
}

// Costs in gqlgen's complexity count, which MaxComplexity bounds for the
// operation a request runs, with its variables (so every request, cached
// documents included). A field costs 1 plus what it selects; a list costs
// the rows it may hold times what each row selects, plus 1; a statistic
// costs statsCost. The admin screens' queries and their costs are in
// TestLimits_AdminScreensFit.
const (
	// statsCost is one dashboard statistic: each counts over up to a table
	// of a million rows (~80 ms). With the default limit a request holds
	// four; a fifth is refused.
	statsCost = 550
	// identitiesPerUser estimates User.identities: one per mini program the
	// user signed in from, and a deployment has a few.
	identitiesPerUser = 5
	// sessionsPerUser estimates User.sessions: a user's live sessions, one
	// per login within SESSION_TTL. Nothing bounds them, but the mini
	// program keeps its token, so a user has a handful.
	sessionsPerUser = 10
	// exportCost is myData or userData: a dozen queries and up to some
	// 3,000 rows serialised (~1 MB). More than half the default limit, so
	// that a request holds one and aliases cannot multiply it.
	exportCost = 1300
)

// setCosts gives the fields whose work grows with their arguments, or is a
// table scan, their costs in c.
func setCosts(c *graph.ComplexityRoot) {
	c.Query.Users = func(child int, first *int, _ *string, last *int, _ *string, _ *gqlmodel.UserFilter, _ *gqlmodel.UserOrder) int {
		return listCost(pageRows(first, last), child)
	}
	c.Query.AuditLog = func(child int, first *int, _ *string, last *int, _ *string, _ *gqlmodel.AuditFilter) int {
		return listCost(pageRows(first, last), child)
	}
	c.User.Identities = func(child int) int { return listCost(identitiesPerUser, child) }
	c.User.Sessions = func(child int) int { return listCost(sessionsPerUser, child) }
	c.Query.MySessions = func(child int, first *int) int {
		n := auth.DefaultOwnSessions
		if first != nil {
			n = *first
		}
		// Out of range counts as the nearest bound, as in pageRows.
		return listCost(min(max(n, 1), auth.MaxOwnSessions), child)
	}
	c.Query.MyData = func(int) int { return exportCost }
	c.Query.UserData = func(int, string) int { return exportCost }
	stat := func(int, int) int { return statsCost }
	c.Stats.TotalUsers = func(int) int { return statsCost }
	c.Stats.NewUsers, c.Stats.ActiveUsers = stat, stat
	c.Stats.LoginsPerDay = func(child, days int) int {
		return min(statsCost+listCost(min(max(days, 1), admin.MaxStatsDays), child), saturate)
	}
}

// pageRows is the most rows a connection's page can hold: first or last,
// admin.DefaultPageSize when neither is given. A size out of range counts
// as the nearest one: the resolver refuses it with BAD_USER_INPUT, which
// says more than a complexity error would.
func pageRows(first, last *int) int {
	n := admin.DefaultPageSize
	if first != nil {
		n = *first
	}
	if last != nil && (first == nil || *last > n) {
		n = *last
	}
	return min(max(n, 1), admin.MaxPageSize)
}

// listCost is the cost of a list of up to rows items of cost child each.
func listCost(rows, child int) int {
	if child >= saturate/rows {
		return saturate
	}
	return rows*child + 1
}

// validationRules are gqlparser's rules, with "did you mean" suggestions
// only when suggest is set (dev mode). gqlgen's SetDisableSuggestion takes
// them out of two rules (fields, leaf selections) and leaves them in the
// messages for unknown arguments, types and enum values.
func validationRules(suggest bool) func() *rules.Rules {
	return func() *rules.Rules {
		r := rules.NewDefaultRules()
		if !suggest {
			for _, rule := range []core.Rule{rules.KnownArgumentNamesRuleWithoutSuggestions,
				rules.KnownTypeNamesRuleWithoutSuggestions, rules.ValuesOfCorrectTypeRuleWithoutSuggestions} {
				r.RemoveRule(strings.TrimSuffix(rule.Name, "WithoutSuggestions"))
				r.AddRule(rule.Name, rule.RuleFunc)
			}
		}
		return r
	}
}

// onePerRequestDirective marks fields that cost a WeChat call, a password
// hash or a session: a request may select at most one of them.
const onePerRequestDirective = "onePerRequest"

// saturate caps expanded counts: nested fragment spreads double per level.
const saturate = 1 << 30

// cost is what a selection set expands to.
type cost struct {
	fields, depth, onePerRequest int
	// counts is how many connection totalCounts the set selects.
	counts        int
	introspection bool
}

// maxCounts bounds the totalCounts of a request. Each counts every row
// its filter matches (80 ms to seconds at a million users) whatever the
// page size, so its cost cannot be a multiple of the page's: the
// dashboard asks for one at a time, on its own.
const maxCounts = 2

// countedConnections are the types whose totalCount is a COUNT(*).
var countedConnections = map[string]bool{"UserConnection": true, "AuditConnection": true}

func (c *cost) add(o cost) {
	c.fields = min(c.fields+o.fields, saturate)
	c.counts = min(c.counts+o.counts, saturate)
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
		switch {
		case gqlErr.Message == fmt.Sprintf("exceeded token limit of %d", l.MaxTokens):
			code = models.CodeQueryTooComplex
			gqlErr.Message = fmt.Sprintf("the query has more than %d tokens", l.MaxTokens)
		case strings.HasPrefix(gqlErr.Message, "exceeded maximum nesting depth"):
			// The parser's own bound ([[[… or {{{…), met before ours.
			code = models.CodeQueryTooComplex
			gqlErr.Message = fmt.Sprintf("the query nests selections or values more than %d levels deep", parser.MaxNestingDepth)
		}
		gqlErr.Extensions = map[string]any{"code": code}
		return gqlErr
	}

	stats := walkDocument(doc)
	if stats.unstorable {
		return unstorableError("a string in the query")
	}
	w := walker{schema: schema, doc: doc, memo: map[string]cost{}, visiting: map[string]bool{}}
	written := stats.written
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
		// A fragment that spreads itself counts as empty the second time:
		// validation reports the cycle, once every operation is measured.
		c := w.selectionSet(op.SelectionSet, root)
		switch {
		case c.fields > l.MaxFields:
			return tooComplex("the operation selects more than %d fields once its fragments are expanded", l.MaxFields)
		case c.depth > l.MaxDepth:
			return tooComplex("the operation nests %d levels deep; at most %d are allowed", c.depth, l.MaxDepth)
		case c.counts > maxCounts:
			return tooComplex("the operation asks for %d totalCounts; at most %d are allowed, as each counts every matching row", c.counts, maxCounts)
		case c.onePerRequest > 1:
			return tooComplex("a request may hold only one of the costly mutations (@onePerRequest: login, the ones that call WeChat or hash a password, …); send them as separate requests")
		case c.onePerRequest == 1 && w.rootFields(op.SelectionSet, map[string]bool{}) > 1:
			// A failing neighbour (a non-null field) would null the whole
			// answer, and with it the token of a login already recorded.
			return tooComplex("a costly mutation (@onePerRequest: login, the ones that call WeChat or hash a password, …) must be the only field of its request")
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
			if parent != nil && s.Name == "totalCount" && countedConnections[parent.Name] {
				fc.counts = 1
			}
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
			fc.counts = min(fc.counts+sub.counts, saturate)
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
		return cost{} // a cycle, which validation refuses
	}
	w.visiting[name] = true
	c := w.selectionSet(def.SelectionSet, w.schema.Types[def.TypeCondition])
	delete(w.visiting, name)
	w.memo[name] = c
	return c
}
