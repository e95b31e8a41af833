package wechat

import "context"

// AccessTokenForTest lets the external tests ask for a token the way every
// token-needing call does, before any such call exists for them to use.
func (c *Client) AccessTokenForTest(ctx context.Context) (AccessToken, error) {
	return c.accessToken(ctx)
}

// WithTokenForTest runs call the way every token-needing API call does.
func (c *Client) WithTokenForTest(ctx context.Context, call func(ctx context.Context, token string) error) error {
	return c.withToken(ctx, call)
}
