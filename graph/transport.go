package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

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

// httpTransport is GraphQL over HTTP (GET for queries, POST for everything)
// in place of gqlgen's stock transports, which echo a malformed body in
// their error, name Go types, answer 406 to a mutation over GET and accept
// bodies of any size. Every refusal here carries an extensions.code and
// never quotes the request.
type httpTransport struct {
	limits Limits
	schema *ast.Schema
	// introspection allows __schema and __type (dev mode).
	introspection bool
	// known reports whether gqlgen has already validated query (its query
	// cache), so the limits need not be measured again.
	known func(r *http.Request, query string) bool
}

var _ graphql.Transport = httpTransport{}

// Supports claims every request on the endpoint, so that a wrong method or
// content type is answered here, with a code, rather than by gqlgen.
func (httpTransport) Supports(*http.Request) bool { return true }

// Do reads the request, checks its limits, runs it and writes the answer.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	h := w.Header()
	h.Set("Cache-Control", "no-store") // answers carry tokens
	h.Set("Vary", "Accept, Authorization")
	media := responseMedia(r)
	h.Set("Content-Type", media+"; charset=utf-8")

	var params *graphql.RawParams
	var reqErr *requestError
	switch r.Method {
	case http.MethodGet:
		params, reqErr = t.readGET(r)
	case http.MethodPost:
		params, reqErr = t.readPOST(w, r)
	case http.MethodOptions:
		h.Set("Allow", "GET, POST, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, POST, OPTIONS")
		reqErr = &requestError{http.StatusMethodNotAllowed, "use GET for queries or POST"}
	}
	if reqErr != nil {
		t.write(w, reqErr.status, &graphql.Response{Errors: gqlerror.List{reqErr.gqlError()}})
		return
	}
	params.Headers = r.Header
	ctx := r.Context()
	if ctx.Err() != nil {
		return // the client has gone: do not parse for nobody
	}
	if !t.known(r, params.Query) {
		if err := t.limits.checkQuery(t.schema, params.Query, t.introspection); err != nil {
			t.write(w, statusFor(media, gqlerror.List{err}), &graphql.Response{Errors: gqlerror.List{err}})
			return
		}
	}
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		t.write(w, statusFor(media, errs), resp)
		return
	}
	if r.Method == http.MethodGet && opCtx.Operation.Operation != ast.Query {
		h.Set("Allow", "POST")
		reqErr := &requestError{http.StatusMethodNotAllowed, "mutations must be sent with POST"}
		t.write(w, reqErr.status, &graphql.Response{Errors: gqlerror.List{reqErr.gqlError()}})
		return
	}
	if ctx.Err() != nil {
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	t.write(w, http.StatusOK, responses(ctx))
}

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

func (t httpTransport) readGET(r *http.Request) (*graphql.RawParams, *requestError) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("the URL's query string is malformed")
	}
	p := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
	if p.Query == "" {
		return nil, badRequest("the query parameter is required")
	}
	if v := q.Get("variables"); v != "" {
		if p.Variables, err = decodeObject([]byte(v)); err != nil {
			return nil, badRequest("variables must be a JSON object")
		}
	}
	if v := q.Get("extensions"); v != "" {
		if p.Extensions, err = decodeObject([]byte(v)); err != nil {
			return nil, badRequest("extensions must be a JSON object")
		}
	}
	return p, nil
}

func (t httpTransport) readPOST(w http.ResponseWriter, r *http.Request) (*graphql.RawParams, *requestError) {
	if boundary, ok := isMultipart(r.Header.Get("Content-Type")); ok {
		return t.readMultipart(w, r, boundary)
	}
	mt, mp, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != mediaJSON || (mp["charset"] != "" && !strings.EqualFold(mp["charset"], "utf-8")) {
		return nil, &requestError{http.StatusUnsupportedMediaType, "send the request as Content-Type: application/json (or multipart/form-data to upload a file)"}
	}
	if r.ContentLength > t.limits.MaxBodyBytes {
		return nil, t.tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.limits.MaxBodyBytes))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, t.tooLarge()
	} else if err != nil {
		return nil, badRequest("the request body could not be read")
	}
	return decodeParams(body)
}

// decodeParams reads a JSON request body (or a multipart request's
// operations part).
func decodeParams(body []byte) (*graphql.RawParams, *requestError) {
	var raw struct {
		Query         json.RawMessage `json:"query"`
		OperationName json.RawMessage `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
		Extensions    json.RawMessage `json:"extensions"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			return nil, badRequest("the request body is not valid JSON (at byte %d)", syntaxErr.Offset)
		}
		return nil, badRequest(`the request body must be a JSON object like {"query": "…", "variables": {…}}`)
	}
	p := &graphql.RawParams{}
	var err error
	if !isString(raw.Query, &p.Query) || p.Query == "" {
		return nil, badRequest("query is required and must be a string")
	}
	if !isNull(raw.OperationName) && !isString(raw.OperationName, &p.OperationName) {
		return nil, badRequest("operationName must be a string or null")
	}
	if !isNull(raw.Variables) {
		if p.Variables, err = decodeObject(raw.Variables); err != nil {
			return nil, badRequest("variables must be a JSON object or null")
		}
	}
	if !isNull(raw.Extensions) {
		if p.Extensions, err = decodeObject(raw.Extensions); err != nil {
			return nil, badRequest("extensions must be a JSON object or null")
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

// responseMedia picks application/graphql-response+json when the client
// asks for it and not for application/json; application/json otherwise, for
// the clients (wx.request among them) that predate it.
func responseMedia(r *http.Request) string {
	accept := r.Header.Get("Accept")
	if strings.Contains(accept, mediaGraphQLResponse) && !strings.Contains(accept, mediaJSON) {
		return mediaGraphQLResponse
	}
	return mediaJSON
}

// statusFor is the status of a request GraphQL refused before running it:
// application/json answers 200 to every well-formed request, the newer
// media type answers 400 when the document cannot run.
func statusFor(media string, errs gqlerror.List) int {
	if media == mediaGraphQLResponse && errcode.GetErrorKind(errs) == errcode.KindProtocol {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

func init() {
	// Refusals by Limits are request errors, like parse and validation ones.
	errcode.RegisterErrorType(models.CodeQueryTooComplex, errcode.KindProtocol)
}

// maxMessageLen bounds one error message, maxPathNameLen one name in its path.
const (
	maxMessageLen  = 300
	maxPathNameLen = 128
)

// write sends resp with at most MaxErrors errors: a query with thousands
// of faults must not get an answer thousands of times its size.
func (t httpTransport) write(w http.ResponseWriter, status int, resp *graphql.Response) {
	if resp == nil {
		return // the request's context ended before a response was made
	}
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
	b, err := json.Marshal(resp)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
