package gqlhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/complexity"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/validator"

	"wxlogin/graph"
)

// newLimitedHandler is the /graphql handler with limits (zero fields
// default) and no services: every request here is refused before a
// resolver runs, or fails for want of a token.
func newLimitedHandler(t testing.TB, limits Limits, dev bool) http.Handler {
	t.Helper()
	return NewHandler(Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), DevMode: dev, Limits: limits})
}

// serve runs one request through h in this goroutine and returns the
// answer and the server time it took.
func serve(t testing.TB, h http.Handler, body string) (*answer, time.Duration) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	took := time.Since(start)
	a := &answer{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
	if err := json.Unmarshal(rec.Body.Bytes(), a); err != nil {
		t.Fatalf("HTTP %d, not JSON: %.300s", rec.Code, rec.Body)
	}
	return a, took
}

func queryBody(query string, vars map[string]any, op string) string {
	m := map[string]any{"query": query}
	if vars != nil {
		m["variables"] = vars
	}
	if op != "" {
		m["operationName"] = op
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// nested is depth fields, each inside the one before, then leaf.
func nested(depth int, field, leaf string) string {
	return strings.Repeat(field+" { ", depth) + leaf + strings.Repeat(" }", depth)
}

// hostile is a document an attacker might send, and how it must be refused.
type hostile struct {
	name, body string
	status     int
	code       string
	message    string // a part of the first error's message
}

// hostileDocuments are refused before anything runs, each by the limit it
// probes. Every one fits the 64 KiB body limit.
func hostileDocuments() []hostile {
	aliases := func(n int) string {
		return "{ " + repeat(n, func(i int) string { return fmt.Sprintf("a%d: me { id }", i) }) + "}"
	}
	// Fifty fragments, each one level deeper than the last.
	deepFragments := "query { ...F0 } " + repeat(50, func(i int) string {
		return fmt.Sprintf("fragment F%d on Query { a { ...F%d } }", i, i+1)
	}) + "fragment F50 on Query { b }"
	// Forty fragments, each spreading the next twice: 2^40 fields expanded.
	bomb := repeat(40, func(i int) string {
		return fmt.Sprintf("fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}) + "fragment F40 on Query { me { id } }"
	ops := func(n int, op func(i int) string) string { return repeat(n, op) }
	return []hostile{
		{"1000Aliases", queryBody(aliases(1000), nil, ""), 422, "QUERY_TOO_COMPLEX", "more than 2000 tokens"},
		{"31Aliases", queryBody(aliases(31), nil, ""), 422, "QUERY_TOO_COMPLEX", "31 aliases; at most 30"},
		{"Depth50", queryBody("{ "+nested(50, "a", "b")+" }", nil, ""), 422, "QUERY_TOO_COMPLEX", "nests 51 levels deep; at most 15"},
		{"Depth50InFragments", queryBody(deepFragments, nil, ""), 422, "QUERY_TOO_COMPLEX", "nests 51 levels deep"},
		{"FragmentBomb", queryBody("query { ...F0 } "+bomb, nil, ""), 422, "QUERY_TOO_COMPLEX", "more than 300 fields"},
		{"FragmentCycle", queryBody("query { me { ...A } } fragment A on User { id ...B } fragment B on User { ...A }", nil, ""),
			422, "GRAPHQL_VALIDATION_FAILED", "Cannot spread fragment"},
		// A cycle does not stop the measuring: the bomb beside it is
		// refused before validation could spend time on it.
		{"FragmentCycleBesideBomb", queryBody("query A { me { ...C } } query B { ...F0 } fragment C on User { ...D } fragment D on User { ...C } "+bomb, nil, "A"),
			422, "QUERY_TOO_COMPLEX", "more than 300 fields"},
		{"31Directives", queryBody("{ me "+strings.Repeat("@skip(if: false) ", 31)+"{ id } }", nil, ""), 422, "QUERY_TOO_COMPLEX", "31 directives; at most 30"},
		// 30,000 two-byte tokens: the lexer stops after 2,001.
		{"TokenBomb", queryBody("{ me(a: ["+strings.Repeat("1 ", 30000)+"]) { id } }", nil, ""), 422, "QUERY_TOO_COMPLEX", "more than 2000 tokens"},
		// 60,000 one-byte tokens, each a list in the last: the parser's
		// nesting bound (1000) meets it before the token limit.
		{"NestingBomb", queryBody("{ me(a: "+strings.Repeat("[", 60000)+") { id } }", nil, ""), 422, "QUERY_TOO_COMPLEX", "more than 1000 levels deep"},
		{"TokenBombOfNames", queryBody("{ me { "+strings.Repeat("a ", 30000)+"} }", nil, ""), 422, "QUERY_TOO_COMPLEX", "more than 2000 tokens"},
		{"BatchedArray", "[" + strings.TrimSuffix(strings.Repeat(queryBody("{ me { id } }", nil, "")+",", 50), ",") + "]",
			422, "BAD_USER_INPUT", "batched requests are not supported"},
		// Fifty operations of seven fields each: one alone is fine, the
		// document is measured whole.
		{"50Operations", queryBody(ops(50, func(i int) string {
			return fmt.Sprintf("query Q%d { me { id nickname city province country language } }", i)
		}), nil, "Q0"), 422, "QUERY_TOO_COMPLEX", "350 fields; at most 300"},
		// Fifty operations, the last one too deep, and the request names the first.
		{"50OperationsLastTooDeep", queryBody(ops(49, func(i int) string {
			return fmt.Sprintf("query Q%d { me { id } }", i)
		})+"query Q49 { "+nested(16, "a", "b")+" }", nil, "Q0"), 422, "QUERY_TOO_COMPLEX", "nests 17 levels deep"},
		// first: 100 with each user's lists: 100 × (1+1+26+61+1) + 1 = 9001.
		{"NestedListsAt100", queryBody(`query($n: Int) { users(first: $n) { edges { node { id
			identities { appId openId unionId createdAt lastLoginAt } sessions { id createdAt lastSeenAt expiresAt ip userAgent } } } } }`,
			map[string]any{"n": 100}, ""), 422, "COMPLEXITY_LIMIT_EXCEEDED", "complexity 9001"},
		// Two audit pages of 100 in one request: 2 × 1701.
		{"TwoAuditPages", queryBody(`{ a: auditLog(first: 100) { ...P } b: auditLog(last: 100) { ...P } }
			fragment P on AuditConnection { edges { node { id at action actor { kind id name } target ip detail } }
			pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }`, nil, ""), 422, "COMPLEXITY_LIMIT_EXCEEDED", "complexity 3402"},
		{"FiveStats", queryBody(`{ stats { totalUsers a: newUsers(days: 1) b: newUsers(days: 7) c: activeUsers(days: 1) d: activeUsers(days: 7) } }`, nil, ""),
			422, "COMPLEXITY_LIMIT_EXCEEDED", "complexity 2751"},
		// Each totalCount is a COUNT over every match, however small the
		// page: three in one request, by alias or fragment, are refused.
		{"ThreeCounts", queryBody(`{ a: users(first: 1) { totalCount } b: users(first: 1, filter: {disabled: true}) { totalCount }
			c: auditLog(first: 1) { ...C } } fragment C on AuditConnection { totalCount }`, nil, ""),
			422, "QUERY_TOO_COMPLEX", "3 totalCounts; at most 2"},
	}
}

// TestLimits_Hostile: every hostile document is refused, with its code and
// a message that says which limit, in one short answer. How long each takes
// is logged here and measured by BenchmarkLimits_Hostile.
func TestLimits_Hostile(t *testing.T) {
	t.Parallel()
	h := newLimitedHandler(t, Limits{}, false)
	for _, tc := range hostileDocuments() {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.body) > int(DefaultLimits.MaxBodyBytes) {
				t.Fatalf("the body is %d bytes, over the body limit", len(tc.body))
			}
			a, took := serve(t, h, tc.body)
			t.Logf("%d-byte body refused in %v: %s", len(tc.body), took, a.body)
			if a.status != tc.status || a.code() != tc.code || len(a.Errors) != 1 || !strings.Contains(a.Errors[0].Message, tc.message) {
				t.Fatalf("HTTP %d %.300s, want %d %s %q", a.status, a.body, tc.status, tc.code, tc.message)
			}
			if len(a.body) > 1000 {
				t.Fatalf("the refusal is %d bytes", len(a.body))
			}
		})
	}
}

// BenchmarkLimits_Hostile is the server time of refusing each hostile
// document (go test -run x -bench Limits ./graph/).
func BenchmarkLimits_Hostile(b *testing.B) {
	h := newLimitedHandler(b, Limits{}, false)
	for _, tc := range hostileDocuments() {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if a, _ := serve(b, h, tc.body); a.code() != tc.code {
					b.Fatalf("%.300s", a.body)
				}
			}
		})
	}
}

