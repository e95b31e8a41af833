package edge

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
)

// browserAllows is a browser's check of a preflight's answer: every header
// the page asked for (Access-Control-Request-Headers) must be listed in
// Access-Control-Allow-Headers, case-insensitively.
func browserAllows(t *testing.T, requested ...string) []string {
	t.Helper()
	r := httptest.NewRequest(http.MethodOptions, "/graphql", nil)
	r.Header.Set("Origin", "https://admin.example.com")
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", strings.ToLower(strings.Join(requested, ",")))
	w := httptest.NewRecorder()
	CORS([]string{"https://admin.example.com"}, http.NotFoundHandler()).ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		t.Fatalf("preflight: %d", w.Code)
	}
	allowed := map[string]bool{}
	for _, h := range strings.Split(w.Header().Get("Access-Control-Allow-Headers"), ",") {
		allowed[strings.ToLower(strings.TrimSpace(h))] = true
	}
	var refused []string
	for _, h := range requested {
		if !allowed[strings.ToLower(h)] {
			refused = append(refused, h)
		}
	}
	return refused
}

// TestCORS_ApolloClients: what apollo-upload-client and Apollo Client 4
// send from an allowed origin passes the preflight (issue 17 #6: "Request
// header field … is not allowed").
func TestCORS_ApolloClients(t *testing.T) {
	t.Parallel()
	for name, headers := range map[string][]string{
		"apollo-upload-client": {"Apollo-Require-Preflight", "Content-Type", "Authorization"},
		"Apollo Client 4":      {"apollographql-client-name", "apollographql-client-version", "content-type", "authorization"},
		"spec multipart":       {"GraphQL-Require-Preflight", "Content-Type"},
		"traced":               {"traceparent", "tracestate", "x-request-id"},
	} {
		if refused := browserAllows(t, headers...); len(refused) > 0 {
			t.Errorf("%s: the browser refuses %v", name, refused)
		}
	}
}

// headerRead finds a header named by a literal where a server reads it.
var headerRead = regexp.MustCompile(`Header\.(?:Get|Values)\("([^"]+)"\)|Header\["([^"]+)"\]`)

// notAPageHeader are headers the server reads that no page's script sets:
// the browser sets them itself (Origin and the preflight's own, Accept is
// safelisted), or a proxy does.
var notAPageHeader = map[string]bool{
	"origin": true, "access-control-request-method": true, "accept": true,
	"x-forwarded-for": true, "x-forwarded-proto": true,
}

// TestCORS_AllowsEveryHeaderTheServerReads reads the packages on
// /graphql's path (edge, graph, telemetry) for the request headers they
// read, and edge.PreflightHeaders and the trace propagator's: a browser
// page must be allowed to send each, or a feature works for mini programs
// and curl but not from a browser.
func TestCORS_AllowsEveryHeaderTheServerReads(t *testing.T) {
	t.Parallel()
	read := map[string]string{}
	for _, dir := range []string{".", "../graph", "../telemetry"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("reading %s: %v", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, "generated.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range headerRead.FindAllStringSubmatch(string(src), -1) {
				read[m[1]+m[2]] = f
			}
		}
	}
	for _, h := range PreflightHeaders {
		read[h] = "PreflightHeaders"
	}
	for _, h := range (propagation.TraceContext{}).Fields() {
		read[h] = "the trace propagator"
	}
	if len(read) < 8 || read["Authorization"] == "" {
		t.Fatalf("found too few headers, is the pattern stale? %v", read)
	}
	var headers []string
	for h := range read {
		if !notAPageHeader[strings.ToLower(h)] {
			headers = append(headers, h)
		}
	}
	for _, h := range browserAllows(t, headers...) {
		t.Errorf("%s reads %s, which CORS does not allow", read[h], h)
	}
}
