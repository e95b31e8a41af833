package auth

import (
	"context"
	"fmt"
	"log/slog"

	"wxlogin/store"
	"wxlogin/wechat"
)

// TokenStore is wechat.TokenStore on PostgreSQL, so that every instance
// uses one access token per app and exactly one of them renews it (the
// others wait on the row lock and reuse what it stored). The token is sealed
// under SECRET_KEY like a session_key, bound to its appid; one that opens
// under no key (SECRET_KEY changed, its old value not in
// SECRET_KEY_PREVIOUS) counts as absent and is fetched again.
type TokenStore struct {
	store  *store.Store
	sealer *sealer
	log    *slog.Logger
}

var _ wechat.TokenStore = (*TokenStore)(nil)

// NewTokenStore returns a TokenStore over st sealing with secretKey (see
// ParseSecretKey) and opening with it or any of previous (see
// ParsePreviousSecretKeys); log (slog.Default when nil) hears of tokens that
// do not open.
func NewTokenStore(st *store.Store, secretKey []byte, log *slog.Logger, previous ...[]byte) (*TokenStore, error) {
	if len(secretKey) != SecretKeySize {
		return nil, fmt.Errorf("auth: secret key must be %d bytes", SecretKeySize)
	}
	sl, err := newSealer(secretKey, previous...)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &TokenStore{store: st, sealer: sl, log: log}, nil
}

// Token returns appID's stored token, the zero AccessToken if none.
func (t *TokenStore) Token(ctx context.Context, appID string) (wechat.AccessToken, error) {
	row, err := t.store.AccessToken(ctx, appID)
	if err != nil {
		return wechat.AccessToken{}, err
	}
	return t.open(ctx, row), nil
}

// Renew runs fn under appID's row lock and stores what it returns, sealed.
func (t *TokenStore) Renew(ctx context.Context, appID string, fn func(current wechat.AccessToken) (wechat.AccessToken, error)) (wechat.AccessToken, error) {
	var out wechat.AccessToken
	_, err := t.store.RenewAccessToken(ctx, appID, func(cur store.AccessTokenRow) (store.AccessTokenRow, error) {
		next, err := fn(t.open(ctx, cur))
		if err != nil {
			return store.AccessTokenRow{}, err
		}
		out = next
		row := store.AccessTokenRow{AppID: appID, ExpiresAt: next.ExpiresAt, ForcedAt: next.ForcedAt}
		if next.Value != "" {
			row.TokenSealed = t.sealer.sealAD([]byte(next.Value), tokenAD(appID))
		}
		return row, nil
	})
	if err != nil {
		return wechat.AccessToken{}, err
	}
	return out, nil
}

// open turns a row into an AccessToken. A token that does not open keeps
// its times but loses its value, so the client renews it.
func (t *TokenStore) open(ctx context.Context, row store.AccessTokenRow) wechat.AccessToken {
	tok := wechat.AccessToken{ExpiresAt: row.ExpiresAt, ForcedAt: row.ForcedAt}
	if len(row.TokenSealed) == 0 {
		return tok
	}
	pt, err := t.sealer.openAD(row.TokenSealed, tokenAD(row.AppID))
	if err != nil {
		t.log.WarnContext(ctx, "the stored WeChat access token does not open under SECRET_KEY or SECRET_KEY_PREVIOUS; fetching a new one", "appid", row.AppID)
		return wechat.AccessToken{ForcedAt: row.ForcedAt}
	}
	tok.Value = wechat.Secret(pt)
	return tok
}

func tokenAD(appID string) []byte { return []byte("wxlogin/access_token/v1:" + appID) }
