package wechattest

// These tests look inside the simulator to prove that what it remembers
// stays bounded; the bounds are invisible through the API until memory runs out.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"wxlogin/wechat"
)

const limitsAppID = "wx7777777777777777"

func newLimited(t *testing.T, l Limits) (*Simulator, *httptest.Server) {
	t.Helper()
	sim := New(App{AppID: limitsAppID, Secret: "s"})
	sim.SetLimits(l)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return sim, srv
}

// held returns how many codes and users the simulator holds, checking that
// its indexes agree.
func held(t *testing.T, s *Simulator) (codes, users int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.codes) != len(s.byIssue) {
		t.Fatalf("%d codes but %d in issue order", len(s.codes), len(s.byIssue))
	}
	if len(s.current) != s.byLogin.Len() || len(s.byOpenID) != len(s.current) {
		t.Fatalf("%d users but %d in login order and %d by openid", len(s.current), s.byLogin.Len(), len(s.byOpenID))
	}
	return len(s.codes), len(s.current)
}

func mint(t *testing.T, srv *httptest.Server, user string) (int, map[string]string) {
	t.Helper()
	resp, err := http.Post(srv.URL+"/dev/wechat/code", "application/json", strings.NewReader(`{"user":"`+user+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, out
}

func exchange(t *testing.T, srv *httptest.Server, code string) (*wechat.Session, error) {
	t.Helper()
	c := wechat.NewClient(wechat.Config{AppID: limitsAppID, Secret: "s", BaseURL: srv.URL})
	return c.Code2Session(t.Context(), code)
}

func TestLimits_ExpiredCodesArePruned(t *testing.T) {
	t.Parallel()
	sim, srv := newLimited(t, Limits{Codes: 100})
	var old []string
	for i := range 10 {
		code, err := sim.Login("", fmt.Sprint("u", i))
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, code)
	}
	sim.Advance(CodeTTL - time.Second)
	if _, err := sim.Login("", "fresh"); err != nil {
		t.Fatal(err)
	}
	if codes, _ := held(t, sim); codes != 11 {
		t.Fatalf("%d codes held before any expired, want 11", codes)
	}
	sim.Advance(2 * time.Second)
	if _, err := sim.Login("", "fresher"); err != nil {
		t.Fatal(err)
	}
	if codes, _ := held(t, sim); codes != 2 {
		t.Fatalf("%d codes held after 10 expired, want 2", codes)
	}
	// A pruned code is answered as WeChat answers an expired one.
	if _, err := exchange(t, srv, old[0]); !errors.Is(err, wechat.ErrInvalidCode) {
		t.Fatalf("expired code: %v, want ErrInvalidCode", err)
	}
}

func TestLimits_UsedCodesKeptUntilExpiry(t *testing.T) {
	t.Parallel()
	sim, srv := newLimited(t, Limits{})
	code, _ := sim.Login("", "alice")
	if _, err := exchange(t, srv, code); err != nil {
		t.Fatal(err)
	}
	_, _ = sim.Login("", "bob") // prunes
	var apiErr *wechat.APIError
	if _, err := exchange(t, srv, code); !errors.As(err, &apiErr) || apiErr.Code != wechat.ErrcodeCodeUsed {
		t.Fatalf("reused code: %v, want errcode 40163", err)
	}
}

func TestLimits_CodesCapped(t *testing.T) {
	t.Parallel()
	sim, srv := newLimited(t, Limits{Codes: 3})
	for i := range 3 {
		if _, err := sim.Login("", fmt.Sprint("u", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sim.Login("", "u0"); !errors.Is(err, ErrTooManyCodes) {
		t.Fatalf("Login past the cap: %v, want ErrTooManyCodes", err)
	}
	status, out := mint(t, srv, "u0")
	if status != http.StatusTooManyRequests || out["error"] == "" || out["code"] != "" {
		t.Fatalf("minting past the cap: %d %v, want 429 with an error", status, out)
	}
	if codes, _ := held(t, sim); codes != 3 {
		t.Fatalf("%d codes held, want 3", codes)
	}
	// Spending a code does not free its slot; expiry does.
	sim.Advance(CodeTTL + time.Second)
	if status, out := mint(t, srv, "u0"); status != http.StatusOK || out["code"] == "" {
		t.Fatalf("minting after expiry: %d %v", status, out)
	}
}

func TestLimits_UsersCapped(t *testing.T) {
	t.Parallel()
	sim, srv := newLimited(t, Limits{Users: 2})
	for _, u := range []string{"alice", "bob", "alice"} { // alice is now the most recent
		if _, err := sim.Login("", u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sim.Login("", "carol"); !errors.Is(err, ErrTooManyUsers) {
		t.Fatalf("a third recent user: %v, want ErrTooManyUsers", err)
	}
	if status, out := mint(t, srv, "carol"); status != http.StatusTooManyRequests || out["error"] == "" {
		t.Fatalf("minting for a third recent user: %d %v, want 429", status, out)
	}
	if _, users := held(t, sim); users != 2 {
		t.Fatalf("%d users held, want 2", users)
	}

	// Once both are stale, a new user displaces only the least recent one.
	sim.Advance(CodeTTL + time.Second)
	if _, err := sim.Login("", "carol"); err != nil {
		t.Fatal(err)
	}
	if _, users := held(t, sim); users != 2 {
		t.Fatalf("%d users held, want 2", users)
	}
	if _, err := sim.UserInfo("", "bob", wechat.Profile{}); err == nil {
		t.Fatal("bob, the least recent, was not the one forgotten")
	}
	for _, u := range []string{"alice", "carol"} {
		if _, err := sim.UserInfo("", u, wechat.Profile{}); err != nil {
			t.Fatalf("%s forgotten: %v", u, err)
		}
	}
}

func TestLimits_UserNameBounded(t *testing.T) {
	t.Parallel()
	sim, srv := newLimited(t, Limits{})
	if _, err := sim.Login("", strings.Repeat("u", MaxUserLen)); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Login("", strings.Repeat("u", MaxUserLen+1)); err == nil {
		t.Fatal("a user name past MaxUserLen was accepted")
	}
	if status, _ := mint(t, srv, strings.Repeat("u", 60_000)); status != http.StatusBadRequest {
		t.Fatalf("minting for a 60 kB user name: %d, want 400", status)
	}
}

func TestLimits_UnexpectedBounded(t *testing.T) {
	t.Parallel()
	sim, srv := newLimited(t, Limits{Unexpected: 3})
	for i := range 5 {
		resp, err := http.Get(fmt.Sprintf("%s/nope/%d", srv.URL, i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got, want := sim.Unexpected(), []string{"GET /nope/2", "GET /nope/3", "GET /nope/4"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Unexpected() = %q, want %q", got, want)
	}
	if n := sim.UnexpectedTotal(); n != 5 {
		t.Fatalf("UnexpectedTotal() = %d, want 5", n)
	}
	resp, err := http.Get(srv.URL + "/" + strings.Repeat("x", 10_000))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u := sim.Unexpected()
	if last := u[len(u)-1]; len(last) > maxUnexpectedLen+len("…") || !strings.HasPrefix(last, "GET /xxx") {
		t.Fatalf("a 10 kB path is remembered as %d bytes", len(last))
	}
	sim.mu.Lock()
	defer sim.mu.Unlock()
	if cap(sim.unexpected.buf) > 4 {
		t.Fatalf("unexpected holds room for %d, want at most 4", cap(sim.unexpected.buf))
	}
}

func TestLimits_SessionKeysBounded(t *testing.T) {
	t.Parallel()
	sim, srv := newLimited(t, Limits{SessionKeys: 2})
	var keys []wechat.Secret
	for i := range 3 {
		code, _ := sim.Login("", fmt.Sprint("u", i))
		s, err := exchange(t, srv, code)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, s.SessionKey)
	}
	if got := sim.SessionKeys(); len(got) != 2 || got[0] != keys[1] || got[1] != keys[2] {
		t.Fatal("SessionKeys() is not the newest 2 handed out, oldest first")
	}
	// Lowering the cap keeps the newest.
	sim.SetLimits(Limits{SessionKeys: 1})
	if got := sim.SessionKeys(); len(got) != 1 || got[0] != keys[2] {
		t.Fatal("after SetLimits, SessionKeys() is not the newest 1")
	}
}

func TestLimits_CallsKeyedByKnownPaths(t *testing.T) {
	t.Parallel()
	sim, srv := newLimited(t, Limits{})
	for i := range 50 {
		for _, p := range []string{"/sns/jscode2session/%d", "/sns/x%d", "/dev/wechat/code%d", "/%d"} {
			resp, err := http.Post(srv.URL+fmt.Sprintf(p, i), "application/json", strings.NewReader(`{"user":"a"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	if status, _ := mint(t, srv, "a"); status != http.StatusOK {
		t.Fatal(status)
	}
	if n := sim.Calls("/dev/wechat/code"); n != 1 {
		t.Fatalf("Calls(/dev/wechat/code) = %d, want 1", n)
	}
	sim.mu.Lock()
	defer sim.mu.Unlock()
	if len(sim.calls) > 2 {
		t.Fatalf("calls has %d keys, want at most the 2 known paths", len(sim.calls))
	}
}

func TestLimits_PhoneCodesShareTheCodeCap(t *testing.T) {
	t.Parallel()
	sim, _ := newLimited(t, Limits{Codes: 2})
	if err := sim.SetPhone("alice", "86", "13800138000"); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.PhoneCode("", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Login("", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.PhoneCode("", "alice"); !errors.Is(err, ErrTooManyCodes) {
		t.Fatalf("a phone code past the cap: %v, want ErrTooManyCodes", err)
	}
	sim.Advance(CodeTTL + time.Second)
	if _, err := sim.PhoneCode("", "alice"); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if codes, _ := held(t, sim); codes != 1 {
		t.Fatalf("%d codes held, want 1", codes)
	}
}

func TestLimits_PhonesCapped(t *testing.T) {
	t.Parallel()
	sim, _ := newLimited(t, Limits{Users: 2})
	for _, u := range []string{"a", "b", "a"} {
		if err := sim.SetPhone(u, "86", "13800138000"); err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.SetPhone("c", "86", "13800138000"); !errors.Is(err, ErrTooManyUsers) {
		t.Fatalf("a third phone: %v, want ErrTooManyUsers", err)
	}
	if err := sim.SetPhone(strings.Repeat("u", MaxUserLen+1), "86", "13800138000"); err == nil {
		t.Fatal("a user name past MaxUserLen was accepted")
	}
}

func TestLimits_AccessTokensBounded(t *testing.T) {
	t.Parallel()
	sim, srv := newLimited(t, Limits{})
	var offset atomic.Int64 // the client's clock follows the simulator's
	c := wechat.NewClient(wechat.Config{AppID: limitsAppID, Secret: "s", BaseURL: srv.URL,
		Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	advance := func(d time.Duration) {
		sim.Advance(d)
		offset.Add(int64(d))
	}
	// Normal renewals and forced refreshes keep at most two tokens per app.
	for range 50 {
		sim.InvalidateToken(limitsAppID)
		advance(ForceInterval)
		if _, err := c.PhoneNumber(t.Context(), "abcdef", "oAnyOpenID"); !errors.Is(err, wechat.ErrInvalidCode) {
			t.Fatal(err)
		}
		advance(TokenTTL - TokenRenewWindow)
	}
	sim.mu.Lock()
	defer sim.mu.Unlock()
	if len(sim.tokens) > 2 {
		t.Fatalf("%d access tokens remembered, want at most 2", len(sim.tokens))
	}
}
