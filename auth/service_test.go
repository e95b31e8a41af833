package auth_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"wxlogin/auth"
	"wxlogin/models"
	"wxlogin/store/storetest"
	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const appID = "wx4444444444444444"

func newService(t *testing.T) (*auth.Service, *wechattest.Simulator) {
	t.Helper()
	sim := wechattest.New(wechattest.App{AppID: appID, Secret: "secret"})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	wc := wechat.NewClient(wechat.Config{AppID: appID, Secret: "secret", BaseURL: srv.URL})
	svc, err := auth.NewService(storetest.Open(t), wc, auth.Config{
		SessionTTL: 2 * time.Hour, SecretKey: bytes.Repeat([]byte("0123456789abcdef"), 2),
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, sim
}

func login(t *testing.T, svc *auth.Service, sim *wechattest.Simulator, user string) *auth.LoginResult {
	t.Helper()
	code, _ := sim.Login("", user)
	res, err := svc.Login(context.Background(), auth.LoginInput{Code: code, IP: "203.0.113.7", UserAgent: "ua\x00\xff"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestService_SessionKeySealedAndOpened(t *testing.T) {
	t.Parallel()
	svc, sim := newService(t)
	res := login(t, svc, sim, "alice")
	caller, err := svc.Authenticate(context.Background(), res.Token)
	if err != nil {
		t.Fatal(err)
	}
	if len(caller.Session.SessionKeySealed) != 0 {
		t.Fatal("the sealed session_key is read with every authenticated request")
	}
	key, err := svc.SessionKey(context.Background(), caller.Session)
	if err != nil || key != sim.SessionKeys()[0] {
		t.Fatal("the sealed session_key does not open to the one WeChat handed out")
	}
	if d := time.Until(res.ExpiresAt); d < 119*time.Minute || d > 2*time.Hour {
		t.Fatalf("expires in %v, want the configured 2h", d)
	}
}

func TestService_Caller(t *testing.T) {
	t.Parallel()
	svc, sim := newService(t)
	res := login(t, svc, sim, "bob")

	if _, err := svc.Caller(context.Background()); models.ErrorCode(err) != models.CodeUnauthenticated {
		t.Fatalf("no token: %v", err)
	}
	ctx := auth.WithToken(context.Background(), res.Token)
	a, err := svc.Caller(ctx)
	if err != nil || a.User.ID != res.User.ID {
		t.Fatalf("caller = %+v, %v", a, err)
	}
	b, _ := svc.Caller(ctx)
	if a != b {
		t.Fatal("the caller is looked up again within one request")
	}
	if err := svc.Logout(ctx, a, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Caller(auth.WithToken(context.Background(), res.Token)); models.ErrorCode(err) != models.CodeUnauthenticated {
		t.Fatalf("after logout: %v", err)
	}
}

func TestService_DisabledUser(t *testing.T) {
	t.Parallel()
	svc, sim := newService(t)
	st := storetest.Open(t)
	res := login(t, svc, sim, "carol")
	if _, err := st.DB().ExecContext(context.Background(), "UPDATE users SET disabled_at = now() WHERE id = ?", res.User.ID); err != nil {
		t.Fatal(err)
	}
	code, _ := sim.Login("", "carol")
	if _, err := svc.Login(context.Background(), auth.LoginInput{Code: code}); models.ErrorCode(err) != models.CodeUserDisabled {
		t.Fatalf("login of a disabled user: %v, want USER_DISABLED", err)
	}
	if _, err := svc.Authenticate(context.Background(), res.Token); models.ErrorCode(err) != models.CodeUnauthenticated {
		t.Fatalf("old session of a disabled user: %v, want UNAUTHENTICATED", err)
	}
}

// TestService_LoginLeavesTimeToRecord: the WeChat step of a login gets the
// request's deadline minus the time reserved for recording the session, so
// a slow WeChat cannot use up the time a spent code needs to be recorded.
func TestService_LoginLeavesTimeToRecord(t *testing.T) {
	t.Parallel()
	sim := wechattest.New(wechattest.App{AppID: appID, Secret: "secret"})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	wc := wechat.NewClient(wechat.Config{AppID: appID, Secret: "secret", BaseURL: srv.URL, Timeout: 10 * time.Second})
	svc, err := auth.NewService(storetest.Open(t), wc, auth.Config{
		SecretKey: bytes.Repeat([]byte("0123456789abcdef"), 2), RecordTimeout: 800 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	sim.Inject(wechattest.Fault{Delay: 5 * time.Second})
	code, _ := sim.Login("", "slow")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = svc.Login(ctx, auth.LoginInput{Code: code})
	if models.ErrorCode(err) != models.CodeWechatUnavailable {
		t.Fatalf("err = %v, want WECHAT_UNAVAILABLE", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the WeChat step used the time reserved for recording the login")
	}
}

// A request that ends its own session acts for nobody afterwards: in
// `mutation { logout updateProfile(…) }` the second field must not run as
// the user who just signed out. Fields after ending another session, or
// every other one, still run.
func TestService_RequestEndsWithItsSession(t *testing.T) {
	t.Parallel()
	svc, sim := newService(t)
	for _, c := range []struct {
		name  string
		end   func(ctx context.Context, c *auth.Caller) error
		ended bool
	}{
		{"logout", func(ctx context.Context, c *auth.Caller) error { return svc.Logout(ctx, c, "") }, true},
		{"revokeMySession(current)", func(ctx context.Context, c *auth.Caller) error {
			return svc.RevokeSession(ctx, c, c.Session.ID, "")
		}, true},
		{"logoutEverywhere", func(ctx context.Context, c *auth.Caller) error {
			_, err := svc.LogoutEverywhere(ctx, c, false, "")
			return err
		}, true},
		{"logoutEverywhere(keepCurrent)", func(ctx context.Context, c *auth.Caller) error {
			_, err := svc.LogoutEverywhere(ctx, c, true, "")
			return err
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := login(t, svc, sim, "end-"+c.name)
			ctx := auth.WithToken(context.Background(), res.Token)
			caller, err := svc.Caller(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.end(ctx, caller); err != nil {
				t.Fatal(err)
			}
			_, err = svc.Caller(ctx)
			if ended := models.ErrorCode(err) == models.CodeUnauthenticated; ended != c.ended {
				t.Fatalf("the same request's next field: err %v, want ended=%v", err, c.ended)
			}
		})
	}
}
