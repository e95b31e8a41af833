package wechat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// DefaultTokenMargin is how long before expiry an access token is renewed.
// It is also the most useful: in normal mode stable_token hands out a new
// token only in the last 5 minutes of the old one, so renewing earlier would
// fetch the same token again.
const DefaultTokenMargin = 5 * time.Minute

// ForceRefreshInterval is the least time between two forced refreshes of an
// app's token, counted across instances through the TokenStore. WeChat
// ignores a forced refresh within 30 s of the last one and allows 20 a day;
// a token refused again this soon means something other than staleness is
// wrong, and forcing again would only spend the quota.
const ForceRefreshInterval = 30 * time.Second

// maxTokenLifetime caps expires_in. WeChat documents at most 7200 s; the cap
// keeps a garbled answer from making us hold on to a dead token for days.
const maxTokenLifetime = 7200 * time.Second

// maxTokenLen bounds an access token; WeChat asks for 512 characters of storage.
const maxTokenLen = 512

// AccessToken is an app's access_token as the TokenStore keeps it.
type AccessToken struct {
	// Value goes into API calls' query; it prints as a placeholder.
	Value Secret
	// ExpiresAt is when WeChat stops accepting Value, by the clock of the
	// instance that fetched it.
	ExpiresAt time.Time
	// ForcedAt is when some instance last forced a refresh (zero if never),
	// so that all of them together keep to ForceRefreshInterval.
	ForcedAt time.Time
}

// TokenStore keeps each app's access token where every instance sees it.
// store/ implements it on Postgres; MemoryTokenStore serves one instance.
type TokenStore interface {
	// Token returns the stored token for appID, the zero AccessToken if none.
	Token(ctx context.Context, appID string) (AccessToken, error)
	// Renew runs fn while holding appID's cross-instance lock. fn sees the
	// latest stored token (another instance may just have renewed it) and
	// returns the token to store, which may be the one it was given. Renew
	// returns what fn returned; when fn fails it stores nothing and returns
	// fn's error unchanged.
	Renew(ctx context.Context, appID string, fn func(current AccessToken) (AccessToken, error)) (AccessToken, error)
}

// MemoryTokenStore is a TokenStore for a single instance: its tokens and
// locks live in this process. The zero value is ready to use.
type MemoryTokenStore struct {
	mu     sync.Mutex
	tokens map[string]AccessToken
	// locks holds one channel of capacity 1 per appID, so that waiting
	// for the lock can give up when the context ends.
	locks map[string]chan struct{}
}

// NewMemoryTokenStore returns an empty MemoryTokenStore.
func NewMemoryTokenStore() *MemoryTokenStore { return &MemoryTokenStore{} }

// Token returns the stored token for appID.
func (s *MemoryTokenStore) Token(_ context.Context, appID string) (AccessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[appID], nil
}

// Renew runs fn under appID's lock and stores what it returns.
func (s *MemoryTokenStore) Renew(ctx context.Context, appID string, fn func(AccessToken) (AccessToken, error)) (AccessToken, error) {
	s.mu.Lock()
	if s.locks == nil {
		s.locks, s.tokens = map[string]chan struct{}{}, map[string]AccessToken{}
	}
	lock, ok := s.locks[appID]
	if !ok {
		lock = make(chan struct{}, 1)
		s.locks[appID] = lock
	}
	s.mu.Unlock()

	select {
	case lock <- struct{}{}:
	case <-ctx.Done():
		return AccessToken{}, ctx.Err()
	}
	defer func() { <-lock }()

	s.mu.Lock()
	cur := s.tokens[appID]
	s.mu.Unlock()
	t, err := fn(cur)
	if err != nil {
		return AccessToken{}, err
	}
	s.mu.Lock()
	s.tokens[appID] = t
	s.mu.Unlock()
	return t, nil
}

// errForceTooSoon is returned, joined to WeChat's refusal, when the token
// was refused again within ForceRefreshInterval of a forced refresh.
var errForceTooSoon = fmt.Errorf("%w: access token refused again within %v of a forced refresh", ErrUnavailable, ForceRefreshInterval)

// errSameToken is returned, joined to WeChat's refusal, when renewing
// yielded the very token WeChat refused, so retrying would be pointless.
var errSameToken = fmt.Errorf("%w: WeChat kept the refused access token", ErrUnavailable)

// withToken runs call with the app's access token. When WeChat refuses the
// token (40001, 42001, 40014) it is replaced once and call retried once, so
// every token-needing API shares one recovery path. The token is passed as
// a string for the query and must never reach an error text.
func (c *Client) withToken(ctx context.Context, call func(ctx context.Context, token string) error) error {
	t, err := c.accessToken(ctx)
	if err != nil {
		return err
	}
	err = call(ctx, string(t.Value))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !isTokenErrcode(apiErr.Code) {
		return err
	}
	fresh, rerr := c.replaceToken(ctx, t.Value, apiErr.Code)
	if rerr == nil && fresh.Value == t.Value {
		rerr = errSameToken
	}
	if rerr != nil {
		return fmt.Errorf("%w; renewing it: %w", err, rerr)
	}
	return call(ctx, string(fresh.Value))
}

