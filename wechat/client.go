// Package wechat talks to the WeChat Mini Program server API and checks the
// data mini programs hand over. It knows nothing of GraphQL or databases.
package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is WeChat's API origin.
const DefaultBaseURL = "https://api.weixin.qq.com"

// Defaults for Config fields left zero.
const (
	DefaultTimeout      = 5 * time.Second
	DefaultRetryBackoff = 200 * time.Millisecond
)

// maxBody bounds what is read of an answer; WeChat's are a few hundred bytes.
const maxBody = 1 << 20

// Config says which mini program the Client speaks for and how.
type Config struct {
	AppID  string
	Secret Secret
	// BaseURL replaces DefaultBaseURL, for the simulator or an egress proxy.
	BaseURL string
	// Timeout bounds each HTTP call, retries included separately.
	Timeout time.Duration
	// RetryBackoff is the pause before retrying a busy (-1) answer; jittered ±50%.
	RetryBackoff time.Duration
	// HTTPClient replaces the Client's own; its Timeout is not used, Config.Timeout is.
	HTTPClient *http.Client
	// Tokens keeps the access token. Leave it nil only for a single
	// instance: it then defaults to a MemoryTokenStore of this Client's own,
	// and several instances would each renew, forcing each other's out.
	Tokens TokenStore
	// TokenMargin is how long before its expiry a token is renewed;
	// DefaultTokenMargin if zero, and never more, because WeChat hands out
	// a new token only in the last DefaultTokenMargin of the old one.
	TokenMargin time.Duration
	// Now replaces time.Now, so tests can move the Client's clock.
	Now func() time.Time
	// Observe, when set, is told of every HTTP call to WeChat once it
	// ends, retries each on their own (see Call); for metrics and traces.
	Observe func(ctx context.Context, c Call)
}

// Call describes one finished HTTP call to WeChat for Config.Observe. It
// holds nothing secret: no URL, query, body or answer.
type Call struct {
	// Endpoint is the API path, e.g. /sns/jscode2session: one of a fixed few.
	Endpoint string
	Start    time.Time
	Duration time.Duration
	// Errcode is WeChat's errcode, 0 when it answered without one, and
	// -2 when there was no usable answer (see Err).
	Errcode int
	// Err is the call's error, nil on success; its text quotes no secret.
	Err error
}

// ErrcodeNoAnswer is Call.Errcode when WeChat gave no usable answer:
// a transport error, a timeout, a non-200 status or a body that is not JSON.
const ErrcodeNoAnswer = -2

// Client calls the WeChat API for one appid. It is safe for concurrent use.
type Client struct {
	appID   string
	secret  Secret
	base    string
	timeout time.Duration
	backoff time.Duration
	http    *http.Client
	tokens  TokenStore
	margin  time.Duration
	now     func() time.Time
	flight  flight
	observe func(context.Context, Call)
}

// NewClient returns a Client for cfg, filling defaults.
func NewClient(cfg Config) *Client {
	c := &Client{
		appID:   cfg.AppID,
		secret:  cfg.Secret,
		base:    strings.TrimRight(cfg.BaseURL, "/"),
		timeout: cfg.Timeout,
		backoff: cfg.RetryBackoff,
		http:    cfg.HTTPClient,
		tokens:  cfg.Tokens,
		margin:  cfg.TokenMargin,
		now:     cfg.Now,
		observe: cfg.Observe,
	}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.backoff <= 0 {
		c.backoff = DefaultRetryBackoff
	}
	if c.tokens == nil {
		c.tokens = NewMemoryTokenStore()
	}
	if c.margin <= 0 || c.margin > DefaultTokenMargin {
		c.margin = DefaultTokenMargin
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.http == nil {
		// Every call goes to one host, so keep many idle connections to it:
		// the default of 2 would redo a TLS handshake on most logins under load.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 256
		tr.IdleConnTimeout = 90 * time.Second
		c.http = &http.Client{Transport: tr}
	}
	return c
}

// AppID returns the appid this client speaks for.
func (c *Client) AppID() string { return c.appID }

// Session is what code2Session answers: who the user is, and the
// session_key that opens this login's encrypted data.
type Session struct {
	OpenID string
	// UnionID is empty unless the app is bound to an open platform account.
	UnionID    string
	SessionKey Secret
}

// Code2Session exchanges a wx.login() code at /sns/jscode2session.
// Errors match ErrInvalidCode, ErrRateLimited, ErrUserBlocked or
// ErrUnavailable; other errcodes (a wrong appid or secret) are *APIError.
func (c *Client) Code2Session(ctx context.Context, code string) (*Session, error) {
	q := url.Values{
		"appid":      {c.appID},
		"secret":     {string(c.secret)},
		"js_code":    {code},
		"grant_type": {"authorization_code"},
	}
	var out struct {
		OpenID     string `json:"openid"`
		UnionID    string `json:"unionid"`
		SessionKey string `json:"session_key"`
	}
	if err := c.do(ctx, http.MethodGet, "/sns/jscode2session", q, nil, &out); err != nil {
		return nil, err
	}
	if out.OpenID == "" || out.SessionKey == "" {
		return nil, unavailable("/sns/jscode2session: answer lacks openid or session_key")
	}
	return &Session{OpenID: out.OpenID, UnionID: out.UnionID, SessionKey: Secret(out.SessionKey)}, nil
}

// do calls path once, and once more after a pause if WeChat says it is
// busy. body, when not nil, is sent as JSON.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("wechat: %s: encoding the request: %w", path, err)
		}
	}
	err := c.doOnce(ctx, method, path, q, payload, out)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != ErrcodeBusy {
		return err
	}
	pause := c.backoff/2 + rand.N(c.backoff)
	t := time.NewTimer(pause)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return unavailable("%s: %v", path, ctx.Err())
	case <-t.C:
	}
	return c.doOnce(ctx, method, path, q, payload, out)
}

// doOnce does one request and decodes WeChat's JSON into out. The query
// holds the app secret or the access token, and the body may hold the
// secret, so no error returned here may quote the URL or the body.
func (c *Client) doOnce(ctx context.Context, method, path string, q url.Values, payload []byte, out any) error {
	if c.observe == nil {
		return c.call(ctx, method, path, q, payload, out)
	}
	start := time.Now()
	err := c.call(ctx, method, path, q, payload, out)
	call := Call{Endpoint: path, Start: start, Duration: time.Since(start), Err: err}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		call.Errcode = apiErr.Code
	} else if err != nil {
		call.Errcode = ErrcodeNoAnswer
	}
	c.observe(ctx, call)
	return err
}

func (c *Client) call(ctx context.Context, method, path string, q url.Values, payload []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("wechat: %s: bad base URL", path)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return unavailable("%s: %s", path, describeTransportError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return unavailable("%s: reading answer: %s", path, describeTransportError(err))
	}
	if resp.StatusCode != http.StatusOK {
		return unavailable("%s: HTTP %d", path, resp.StatusCode)
	}
	// WeChat labels its JSON text/plain, so the Content-Type is ignored.
	var status struct {
		Errcode *int   `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(raw, &status); err != nil {
		return unavailable("%s: answer is not JSON", path)
	}
	if status.Errcode != nil && *status.Errcode != 0 {
		return &APIError{Code: *status.Errcode, Message: status.Errmsg}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return unavailable("%s: answer has unexpected fields", path)
	}
	return nil
}

// describeTransportError names what went wrong without the request URL,
// which *url.Error would print along with the app secret in its query.
func describeTransportError(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return fmt.Sprintf("%s: %v", opErr.Op, opErr.Err)
	}
	return "transport error"
}
