package gqlhttp

// One test per rule of the GraphQL-over-HTTP draft
// (https://graphql.github.io/graphql-over-http/draft/), named by its
// section; the ids in comments are graphql-http's server audits
// (src/audits/server.ts) that exercise the same rule.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const (
	gqlResponse = "application/graphql-response+json"
	jsonMedia   = "application/json"
)

// specReq is one request to the endpoint.
type specReq struct {
	method, query, body string
	header              map[string]string
}

func (q specReq) send(t *testing.T, srv *httptest.Server) *answer {
	t.Helper()
	method := q.method
	if method == "" {
		method = http.MethodPost
	}
	var req *http.Request
	if q.body != "" || method == http.MethodPost {
		req, _ = http.NewRequest(method, srv.URL+q.query, strings.NewReader(q.body))
	} else {
		req, _ = http.NewRequest(method, srv.URL+q.query, nil)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", jsonMedia)
	}
	for k, v := range q.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return send(t, req)
}

// jsonPost is a POST of body with Content-Type: application/json and accept.
func jsonPost(body, accept string) specReq {
	return specReq{body: body, header: map[string]string{"Accept": accept}}
}

// getQuery is a GET with the given URL parameters.
func getQuery(accept string, kv ...string) specReq {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return specReq{method: http.MethodGet, query: "?" + v.Encode(), header: map[string]string{"Accept": accept}}
}

func mediaOf(a *answer) string {
	mt, _, _ := strings.Cut(a.header.Get("Content-Type"), ";")
	return strings.TrimSpace(mt)
}

// hasData reports whether the body has a data entry, null included.
func hasData(t *testing.T, a *answer) bool {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatalf("not a JSON object: %.300s", a.body)
	}
	_, ok := m["data"]
	return ok
}

// okNoErrors fails unless a is a 200 without errors, in media.
func okNoErrors(t *testing.T, a *answer, media string) {
	t.Helper()
	if a.status != 200 || len(a.Errors) > 0 || mediaOf(a) != media || !hasData(t, a) {
		t.Fatalf("HTTP %d %s %.300s, want 200 %s with data and no errors", a.status, mediaOf(a), a.body, media)
	}
}

// wantRequestError fails unless a is a request error: status, code, no data
// entry, and application/graphql-response+json (the draft's rule for any
// non-2xx, legacy clients included).
func wantRequestError(t *testing.T, a *answer, status int, code string) {
	t.Helper()
	if a.status != status || a.code() != code || hasData(t, a) || mediaOf(a) != gqlResponse {
		t.Fatalf("HTTP %d %s %.300s, want %d %s %s without data", a.status, mediaOf(a), a.body, status, gqlResponse, code)
	}
}

