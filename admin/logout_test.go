package admin_test

import (
	"context"
	"testing"

	"wxlogin/admin"
	"wxlogin/models"
	"wxlogin/store/storetest"
)

// After adminLogout, the fields after it in the same request act for nobody.
func TestLogout_EndsTheRequest(t *testing.T) {
	t.Parallel()
	svc := admin.NewService(storetest.Open(t), admin.Config{})
	bg := context.Background()
	if _, err := svc.Create(bg, "leaving", "a long enough password", models.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Login(bg, admin.LoginInput{Username: "leaving", Password: "a long enough password", IP: "203.0.113.9"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := admin.WithToken(bg, res.Token)
	c, err := svc.Caller(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Logout(ctx, c, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Caller(ctx); models.ErrorCode(err) != models.CodeUnauthenticated {
		t.Fatalf("the same request after adminLogout: %v, want UNAUTHENTICATED", err)
	}
}
