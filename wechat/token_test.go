package wechat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

// startSim serves a simulator over real HTTP and returns it with its URL.
func startSim(t *testing.T) (*wechattest.Simulator, string) {
	t.Helper()
	sim := wechattest.New(wechattest.App{AppID: testAppID, Secret: testSecret})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		srv.Close()
		if u := sim.Unexpected(); len(u) > 0 {
			t.Errorf("unexpected calls to the simulator: %v", u)
		}
	})
	return sim, srv.URL
}

// clientAt returns a client of the test app at base, filling cfg's blanks.
func clientAt(base string, cfg wechat.Config) *wechat.Client {
	if cfg.AppID == "" {
		cfg.AppID = testAppID
	}
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	cfg.BaseURL = base
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = 10 * time.Millisecond
	}
	return wechat.NewClient(cfg)
}

// countingStore counts Renew calls, which with Postgres are transactions
// holding a row lock.
type countingStore struct {
	wechat.TokenStore
	renews atomic.Int64
}

func (s *countingStore) Renew(ctx context.Context, appID string, fn func(wechat.AccessToken) (wechat.AccessToken, error)) (wechat.AccessToken, error) {
	s.renews.Add(1)
	return s.TokenStore.Renew(ctx, appID, fn)
}

// clock is a Config.Now that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tokensFrom asks for a token from n goroutines spread over clients and
// returns the distinct values they got.
func tokensFrom(t *testing.T, n int, clients ...*wechat.Client) map[wechat.Secret]bool {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[wechat.Secret]bool{}
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			tok, err := clients[i%len(clients)].AccessTokenForTest(t.Context())
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen[tok.Value] = true
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return seen
}

func TestAccessToken_ConcurrentCallersShareOneFetch(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t)
	// A slow answer keeps all 50 waiting on the same fetch.
	sim.InjectAt(wechattest.PathStableToken, wechattest.Fault{Delay: 200 * time.Millisecond})
	store := &countingStore{TokenStore: wechat.NewMemoryTokenStore()}
	c := clientAt(base, wechat.Config{Tokens: store})

	seen := tokensFrom(t, 50, c)
	if n := sim.Calls(wechattest.PathStableToken); n != 1 {
		t.Fatalf("stable_token called %d times, want 1", n)
	}
	if n := store.renews.Load(); n != 1 {
		t.Fatalf("Renew called %d times, want 1: concurrent callers were not coalesced", n)
	}
	if len(seen) != 1 {
		t.Fatalf("callers got %d different tokens, want 1", len(seen))
	}
	// Once stored, the token is used without renewing.
	if _, err := c.AccessTokenForTest(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := store.renews.Load(); n != 1 {
		t.Fatalf("a fresh stored token was renewed (%d Renew calls)", n)
	}
}

func TestAccessToken_InstancesShareOneStore(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t)
	sim.InjectAt(wechattest.PathStableToken, wechattest.Fault{Delay: 200 * time.Millisecond})
	store := wechat.NewMemoryTokenStore()
	a := clientAt(base, wechat.Config{Tokens: store})
	b := clientAt(base, wechat.Config{Tokens: store})

	seen := tokensFrom(t, 50, a, b)
	if n := sim.Calls(wechattest.PathStableToken); n != 1 {
		t.Fatalf("stable_token called %d times by two instances, want 1: the renewal under the lock must re-check", n)
	}
	if len(seen) != 1 {
		t.Fatalf("instances got %d different tokens, want 1", len(seen))
	}
}

