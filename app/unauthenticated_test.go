package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// doAuthorization posts query with the Authorization header exactly as
// given (none when header is nil).
func (ts *testServer) doAuthorization(t *testing.T, header []string, query string) *gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, ts.URL()+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if header != nil {
		req.Header["Authorization"] = header
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("HTTP %d, body %s: %v", resp.StatusCode, raw, err)
	}
	out.raw = string(raw)
	return &out
}

// TestE2E_UnauthenticatedSaysWhy: a missing, a malformed and an ended
// token are all UNAUTHENTICATED, each with its own message (issue 17 #15:
// after logout the answer told the user to send the header just sent).
func TestE2E_UnauthenticatedSaysWhy(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	const (
		missing  = "sign in first"
		malform  = "holds no token from"
		ended    = "has ended"
		userQ    = `{ me { id } }`
		adminQ   = `{ users(first: 1) { totalCount } }`
		unauthed = "UNAUTHENTICATED"
	)
	p := mustLogin(t, ts, map[string]any{"code": ts.code(t, "why-"+t.Name())})
	loggedOut := mustLogin(t, ts, map[string]any{"code": ts.code(t, "why-out-"+t.Name())})
	if out := ts.do(t, loggedOut.Token, `mutation { logout }`, nil); len(out.Errors) > 0 {
		t.Fatalf("logout = %s", out.raw)
	}
	adm, _ := ts.adminLogin(t, "why-admin", mustAdmin(t, "why-admin", "viewer"))
	if adm == "" {
		t.Fatal("no admin token")
	}
	if out := ts.do(t, adm, `mutation { adminLogout }`, nil); len(out.Errors) > 0 {
		t.Fatalf("adminLogout = %s", out.raw)
	}
	for _, tc := range []struct {
		name, query string
		header      []string
		want, from  string
	}{
		{"NoHeader", userQ, nil, missing, "from login"},
		{"EmptyHeader", userQ, []string{""}, missing, "from login"},
		{"BearerAlone", userQ, []string{"Bearer"}, missing, "from login"},
		{"OtherScheme", userQ, []string{"Basic dXNlcjpwdw=="}, malform, "from login"},
		{"NoScheme", userQ, []string{p.Token}, malform, "from login"},
		{"NotAToken", userQ, []string{"Bearer not-a-token"}, malform, "from login"},
		{"LastCharChanged", userQ, []string{"Bearer " + p.Token[:len(p.Token)-1] + "!"}, malform, "from login"},
		{"AfterLogout", userQ, []string{"Bearer " + loggedOut.Token}, ended, "sign in again with login"},
		{"UnknownWellFormed", userQ, []string{"Bearer " + strings.Repeat("A", 43)}, ended, "sign in again with login"},
		{"AdminNoHeader", adminQ, nil, missing, "from adminLogin"},
		{"AdminOtherScheme", adminQ, []string{"Token " + adm}, malform, "from adminLogin"},
		{"AdminNotAToken", adminQ, []string{"Bearer wxa_short"}, malform, "from adminLogin"},
		{"AdminAfterLogout", adminQ, []string{"Bearer " + adm}, ended, "sign in again with adminLogin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := ts.doAuthorization(t, tc.header, tc.query)
			if out.code() != unauthed || !strings.Contains(out.Errors[0].Message, tc.want) || !strings.Contains(out.Errors[0].Message, tc.from) {
				t.Fatalf("got %s, want %s saying %q and %q", out.raw, unauthed, tc.want, tc.from)
			}
		})
	}
	if out := ts.do(t, p.Token, userQ, nil); len(out.Errors) > 0 {
		t.Fatalf("the real token: %s", out.raw)
	}
}
