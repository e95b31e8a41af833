package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"wxlogin/app/apptest"
)

// FuzzHTTPEndpoint sends random requests — method, path and query,
// content type, one more header, bearer token and body — to the whole
// server (every handler, a real database, WeChat simulated): whatever
// comes in, the answer is never a 5xx nor INTERNAL, and nothing panics
// (a panic in a handler is recovered by net/http or gqlgen and logged, so
// the log is checked too). `make test` runs the seeds;
// `go test -run '^$' -fuzz FuzzHTTPEndpoint .` explores.
func FuzzHTTPEndpoint(f *testing.F) {
	ts := apptest.Start(f)
	code, err := ts.Sim.Login("", "fuzz-user")
	if err != nil {
		f.Fatal(err)
	}
	tok := fuzzLogin(f, ts, code)

	const (
		login = `{"query":"mutation($in: LoginInput!) { login(input: $in) { token user { id } } }","variables":{"in":{"code":"0a3Xyz"}}}`
		me    = `{"query":"{ me { id nickname avatarUrl gender createdAt } }"}`
	)
	seeds := []struct {
		method, target, contentType, header, value, token, body string
	}{
		{"POST", "/graphql", "application/json", "", "", "", login},
		{"POST", "/graphql", "application/json", "", "", tok, me},
		{"POST", "/graphql", "application/json; charset=utf-8", "Accept", "application/graphql-response+json", tok, me},
		{"GET", "/graphql?query=%7B%20me%20%7B%20id%20%7D%20%7D", "", "", "", tok, ""},
		{"GET", "/graphql?query=mutation%7Blogout%7D", "", "", "", "", ""},
		{"POST", "/graphql", "application/json", "", "", "", `[` + me + `,` + me + `]`},
		{"POST", "/graphql", "application/json", "", "", "", `{"query":"{ me { id } }","variables":[]}`},
		{"POST", "/graphql", "application/json", "", "", "", `{"query":"` + strings.Repeat("{ me ", 50) + `"}`},
		{"POST", "/graphql", "application/json", "", "", "", `{"query":"{ users(first: 1, after: \"eyJ2IjoxfQ\") { totalCount } }"}`},
		{"POST", "/graphql", "application/json", "", "", tok, `{"query":"mutation($p: ProfileInput!) { updateProfile(input: $p) { id } }","variables":{"p":{"nickname":"\u0000\ud800"}}}`},
		{"POST", "/graphql", "text/plain", "", "", "", me},
		{"POST", "/graphql", "application/json", "", "", "", `{"query":`},
		{"POST", "/graphql", "application/json", "Content-Encoding", "gzip", "", "\x1f\x8b\x08"},
		{"POST", "/graphql", "multipart/form-data; boundary=b", "GraphQL-Require-Preflight", "1", tok,
			"--b\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n" +
				`{"query":"mutation($f: Upload!) { uploadAvatar(file: $f) { id } }","variables":{"f":null}}` +
				"\r\n--b\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{\"0\":[\"variables.f\"]}\r\n--b\r\n" +
				"Content-Disposition: form-data; name=\"0\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\r\n--b--\r\n"},
		{"POST", "/graphql", "multipart/form-data; boundary=", "", "", "", "--\r\n"},
		{"PUT", "/graphql", "application/json", "", "", "", me},
		{"OPTIONS", "/graphql", "", "Access-Control-Request-Method", "POST", "", ""},
		{"GET", "/readyz", "", "", "", "", ""},
		{"GET", "/admin/../graphql", "", "", "", "", ""},
		{"POST", "/graphql", "application/json", "Authorization", "Bearer a b", "", me},
		{"POST", "/graphql", "application/json", "X-Forwarded-For", "::1, 300.1.1.1", "not-a-token", me},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.contentType, s.header, s.value, s.token, []byte(s.body))
	}
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	f.Fuzz(func(t *testing.T, method, target, contentType, header, value, token string, body []byte) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := http.NewRequest(method, ts.URL()+target, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if header != "" {
			req.Header.Set(header, value)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		logStart := ts.Logs.Len()
		resp, err := client.Do(req)
		if err != nil {
			// net/http refused to send it (a bad header), or the server
			// hung up: the log says which.
			if log := ts.Logs.From(logStart); strings.Contains(log, "panic") {
				t.Fatalf("%v, and the server panicked:\n%s", err, log)
			}
			return
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s: HTTP %d %.300s", method, target, resp.StatusCode, raw)
		}
		if bytes.Contains(raw, []byte(`"INTERNAL"`)) {
			t.Fatalf("%s %s: INTERNAL for bad input: %.300s\n%s", method, target, raw, ts.Logs.From(logStart))
		}
		if log := ts.Logs.From(logStart); strings.Contains(log, "panic") {
			t.Fatalf("%s %s: the server panicked:\n%s", method, target, log)
		}
	})
}

// fuzzLogin logs in with code, for a fuzz test's seeds.
func fuzzLogin(tb testing.TB, ts *apptest.Server, code string) string {
	tb.Helper()
	r := ts.Post("", apptest.LoginMutation, map[string]any{"in": map[string]any{"code": code}})
	var p struct{ Token string }
	if r.Err != nil || len(r.Resp.Errors) > 0 || json.Unmarshal(r.Resp.Data["login"], &p) != nil {
		tb.Fatalf("login: %v %s", r.Err, r.Resp.Raw)
	}
	return p.Token
}