// accessToken returns a token with more than the margin left, renewing it
// under the store's lock when needed. Concurrent callers of one Client
// share one renewal, and so one round trip to the store and to WeChat.
func (c *Client) accessToken(ctx context.Context) (AccessToken, error) {
	t, err := c.tokens.Token(ctx, c.appID)
	if err != nil {
		return AccessToken{}, storeError(err)
	}
	if c.fresh(t) {
		return t, nil
	}
	return c.flight.do(ctx, "renew", c.renewTimeout(), func(ctx context.Context) (AccessToken, error) {
		return c.renew(ctx, func(cur AccessToken) (AccessToken, error) {
			// Another instance may have renewed while we waited for the lock.
			if c.fresh(cur) {
				return cur, nil
			}
			return c.stableToken(ctx, cur, false)
		})
	})
}

// replaceToken replaces bad, a token WeChat just refused with errcode code.
// If another caller or instance already replaced it, their token is used.
// An expired token (42001) is first renewed the normal way, which keeps
// WeChat's quota of forced refreshes; a refused one is force-refreshed,
// at most once per ForceRefreshInterval across instances.
func (c *Client) replaceToken(ctx context.Context, bad Secret, code int) (AccessToken, error) {
	// The key is held in memory only, to let callers refused with the same
	// token share one replacement.
	return c.flight.do(ctx, "replace\x00"+string(bad), c.renewTimeout(), func(ctx context.Context) (AccessToken, error) {
		return c.renew(ctx, func(cur AccessToken) (AccessToken, error) {
			if cur.Value != bad {
				if c.fresh(cur) {
					return cur, nil
				}
				return c.stableToken(ctx, cur, false)
			}
			if code == ErrcodeTokenExpired {
				t, err := c.stableToken(ctx, cur, false)
				if err != nil || t.Value != bad {
					return t, err
				}
				// WeChat still hands out the token it calls expired; only
				// a forced refresh replaces it.
			}
			if !cur.ForcedAt.IsZero() && c.now().Sub(cur.ForcedAt) < ForceRefreshInterval {
				return AccessToken{}, errForceTooSoon
			}
			return c.stableToken(ctx, cur, true)
		})
	})
}

// renew runs fn under the store's lock, telling the store's own failures
// apart from fn's, which pass unchanged.
func (c *Client) renew(ctx context.Context, fn func(AccessToken) (AccessToken, error)) (AccessToken, error) {
	var fnErr error
	t, err := c.tokens.Renew(ctx, c.appID, func(cur AccessToken) (AccessToken, error) {
		t, err := fn(cur)
		fnErr = err
		return t, err
	})
	if err != nil && (fnErr == nil || !errors.Is(err, fnErr)) {
		return AccessToken{}, storeError(err)
	}
	return t, err
}

// storeError wraps a TokenStore failure. Running out of time waiting for the
// lock means another instance is slow to renew, which a caller should treat
// like WeChat being slow.
func storeError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return unavailable("access token store: %v", err)
	}
	return fmt.Errorf("wechat: access token store: %w", err)
}

// fresh reports whether t has more than the margin left.
func (c *Client) fresh(t AccessToken) bool {
	return t.Value != "" && t.ExpiresAt.Sub(c.now()) > c.margin
}

// renewTimeout bounds one shared renewal: a wait for the store's lock
// (another instance's renewal) and our own call with its busy retry.
func (c *Client) renewTimeout() time.Duration { return 4*c.timeout + 2*c.backoff }

// stableToken fetches a token at /cgi-bin/stable_token. cur is the stored
// token, whose ForcedAt is carried over unless this refresh is forced.
func (c *Client) stableToken(ctx context.Context, cur AccessToken, force bool) (AccessToken, error) {
	const path = "/cgi-bin/stable_token"
	// string(c.secret): Secret's MarshalJSON would send the placeholder.
	body := struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}{"client_credential", c.appID, string(c.secret), force}
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := c.do(ctx, http.MethodPost, path, nil, body, &out); err != nil {
		return AccessToken{}, err
	}
	if !isTokenText(out.AccessToken) || out.ExpiresIn <= 0 {
		return AccessToken{}, unavailable("%s: answer lacks a usable access_token or expires_in", path)
	}
	now := c.now()
	life := maxTokenLifetime
	if out.ExpiresIn < int64(maxTokenLifetime/time.Second) {
		life = time.Duration(out.ExpiresIn) * time.Second
	}
	t := AccessToken{Value: Secret(out.AccessToken), ExpiresAt: now.Add(life), ForcedAt: cur.ForcedAt}
	if force {
		t.ForcedAt = now
	}
	return t, nil
}

// isTokenText accepts what can go into a query as a token: printable ASCII
// without spaces, at most maxTokenLen.
func isTokenText(s string) bool {
	if s == "" || len(s) > maxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// flight runs one renewal per key at a time and hands its result to every
// caller that asked meanwhile: a small singleflight. The renewal runs apart
// from the first caller's context, so one caller giving up does not fail the
// others; each caller still stops waiting when its own context ends.
type flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	tok  AccessToken
	err  error
}

func (f *flight) do(ctx context.Context, key string, timeout time.Duration, fn func(context.Context) (AccessToken, error)) (AccessToken, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	fc, ok := f.calls[key]
	if !ok {
		fc = &flightCall{done: make(chan struct{})}
		f.calls[key] = fc
		go func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
			defer cancel()
			fc.tok, fc.err = fn(rctx)
			f.mu.Lock()
			delete(f.calls, key)
			f.mu.Unlock()
			close(fc.done)
		}()
	}
	f.mu.Unlock()
	select {
	case <-fc.done:
		return fc.tok, fc.err
	case <-ctx.Done():
		return AccessToken{}, unavailable("waiting for the access token: %v", ctx.Err())
	}
}
