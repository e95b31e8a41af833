package gqlhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"wxlogin/models"
)

// Media types of GraphQL over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// httpTransport is GraphQL over HTTP (GET and HEAD for queries, POST for
// everything) in place of gqlgen's stock transports, which echo a malformed
// body in their error, name Go types, answer 406 to a mutation over GET and
// accept bodies of any size. It follows the GraphQL-over-HTTP draft
// (https://graphql.github.io/graphql-over-http/draft/); docs/api.md's "GraphQL
// over HTTP" lists each rule and the tests in httpspec_test.go check them.
// Every refusal here carries an extensions.code and never quotes the request.
type httpTransport struct {
	limits Limits
	schema *ast.Schema
	// introspection allows __schema and __type (dev mode).
	introspection bool
	// known reports whether gqlgen has already validated query (its query
	// cache), so the limits need not be measured again.
	known func(r *http.Request, query string) bool
	// fast answers `me` queries it has seen before from the session cache;
	// nil when off.
	fast *fastMe
}

var _ graphql.Transport = httpTransport{}

// Supports claims every request on the endpoint, so that a wrong method or
// content type is answered here, with a code, rather than by gqlgen.
func (httpTransport) Supports(*http.Request) bool { return true }

// allowed is the Allow header of a 405 for a method we do not serve.
const allowed = "GET, HEAD, POST, OPTIONS"

// Do reads the request, checks its limits, runs it and writes the answer.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	w = &observedWriter{ResponseWriter: w, ctx: r.Context()}
	h := w.Header()
	// Direct assignment of fresh one-element slices: Header.Set's
	// canonicalisation check is wasted on constant canonical keys.
	h["Cache-Control"] = []string{"no-store"} // answers carry tokens
	h["Vary"] = []string{"Accept, Authorization"}

	if r.Method == http.MethodOptions {
		h.Set("Allow", allowed)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	media, acceptable := negotiate(r.Header.Values("Accept"))
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost:
		h.Set("Allow", allowed)
		t.refuse(w, media, &requestError{http.StatusMethodNotAllowed, "use GET for queries or POST"})
		return
	case !acceptable:
		t.refuse(w, media, &requestError{http.StatusNotAcceptable,
			"accept application/graphql-response+json or application/json (utf-8)"})
		return
	}
	var params *graphql.RawParams
	var body []byte // a JSON POST's, which fast keys on
	var planned bool
	var reqErr *requestError
	if r.Method == http.MethodPost {
		params, body, reqErr = t.readPOST(w, r)
		if reqErr == nil && params == nil {
			if p := t.fast.lookup(r, body); p != nil {
				if t.fast.serve(w, r, media, p) {
					return
				}
				planned = true
			}
			params, reqErr = decodeParams(body)
		}
	} else {
		if p := t.fast.lookup(r, nil); p != nil {
			if t.fast.serve(w, r, media, p) {
				return
			}
			planned = true
		}
		params, reqErr = t.readGET(r)
	}
	if reqErr != nil {
		t.refuse(w, media, reqErr)
		return
	}
	params.Headers = r.Header
	ctx := r.Context()
	if ctx.Err() != nil {
		return // the client has gone: do not parse for nobody
	}
	// An automatic persisted query names a document by its hash alone; the
	// extension (NewHandler) looks it up. Only documents that passed the
	// limits below were ever registered (invalid ones too: gqlgen registers a
	// document before validating it, and validation refuses it again each run).
	persisted := params.Query == "" && params.Extensions["persistedQuery"] != nil
	if strings.TrimSpace(params.Query) == "" && !persisted {
		// A document holds at least one definition; gqlparser takes "" for
		// an empty document, gqlgen then for a validation error.
		t.writeRequestErrors(w, media, gqlerror.List{{Message: "the query is an empty document",
			Extensions: map[string]any{"code": errcode.ParseFailed}}})
		return
	}
	if err := checkVariables(params.Variables); err != nil {
		t.writeRequestErrors(w, media, gqlerror.List{err})
		return
	}
	if !persisted && !t.known(r, params.Query) {
		if err := t.limits.checkQuery(t.schema, params.Query, t.introspection); err != nil {
			t.writeRequestErrors(w, media, gqlerror.List{err})
			return
		}
	}
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		if resp != nil {
			t.writeRequestErrors(w, media, resp.Errors)
		}
		return
	}
	if r.Method != http.MethodPost && opCtx.Operation.Operation != ast.Query {
		h.Set("Allow", "POST")
		t.refuse(w, media, &requestError{http.StatusMethodNotAllowed, "mutations must be sent with POST"})
		return
	}
	if ctx.Err() != nil {
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if resp == nil {
		return // the request's context ended before a response was made
	}
	if !planned && len(resp.Errors) == 0 {
		t.fast.learn(r, body, params, persisted, opCtx.Operation)
	}
	// The operation ran: the response has a data entry (null when a
	// non-null root field failed). application/graphql-response+json
	// answers 294 (partial success) when it also has errors; a legacy
	// application/json client gets 200, the 2xx it knows.
	status := http.StatusOK
	if media == mediaGraphQLResponse && len(resp.Errors) > 0 {
		status = statusPartialSuccess
	}
	t.write(w, status, media, resp)
}