// Body: "the server MUST respect the given Accept header and attempt to
// encode the response in the highest priority media type listed that is
// supported", "SHOULD respond with 406 Not Acceptable" when none is.
// Audits 22EB, 4655, 47DE, 80D8.
func TestHTTPSpec_Body_AcceptNegotiation(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	for _, tc := range []struct {
		accept []string
		want   string // "" for 406
	}{
		{nil, jsonMedia},                                                  // no Accept: a legacy client (80D8)
		{[]string{jsonMedia}, jsonMedia},                                  // 4655
		{[]string{gqlResponse}, gqlResponse},                              // 22EB
		{[]string{"*/*"}, jsonMedia},                                      // 47DE
		{[]string{"application/*"}, jsonMedia},                            // wildcards only: the legacy type
		{[]string{gqlResponse + ", application/json;q=0.9"}, gqlResponse}, // the draft's recommended header
		{[]string{"application/json, " + gqlResponse}, gqlResponse},       // a tie: the one named, ours preferred
		{[]string{gqlResponse + ";q=0.5, application/json"}, jsonMedia},
		{[]string{"application/json;q=0, */*"}, gqlResponse},
		{[]string{"text/html, */*;q=0.1"}, jsonMedia},
		{[]string{"application/json; charset=UTF-8"}, jsonMedia},
		{[]string{gqlResponse + ";charset=utf-8;q=1.0"}, gqlResponse},
		{[]string{"text/html", "application/json"}, jsonMedia}, // two Accept headers are one list
		{[]string{"text/html"}, ""},
		{[]string{"application/xml, text/*"}, ""},
		{[]string{"application/json; charset=iso-8859-1"}, ""}, // we answer in utf-8 only
		{[]string{gqlResponse + ";q=0, application/json;q=0, */*;q=0"}, ""},
		{[]string{"garbage"}, ""},
	} {
		name := strings.Join(tc.accept, " | ")
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"query":"{ __typename }"}`))
			req.Header.Set("Content-Type", jsonMedia)
			for _, v := range tc.accept {
				req.Header.Add("Accept", v)
			}
			a := send(t, req)
			if !strings.Contains(a.header.Get("Vary"), "Accept") {
				t.Fatalf("Vary: %q", a.header.Get("Vary"))
			}
			if tc.want == "" {
				if a.status != http.StatusNotAcceptable || a.code() != "BAD_USER_INPUT" || mediaOf(a) != jsonMedia {
					t.Fatalf("HTTP %d %s %.300s, want 406", a.status, mediaOf(a), a.body)
				}
				return
			}
			okNoErrors(t, a, tc.want)
		})
	}
}

// Body: "A server MUST indicate the media type of the response with a
// Content-Type header, and SHOULD indicate the encoding"; Media Types:
// utf-8. Audit 82A3.
func TestHTTPSpec_Body_ContentTypeCharset(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	for name, q := range map[string]specReq{
		"200":       jsonPost(`{"query":"{ __typename }"}`, ""),
		"294":       jsonPost(`{"query":"{ me { id } }"}`, gqlResponse),
		"400":       jsonPost(`{`, gqlResponse),
		"405":       {method: http.MethodPut, body: "x"},
		"406":       jsonPost(`{"query":"{ __typename }"}`, "text/html"),
		"415":       {body: "x", header: map[string]string{"Content-Type": "text/plain"}},
		"422":       jsonPost(`{"query":"{ nope }"}`, jsonMedia),
		"GET200":    getQuery("", "query", "{ __typename }"),
		"GETLegacy": getQuery(jsonMedia, "query", "{ __typename }"),
	} {
		t.Run(name, func(t *testing.T) {
			a := q.send(t, srv)
			if ct := a.header.Get("Content-Type"); !strings.HasSuffix(ct, "; charset=utf-8") || !json.Valid([]byte(a.body)) {
				t.Fatalf("HTTP %d Content-Type %q %.300s", a.status, ct, a.body)
			}
		})
	}
}

// POST: "A server MUST support POST requests encoded with the
// application/json media type ... encoded with UTF-8", "MUST assume the
// encoding is utf-8" without a charset; any other charset is a media type
// we do not support (415). Audits BF61, 78D5, 2C94, 03D4.
func TestHTTPSpec_POST_UTF8(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	body := `{"query":"{ __typename } # Run🏃Swim🏊"}`
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8", `application/json; charset="utf-8"`} {
		okNoErrors(t, specReq{body: body, header: map[string]string{"Content-Type": ct}}.send(t, srv), jsonMedia)
	}
	for _, ct := range []string{"application/json; charset=iso-8859-1", "application/json; charset=utf-16"} {
		wantRequestError(t, specReq{body: body, header: map[string]string{"Content-Type": ct}}.send(t, srv), 415, "BAD_USER_INPUT")
	}
	// Bytes that are not UTF-8 are a body that cannot be read: 400.
	wantRequestError(t, jsonPost("{\"query\":\"{ __typename } # \xff\xfe\"}", gqlResponse).send(t, srv), 400, "BAD_USER_INPUT")
}

// POST: "If the client does not supply a Content-Type header with a POST
// request, the server SHOULD reject the request using the appropriate 4xx
// status code"; Status Codes: "If the Content-Type of the request is not
// supported, status code 415 SHOULD be used". Audit 9ABE.
func TestHTTPSpec_POST_ContentType415(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	for _, ct := range []string{"", "text/plain;charset=UTF-8", "application/graphql", "application/x-www-form-urlencoded", gqlResponse, "application/json, application/json", "application/json;;"} {
		t.Run(ct, func(t *testing.T) {
			a := specReq{body: `{"query":"{ __typename }"}`, header: map[string]string{"Content-Type": ct, "Accept": gqlResponse}}.send(t, srv)
			wantRequestError(t, a, 415, "BAD_USER_INPUT")
		})
	}
}

// Status Codes: "If the JSON body of the request could not be parsed,
// status code 400 SHOULD be used", whichever media type is accepted.
// Audits BCF8, B7N8, B6DC, A5BF.
func TestHTTPSpec_StatusCodes_JSONParseFailure400(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	for _, accept := range []string{"", jsonMedia, gqlResponse} {
		for _, body := range []string{"", "NONSENSE", `{"query":`, `{ "not a JSON`, `{"query":"{ __typename }"} {}`, `{"query":"{ __typename }",}`} {
			t.Run(accept+" "+body, func(t *testing.T) {
				a := specReq{body: body, header: map[string]string{"Accept": accept}}.send(t, srv)
				wantRequestError(t, a, 400, "BAD_USER_INPUT")
			})
		}
	}
}

// Request Parameters and JSON Encoding: query a string, operationName a
// string, variables and extensions objects; Status Codes: "If the request
// is not a well-formed GraphQL-over-HTTP request, status code 422 SHOULD be
// used". Audits 423L, LKJ0-3, 6C00-3, 4760-3, 58B0-3, 3E3A, 8764 (which
// ask 400, a MAY of the older draft).
func TestHTTPSpec_RequestParameters_NotWellFormed422(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	bodies := []string{
		`{}`, `{"qeury":"{ __typename }"}`, `{"query":null}`,
		`{"query":{"obj":"ect"}}`, `{"query":0}`, `{"query":false}`, `{"query":["array"]}`,
		`{"query":"{ __typename }","operationName":{"obj":"ect"}}`, `{"query":"{ __typename }","operationName":0}`,
		`{"query":"{ __typename }","operationName":false}`, `{"query":"{ __typename }","operationName":["array"]}`,
		`{"query":"{ __typename }","variables":"string"}`, `{"query":"{ __typename }","variables":0}`,
		`{"query":"{ __typename }","variables":false}`, `{"query":"{ __typename }","variables":["array"]}`,
		`{"query":"{ __typename }","extensions":"string"}`, `{"query":"{ __typename }","extensions":0}`,
		`{"query":"{ __typename }","extensions":false}`, `{"query":"{ __typename }","extensions":["array"]}`,
		`null`, `1`, `"{ __typename }"`,
	}
	for _, accept := range []string{jsonMedia, gqlResponse} {
		for _, body := range bodies {
			t.Run(accept+" "+body, func(t *testing.T) {
				wantRequestError(t, jsonPost(body, accept).send(t, srv), 422, "BAD_USER_INPUT")
			})
		}
	}
}

// Batching is no part of the draft: an array is not a well-formed request,
// and the answer says why.
func TestHTTPSpec_JSONEncoding_BatchRefused(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	a := jsonPost(`[{"query":"{ __typename }"},{"query":"{ __typename }"}]`, gqlResponse).send(t, srv)
	wantRequestError(t, a, 422, "BAD_USER_INPUT")
	if !strings.Contains(a.Errors[0].Message, "batched") {
		t.Fatal(a.body)
	}
}

// JSON Encoding: "Specifying null for optional request parameters is
// equivalent to not specifying them at all"; "Servers receiving a request
// with additional properties MUST ignore properties they do not
// understand". Audits 94B0-2, 0220-2, 34A2, 13EE, 8161, B8B3, 2EA1, 28B9,
// 428F, 1B7A.
func TestHTTPSpec_JSONEncoding_Parameters(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, true) // __type is introspection: dev mode only
	for _, accept := range []string{jsonMedia, gqlResponse} {
		for _, body := range []string{
			`{"query":"{ __typename }"}`,
			`{"query":"{ __typename }","variables":null}`,
			`{"query":"{ __typename }","operationName":null}`,
			`{"query":"{ __typename }","extensions":null}`,
			`{"query":"{ __typename }","operationName":""}`,
			`{"query":"query Query { __typename }","operationName":"Query"}`,
			`{"query":"query A { __typename } query B { __typename }","operationName":"B"}`,
			`{"query":"query Type($name: String!) { __type(name: $name) { name } }","variables":{"name":"sometype"}}`,
			`{"query":"{ __typename }","extensions":{"some":"value"}}`,
			`{"query":"{ __typename }","unknown":[1,{"x":null}],"id":"abc"}`,
		} {
			t.Run(accept+" "+body, func(t *testing.T) {
				okNoErrors(t, jsonPost(body, accept).send(t, srv), accept)
			})
		}
	}
}