func TestAccessToken_RenewedWithinMargin(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t)
	clk := newClock()
	store := wechat.NewMemoryTokenStore()
	c := clientAt(base, wechat.Config{Tokens: store, Now: clk.Now})

	first, err := c.AccessTokenForTest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if left := first.ExpiresAt.Sub(clk.Now()); left < wechattest.TokenTTL-time.Minute || left > wechattest.TokenTTL {
		t.Fatalf("token expires in %v, want about %v", left, wechattest.TokenTTL)
	}
	if !first.ForcedAt.IsZero() {
		t.Fatal("a normal fetch set ForcedAt")
	}

	// Just outside the margin: still the same token, no call.
	step := wechattest.TokenTTL - wechat.DefaultTokenMargin - time.Minute
	clk.Advance(step)
	sim.Advance(step)
	if tok, _ := c.AccessTokenForTest(t.Context()); tok.Value != first.Value || sim.Calls(wechattest.PathStableToken) != 1 {
		t.Fatal("a token with more than the margin left was renewed")
	}

	// Inside the margin: a new token, and WeChat keeps the old one valid.
	clk.Advance(2 * time.Minute)
	sim.Advance(2 * time.Minute)
	second, err := c.AccessTokenForTest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if second.Value == first.Value || sim.Calls(wechattest.PathStableToken) != 2 {
		t.Fatalf("inside the margin: same token %v, %d calls; want a new one from a second call", second.Value == first.Value, sim.Calls(wechattest.PathStableToken))
	}
	if stored, _ := store.Token(t.Context(), testAppID); stored != second {
		t.Fatal("the renewed token was not stored")
	}
	if n := sim.AccessTokens(testAppID); n != 2 {
		t.Fatalf("WeChat accepts %d tokens during the overlap, want 2", n)
	}
}

