package e2e_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/store"
)

// fastRequest is one HTTP request to /graphql, sent as is.
type fastRequest struct {
	method, query, body, accept string
}

// fastAnswer is what came back, and whether the fast path answered it.
type fastAnswer struct {
	status      int
	contentType string
	body        string
	fast        bool
}

// fastMetricsToken guards /metrics on the fast path tests' servers: without
// one, /metrics is off on the main listener.
const fastMetricsToken = "fast-metrics-token-0123"

// send sends r with token and reports the answer; fast is read off
// graphql_fast_path_total, so requests on this server must not overlap.
func send(ts *apptest.Server, t *testing.T, token string, r fastRequest) fastAnswer {
	t.Helper()
	before := apptest.Metric(apptest.Scrape(t, ts.MetricsURL(), fastMetricsToken), "graphql_fast_path_total")
	path := "/graphql"
	if r.query != "" {
		path += "?" + r.query
	}
	var hdr []string
	if r.accept != "" {
		hdr = append(hdr, "Accept", r.accept)
	}
	if token != "" {
		hdr = append(hdr, "Authorization", "Bearer "+token)
	}
	resp, body := ts.Fetch(t, r.method, path, r.body, hdr...)
	after := apptest.Metric(apptest.Scrape(t, ts.MetricsURL(), fastMetricsToken), "graphql_fast_path_total")
	return fastAnswer{resp.StatusCode, resp.Header.Get("Content-Type"), body, after == before+1}
}

