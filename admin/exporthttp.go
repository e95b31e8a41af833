package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"wxlogin/edge"
	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/token"
)

// ExportPath is where ExportHandler answers.
const ExportPath = "/admin/export/users.csv"

// exportWriteWait bounds each write of an export to the client: the
// server's WriteTimeout (REQUEST_TIMEOUT + 5s) is for whole answers, and a
// million rows take longer; a client that stops reading for this long is
// cut off and the export's slot freed.
const exportWriteWait = time.Minute

// exportMaxDuration bounds a whole export, so that a client reading just
// fast enough for exportWriteWait cannot hold the one export slot for
// hours: a million rows (125 MiB) take 20 s on loopback, 17 min at 1 Mbit/s.
const exportMaxDuration = time.Hour

// exportParams are the query parameters ExportHandler takes; any other is
// refused, so that a misspelt filter never exports every user. The
// filter's are named as the fields of the GraphQL UserFilter (a test
// holds every field to a parameter).
var exportParams = map[string]bool{"search": true, "createdAfter": true, "createdBefore": true, "disabled": true,
	"deletion": true, "needsReview": true,
	"order": true, "direction": true, "fullPhones": true, "tz": true, "lang": true}

// ExportParams lists the export's query parameters, for the test that
// every users filter has one.
func ExportParams() []string {
	out := make([]string, 0, len(exportParams))
	for k := range exportParams {
		out = append(out, k)
	}
	return out
}

// ExportHandler serves GET ExportPath: the users export (ExportUsers) over
// HTTP, since a GraphQL answer is one JSON document and cannot stream.
//
// It authenticates as the GraphQL API does, by the admin's bearer token in
// the Authorization header and nothing else: no cookie, no token in the
// URL (URLs end up in logs and browser history). A cross-site page can
// therefore not make a browser send an authenticated export (no CSRF), and
// edge.CORS decides as for /graphql which other origins may read it.
//
// Query parameters mirror the users page's: search, createdAfter and
// createdBefore (RFC 3339), disabled (true|false), deletion
// (NONE|PENDING|ERASED; every user not erased when absent), needsReview
// (true|false), order (CREATED_AT or
// LAST_LOGIN_AT), direction (ASC|DESC, DESC by default as on the page);
// and for the file: fullPhones=1 (whole phone numbers, audited as such),
// tz (an IANA zone for the times, UTC by default), lang (zh… for Chinese
// headings). Errors before the file starts are JSON as GraphQL's, with
// extensions.code and the matching status; an error midway cuts the
// connection, so that a short file is never taken for a whole one.
func (s *Service) ExportHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Not HEAD either: it would run the whole export for no file.
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			writeExportError(w, models.Errorf(models.CodeBadUserInput, "use GET"), http.StatusMethodNotAllowed)
			return
		}
		if len(r.Header.Values("Authorization")) > 1 {
			writeExportError(w, models.Errorf(models.CodeBadUserInput, "send at most one Authorization header"), 0)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), exportMaxDuration)
		defer cancel()
		ctx = WithToken(ctx, bearer(r))
		c, err := s.Require(ctx, models.RoleAdmin)
		if err != nil {
			writeExportError(w, err, 0)
			return
		}
		in, err := parseExport(r)
		if err != nil {
			writeExportError(w, err, 0)
			return
		}
		in.IP = edge.ClientIP(r)
		out := &exportResponse{w: w, rc: http.NewResponseController(w),
			name: "users-" + time.Now().In(in.Zone).Format("20060102-150405") + ".csv"}
		_, err = s.ExportUsers(ctx, c, in, out, out.flush)
		switch {
		case err == nil:
			if !out.started {
				_, _ = out.Write(nil)
			}
		case !out.started:
			if models.ErrorCode(err) == models.CodeInternal {
				s.log.ErrorContext(ctx, "users export", "err", err)
			}
			writeExportError(w, err, 0)
		default:
			// The status is sent: only cutting the connection short tells
			// the client the file is not whole (no last chunk).
			panic(http.ErrAbortHandler)
		}
	})
}

// bearer returns the token of an "Authorization: Bearer <token>" header,
// "" for none and token.Malformed for a header of another shape, as the
// GraphQL endpoint reads it.
func bearer(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return ""
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return token.Malformed
	}
	return strings.TrimSpace(tok)
}