// statusPartialSuccess is the draft's "294 Partial Success": data and errors.
const statusPartialSuccess = 294

// requestError is a request refused before GraphQL sees it.
type requestError struct {
	status  int
	message string
}

func (e *requestError) gqlError() *gqlerror.Error {
	return &gqlerror.Error{Message: e.message, Extensions: map[string]any{"code": models.CodeBadUserInput}}
}

func badRequest(format string, args ...any) *requestError {
	return &requestError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// malformed is a request that is not a well-formed GraphQL-over-HTTP
// request: a parameter missing or of the wrong type. The draft: "status
// code 422 SHOULD be used".
func malformed(format string, args ...any) *requestError {
	return &requestError{http.StatusUnprocessableEntity, fmt.Sprintf(format, args...)}
}

// refuse answers a request refused before GraphQL saw it.
func (t httpTransport) refuse(w http.ResponseWriter, media string, e *requestError) {
	t.write(w, e.status, media, &graphql.Response{Errors: gqlerror.List{e.gqlError()}})
}

// writeRequestErrors answers a document that did not parse (400), or did
// not validate, named no operation it holds, had variables of the wrong
// types or was over a limit (422). Nothing ran, so there is no data entry.
func (t httpTransport) writeRequestErrors(w http.ResponseWriter, media string, errs gqlerror.List) {
	status := http.StatusUnprocessableEntity
	if len(errs) > 0 && errs[0].Extensions["code"] == errcode.ParseFailed {
		status = http.StatusBadRequest
	}
	t.write(w, status, media, &graphql.Response{Errors: errs})
}

// readGET reads the parameters of a GET (or HEAD) request from its URL's
// query string. The empty string is the same as an absent optional
// parameter; variables and extensions are JSON objects.
func (t httpTransport) readGET(r *http.Request) (*graphql.RawParams, *requestError) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("the URL's query string is malformed")
	}
	for _, name := range []string{"query", "operationName", "variables", "extensions"} {
		if len(q[name]) > 1 {
			return nil, malformed("the %s parameter is given more than once", name)
		}
		if !utf8.ValidString(q.Get(name)) {
			return nil, badRequest("the %s parameter is not UTF-8", name)
		}
	}
	if !q.Has("query") && !strings.Contains(q.Get("extensions"), "persistedQuery") {
		return nil, malformed("the query parameter is required")
	}
	p := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
	if v := q.Get("variables"); v != "" {
		if p.Variables, err = decodeObject([]byte(v)); err != nil {
			return nil, malformed("variables must be a JSON object")
		}
	}
	if v := q.Get("extensions"); v != "" {
		if p.Extensions, err = decodeObject([]byte(v)); err != nil {
			return nil, malformed("extensions must be a JSON object")
		}
	}
	return p, nil
}

// readPOST reads a multipart upload's parameters, or an application/json
// body for decodeParams (params nil then).
func (t httpTransport) readPOST(w http.ResponseWriter, r *http.Request) (*graphql.RawParams, []byte, *requestError) {
	if boundary, ok := isMultipart(r.Header.Get("Content-Type")); ok {
		p, err := t.readMultipart(w, r, boundary)
		return p, nil, err
	}
	if !isJSONUTF8(r.Header.Values("Content-Type")) {
		return nil, nil, &requestError{http.StatusUnsupportedMediaType, "send the request as Content-Type: application/json, in UTF-8 (or multipart/form-data to upload a file)"}
	}
	if r.ContentLength > t.limits.MaxBodyBytes {
		return nil, nil, t.tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.limits.MaxBodyBytes))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, nil, t.tooLarge()
	} else if err != nil {
		return nil, nil, badRequest("the request body could not be read")
	}
	return nil, body, nil
}