// TestLimits_1000AliasesPastTheTokenLimit: with token and field limits
// that let a 1000-alias document through, the alias limit refuses it.
func TestLimits_1000AliasesPastTheTokenLimit(t *testing.T) {
	t.Parallel()
	h := newLimitedHandler(t, Limits{MaxTokens: 20000, MaxFields: 5000}, false)
	q := "{ " + repeat(1000, func(i int) string { return fmt.Sprintf("a%d: me { id }", i) }) + "}"
	a, took := serve(t, h, queryBody(q, nil, ""))
	t.Logf("refused in %v", took)
	if a.code() != "QUERY_TOO_COMPLEX" || !strings.Contains(a.Errors[0].Message, "1000 aliases; at most 30") {
		t.Fatalf("%.300s", a.body)
	}
}

// Under each limit a request goes on to run, and here fails only for want
// of a token: what the limits refuse is beyond what clients send.
func TestLimits_UnderTheLimitsRuns(t *testing.T) {
	t.Parallel()
	h := newLimitedHandler(t, Limits{}, false)
	for name, body := range map[string]string{
		"30Aliases": queryBody("{ "+repeat(30, func(i int) string { return fmt.Sprintf("a%d: me { id }", i) })+"}", nil, ""),
		"Depth15":   queryBody(`{ users { edges { node { identities { appId } } } } }`, nil, ""),
		"NestedListsAt20": queryBody(`{ users(first: 20) { edges { node { id
			identities { appId openId unionId createdAt lastLoginAt } sessions { id createdAt lastSeenAt expiresAt ip userAgent } } } } }`, nil, ""),
		"FourStats": queryBody(`{ stats { totalUsers a: newUsers(days: 1) b: newUsers(days: 7) c: activeUsers(days: 1) } }`, nil, ""),
		// A page size out of range counts as 100; the resolver says why it is wrong.
		"First1000": queryBody(`{ users(first: 1000) { edges { node { id nickname avatarUrl phone createdAt lastLoginAt disabled } } } }`, nil, ""),
	} {
		t.Run(name, func(t *testing.T) {
			if a, _ := serve(t, h, body); a.code() != "UNAUTHENTICATED" {
				t.Fatalf("HTTP %d %.300s", a.status, a.body)
			}
		})
	}
}

