package admin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"wxlogin/admin"
	"wxlogin/models"
	"wxlogin/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestPassword(t *testing.T) {
	t.Parallel()
	h := admin.HashPassword("correct horse battery staple")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "staple") {
		t.Fatalf("hash %q", h)
	}
	if h == admin.HashPassword("correct horse battery staple") {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse battery staple": true, "correct horse battery stapl": false, "": false} {
		if ok, err := admin.VerifyPassword(h, pw); ok != want || err != nil {
			t.Fatalf("VerifyPassword(%q) = %v, %v", pw, ok, err)
		}
	}
	for _, bad := range []string{"", "$2a$10$abc", "$argon2id$v=19$m=0,t=2,p=1$AAAA$AAAA", "$argon2id$v=19$m=99999999,t=2,p=1$AAAA$AAAA", strings.Replace(h, "$m=", "$x=", 1)} {
		if _, err := admin.VerifyPassword(bad, "x"); err == nil {
			t.Fatalf("accepted hash %q", bad)
		}
	}
	for pw, ok := range map[string]bool{"elevenchars": false, "twelve chars": true, " padded password ": false, strings.Repeat("x", 1025): false, "密码密码密码密码密码密码": true} {
		if err := admin.CheckPasswordStrength(pw); (err == nil) != ok {
			t.Fatalf("CheckPasswordStrength(%q) = %v", pw, err)
		}
	}
}

// TestEnsureDevAdmin: dev mode makes one admin on an empty database, never a
// second, and its password signs in. Not parallel: it needs the package's
// database without admins, which the parallel tests create.
func TestEnsureDevAdmin(t *testing.T) {
	svc := admin.NewService(storetest.Open(t), admin.Config{})
	ctx := context.Background()
	pw, err := svc.EnsureDevAdmin(ctx)
	if err != nil || len(pw) < admin.MinPasswordLen {
		t.Fatalf("EnsureDevAdmin = %q, %v", pw, err)
	}
	if again, err := svc.EnsureDevAdmin(ctx); again != "" || err != nil {
		t.Fatalf("a second EnsureDevAdmin = %q, %v", again, err)
	}
	res, err := svc.Login(ctx, admin.LoginInput{Username: "admin", Password: pw, IP: "127.0.0.1"})
	if err != nil || res.Admin.Role != models.RoleAdmin {
		t.Fatalf("login = %+v, %v", res, err)
	}
}

// TestLogin_SuccessKeepsOthersCounts: a success takes back its own attempt
// only; the failures other clients made still count against the username.
func TestLogin_SuccessKeepsOthersCounts(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	svc := admin.NewService(st, admin.Config{})
	ctx := context.Background()
	if _, err := svc.Create(ctx, "counted", "a long enough password", models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := svc.Login(ctx, admin.LoginInput{Username: "counted", Password: "wrong password here", IP: "198.51.100.7"}); models.ErrorCode(err) != models.CodeInvalidCredentials {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if _, err := svc.Login(ctx, admin.LoginInput{Username: "counted", Password: "a long enough password", IP: "203.0.113.9"}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := st.DB().QueryRowContext(ctx, "SELECT count FROM login_attempts WHERE key = 'user:counted'").Scan(&n); err != nil || n != 4 {
		t.Fatalf("count after a success = %d, %v; want the 4 failures kept", n, err)
	}
}

// TestLogin_PerIPLimit: 50 failed sign-ins from one address, whatever the
// usernames, and the 51st is refused unchecked.
func TestLogin_PerIPLimit(t *testing.T) {
	t.Parallel()
	svc := admin.NewService(storetest.Open(t), admin.Config{})
	ctx := context.Background()
	for i := range admin.MaxPerIP {
		_, err := svc.Login(ctx, admin.LoginInput{Username: fmt.Sprintf("spray%d", i), Password: "guess", IP: "192.0.2.55"})
		if models.ErrorCode(err) != models.CodeInvalidCredentials {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	_, err := svc.Login(ctx, admin.LoginInput{Username: "spray-last", Password: "guess", IP: "192.0.2.55"})
	var e *models.Error
	if !errors.As(err, &e) || e.Code != models.CodeRateLimited || e.Extensions["retryAfter"].(int) <= 0 {
		t.Fatalf("attempt 51: %v", err)
	}
	// Another address is not affected.
	if _, err := svc.Login(ctx, admin.LoginInput{Username: "spray-last", Password: "guess", IP: "192.0.2.56"}); models.ErrorCode(err) != models.CodeInvalidCredentials {
		t.Fatalf("another address: %v", err)
	}
}
