package apptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Client sends requests to a server at BaseURL: every request the
// end-to-end tests make goes through one of its methods.
type Client struct {
	BaseURL string
	// HTTP sends the requests; http.DefaultClient when nil.
	HTTP *http.Client
}

// NewClient is a Client for the server at baseURL, sending with h (nil for
// http.DefaultClient).
func NewClient(baseURL string, h *http.Client) *Client { return &Client{BaseURL: baseURL, HTTP: h} }

// Using is a copy of c that sends with h.
func (c *Client) Using(h *http.Client) *Client { return &Client{BaseURL: c.BaseURL, HTTP: h} }

func (c *Client) http() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

// Response is a GraphQL-over-HTTP answer.
type Response struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	// Raw is the body as it came; HTTP the response it came in (its
	// body already read).
	Raw  string         `json:"-"`
	HTTP *http.Response `json:"-"`
}

// Code is the first error's extensions.code, "" without errors.
func (r *Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Fetch sends one request with the given headers (pairs of name and
// value; a name may repeat) and reads the answer; a body is sent as JSON.
func (c *Client) Fetch(t testing.TB, method, path, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, c.BaseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.http().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Do posts a GraphQL request, with token as the bearer when non-empty and
// the headers hdr (as Fetch's), and fails t unless GraphQL's JSON comes back.
func (c *Client) Do(t testing.TB, token, query string, vars map[string]any, hdr ...string) *Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	h := []string{"User-Agent", "e2e-test/1.0"}
	if token != "" {
		h = append(h, "Authorization", "Bearer "+token)
	}
	resp, raw := c.Fetch(t, http.MethodPost, "/graphql", string(body), append(h, hdr...)...)
	out := &Response{Raw: raw, HTTP: resp}
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		t.Fatalf("HTTP %d, body %s: %v", resp.StatusCode, raw, err)
	}
	return out
}

// Result is one request's outcome as a client sees it, for tests that
// judge failures themselves (faults, load, fuzzing).
type Result struct {
	Status int
	Took   time.Duration
	Resp   Response
	// Err is a transport error, or a body that is not GraphQL's JSON.
	Err error
}

// Post sends one GraphQL request and never fails the test: the caller
// judges the Result. It may run outside the test's goroutine.
func (c *Client) Post(token, query string, vars map[string]any) Result {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, c.BaseURL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := c.http().Do(req)
	if err != nil {
		return Result{Took: time.Since(start), Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	r := Result{Status: resp.StatusCode, Took: time.Since(start), Err: err}
	if err == nil {
		if err := json.Unmarshal(raw, &r.Resp); err != nil {
			r.Err = fmt.Errorf("HTTP %d, not GraphQL JSON: %.200s", resp.StatusCode, raw)
		}
		r.Resp.Raw = string(raw)
	}
	return r
}

// Upload sends uploadAvatar with file as a GraphQL multipart request;
// hdr sets headers, or removes those given "".
func (c *Client) Upload(t testing.TB, token string, file []byte, hdr map[string]string) (*http.Response, *Response) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("operations", `{"query":"mutation($f: Upload!) { uploadAvatar(file: $f) { id avatarUrl } }","variables":{"f":null}}`)
	_ = mw.WriteField("map", `{"0":["variables.f"]}`)
	fw, _ := mw.CreateFormFile("0", "avatar.png")
	_, _ = fw.Write(file)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", c.BaseURL+"/graphql", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("GraphQL-Require-Preflight", "1")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.http().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	g := &Response{Raw: string(raw), HTTP: resp}
	_ = json.Unmarshal(raw, g)
	return resp, g
}

// PostBody posts a prepared GraphQL body with token as the bearer, discards
// the answer and fails b unless it is a 200: a benchmark's request, which
// costs the client as little as it can. It may run in RunParallel.
func (c *Client) PostBody(b testing.TB, token string, body []byte) {
	req, _ := http.NewRequest(http.MethodPost, c.BaseURL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatal(resp.Status)
	}
}