func postBody(query string, extra ...string) string {
	m := map[string]any{"query": query}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestFastMe_SameAnswerAsTheExecutor: a `me` query the server has run once
// is answered the second time from the session cache without gqlgen's
// executor (gqlhttp/fastme.go) — and that answer is byte for byte the
// executor's, for every field it may hold, text that meets every escaping
// rule, aliases, a chosen operation, GET, a persisted query and both media
// types. The first sending of each request must go the executor's way.
func TestFastMe_SameAnswerAsTheExecutor(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) {
		c.SessionCacheTTL, c.SessionCacheSize = time.Minute, 1000
		c.PublicURL = "https://wx.example.com"
		c.MetricsToken = fastMetricsToken
	}))
	// The cache serves nothing until its listener is confirmed.
	apptest.WaitFor(t, "the session cache to come up", 10*time.Second, ts.SessionCache.Up)
	p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "fast-"+store.NewID())})
	// Everything JSON escapes one way or another: quotes, backslash,
	// HTML's <>&, U+2028/9, DEL, non-ASCII; and a stored avatar path that
	// PUBLIC_URL makes absolute.
	odd := "<b>\"Tom\" & \\Jerry</b>\u2028\u2029\x7f 你好 😀"
	_, err := ts.Store().DB().ExecContext(context.Background(), `UPDATE users SET nickname = ?, city = ?,
		province = NULL, country = 'CN', language = 'zh_CN', gender = 2, phone = '+8613800138301',
		avatar_url = '/avatars/`+strings.Repeat("ab", 32)+`.jpg' WHERE id = ?`, odd, "a\tb\nc", p.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	all := `{ me { __typename id nickname avatarUrl gender city province country language phone createdAt lastLoginAt } }`
	doc := `query Mine { who: me { n: nickname id t: __typename } }`
	two := `query A { me { id } } query B { me { nickname city } }`
	getQ := url.Values{"query": {`{ me { id nickname } }`}}.Encode()
	apqDoc := `{ me { id avatarUrl } }`
	sum := sha256.Sum256([]byte(apqDoc))
	apqExt := `{"persistedQuery":{"version":1,"sha256Hash":"` + hex.EncodeToString(sum[:]) + `"}}`
	// The hash is registered by a POST carrying both (never planned).
	reg := send(ts, t, p.Token, fastRequest{method: "POST", body: `{"query":` + mustJSON(apqDoc) + `,"extensions":` + apqExt + `}`})
	if reg.status != 200 || reg.fast || !strings.Contains(reg.body, `"avatarUrl":"https://wx.example.com/avatars/`) {
		t.Fatalf("registering the persisted query: %+v", reg)
	}
	// By its hash alone over POST too, as Apollo's clients send it.
	if a := send(ts, t, p.Token, fastRequest{method: "POST", body: `{"extensions":` + apqExt + `}`}); a.status != 200 || !strings.Contains(a.body, `"avatarUrl":"https://wx.example.com/avatars/`) {
		t.Fatalf("a persisted query by hash over POST: %+v", a)
	}
	requests := []fastRequest{
		{method: "POST", body: postBody(all)},
		{method: "POST", body: `{"operationName":null,"query":` + mustJSON(all) + `}`, accept: "application/graphql-response+json"},
		{method: "POST", body: postBody(doc)},
		{method: "POST", body: postBody(two, "operationName", "B")},
		{method: "POST", body: postBody(two, "operationName", "A")},
		{method: "GET", query: getQ},
		{method: "GET", query: "extensions=" + url.QueryEscape(apqExt)},
	}
	for _, r := range requests {
		first := send(ts, t, p.Token, r)
		second := send(ts, t, p.Token, r)
		for i := 0; !second.fast && i < 20; i++ {
			// A miss of the session cache is the executor's: the UPDATE
			// above drops the cached session when its notification
			// arrives, and a session read while any notification arrives
			// (other tests' too, on this database) is not cached.
			second = send(ts, t, p.Token, r)
		}
		if first.fast || !second.fast {
			t.Fatalf("%+v: fast path first %v (want false), second %v (want true)", r, first.fast, second.fast)
		}
		if first.status != 200 || strings.Contains(first.body, `"errors"`) {
			t.Fatalf("%+v: %+v", r, first)
		}
		first.fast, second.fast = false, false
		if first != second {
			t.Errorf("%+v:\nexecutor:  %+v\nfast path: %+v", r, first, second)
		}
	}
	// The escaping really was exercised.
	if a := send(ts, t, p.Token, requests[0]); !strings.Contains(a.body, `\u003cb\u003e\"Tom\" \u0026 \\Jerry\u003c/b\u003e\u2028\u2029`) {
		t.Fatalf("escaping: %+v", a)
	}

	// Only an answer without errors teaches a plan: requests without a
	// token cannot fill (or flush) the plan cache.
	fresh := fastRequest{method: "POST", body: postBody(`{ me { id  } }`)}
	for range 2 {
		if a := send(ts, t, "", fresh); a.fast || !strings.Contains(a.body, `"UNAUTHENTICATED"`) {
			t.Fatalf("without a token: %+v", a)
		}
	}
	if a := send(ts, t, p.Token, fresh); a.fast {
		t.Fatalf("learned from a refused request: %+v", a)
	}
	// A persisted query's plan holds only while the hash is still stored:
	// once others have pushed it out (the store is bounded by bytes: 700
	// documents of 7 KB exceed its 4 MiB), the executor's answer is
	// PERSISTED_QUERY_NOT_FOUND, and so is the fast path's.
	byHash := requests[len(requests)-1]
	for i := range 700 {
		doc := fmt.Sprintf("query Evict%d { me { id } } # %s", i, strings.Repeat("x", 7000))
		sum := sha256.Sum256([]byte(doc))
		body := `{"query":` + mustJSON(doc) + `,"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + hex.EncodeToString(sum[:]) + `"}}}`
		if resp, b := ts.Fetch(t, "POST", "/graphql", body); resp.StatusCode != 200 {
			t.Fatalf("registering %d: %s", i, b)
		}
	}
	if a := send(ts, t, p.Token, byHash); a.fast || !strings.Contains(a.body, "PERSISTED_QUERY_NOT_FOUND") {
		t.Fatalf("an evicted persisted query: %+v", a)
	}

	// A change through the API shows at once; so does a revoked session,
	// and a request without a token is the executor's, whatever its bytes.
	if r := ts.Do(t, p.Token, `mutation { updateProfile(input: {nickname: "Renamed"}) { id } }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if a := send(ts, t, p.Token, requests[0]); !strings.Contains(a.body, `"nickname":"Renamed"`) {
		t.Fatalf("after updateProfile: %+v", a)
	}
	if a := send(ts, t, "", requests[0]); a.fast || !strings.Contains(a.body, `"UNAUTHENTICATED"`) {
		t.Fatalf("without a token: %+v", a)
	}
	if a := send(ts, t, "wxu_not-a-token", requests[0]); a.fast || !strings.Contains(a.body, `"UNAUTHENTICATED"`) {
		t.Fatalf("with a malformed token: %+v", a)
	}
	if r := ts.Do(t, p.Token, `mutation { logout }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if a := send(ts, t, p.Token, requests[0]); a.fast || !strings.Contains(a.body, `"UNAUTHENTICATED"`) {
		t.Fatalf("after logout: %+v", a)
	}
}

// TestFastMe_OnlyPlainMeQueries: documents the fast path must leave to the
// executor, each sent three times — variables (which a plan would ignore),
// fields that are admin-only or read the database, fragments, directives,
// several root fields, a mutation.
func TestFastMe_OnlyPlainMeQueries(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) {
		c.SessionCacheTTL, c.SessionCacheSize = time.Minute, 1000
		c.MetricsToken = fastMetricsToken
	}))
	p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "fast-no-"+store.NewID())})
	never := []struct {
		body, want string
	}{
		{`{"query":"query($x: Boolean!) { me { id nickname @include(if: $x) } }","variables":{"x":false}}`, `"data":{"me":{"id":"`},
		{`{"query":"query($x: Boolean!) { me { id nickname @include(if: $x) } }","variables":{"x":true}}`, `"nickname":`},
		{postBody(`{ me { id disabled } }`), `"FORBIDDEN"`},
		{postBody(`{ me { id identities { appId } } }`), `"FORBIDDEN"`},
		{postBody(`{ me { ...F } } fragment F on User { id }`), `"data":{"me":{"id":"`},
		{postBody(`{ me { id nickname @skip(if: true) } }`), `"data":{"me":{"id":"`},
		{postBody(`{ me { id } admin { id } }`), `"admin":null`},
		{postBody(`{ me { id } mySessions { current } }`), `"mySessions":[{"current":true}]`},
		{postBody(`{ me { id id } }`), `"data":{"me":{"id":"`},
		{postBody(`mutation { updateProfile(input: {gender: MALE}) { id } }`), `"updateProfile":{"id":"`},
	}
	for _, n := range never {
		for range 3 {
			a := send(ts, t, p.Token, fastRequest{method: "POST", body: n.body})
			if a.fast || !strings.Contains(a.body, n.want) || strings.Contains(n.body, "@include") && strings.Contains(a.body, "nickname") != strings.Contains(n.body, "true") {
				t.Fatalf("%s: %+v", n.body, a)
			}
		}
	}
}

func mustJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}