// TestLimits_Configured: each configured limit takes effect, the others
// keep their defaults.
func TestLimits_Configured(t *testing.T) {
	t.Parallel()
	def := newLimitedHandler(t, Limits{}, false)
	for _, tc := range []struct {
		name   string
		limits Limits
		query  string
		msg    string
	}{
		{"Depth", Limits{MaxDepth: 3}, `{ users { edges { node { id } } } }`, "nests 4 levels deep; at most 3"},
		{"Complexity", Limits{MaxComplexity: 100}, `{ users(first: 30) { edges { node { id nickname } } } }`, "complexity 121, which exceeds the limit of 100"},
		{"Aliases", Limits{MaxAliases: 2}, `{ a: me { id } b: me { id } c: me { id } }`, "3 aliases; at most 2"},
		{"Fields", Limits{MaxFields: 5}, `{ me { id nickname city province country } }`, "6 fields; at most 5"},
		{"Directives", Limits{MaxDirectives: 1}, `{ me @skip(if: false) { id @include(if: true) } }`, "2 directives; at most 1"},
		{"Tokens", Limits{MaxTokens: 8}, `{ me { id nickname city province country } }`, "more than 8 tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a, _ := serve(t, def, queryBody(tc.query, nil, "")); a.code() != "UNAUTHENTICATED" {
				t.Fatalf("the defaults refuse it: %.300s", a.body)
			}
			a, _ := serve(t, newLimitedHandler(t, tc.limits, false), queryBody(tc.query, nil, ""))
			if len(a.Errors) != 1 || !strings.Contains(a.Errors[0].Message, tc.msg) {
				t.Fatalf("%.300s, want %q", a.body, tc.msg)
			}
		})
	}
	// The complexity in the message above: 30 × 4 + 1.
	if got := complexityOf(t, `{ users(first: 30) { edges { node { id nickname } } } }`, nil); got != 121 {
		t.Fatalf("complexity %d", got)
	}
}

