package gqlhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/99designs/gqlgen/graphql"

	"wxlogin/edge"
)

// The GraphQL multipart request spec (github.com/jaydenseric/graphql-multipart-request-spec):
// an "operations" part holding the usual JSON request, a "map" part naming
// where each file goes ({"0": ["variables.file"]}), then the files.
const (
	// MaxUploadBytes bounds one uploaded file (an avatar: 2 MB).
	MaxUploadBytes = 2 << 20
	// maxUploadFiles is how many files one request may carry; no field
	// takes more than one.
	maxUploadFiles = 1
	maxMapBytes    = 4 << 10
	// multipartSlack is room for the parts' headers and boundaries.
	multipartSlack = 16 << 10
)

// readMultipart reads a multipart request: the operations part is checked
// as a JSON body is, and each file is held in memory (it is at most
// MaxUploadBytes) before GraphQL runs.
func (t httpTransport) readMultipart(w http.ResponseWriter, r *http.Request, boundary string) (*graphql.RawParams, *requestError) {
	// One of edge.PreflightHeaders, which CORS allows from its origins:
	// a cross-site <form> can send multipart/form-data but no such header.
	preflight := false
	for _, h := range edge.PreflightHeaders {
		if r.Header.Get(h) != "" {
			preflight = true
		}
	}
	if !preflight {
		return nil, badRequest("a multipart request must carry a GraphQL-Require-Preflight header (any value), which a cross-site form cannot send")
	}
	limit := t.limits.MaxBodyBytes + maxMapBytes + maxUploadFiles*MaxUploadBytes + multipartSlack
	if r.ContentLength > limit {
		return nil, &requestError{http.StatusRequestEntityTooLarge, "the request is larger than a 2 MB file allows"}
	}
	mr := multipart.NewReader(http.MaxBytesReader(w, r.Body, limit), boundary)

	part, err := mr.NextPart()
	if err != nil || part.FormName() != "operations" {
		return nil, partError(err, "the first part must be operations")
	}
	body, err := readAtMost(part, t.limits.MaxBodyBytes)
	if err != nil {
		return nil, partError(err, "operations is larger than %d bytes", t.limits.MaxBodyBytes)
	}
	p, reqErr := decodeParams(body)
	if reqErr != nil {
		return nil, reqErr
	}

	part, err = mr.NextPart()
	if err != nil || part.FormName() != "map" {
		return nil, partError(err, "the second part must be map")
	}
	raw, err := readAtMost(part, maxMapBytes)
	if err != nil {
		return nil, partError(err, "map is larger than %d bytes", maxMapBytes)
	}
	var files map[string][]string
	if json.Unmarshal(raw, &files) != nil {
		return nil, badRequest(`map must be a JSON object like {"0": ["variables.file"]}`)
	}
	if len(files) > maxUploadFiles {
		return nil, badRequest("at most %d file may be uploaded per request", maxUploadFiles)
	}

	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, partError(err, "the request body is not valid multipart/form-data")
		}
		key := part.FormName()
		paths, ok := files[key]
		if !ok || len(paths) == 0 {
			return nil, badRequest("a file part is not named in map (give each file's part name as a map key)")
		}
		delete(files, key)
		data, err := readAtMost(part, MaxUploadBytes)
		if err != nil {
			return nil, partError(err, "a file is larger than 2 MB (%d bytes)", MaxUploadBytes)
		}
		for _, path := range paths {
			up := graphql.Upload{File: bytes.NewReader(data), Size: int64(len(data)),
				Filename: part.FileName(), ContentType: part.Header.Get("Content-Type")}
			if gerr := p.AddUpload(up, key, path); gerr != nil {
				return nil, badRequest("map names a path that is not a variable of the operation")
			}
		}
	}
	if len(files) > 0 {
		return nil, badRequest("map names a file the request does not carry")
	}
	return p, nil
}

// errTooLong is readAtMost's answer to a part over its limit.
var errTooLong = errors.New("part too long")

// readAtMost reads r whole, or fails with errTooLong past n bytes.
func readAtMost(r io.Reader, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > n {
		return nil, errTooLong
	}
	return b, nil
}

// partError explains a failed part: too large (the part's own limit, or the
// whole body's), or the given complaint.
func partError(err error, format string, args ...any) *requestError {
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return &requestError{http.StatusRequestEntityTooLarge, "the request is larger than a 2 MB file allows"}
	case errors.Is(err, errTooLong):
		return &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf(format, args...)}
	case err != nil && !errors.Is(err, io.EOF):
		// Not a size: the body stopped short (a lying Content-Length, a
		// timeout) or its framing is broken.
		return badRequest("the request body ended early or is not valid multipart/form-data")
	}
	return badRequest(format, args...)
}

// isMultipart reports a multipart/form-data content type and its boundary.
func isMultipart(contentType string) (string, bool) {
	if contentType == mediaJSON || contentType == mediaJSON+"; charset=utf-8" {
		return "", false // the common case, without mime.ParseMediaType's map
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return "", false
	}
	return params["boundary"], true
}
