package wechat_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

const (
	testAppID  = "wx1111111111111111"
	testSecret = "s3cr3t-0123456789abcdef01234567"
)

// newClient starts a simulator over real HTTP and a client pointed at it.
func newClient(t *testing.T, cfg wechat.Config) (*wechat.Client, *wechattest.Simulator) {
	t.Helper()
	sim := wechattest.New(wechattest.App{AppID: testAppID, Secret: testSecret})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		srv.Close()
		if u := sim.Unexpected(); len(u) > 0 {
			t.Errorf("unexpected calls to the simulator: %v", u)
		}
	})
	if cfg.AppID == "" {
		cfg.AppID = testAppID
	}
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	cfg.BaseURL = srv.URL
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = 10 * time.Millisecond
	}
	return wechat.NewClient(cfg), sim
}

func mustLogin(t *testing.T, sim *wechattest.Simulator, user string) string {
	t.Helper()
	code, err := sim.Login("", user)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestClient_Code2Session(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		s, err := c.Code2Session(context.Background(), mustLogin(t, sim, "alice"))
		if err != nil {
			t.Fatal(err)
		}
		if s.OpenID != sim.OpenID(testAppID, "alice") || s.UnionID != sim.UnionID("alice") || s.SessionKey == "" {
			t.Fatalf("session = %+v", s)
		}
	})

	t.Run("TextPlainBodyParsed", func(t *testing.T) {
		// WeChat labels its JSON text/plain; the client must not care.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(`{"session_key":"tiihtNczf5v6AKRyjwEUhQ==","openid":"oABC"}`))
		}))
		defer srv.Close()
		c := wechat.NewClient(wechat.Config{AppID: testAppID, Secret: testSecret, BaseURL: srv.URL})
		s, err := c.Code2Session(context.Background(), "x")
		if err != nil || s.OpenID != "oABC" || s.UnionID != "" {
			t.Fatalf("s = %+v, err = %v", s, err)
		}
	})

	t.Run("CodeReused", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		code := mustLogin(t, sim, "alice")
		if _, err := c.Code2Session(context.Background(), code); err != nil {
			t.Fatal(err)
		}
		_, err := c.Code2Session(context.Background(), code)
		assertAPIError(t, err, wechat.ErrInvalidCode, wechat.ErrcodeCodeUsed)
	})

	t.Run("CodeUnknown", func(t *testing.T) {
		c, _ := newClient(t, wechat.Config{})
		_, err := c.Code2Session(context.Background(), "0a1b2c3d4e5f")
		assertAPIError(t, err, wechat.ErrInvalidCode, wechat.ErrcodeInvalidCode)
	})

	t.Run("CodeExpired", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		code := mustLogin(t, sim, "alice")
		sim.Advance(wechattest.CodeTTL + time.Second)
		_, err := c.Code2Session(context.Background(), code)
		assertAPIError(t, err, wechat.ErrInvalidCode, wechat.ErrcodeInvalidCode)
	})

	t.Run("UserBlocked", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		sim.Block("mallory")
		_, err := c.Code2Session(context.Background(), mustLogin(t, sim, "mallory"))
		assertAPIError(t, err, wechat.ErrUserBlocked, wechat.ErrcodeUserBlocked)
	})

	for _, tc := range []struct {
		name    string
		errcode int
		want    error
	}{
		{"Injected40029", wechat.ErrcodeInvalidCode, wechat.ErrInvalidCode},
		{"Injected40163", wechat.ErrcodeCodeUsed, wechat.ErrInvalidCode},
		{"Injected45011", wechat.ErrcodeRateLimited, wechat.ErrRateLimited},
		{"Injected40226", wechat.ErrcodeUserBlocked, wechat.ErrUserBlocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, sim := newClient(t, wechat.Config{})
			sim.Inject(wechattest.Fault{Errcode: tc.errcode})
			_, err := c.Code2Session(context.Background(), mustLogin(t, sim, "alice"))
			assertAPIError(t, err, tc.want, tc.errcode)
			if n := sim.Calls("/sns/jscode2session"); n != 1 {
				t.Fatalf("calls = %d, want 1 (only -1 is retried)", n)
			}
		})
	}

	t.Run("WrongSecret", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{Secret: "not-the-secret"})
		_, err := c.Code2Session(context.Background(), mustLogin(t, sim, "alice"))
		assertAPIError(t, err, nil, wechat.ErrcodeInvalidCred)
		if strings.Contains(err.Error(), "not-the-secret") {
			t.Fatalf("error quotes the secret: %v", err)
		}
	})

	t.Run("WrongAppID", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{AppID: "wx9999999999999999"})
		_, err := c.Code2Session(context.Background(), mustLogin(t, sim, "alice"))
		assertAPIError(t, err, nil, wechat.ErrcodeInvalidAppID)
	})

	t.Run("BusyRetriedOnce", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		sim.Inject(wechattest.Fault{Errcode: wechat.ErrcodeBusy})
		s, err := c.Code2Session(context.Background(), mustLogin(t, sim, "alice"))
		if err != nil || s.OpenID == "" {
			t.Fatalf("s = %+v, err = %v", s, err)
		}
		if n := sim.Calls("/sns/jscode2session"); n != 2 {
			t.Fatalf("calls = %d, want 2", n)
		}
	})

	t.Run("BusyTwiceUnavailable", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		sim.Inject(wechattest.Fault{Errcode: wechat.ErrcodeBusy}, wechattest.Fault{Errcode: wechat.ErrcodeBusy})
		_, err := c.Code2Session(context.Background(), mustLogin(t, sim, "alice"))
		assertAPIError(t, err, wechat.ErrUnavailable, wechat.ErrcodeBusy)
		if n := sim.Calls("/sns/jscode2session"); n != 2 {
			t.Fatalf("calls = %d, want 2", n)
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{Timeout: 50 * time.Millisecond})
		sim.Inject(wechattest.Fault{Delay: 2 * time.Second})
		start := time.Now()
		_, err := c.Code2Session(context.Background(), mustLogin(t, sim, "alice"))
		if !errors.Is(err, wechat.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("took %v; the timeout did not apply", d)
		}
		if strings.Contains(err.Error(), testSecret) {
			t.Fatalf("error quotes the secret: %v", err)
		}
	})

	t.Run("ServerError", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		sim.Inject(wechattest.Fault{Status: http.StatusBadGateway})
		_, err := c.Code2Session(context.Background(), mustLogin(t, sim, "alice"))
		if !errors.Is(err, wechat.ErrUnavailable) || !strings.Contains(err.Error(), "502") {
			t.Fatalf("err = %v, want ErrUnavailable with 502", err)
		}
	})

	t.Run("BadJSON", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		sim.Inject(wechattest.Fault{Body: "<html>oops</html>"})
		_, err := c.Code2Session(context.Background(), mustLogin(t, sim, "alice"))
		if !errors.Is(err, wechat.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})

	t.Run("IncompleteAnswer", func(t *testing.T) {
		c, sim := newClient(t, wechat.Config{})
		sim.Inject(wechattest.Fault{Body: `{"openid":"oABC"}`})
		_, err := c.Code2Session(context.Background(), mustLogin(t, sim, "alice"))
		if !errors.Is(err, wechat.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})

	t.Run("ConnectionRefused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		c := wechat.NewClient(wechat.Config{AppID: testAppID, Secret: testSecret, BaseURL: url})
		_, err := c.Code2Session(context.Background(), "x")
		if !errors.Is(err, wechat.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "secret=") {
			t.Fatalf("error quotes the request URL: %v", err)
		}
	})
}

func assertAPIError(t *testing.T, err error, sentinel error, errcode int) {
	t.Helper()
	var apiErr *wechat.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != errcode {
		t.Fatalf("err = %v, want errcode %d", err, errcode)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Fatalf("err = %v does not match %v", err, sentinel)
	}
	if !strings.Contains(apiErr.Message, "rid:") {
		t.Fatalf("errmsg %q lacks WeChat's rid", apiErr.Message)
	}
}