func TestLimits_OrDefaults(t *testing.T) {
	t.Parallel()
	got := Limits{MaxDepth: 3, MaxComplexity: -1}.orDefaults()
	want := DefaultLimits
	want.MaxDepth = 3
	if got != want {
		t.Fatalf("%+v", got)
	}
}

// TestLimits_SuggestionsOnlyInDevMode: no "did you mean" outside dev mode,
// for fields, arguments, types or enum values; in dev mode, each has one.
func TestLimits_SuggestionsOnlyInDevMode(t *testing.T) {
	t.Parallel()
	queries := map[string]string{
		"Field":     `{ mee { id } }`,
		"Argument":  `{ users(frist: 1) { totalCount } }`,
		"Type":      `query { me { ...F } } fragment F on Usr { id }`,
		"EnumValue": `{ users(orderBy: {field: CREATED}) { totalCount } }`,
	}
	for _, dev := range []bool{false, true} {
		h := newLimitedHandler(t, Limits{}, dev)
		for name, q := range queries {
			a, _ := serve(t, h, queryBody(q, nil, ""))
			if a.code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("dev=%v %s: %.300s", dev, name, a.body)
			}
			if got := strings.Contains(strings.ToLower(a.body), "did you mean"); got != dev {
				t.Errorf("dev=%v %s: %.300s", dev, name, a.body)
			}
		}
	}
}

// complexityOf is query's complexity with vars, by the costs NewHandler sets.
func complexityOf(t testing.TB, query string, vars map[string]any) int {
	t.Helper()
	c := graph.Config{Resolvers: &graph.Resolver{}}
	setCosts(&c.Complexity)
	es := graph.NewExecutableSchema(c)
	doc, errs := gqlparser.LoadQueryWithRules(es.Schema(), query, validationRules(false)())
	if errs != nil {
		t.Fatalf("%v in %s", errs, query)
	}
	op := doc.Operations[0]
	coerced, err := validator.VariableValues(es.Schema(), op, vars)
	if err != nil {
		t.Fatalf("%v in %s", err, query)
	}
	return complexity.Calculate(context.Background(), es, op, coerced)
}

// adminQueries reads the GraphQL documents of the admin dashboard from its
// sources, the files web embeds: each `const X = `…“ holding a document
// (with its ${FIELDS} filled in), and each gql('…') literal.
func adminQueries(t *testing.T) map[string]string {
	t.Helper()
	files, _ := filepath.Glob("../web/admin/screens/*.js")
	files = append(files, "../web/admin/app.js")
	consts := regexp.MustCompile("(?s)const ([A-Z_]+) = `([^`]*)`")
	literal := regexp.MustCompile(`gql\('([^']*)'`)
	subst := regexp.MustCompile(`\$\{([A-Z_]+)\}`)
	docs := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		defs := map[string]string{}
		for _, m := range consts.FindAllStringSubmatch(src, -1) {
			defs[m[1]] = m[2]
		}
		for name, text := range defs {
			text = subst.ReplaceAllStringFunc(text, func(s string) string { return defs[subst.FindStringSubmatch(s)[1]] })
			if d := strings.TrimSpace(text); strings.HasPrefix(d, "query") || strings.HasPrefix(d, "mutation") || strings.HasPrefix(d, "{") {
				docs[filepath.Base(f)+" "+name] = d
			}
		}
		for i, m := range literal.FindAllStringSubmatch(src, -1) {
			docs[fmt.Sprintf("%s gql#%d", filepath.Base(f), i)] = m[1]
		}
	}
	return docs
}

// largestVars gives every variable of query its largest value: a page size
// of admin.MaxPageSize (every size the screens offer is at most that), and
// some string, true or a role, or nothing for the rest.
func largestVars(t *testing.T, query string) map[string]any {
	doc, err := gqlparser.LoadQueryWithRules(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema(), query, validationRules(false)())
	if err != nil {
		t.Fatalf("%v in %s", err, query)
	}
	vars := map[string]any{}
	for _, v := range doc.Operations[0].VariableDefinitions {
		switch v.Type.Name() {
		case "Int":
			vars[v.Variable] = 100
		case "ID", "String":
			vars[v.Variable] = "x"
		case "Boolean":
			vars[v.Variable] = true
		case "Role":
			vars[v.Variable] = "VIEWER"
		default:
			if v.Type.NonNull {
				t.Fatalf("no value for $%s in %s", v.Variable, query)
			}
		}
	}
	return vars
}