// Status Codes: "If the GraphQL document in the request cannot be parsed,
// status code 400 SHOULD be used"; a request error has no data entry.
// Audits 865D, 556A, D586, and 572B (which asks 200 for application/json,
// the older draft).
func TestHTTPSpec_StatusCodes_DocumentParseFailure400(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	for _, accept := range []string{"", jsonMedia, gqlResponse} {
		for _, query := range []string{"{", "", "   ", "{ 8f31403dfe404bccbb0e835f2629c6a7 }", "query { me { id } } }"} {
			b, _ := json.Marshal(map[string]any{"query": query})
			t.Run(accept+" "+query, func(t *testing.T) {
				wantRequestError(t, jsonPost(string(b), accept).send(t, srv), 400, "GRAPHQL_PARSE_FAILED")
			})
		}
		t.Run(accept+" GET", func(t *testing.T) {
			wantRequestError(t, getQuery(accept, "query", "{").send(t, srv), 400, "GRAPHQL_PARSE_FAILED")
		})
	}
}

// Status Codes: "If the request does not pass GraphQL validation", "If the
// operation to execute cannot be unambiguously determined", "If the
// variable values cannot be coerced", status code 422 SHOULD be used; our
// limits are additional validation rules ("The server MAY ... apply
// additional validation rules"). Audits 51FE, 5E5B, 86EE and 74FF, FDE2,
// 7B9B (which ask 400, or 200 for application/json: the older draft).
func TestHTTPSpec_StatusCodes_RequestErrors422(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	for _, accept := range []string{"", jsonMedia, gqlResponse} {
		for _, tc := range []struct{ name, body, code string }{
			{"Validation", `{"query":"{ nope }"}`, "GRAPHQL_VALIDATION_FAILED"},
			{"Subscription", `{"query":"subscription { x }"}`, "GRAPHQL_VALIDATION_FAILED"},
			{"Introspection", `{"query":"{ __schema { queryType { name } } }"}`, "GRAPHQL_VALIDATION_FAILED"},
			{"AmbiguousOperation", `{"query":"query A { __typename } query B { __typename }"}`, "GRAPHQL_VALIDATION_FAILED"},
			{"UnknownOperation", `{"query":"query A { __typename }","operationName":"B"}`, "GRAPHQL_VALIDATION_FAILED"},
			{"VariableCoercion", `{"query":"query CoerceFailure($id: ID!){ __typename }","variables":{"id":null}}`, "GRAPHQL_VALIDATION_FAILED"},
			{"VariableMissing", `{"query":"query Q($id: ID!){ __typename }"}`, "GRAPHQL_VALIDATION_FAILED"},
			{"OverALimit", `{"query":"{ ` + strings.Repeat("a: __typename ", 0) + strings.Repeat("me { id } ", 301) + `}"}`, "QUERY_TOO_COMPLEX"},
		} {
			t.Run(accept+" "+tc.name, func(t *testing.T) {
				wantRequestError(t, jsonPost(tc.body, accept).send(t, srv), 422, tc.code)
			})
		}
	}
}

