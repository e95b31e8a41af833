package wechat

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
)

// SignSession is WeChat's login-state signature: hex(hmac_sha256(body)) keyed
// with the session_key as the string WeChat sent (not base64-decoded). GET
// calls like checksession sign the empty body.
func SignSession(body []byte, sessionKey Secret) string {
	m := hmac.New(sha256.New, []byte(sessionKey))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// CheckSession asks WeChat whether sessionKey is still openID's current
// session_key, without sending the key: a later wx.login() rotates it, and
// WeChat expires it after a while. It tells a decrypt that failed because
// the key is stale (false) from data that is bad (true). Errors:
// ErrUnavailable (also when the access token is refused after renewal),
// ErrRateLimited, or an *APIError.
func (c *Client) CheckSession(ctx context.Context, openID string, sessionKey Secret) (current bool, err error) {
	if openID == "" || sessionKey == "" {
		return false, errors.New("wechat: CheckSession needs an openid and a session_key")
	}
	q := url.Values{
		"openid":     {openID},
		"signature":  {SignSession(nil, sessionKey)},
		"sig_method": {"hmac_sha256"},
	}
	err = c.withToken(ctx, func(ctx context.Context, token string) error {
		q.Set("access_token", token)
		return c.do(ctx, http.MethodGet, "/wxa/checksession", q, nil, nil)
	})
	var apiErr *APIError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &apiErr) && apiErr.Code == ErrcodeInvalidSignature:
		return false, nil
	}
	return false, err
}
