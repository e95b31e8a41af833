package gqlhttp

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// newTestHandler is the /graphql handler with no auth service: every test
// here is refused before a resolver runs, or runs `me` without a token.
func newTestHandler(t *testing.T, dev bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), DevMode: dev}))
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	header http.Header
	body   string
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (a *answer) code() string {
	if len(a.Errors) == 0 {
		return ""
	}
	c, _ := a.Errors[0].Extensions["code"].(string)
	return c
}

func send(t *testing.T, req *http.Request) *answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := &answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if len(b) > 0 {
		if err := json.Unmarshal(b, a); err != nil {
			t.Fatalf("HTTP %d, not JSON: %.300s", resp.StatusCode, b)
		}
	}
	return a
}

func post(t *testing.T, srv *httptest.Server, contentType, body string) *answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return send(t, req)
}

func postQuery(t *testing.T, srv *httptest.Server, query string) *answer {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query})
	return post(t, srv, "application/json", string(b))
}

// repeat joins n copies of f(i).
func repeat(n int, f func(i int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(f(i))
		b.WriteByte(' ')
	}
	return b.String()
}

func TestLimits_RefusedBeforeValidation(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	nest := func(depth int) string {
		return "{ __type(name: \"User\") " + strings.Repeat("{ ofType ", depth) + "{ name }" + strings.Repeat(" }", depth) + " }"
	}
	bomb := "query { ...F0 } " + repeat(40, func(i int) string {
		return fmt.Sprintf("fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}) + "fragment F40 on Query { me { id } }"

	for _, tc := range []struct {
		name, query, want string
		status            int
	}{
		// 8,000 fields in 56 KB took 8 s of CPU in validation before the token limit.
		{"8000Fields", "{ " + repeat(8000, func(int) string { return "me{id}" }) + " }", "QUERY_TOO_COMPLEX", 422},
		{"16000FieldsOverBodyLimit", "{ " + repeat(16000, func(int) string { return "me{id}" }) + " }", "BAD_USER_INPUT", 413},
		{"OneMiB", "{ me { id } } #" + strings.Repeat("x", 1<<20), "BAD_USER_INPUT", 413},
		{"TooManyFields", "{ " + repeat(DefaultLimits.MaxFields, func(int) string { return "me{id}" }) + " }", "QUERY_TOO_COMPLEX", 422},
		{"FragmentBomb", bomb, "QUERY_TOO_COMPLEX", 422},
		{"TooDeep", nest(DefaultLimits.MaxDepth), "QUERY_TOO_COMPLEX", 422},
		{"TooManyAliases", "{ " + repeat(DefaultLimits.MaxAliases+1, func(i int) string { return fmt.Sprintf("a%d: me{id}", i) }) + " }", "QUERY_TOO_COMPLEX", 422},
		{"TooManyDirectives", "{ me " + repeat(DefaultLimits.MaxDirectives+1, func(int) string { return "@skip(if: false)" }) + " { id } }", "QUERY_TOO_COMPLEX", 422},
		{"TwoLogins", `mutation { a: login(input: {code: "a"}) { token } b: login(input: {code: "b"}) { token } }`, "QUERY_TOO_COMPLEX", 422},
		{"TwoLoginsInFragments", `mutation { ...A ...B } fragment A on Mutation { a: login(input: {code: "a"}) { token } } fragment B on Mutation { b: login(input: {code: "b"}) { token } }`, "QUERY_TOO_COMPLEX", 422},
		{"TwoLoginsInline", `mutation { ... on Mutation { login(input: {code: "a"}) { token } } login(input: {code: "a"}) { token } }`, "QUERY_TOO_COMPLEX", 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			a := postQuery(t, srv, tc.query)
			// A bound, not a speed target: without the limits these took
			// from 8 s to for ever.
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusing took %v", d)
			}
			if a.status != tc.status || a.code() != tc.want {
				t.Fatalf("HTTP %d %.300s, want %d %s", a.status, a.body, tc.status, tc.want)
			}
			if len(a.body) > 1000 {
				t.Fatalf("the refusal is %d bytes", len(a.body))
			}
		})
	}

	// Just under each limit is not refused by the limits (it runs, or fails
	// for want of a token or, __type outside dev mode, as introspection).
	for name, query := range map[string]string{
		"Depth":   nest(DefaultLimits.MaxDepth - 3),
		"Aliases": "{ " + repeat(DefaultLimits.MaxAliases, func(i int) string { return fmt.Sprintf("a%d: me{id}", i) }) + " }",
		"Spreads": "query { ...F0 } " + repeat(6, func(i int) string { return fmt.Sprintf("fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1) }) + "fragment F6 on Query { me { id } }",
	} {
		t.Run("Under"+name, func(t *testing.T) {
			if a := postQuery(t, srv, query); a.code() == "QUERY_TOO_COMPLEX" || a.status == 500 {
				t.Fatalf("HTTP %d %.300s", a.status, a.body)
			}
		})
	}
}

func TestTransport_Refusals(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	noLeak := func(t *testing.T, a *answer) {
		t.Helper()
		for _, bad := range []string{"graphql.RawParams", "json:", "127.0.0.1", "<<<<", "Go value", "struct"} {
			if strings.Contains(a.body, bad) {
				t.Fatalf("the answer shows %q: %s", bad, a.body)
			}
		}
		if len(a.body) > 1000 {
			t.Fatalf("the answer is %d bytes", len(a.body))
		}
	}

	for _, tc := range []struct {
		name, contentType, body string
		status                  int
	}{
		{"MalformedJSON", "application/json", `{"query": <<<<` + strings.Repeat("<", 60<<10), 400},
		{"MalformedHugeJSON", "application/json", `{"query": <<<<` + strings.Repeat("<", 1<<20), 413},
		{"ArrayBody", "application/json", `[{"query":"{ me { id } }"}]`, 422},
		{"NullBody", "application/json", `null`, 422},
		{"NumberBody", "application/json", `1`, 422},
		{"NoQuery", "application/json", `{}`, 422},
		{"QueryNotString", "application/json", `{"query": 1}`, 422},
		{"VariablesNotObject", "application/json", `{"query":"{ me { id } }","variables":[1]}`, 422},
		{"ExtensionsNotObject", "application/json", `{"query":"{ me { id } }","extensions":"x"}`, 422},
		{"OperationNameNotString", "application/json", `{"query":"{ me { id } }","operationName":1}`, 422},
		{"TrailingGarbage", "application/json", `{"query":"{ me { id } }"} x`, 400},
		{"WrongContentType", "text/plain", `{"query":"{ me { id } }"}`, 415},
		{"NoContentType", "", `{"query":"{ me { id } }"}`, 415},
		{"WrongCharset", "application/json; charset=latin1", `{"query":"{ me { id } }"}`, 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, srv, tc.contentType, tc.body)
			if a.status != tc.status || a.code() != "BAD_USER_INPUT" {
				t.Fatalf("HTTP %d %.300s, want %d BAD_USER_INPUT", a.status, a.body, tc.status)
			}
			noLeak(t, a)
		})
	}

	t.Run("WrongMethod", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader(`{"query":"{ me { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		a := send(t, req)
		if a.status != 405 || a.code() != "BAD_USER_INPUT" || !strings.Contains(a.header.Get("Allow"), "POST") {
			t.Fatalf("HTTP %d %v %s", a.status, a.header, a.body)
		}
	})
	t.Run("GETMutationIs405", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"?query="+url.QueryEscape(`mutation { logout }`), nil)
		a := send(t, req)
		if a.status != 405 || a.header.Get("Allow") != "POST" || a.code() != "BAD_USER_INPUT" {
			t.Fatalf("HTTP %d %v %s", a.status, a.header, a.body)
		}
	})
	t.Run("GETBadVariables", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"?query="+url.QueryEscape(`{ me { id } }`)+"&variables=%5B", nil)
		if a := send(t, req); a.status != 422 || a.code() != "BAD_USER_INPUT" {
			t.Fatalf("HTTP %d %s", a.status, a.body)
		}
	})
	t.Run("TwoAuthorizationHeaders", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"query":"{ me { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Add("Authorization", "Bearer a")
		req.Header.Add("Authorization", "Bearer b")
		if a := send(t, req); a.status != 400 || a.code() != "BAD_USER_INPUT" {
			t.Fatalf("HTTP %d %s", a.status, a.body)
		}
	})
	t.Run("ErrorsCapped", func(t *testing.T) {
		a := postQuery(t, srv, "{ "+repeat(40, func(i int) string { return fmt.Sprintf("nope%d", i) })+" }")
		if len(a.Errors) != DefaultLimits.MaxErrors || !strings.Contains(a.Errors[len(a.Errors)-1].Message, "more errors") {
			t.Fatalf("%d errors: %.500s", len(a.Errors), a.body)
		}
	})
	t.Run("NoStore", func(t *testing.T) {
		a := postQuery(t, srv, "{ me { id } }")
		if a.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
			t.Fatalf("headers %v", a.header)
		}
	})
	t.Run("GraphQLResponseMedia", func(t *testing.T) {
		b, _ := json.Marshal(map[string]any{"query": "{ nope }"})
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/graphql-response+json")
		a := send(t, req)
		if a.status != 422 || !strings.HasPrefix(a.header.Get("Content-Type"), "application/graphql-response+json") {
			t.Fatalf("HTTP %d %v", a.status, a.header)
		}
	})
}

func TestTransport_SuggestionsOnlyInDevMode(t *testing.T) {
	t.Parallel()
	for dev, want := range map[bool]bool{false: false, true: true} {
		a := postQuery(t, newTestHandler(t, dev), "{ mee { id } }")
		if got := strings.Contains(a.body, "Did you mean"); got != want || a.code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Fatalf("dev=%v: %s", dev, a.body)
		}
	}
}

// TestLimits_EveryOperationMeasured: a document that passed once is in the
// query cache and skips the check, whatever operation a later request
// names; so every operation of it is measured the first time.
func TestLimits_EveryOperationMeasured(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	bomb := "fragment F0 on User { id } " + repeat(30, func(i int) string {
		return fmt.Sprintf("fragment F%d on User { ...F%d ...F%d }", i+1, i, i)
	})
	for name, doc := range map[string]string{
		"ThreeLogins": `mutation A { x: login(input: {code: "a"}) { token } }
			mutation B { x: login(input: {code: "a"}) { token } y: login(input: {code: "b"}) { token } z: login(input: {code: "c"}) { token } }`,
		"FragmentBomb": "query A { __typename } query B { me { ...F30 } } " + bomb,
	} {
		t.Run(name, func(t *testing.T) {
			for _, op := range []string{"A", "B"} {
				b, _ := json.Marshal(map[string]any{"query": doc, "operationName": op})
				start := time.Now()
				a := post(t, srv, "application/json", string(b))
				if a.code() != "QUERY_TOO_COMPLEX" || time.Since(start) > 2*time.Second {
					t.Fatalf("operation %s: HTTP %d %.300s after %v", op, a.status, a.body, time.Since(start))
				}
			}
		})
	}
}

func TestLimits_LoginStandsAlone(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	for _, q := range []string{
		`mutation { login(input: {code: "a"}) { token } logout }`,
		`mutation { ...L logout } fragment L on Mutation { login(input: {code: "a"}) { token } }`,
	} {
		if a := postQuery(t, srv, q); a.code() != "QUERY_TOO_COMPLEX" {
			t.Fatalf("%s: %s", q, a.body)
		}
	}
	// __typename beside it is harmless and allowed.
	if a := postQuery(t, srv, `mutation { __typename login(input: {code: "a"}) { token } }`); a.code() == "QUERY_TOO_COMPLEX" {
		t.Fatal(a.body)
	}
}

func TestLimits_IntrospectionOnlyInDevMode(t *testing.T) {
	t.Parallel()
	q := `{ __schema { queryType { name } } a: __type(name: "User") { name } }`
	if a := postQuery(t, newTestHandler(t, false), q); a.code() != "GRAPHQL_VALIDATION_FAILED" || len(a.Errors) != 1 {
		t.Fatalf("production: %s", a.body)
	}
	if a := postQuery(t, newTestHandler(t, true), q); len(a.Errors) > 0 {
		t.Fatalf("dev mode: %s", a.body)
	}
}

func TestLimits_AnswersDoNotRepeatTheRequest(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	long := strings.Repeat("A", 60<<10)
	// A long name in the document is refused before it is parsed.
	if a := postQuery(t, srv, "{ "+long+" }"); a.code() != "QUERY_TOO_COMPLEX" || len(a.body) > 1000 {
		t.Fatalf("a 60 KB field name: %.300s", a.body)
	}
	// A long key in the variables comes back in the error's path, cut short.
	b, _ := json.Marshal(map[string]any{"query": `mutation($in: LoginInput!) { login(input: $in) { token } }`,
		"variables": map[string]any{"in": map[string]any{"code": "x", long: 1}}})
	if a := post(t, srv, "application/json", string(b)); a.code() != "GRAPHQL_VALIDATION_FAILED" || len(a.body) > 1000 {
		t.Fatalf("a 60 KB variables key: %d bytes %.300s", len(a.body), a.body)
	}
	for name, q := range map[string]string{
		"LongField": "{ " + long + " }",
		"LongVariable": "query { ...F } fragment F on Query { me { id } } " + repeat(20, func(i int) string { return fmt.Sprintf("query Q%d { ...G%d }", i, i) }) + repeat(20, func(i int) string {
			return fmt.Sprintf("fragment G%d on Query { __type(name: $%s) { name } }", i, long[:120])
		}),
		"ParseError": "{ me { id } } } " + strings.Repeat("B", 100),
	} {
		t.Run(name, func(t *testing.T) {
			a := postQuery(t, srv, q)
			if len(a.body) > 8000 || a.code() == "" {
				t.Fatalf("%d bytes: %.300s", len(a.body), a.body)
			}
		})
	}
}

func TestTransport_WriteShortensMessages(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	long := strings.Repeat("é", 10000)
	httpTransport{limits: DefaultLimits}.write(w, 200, mediaJSON, &graphql.Response{Errors: gqlerror.List{{Message: `"` + long + `" is not a valid Gender`}}})
	if w.Body.Len() > 1000 || !json.Valid(w.Body.Bytes()) {
		t.Fatalf("%d bytes", w.Body.Len())
	}
}