// Status Codes: "If the GraphQL response contains the data entry and does
// not contain the errors entry, then the server SHOULD reply with a 200";
// with both (data even null) "SHOULD reply with a 294"; "If the GraphQL
// response contains the data entry and it is not null, then the server
// MUST reply with a 2xx". Body: a legacy application/json client gets
// application/json for every 2xx; we give it 200 (see docs/api.md).
func TestHTTPSpec_StatusCodes_Execution(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	okNoErrors(t, jsonPost(`{"query":"{ __typename }"}`, gqlResponse).send(t, srv), gqlResponse)

	// me without a token: a field error, data null.
	a := jsonPost(`{"query":"{ me { id } }"}`, gqlResponse).send(t, srv)
	if a.status != 294 || mediaOf(a) != gqlResponse || !hasData(t, a) || a.code() != "UNAUTHENTICATED" {
		t.Fatalf("HTTP %d %s %.300s, want 294 with data and errors", a.status, mediaOf(a), a.body)
	}
	for _, accept := range []string{"", jsonMedia, "*/*"} {
		a := jsonPost(`{"query":"{ me { id } }"}`, accept).send(t, srv)
		if a.status != 200 || mediaOf(a) != jsonMedia || !hasData(t, a) || a.code() != "UNAUTHENTICATED" {
			t.Fatalf("Accept %q: HTTP %d %s %.300s, want 200 application/json", accept, a.status, mediaOf(a), a.body)
		}
	}
}