func TestAccessToken_MarginAboveWeChatsWindowIsCapped(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t)
	clk := newClock()
	// A 30-minute margin would renew 25 minutes before WeChat hands out a
	// new token, fetching the same token on every call meanwhile.
	c := clientAt(base, wechat.Config{Now: clk.Now, TokenMargin: 30 * time.Minute})
	if _, err := c.AccessTokenForTest(t.Context()); err != nil {
		t.Fatal(err)
	}
	step := wechattest.TokenTTL - 20*time.Minute
	clk.Advance(step)
	sim.Advance(step)
	for range 3 {
		if _, err := c.AccessTokenForTest(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := sim.Calls(wechattest.PathStableToken); n != 1 {
		t.Fatalf("stable_token called %d times 20 minutes before expiry, want 1", n)
	}
}

func TestAccessToken_Errors(t *testing.T) {
	t.Parallel()

	t.Run("WrongSecret", func(t *testing.T) {
		_, base := startSim(t)
		store := wechat.NewMemoryTokenStore()
		c := clientAt(base, wechat.Config{Secret: "not-the-secret", Tokens: store})
		_, err := c.AccessTokenForTest(t.Context())
		assertAPIError(t, err, nil, wechat.ErrcodeInvalidCred)
		if strings.Contains(err.Error(), "not-the-secret") {
			t.Fatalf("error quotes the secret: %v", err)
		}
		if tok, _ := store.Token(t.Context(), testAppID); tok != (wechat.AccessToken{}) {
			t.Fatal("a failed fetch stored something")
		}
	})

	t.Run("WrongAppID", func(t *testing.T) {
		_, base := startSim(t)
		c := clientAt(base, wechat.Config{AppID: "wx9999999999999999"})
		_, err := c.AccessTokenForTest(t.Context())
		assertAPIError(t, err, nil, wechat.ErrcodeInvalidAppID)
	})

	t.Run("BusyRetriedOnce", func(t *testing.T) {
		sim, base := startSim(t)
		sim.InjectAt(wechattest.PathStableToken, wechattest.Fault{Errcode: wechat.ErrcodeBusy})
		c := clientAt(base, wechat.Config{})
		if _, err := c.AccessTokenForTest(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := sim.Calls(wechattest.PathStableToken); n != 2 {
			t.Fatalf("stable_token called %d times, want 2", n)
		}
	})

	for name, body := range map[string]string{
		"NotJSON":      "<html>",
		"NoToken":      `{"expires_in":7200}`,
		"NoExpiry":     `{"access_token":"abcdefghijklmnopqrstuvwxyz"}`,
		"NegExpiry":    `{"access_token":"abcdefghijklmnopqrstuvwxyz","expires_in":-1}`,
		"TokenSpace":   `{"access_token":"abc def","expires_in":7200}`,
		"TokenTooLong": `{"access_token":"` + strings.Repeat("a", 513) + `","expires_in":7200}`,
	} {
		t.Run(name, func(t *testing.T) {
			sim, base := startSim(t)
			sim.InjectAt(wechattest.PathStableToken, wechattest.Fault{Body: body})
			_, err := clientAt(base, wechat.Config{}).AccessTokenForTest(t.Context())
			if !errors.Is(err, wechat.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
		})
	}

	t.Run("LongExpiryCapped", func(t *testing.T) {
		sim, base := startSim(t)
		sim.InjectAt(wechattest.PathStableToken, wechattest.Fault{Body: `{"access_token":"abcdefghijklmnopqrstuvwxyz","expires_in":99999999999}`})
		tok, err := clientAt(base, wechat.Config{}).AccessTokenForTest(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if left := time.Until(tok.ExpiresAt); left > 2*time.Hour {
			t.Fatalf("token kept for %v, want at most 2h", left)
		}
	})

	t.Run("CallerGivesUpOthersStillServed", func(t *testing.T) {
		sim, base := startSim(t)
		sim.InjectAt(wechattest.PathStableToken, wechattest.Fault{Delay: 300 * time.Millisecond})
		c := clientAt(base, wechat.Config{})
		// The impatient caller starts the fetch; the patient one joins it.
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		impatient := make(chan error, 1)
		go func() {
			_, err := c.AccessTokenForTest(ctx)
			impatient <- err
		}()
		for sim.Calls(wechattest.PathStableToken) == 0 {
			time.Sleep(time.Millisecond)
		}
		if _, err := c.AccessTokenForTest(t.Context()); err != nil {
			t.Fatalf("patient caller failed with the impatient one: %v", err)
		}
		if err := <-impatient; !errors.Is(err, wechat.ErrUnavailable) {
			t.Fatalf("impatient caller: %v, want ErrUnavailable", err)
		}
		if n := sim.Calls(wechattest.PathStableToken); n != 1 {
			t.Fatalf("stable_token called %d times, want 1", n)
		}
	})
}

func TestMemoryTokenStore(t *testing.T) {
	t.Parallel()
	var s wechat.MemoryTokenStore // the zero value works
	ctx := t.Context()
	tok := wechat.AccessToken{Value: "v1", ExpiresAt: time.Now().Add(time.Hour)}

	t.Run("FailedRenewStoresNothing", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := s.Renew(ctx, "a", func(wechat.AccessToken) (wechat.AccessToken, error) { return tok, boom })
		if err != boom {
			t.Fatalf("err = %v, want fn's error unchanged", err)
		}
		if got, _ := s.Token(ctx, "a"); got != (wechat.AccessToken{}) {
			t.Fatalf("stored %+v after a failed renewal", got)
		}
	})

	t.Run("RenewSeesLatest", func(t *testing.T) {
		if _, err := s.Renew(ctx, "b", func(cur wechat.AccessToken) (wechat.AccessToken, error) { return tok, nil }); err != nil {
			t.Fatal(err)
		}
		var saw wechat.AccessToken
		if _, err := s.Renew(ctx, "b", func(cur wechat.AccessToken) (wechat.AccessToken, error) { saw = cur; return cur, nil }); err != nil {
			t.Fatal(err)
		}
		if saw != tok {
			t.Fatalf("fn saw %+v, want the stored token", saw)
		}
		if got, _ := s.Token(ctx, "c"); got != (wechat.AccessToken{}) {
			t.Fatal("another appid sees b's token")
		}
	})

	t.Run("LockWaitEndsWithContext", func(t *testing.T) {
		held, release := make(chan struct{}), make(chan struct{})
		go func() {
			_, _ = s.Renew(ctx, "d", func(cur wechat.AccessToken) (wechat.AccessToken, error) {
				close(held)
				<-release
				return cur, nil
			})
		}()
		<-held
		defer close(release)
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		ran := false
		_, err := s.Renew(short, "d", func(cur wechat.AccessToken) (wechat.AccessToken, error) { ran = true; return cur, nil })
		if !errors.Is(err, context.DeadlineExceeded) || ran {
			t.Fatalf("err = %v, ran = %v; want a deadline error without running fn", err, ran)
		}
		// Other apps are not blocked by d's lock.
		other, cancel2 := context.WithTimeout(ctx, time.Second)
		defer cancel2()
		if _, err := s.Renew(other, "e", func(cur wechat.AccessToken) (wechat.AccessToken, error) { return cur, nil }); err != nil {
			t.Fatalf("app e waited on app d's lock: %v", err)
		}
	})

	t.Run("ValueRedactedWhenPrinted", func(t *testing.T) {
		tok := wechat.AccessToken{Value: "tok-123456"}
		for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
			if out := fmt.Sprintf(f, tok); strings.Contains(out, "tok-123456") {
				t.Fatalf("%s shows the token: %s", f, out)
			}
		}
	})
}

// refusing returns a call for WithTokenForTest that answers as WeChat does
// to the tokens in refused, and records the tokens it was given.
func refusing(code int, refused ...string) (call func(context.Context, string) error, got *[]string) {
	got = new([]string)
	return func(_ context.Context, token string) error {
		*got = append(*got, token)
		for _, r := range refused {
			if token == r {
				return &wechat.APIError{Code: code, Message: "refused, rid: test"}
			}
		}
		return nil
	}, got
}

func TestWithToken_RefusedTokenReplacedOnce(t *testing.T) {
	t.Parallel()
	for _, code := range []int{wechat.ErrcodeInvalidToken, wechat.ErrcodeBadToken} {
		sim, base := startSim(t)
		store := wechat.NewMemoryTokenStore()
		c := clientAt(base, wechat.Config{Tokens: store})
		first, err := c.AccessTokenForTest(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		sim.InvalidateToken(testAppID)
		call, got := refusing(code, string(first.Value))
		if err := c.WithTokenForTest(t.Context(), call); err != nil {
			t.Fatalf("%d: %v", code, err)
		}
		if len(*got) != 2 || (*got)[1] == string(first.Value) {
			t.Fatalf("%d: call ran %d times; want twice, the second with a new token", code, len(*got))
		}
		stored, _ := store.Token(t.Context(), testAppID)
		if string(stored.Value) != (*got)[1] || stored.ForcedAt.IsZero() {
			t.Fatalf("%d: the forced token was not stored with ForcedAt", code)
		}
		if n := sim.Calls(wechattest.PathStableToken); n != 2 {
			t.Fatalf("%d: stable_token called %d times, want 2", code, n)
		}
	}
}

func TestWithToken_NotRetriedForOtherErrors(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t)
	c := clientAt(base, wechat.Config{})
	for _, code := range []int{wechat.ErrcodeInvalidCode, wechat.ErrcodeBusy, wechat.ErrcodeMissingToken, wechat.ErrcodeRateLimited} {
		calls := 0
		err := c.WithTokenForTest(t.Context(), func(context.Context, string) error {
			calls++
			return &wechat.APIError{Code: code}
		})
		var apiErr *wechat.APIError
		if !errors.As(err, &apiErr) || apiErr.Code != code || calls != 1 {
			t.Fatalf("errcode %d: err %v after %d calls; want it returned after 1", code, err, calls)
		}
	}
	if n := sim.Calls(wechattest.PathStableToken); n != 1 {
		t.Fatalf("stable_token called %d times, want 1", n)
	}
}

func TestWithToken_SecondRefusalWithin30sNotForced(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t)
	clk := newClock()
	store := wechat.NewMemoryTokenStore()
	a := clientAt(base, wechat.Config{Tokens: store, Now: clk.Now})
	// b is another instance sharing the store: the limit counts across them.
	b := clientAt(base, wechat.Config{Tokens: store, Now: clk.Now})

	first, _ := a.AccessTokenForTest(t.Context())
	callA, _ := refusing(wechat.ErrcodeInvalidToken, string(first.Value))
	if err := a.WithTokenForTest(t.Context(), callA); err != nil {
		t.Fatal(err)
	}
	forced, _ := store.Token(t.Context(), testAppID)

	clk.Advance(wechat.ForceRefreshInterval - time.Second)
	sim.Advance(wechat.ForceRefreshInterval - time.Second)
	callB, got := refusing(wechat.ErrcodeInvalidToken, string(forced.Value))
	err := b.WithTokenForTest(t.Context(), callB)
	var apiErr *wechat.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != wechat.ErrcodeInvalidToken || !errors.Is(err, wechat.ErrUnavailable) {
		t.Fatalf("err = %v, want errcode 40001 matching ErrUnavailable", err)
	}
	if len(*got) != 1 || sim.Calls(wechattest.PathStableToken) != 2 {
		t.Fatalf("call ran %d times, stable_token %d times; want 1 and 2 (no second force)", len(*got), sim.Calls(wechattest.PathStableToken))
	}
	if strings.Contains(err.Error(), string(forced.Value)) || strings.Contains(err.Error(), testSecret) {
		t.Fatalf("error quotes the token or secret: %v", err)
	}

	// Past the interval a refused token is forced again.
	clk.Advance(2 * time.Second)
	sim.Advance(2 * time.Second)
	callB, got = refusing(wechat.ErrcodeInvalidToken, string(forced.Value))
	if err := b.WithTokenForTest(t.Context(), callB); err != nil || len(*got) != 2 {
		t.Fatalf("after the interval: %v after %d calls", err, len(*got))
	}
	if n := sim.Calls(wechattest.PathStableToken); n != 3 {
		t.Fatalf("stable_token called %d times, want 3", n)
	}
}

func TestWithToken_ExpiredRenewedWithoutForce(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t)
	store := wechat.NewMemoryTokenStore()
	c := clientAt(base, wechat.Config{Tokens: store})
	first, _ := c.AccessTokenForTest(t.Context())
	// WeChat's clock runs ahead of ours: it calls the token expired.
	sim.Advance(wechattest.TokenTTL + time.Second)
	call, got := refusing(wechat.ErrcodeTokenExpired, string(first.Value))
	if err := c.WithTokenForTest(t.Context(), call); err != nil || len(*got) != 2 {
		t.Fatalf("%v after %d calls", err, len(*got))
	}
	if stored, _ := store.Token(t.Context(), testAppID); !stored.ForcedAt.IsZero() || stored.Value == first.Value {
		t.Fatal("an expired token was force-refreshed, spending WeChat's daily quota of 20")
	}
}