// parseExport reads ExportHandler's query parameters.
func parseExport(r *http.Request) (ExportInput, error) {
	in := ExportInput{Zone: time.UTC, Desc: true}
	values := r.URL.Query()
	bad := func(format string, args ...any) (ExportInput, error) {
		return in, models.Errorf(models.CodeBadUserInput, format, args...)
	}
	for k, v := range values {
		if !exportParams[k] {
			return bad("unknown parameter %q: the export takes search, createdAfter, createdBefore, disabled, deletion, needsReview, order, direction, fullPhones, tz and lang", k)
		}
		if len(v) > 1 {
			return bad("%s is given %d times", k, len(v))
		}
		if !utf8.ValidString(v[0]) || strings.ContainsFunc(v[0], unicode.IsControl) {
			return bad("%s holds a control character or is not UTF-8", k)
		}
	}
	in.Search = values.Get("search")
	for _, t := range []struct {
		name string
		into **time.Time
	}{{"createdAfter", &in.CreatedAfter}, {"createdBefore", &in.CreatedBefore}} {
		if v := values.Get(t.name); v != "" {
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return bad("%s must be a time in RFC 3339, like 2026-12-07T00:00:00+08:00", t.name)
			}
			*t.into = &at
		}
	}
	switch v := values.Get("disabled"); v {
	case "":
	case "true", "false":
		d := v == "true"
		in.Disabled = &d
	default:
		return bad("disabled must be true or false")
	}
	switch v := values.Get("deletion"); v {
	case "", store.DeletionNone, store.DeletionPending, store.DeletionErased:
		in.Deletion = v
	default:
		return bad("deletion must be NONE, PENDING or ERASED")
	}
	switch v := values.Get("needsReview"); v {
	case "":
	case "true", "false":
		nr := v == "true"
		in.NeedsReview = &nr
	default:
		return bad("needsReview must be true or false")
	}
	in.Order = values.Get("order")
	switch values.Get("direction") {
	case "", "DESC":
	case "ASC":
		in.Desc = false
	default:
		return bad("direction must be ASC or DESC")
	}
	switch v := values.Get("fullPhones"); v {
	case "", "0", "false":
	case "1", "true":
		in.FullPhones = true
	default:
		return bad("fullPhones must be 1 or 0")
	}
	if v := values.Get("tz"); v != "" {
		// LoadLocation refuses paths (.., a leading /); Local would be
		// the server's zone, which the operator cannot know.
		loc, err := time.LoadLocation(v)
		if err != nil || len(v) > 64 || v == "Local" {
			return bad("tz must be an IANA time zone, like Asia/Shanghai")
		}
		in.Zone = loc
	}
	in.Chinese = strings.HasPrefix(strings.ToLower(values.Get("lang")), "zh")
	return in, nil
}

// exportResponse is the HTTP response an export streams into: the headers
// go out with the first bytes, and each write may take exportWriteWait.
type exportResponse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	name    string
	started bool
}

func (e *exportResponse) Write(p []byte) (int, error) {
	if !e.started {
		e.started = true
		h := e.w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="`+e.name+`"`)
		h.Set("Cache-Control", "no-store")
		e.w.WriteHeader(http.StatusOK)
	}
	// Not every ResponseWriter has deadlines (a test's recorder): then
	// the server's own timeouts stand.
	_ = e.rc.SetWriteDeadline(time.Now().Add(exportWriteWait))
	return e.w.Write(p)
}

func (e *exportResponse) flush() error {
	if err := e.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// writeExportError answers an export refused before its file began, as
// the GraphQL endpoint answers errors: a JSON errors list whose entry has
// extensions.code. status 0 picks the code's.
func writeExportError(w http.ResponseWriter, err error, status int) {
	code := models.ErrorCode(err)
	if status == 0 {
		status = map[string]int{models.CodeUnauthenticated: http.StatusUnauthorized, models.CodeForbidden: http.StatusForbidden,
			models.CodeRateLimited: http.StatusTooManyRequests, models.CodeBadUserInput: http.StatusBadRequest}[code]
		if status == 0 {
			status = http.StatusInternalServerError
		}
	}
	ext := map[string]any{"code": code}
	var e *models.Error
	if errors.As(err, &e) {
		for k, v := range e.Extensions {
			ext[k] = v
		}
	}
	if ra, ok := ext["retryAfter"].(int); ok {
		w.Header().Set("Retry-After", strconv.Itoa(ra))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{"message": models.ErrorMessage(err), "extensions": ext}}})
	_, _ = w.Write(b)
}