// Body: a legacy client's request "SHOULD be performed ... as if the
// request had specified Accept: application/graphql-response+json, except
// any response that produces a 2xx status code should replace the
// Content-Type header with Content-Type: application/json".
func TestHTTPSpec_Body_LegacyClient(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	for _, accept := range []string{"", jsonMedia} {
		okNoErrors(t, jsonPost(`{"query":"{ __typename }"}`, accept).send(t, srv), jsonMedia)
		wantRequestError(t, jsonPost(`{"query":"{ nope }"}`, accept).send(t, srv), 422, "GRAPHQL_VALIDATION_FAILED")
		wantRequestError(t, jsonPost(`{"query":"{"}`, accept).send(t, srv), 400, "GRAPHQL_PARSE_FAILED")
	}
}

// GET: parameters in the URL's query string; "Each of the variables and
// extensions parameters, if present and not the empty string, MUST be
// encoded as a JSON string"; "Specifying the empty string for optional
// request parameters is equivalent to not specifying them at all";
// operationName=null names an operation "null". Audits 5A70, D6D5, 6A70.
func TestHTTPSpec_GET_Parameters(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, true)
	for _, accept := range []string{"", jsonMedia, gqlResponse} {
		want := accept
		if want == "" {
			want = jsonMedia
		}
		for name, q := range map[string]specReq{
			"Query":          getQuery(accept, "query", "{ __typename }"),
			"Variables":      getQuery(accept, "query", "query Type($name: String!) { __type(name: $name) { name } }", "variables", `{"name":"sometype"}`),
			"Extensions":     getQuery(accept, "query", "{ __typename }", "extensions", `{"some":"value"}`),
			"EmptyOptionals": getQuery(accept, "query", "{ __typename }", "operationName", "", "variables", "", "extensions", ""),
			"OperationName":  getQuery(accept, "query", "query A { __typename } query B { __typename }", "operationName", "B"),
			"OperationNull":  getQuery(accept, "query", "query null { __typename }", "operationName", "null"),
		} {
			t.Run(accept+" "+name, func(t *testing.T) { okNoErrors(t, q.send(t, srv), want) })
		}
		for name, q := range map[string]specReq{
			"NoQuery":             getQuery(accept),
			"QueryTwice":          getQuery(accept, "query", "{ __typename }", "query", "{ __typename }"),
			"VariablesNotJSON":    getQuery(accept, "query", "{ __typename }", "variables", "{"),
			"VariablesNotObject":  getQuery(accept, "query", "{ __typename }", "variables", "[1]"),
			"ExtensionsNotObject": getQuery(accept, "query", "{ __typename }", "extensions", `"x"`),
		} {
			t.Run(accept+" "+name, func(t *testing.T) { wantRequestError(t, q.send(t, srv), 422, "BAD_USER_INPUT") })
		}
	}
	// HEAD is GET without the body.
	a := specReq{method: http.MethodHead, query: "?query=%7B__typename%7D"}.send(t, srv)
	if a.status != 200 || a.body != "" || mediaOf(a) != jsonMedia {
		t.Fatalf("HEAD: HTTP %d %s %q", a.status, mediaOf(a), a.body)
	}
}