func TestWithToken_SameTokenBackIsNotRetried(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t)
	c := clientAt(base, wechat.Config{})
	first, _ := c.AccessTokenForTest(t.Context())
	// WeChat answers the forced refresh with the very token it refused.
	sim.InjectAt(wechattest.PathStableToken, wechattest.Fault{Body: `{"access_token":"` + string(first.Value) + `","expires_in":7000}`})
	call, got := refusing(wechat.ErrcodeInvalidToken, string(first.Value))
	err := c.WithTokenForTest(t.Context(), call)
	if !errors.Is(err, wechat.ErrUnavailable) || len(*got) != 1 {
		t.Fatalf("err = %v after %d calls; want ErrUnavailable after 1", err, len(*got))
	}
}

func TestWithToken_ConcurrentRefusalsShareOneForce(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t)
	store := &countingStore{TokenStore: wechat.NewMemoryTokenStore()}
	c := clientAt(base, wechat.Config{Tokens: store})
	first, _ := c.AccessTokenForTest(t.Context())
	sim.InvalidateToken(testAppID)
	sim.InjectAt(wechattest.PathStableToken, wechattest.Fault{Delay: 200 * time.Millisecond})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			call, _ := refusing(wechat.ErrcodeInvalidToken, string(first.Value))
			if err := c.WithTokenForTest(t.Context(), call); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := sim.Calls(wechattest.PathStableToken); n != 2 {
		t.Fatalf("stable_token called %d times, want 2 (one force for all 20)", n)
	}
	if n := store.renews.Load(); n != 2 {
		t.Fatalf("Renew called %d times, want 2", n)
	}
}

