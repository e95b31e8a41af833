-- Each mini program's WeChat access token, shared by every instance (see
-- store/tokens.go). The token is sealed by the caller under SECRET_KEY, like
-- a session_key; expires_at and forced_at stay readable so that a token
-- sealed under an old key is still replaced on time and forced refreshes
-- stay rate-limited across instances. A row is created on the first renewal
-- and locked (SELECT … FOR UPDATE) by whichever instance renews.
CREATE TABLE wechat_access_tokens (
    appid        text PRIMARY KEY,
    token_sealed bytea,
    expires_at   timestamptz,
    forced_at    timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