// TestLimits_AdminScreensFit: every query the admin dashboard sends fits
// the default complexity limit with room to spare at its largest page
// size, and the handler accepts it (it then fails for want of a token).
// Run with -v for each screen's cost.
func TestLimits_AdminScreensFit(t *testing.T) {
	t.Parallel()
	docs := adminQueries(t)
	for _, want := range []string{"users.js FORWARD", "users.js BACKWARD", "users.js COUNT", "audit.js FORWARD", "audit.js BACKWARD",
		"user.js USER", "overview.js COUNTS", "overview.js LOGINS", "signin.js LOGIN"} {
		if docs[want] == "" {
			t.Errorf("%s not found among %d documents", want, len(docs))
		}
	}
	h := newLimitedHandler(t, Limits{}, false)
	names := make([]string, 0, len(docs))
	for name := range docs {
		names = append(names, name)
	}
	sort.Strings(names)
	limit := DefaultLimits.MaxComplexity
	for _, name := range names {
		query := docs[name]
		vars := largestVars(t, query)
		cost := complexityOf(t, query, vars)
		t.Logf("%-22s complexity %4d of %d (%2d%%)", name, cost, limit, cost*100/limit)
		if cost > limit*9/10 {
			t.Errorf("%s: complexity %d leaves less than 10%% of the limit %d", name, cost, limit)
		}
		if strings.HasPrefix(query, "mutation") {
			continue // no services here to run it
		}
		// Accepted: it runs, and without a token is UNAUTHENTICATED (or null).
		if a, _ := serve(t, h, queryBody(query, vars, "")); a.code() != "UNAUTHENTICATED" && a.code() != "" {
			t.Errorf("%s: %.300s", name, a.body)
		}
	}
}

// TestLimits_Costs pins the cost model (see setCosts).
func TestLimits_Costs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		want  int
	}{
		{`{ me { id nickname } }`, 3},
		{`{ users { totalCount } }`, 20*1 + 1},              // default page size 20
		{`{ users(first: 5) { totalCount } }`, 5*1 + 1},     // first
		{`{ auditLog(last: 7) { totalCount } }`, 7*1 + 1},   // last
		{`{ users(first: 0) { totalCount } }`, 1*1 + 1},     // out of range: the resolver refuses it
		{`{ users(last: 5000) { totalCount } }`, 100*1 + 1}, // likewise
		{`{ user(id: 1) { identities { appId } } }`, 1 + 5*1 + 1},
		{`{ user(id: 1) { sessions { id ip } } }`, 1 + 10*2 + 1},
		{`{ stats { totalUsers newUsers(days: 7) } }`, 1 + 2*statsCost},
		{`{ stats { loginsPerDay(days: 30) { day count } } }`, 1 + statsCost + 30*2 + 1},
		{`{ stats { loginsPerDay(days: 100000) { day } } }`, 1 + statsCost + 366 + 1},
	} {
		if got := complexityOf(t, tc.query, nil); got != tc.want {
			t.Errorf("%s: complexity %d, want %d", tc.query, got, tc.want)
		}
	}
	// No overflow: the largest counts saturate.
	if got := listCost(100, saturate); got != saturate {
		t.Fatalf("listCost saturates at %d", got)
	}
}

// TestBoundedAPQ: a persisted document over the size bound is not kept,
// so a flood of registrations cannot hold 1,000 bodies of 60 KB.
func TestBoundedAPQ(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newBoundedAPQ()
	c.Add(ctx, "small", "{ me { id } }")
	c.Add(ctx, "large", "{ me { id } }"+strings.Repeat(" ", maxPersistedQuery))
	if _, ok := c.Get(ctx, "small"); !ok {
		t.Fatal("a small document was not kept")
	}
	if _, ok := c.Get(ctx, "large"); ok {
		t.Fatal("a document over the bound was kept")
	}
}