func TestWithToken_ReplacementByAnotherInstanceReused(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t)
	store := wechat.NewMemoryTokenStore()
	a := clientAt(base, wechat.Config{Tokens: store})
	b := clientAt(base, wechat.Config{Tokens: store})
	first, _ := a.AccessTokenForTest(t.Context())
	sim.InvalidateToken(testAppID)

	// b's call is under way with the old token while a replaces it.
	inFlight, replaced := make(chan struct{}), make(chan struct{})
	var bTokens []string
	done := make(chan error, 1)
	go func() {
		done <- b.WithTokenForTest(t.Context(), func(_ context.Context, token string) error {
			bTokens = append(bTokens, token)
			if token == string(first.Value) {
				close(inFlight)
				<-replaced
				return &wechat.APIError{Code: wechat.ErrcodeInvalidToken, Message: "rid: test"}
			}
			return nil
		})
	}()
	<-inFlight
	callA, _ := refusing(wechat.ErrcodeInvalidToken, string(first.Value))
	if err := a.WithTokenForTest(t.Context(), callA); err != nil {
		t.Fatal(err)
	}
	close(replaced)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	forced, _ := store.Token(t.Context(), testAppID)
	if len(bTokens) != 2 || bTokens[1] != string(forced.Value) {
		t.Fatal("b did not retry with the token a stored")
	}
	if n := sim.Calls(wechattest.PathStableToken); n != 2 {
		t.Fatalf("stable_token called %d times, want 2: b must reuse a's replacement", n)
	}
}