// GET: "GET requests MUST NOT be used for executing mutation operations
// ... the server MUST respond with an appropriate 4xx status code and halt
// execution; status code 405 (Method Not Allowed) is RECOMMENDED", with
// the Allow header RFC 9110 requires. Audit 9C48.
func TestHTTPSpec_GET_MutationRefused405(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	doc := "query Q { __typename } mutation M { logout }"
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		for _, accept := range []string{"", jsonMedia, gqlResponse} {
			for name, q := range map[string]specReq{
				"Anonymous": getQuery(accept, "query", "mutation { logout }"),
				"Named":     getQuery(accept, "query", doc, "operationName", "M"),
				"Typename":  getQuery(accept, "query", "mutation { __typename }"),
			} {
				t.Run(method+" "+accept+" "+name, func(t *testing.T) {
					q.method = method
					a := q.send(t, srv)
					if a.status != 405 || a.header.Get("Allow") != "POST" {
						t.Fatalf("HTTP %d Allow %q %.300s", a.status, a.header.Get("Allow"), a.body)
					}
					if method == http.MethodGet {
						wantRequestError(t, a, 405, "BAD_USER_INPUT")
					}
				})
			}
		}
	}
	// The query of the same document runs.
	okNoErrors(t, getQuery("", "query", doc, "operationName", "Q").send(t, srv), jsonMedia)
}

// Request: "A server MUST accept POST requests, and MAY accept other HTTP
// methods"; Status Codes: "If the request uses an unsupported HTTP method,
// status code 405 SHOULD be used", with Allow.
func TestHTTPSpec_Request_Methods(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete, "TRACE", "QUERY"} {
		t.Run(m, func(t *testing.T) {
			a := specReq{method: m, body: `{"query":"{ __typename }"}`, header: map[string]string{"Content-Type": jsonMedia}}.send(t, srv)
			wantRequestError(t, a, 405, "BAD_USER_INPUT")
			if allow := a.header.Get("Allow"); allow != "GET, HEAD, POST, OPTIONS" {
				t.Fatalf("Allow %q", allow)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodOptions, srv.URL, nil)
	if a := send(t, req); a.status != 204 || a.header.Get("Allow") != "GET, HEAD, POST, OPTIONS" {
		t.Fatalf("OPTIONS: HTTP %d %v", a.status, a.header)
	}
}

// Status Codes: "If the size of the POST request body was too large,
// status code 413 SHOULD be used".
func TestHTTPSpec_StatusCodes_BodyTooLarge413(t *testing.T) {
	t.Parallel()
	srv := newTestHandler(t, false)
	body := `{"query":"{ __typename }","variables":{"x":"` + strings.Repeat("a", 64<<10) + `"}}`
	for _, accept := range []string{jsonMedia, gqlResponse} {
		wantRequestError(t, jsonPost(body, accept).send(t, srv), 413, "BAD_USER_INPUT")
	}
}