// isJSONUTF8 reports a single Content-Type of application/json whose charset,
// if given, is utf-8 (the draft: without one, utf-8 MUST be assumed).
func isJSONUTF8(values []string) bool {
	if len(values) != 1 {
		return false
	}
	if values[0] == mediaJSON || values[0] == mediaJSON+"; charset=utf-8" {
		return true // the common cases, without mime.ParseMediaType's map
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil || mt != mediaJSON {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// decodeParams reads a JSON request body (or a multipart request's
// operations part). A body that is not JSON is 400; JSON that is not a
// GraphQL-over-HTTP request (no string query, variables not an object, …)
// is 422.
func decodeParams(body []byte) (*graphql.RawParams, *requestError) {
	if !utf8.Valid(body) {
		return nil, badRequest("the request body is not UTF-8")
	}
	if !json.Valid(body) {
		// json.Valid accepts exactly one JSON value: trailing data fails too.
		return nil, badRequest("the request body is not valid JSON")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if trimmed[0] == '[' {
		return nil, malformed("batched requests are not supported: send one operation as a JSON object")
	}
	if trimmed[0] != '{' {
		return nil, malformed(`the request body must be a JSON object like {"query": "…", "variables": {…}}`)
	}
	var raw struct {
		Query         json.RawMessage `json:"query"`
		OperationName json.RawMessage `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
		Extensions    json.RawMessage `json:"extensions"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, badRequest("the request body is not valid JSON")
	}
	p := &graphql.RawParams{}
	var err error
	if !isNull(raw.Extensions) {
		if p.Extensions, err = decodeObject(raw.Extensions); err != nil {
			return nil, malformed("extensions must be a JSON object or null")
		}
	}
	// A persisted query may name its document by hash alone, as Apollo's
	// clients do over POST too.
	hashOnly := isNull(raw.Query) && p.Extensions["persistedQuery"] != nil
	if !hashOnly && !isString(raw.Query, &p.Query) {
		return nil, malformed("query is required and must be a string")
	}
	if !isNull(raw.OperationName) && !isString(raw.OperationName, &p.OperationName) {
		return nil, malformed("operationName must be a string or null")
	}
	if !isNull(raw.Variables) {
		if p.Variables, err = decodeObject(raw.Variables); err != nil {
			return nil, malformed("variables must be a JSON object or null")
		}
	}
	return p, nil
}

func (t httpTransport) tooLarge() *requestError {
	return &requestError{http.StatusRequestEntityTooLarge,
		fmt.Sprintf("the request body is larger than %d bytes", t.limits.MaxBodyBytes)}
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

func isString(raw json.RawMessage, out *string) bool {
	return len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, out) == nil
}

// decodeObject decodes a JSON object, keeping numbers as json.Number as
// gqlgen's input coercion expects.
func decodeObject(raw []byte) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("not an object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data")
	}
	return m, nil
}

// negotiate picks the response's media type from the Accept header
// (RFC 9110 §12.5.1): each of ours gets the weight of the most specific
// range that matches it, a range naming a charset other than utf-8 matching
// neither. The heavier wins; on a tie application/graphql-response+json
// wins if it was named, application/json if only wildcards matched (*/*
// gets application/json, as graphql-http's audit asks). No Accept header
// is a legacy client: application/json. ok is false when neither is
// acceptable, which is answered 406.
func negotiate(accept []string) (media string, ok bool) {
	// Fast paths for the headers clients send (pprof: parsing them with
	// mime.ParseMediaType allocated a map per request); each answers what
	// the general case below would.
	if len(accept) == 0 {
		return mediaJSON, true
	}
	if len(accept) == 1 {
		switch accept[0] {
		case mediaJSON, "*/*":
			return mediaJSON, true
		case mediaGraphQLResponse:
			return mediaGraphQLResponse, true
		}
	}
	if strings.TrimSpace(strings.Join(accept, "")) == "" {
		return mediaJSON, true
	}
	ranges := parseAccept(strings.Join(accept, ","))
	qGR, specGR := weigh(ranges, "application", "graphql-response+json")
	qJSON, _ := weigh(ranges, "application", "json")
	switch {
	case qGR == 0 && qJSON == 0:
		return "", false
	case qGR > qJSON, qGR == qJSON && specGR >= specSubtype:
		return mediaGraphQLResponse, true
	}
	return mediaJSON, true
}

// mediaRange is one element of an Accept header.
type mediaRange struct {
	typ, subtype string
	charset      string // lower case; "" when not given
	q            float64
}

// Specificity of a media range, least to most.
const (
	specNone = iota
	specAny
	specType
	specSubtype
	specCharset
)

// parseAccept reads an Accept header, skipping elements it cannot parse.
func parseAccept(header string) []mediaRange {
	var out []mediaRange
	for _, el := range strings.Split(header, ",") {
		if strings.TrimSpace(el) == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(el)
		if err != nil {
			continue
		}
		typ, subtype, ok := strings.Cut(mt, "/")
		if !ok || typ == "" || subtype == "" || (typ == "*" && subtype != "*") {
			continue
		}
		r := mediaRange{typ: typ, subtype: subtype, charset: strings.ToLower(params["charset"]), q: 1}
		if v, ok := params["q"]; ok {
			q, err := strconv.ParseFloat(v, 64)
			if err != nil || q < 0 || q > 1 || len(v) > 5 {
				continue
			}
			r.q = q
		}
		out = append(out, r)
	}
	return out
}

// weigh returns the weight the most specific range matching typ/subtype (in
// utf-8) gives it, and that range's specificity; 0 and specNone if none does.
func weigh(ranges []mediaRange, typ, subtype string) (float64, int) {
	q, best := 0.0, specNone
	for _, r := range ranges {
		var spec int
		switch {
		case r.typ == "*":
			spec = specAny
		case r.typ != typ:
			continue
		case r.subtype == "*":
			spec = specType
		case r.subtype != subtype:
			continue
		case r.charset != "":
			spec = specCharset
		default:
			spec = specSubtype
		}
		if r.charset != "" && r.charset != "utf-8" {
			continue // we answer in utf-8 only
		}
		if spec > best {
			q, best = r.q, spec
		}
	}
	return q, best
}

// maxMessageLen bounds one error message, maxPathNameLen one name in its path.
const (
	maxMessageLen  = 300
	maxPathNameLen = 128
)

// write sends resp with at most MaxErrors errors: a query with thousands
// of faults must not get an answer thousands of times its size. A 2xx
// answer is in the negotiated media type; any other is a GraphQL response
// with errors only, in application/graphql-response+json, which tells a
// client that the body is GraphQL's and not some proxy's whatever the
// status (the draft asks this for legacy application/json clients too).
// media is "" when the client accepts neither of ours.
func (t httpTransport) write(w http.ResponseWriter, status int, media string, resp *graphql.Response) {
	recordWritten(w, resp)
	acceptable := media != ""
	for _, e := range resp.Errors {
		// Messages and paths quote names, keys and values from the request
		// (a variables object may hold a 60 KB key): keep them short.
		if len(e.Message) > maxMessageLen {
			e.Message = strings.ToValidUTF8(e.Message[:maxMessageLen], "") + "…"
		}
		for i, el := range e.Path {
			if name, ok := el.(ast.PathName); ok && len(name) > maxPathNameLen {
				e.Path[i] = ast.PathName(strings.ToValidUTF8(string(name[:maxPathNameLen]), "") + "…")
			}
		}
	}
	if n := len(resp.Errors); t.limits.MaxErrors > 0 && n > t.limits.MaxErrors {
		kept := append(gqlerror.List(nil), resp.Errors[:t.limits.MaxErrors-1]...)
		code, _ := resp.Errors[0].Extensions["code"].(string)
		resp.Errors = append(kept, &gqlerror.Error{
			Message:    fmt.Sprintf("%d more errors not shown", n-len(kept)),
			Extensions: map[string]any{"code": code},
		})
	}
	var b []byte
	var err error
	if status >= 200 && status < 300 {
		b, err = json.Marshal(resp)
	} else {
		// Nothing ran: a request error has no data entry, not even null.
		media = mediaGraphQLResponse
		if !acceptable {
			media = mediaJSON
		}
		b, err = json.Marshal(struct {
			Errors     gqlerror.List  `json:"errors"`
			Extensions map[string]any `json:"extensions,omitempty"`
		}{resp.Errors, resp.Extensions})
	}
	if err != nil {
		// Not a GraphQL response of ours: never the GraphQL media type.
		status, media = http.StatusInternalServerError, mediaJSON
		b = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	w.Header().Set("Content-Type", contentType(media))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// contentType is media's Content-Type, without concatenating per request
// for ours.
func contentType(media string) string {
	switch media {
	case mediaJSON:
		return mediaJSON + "; charset=utf-8"
	case mediaGraphQLResponse:
		return mediaGraphQLResponse + "; charset=utf-8"
	}
	return media + "; charset=utf-8"
}
