package admin

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"wxlogin/models"
	"wxlogin/store/storetest"
)

// matchStep accepts RFC 6238's SHA-1 test vector (T = 1111111109,
// 07081804, of which TOTP apps show the last 6 digits) at its own step and
// one step either side, and not two steps away.
func TestMatchStep_SkewOfOneStep(t *testing.T) {
	t.Parallel()
	secret := []byte("12345678901234567890")
	at := time.Unix(1111111109, 0)
	const step = 1111111109 / 30
	for _, c := range []struct {
		offset time.Duration
		ok     bool
	}{{0, true}, {30 * time.Second, true}, {-30 * time.Second, true}, {60 * time.Second, false}, {-60 * time.Second, false}} {
		got, ok := matchStep(secret, "081804", at.Add(c.offset))
		if ok != c.ok || (ok && got != step) {
			t.Errorf("at %v: step %d, %v; want %v", c.offset, got, ok, c.ok)
		}
	}
	for _, bad := range []string{"", "81804", "0818040", "181804"} {
		if _, ok := matchStep(secret, bad, at); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A code is accepted once, and never after a later one; a code one step
// away is accepted, two steps away not. The clock is the service's, fixed.
func TestLogin_TOTPReplayAndSkew(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	svc := NewService(st, Config{SecretKey: bytes.Repeat([]byte{9, 8, 7, 6, 5, 4, 3, 2}, 4)})
	clock := time.Date(2026, 12, 6, 12, 0, 10, 0, time.UTC)
	svc.now = func() time.Time { return clock }
	ctx := context.Background()
	const pw = "a long enough password"
	a, err := svc.Create(ctx, "replay", pw, models.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	c := &Caller{Admin: a}
	e, err := svc.BeginTOTP(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	code := func(at time.Time) string {
		s, err := totp.GenerateCode(e.Secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, _, err := svc.ConfirmTOTP(ctx, c, code(clock), ""); err != nil {
		t.Fatal(err)
	}
	login := func(otp string) error {
		_, err := svc.Login(ctx, LoginInput{Username: "replay", Password: pw, IP: "192.0.2.1", OTP: otp})
		return err
	}
	step := 30 * time.Second
	for i, c := range []struct {
		what string
		otp  string
		want string
	}{
		{"the code the enrolment was confirmed with", code(clock), models.CodeTOTPInvalid},
		{"the step before it", code(clock.Add(-step)), models.CodeTOTPInvalid},
		{"the next step's code, one step early", code(clock.Add(step)), ""},
		{"that code again", code(clock.Add(step)), models.CodeTOTPInvalid},
		{"two steps ahead", code(clock.Add(2 * step)), models.CodeTOTPInvalid},
	} {
		if err := login(c.otp); models.ErrorCode(err) != c.want {
			t.Fatalf("%d: %s: %v, want %q", i, c.what, err, c.want)
		}
	}
	// Three steps on, the last code used is two steps old: refused as too
	// old; the current one and the next are each accepted once.
	clock = clock.Add(3 * step)
	for i, c := range []struct {
		what string
		otp  string
		want string
	}{
		{"a code two steps old", code(clock.Add(-2 * step)), models.CodeTOTPInvalid},
		{"the current code", code(clock), ""},
		{"the current code again", code(clock), models.CodeTOTPInvalid},
		{"the previous step's, after the current", code(clock.Add(-step)), models.CodeTOTPInvalid},
		{"the next step's", code(clock.Add(step)), ""},
	} {
		if err := login(c.otp); models.ErrorCode(err) != c.want {
			t.Fatalf("later %d: %s: %v, want %q", i, c.what, err, c.want)
		}
	}
}

// Of many sign-ins with one code at once, exactly one gets in: the step is
// spent by one UPDATE.
func TestLogin_TOTPOneCodeOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	svc := NewService(st, Config{SecretKey: bytes.Repeat([]byte{9, 8, 7, 6, 5, 4, 3, 2}, 4)})
	clock := time.Date(2026, 12, 6, 12, 0, 10, 0, time.UTC)
	svc.now = func() time.Time { return clock }
	ctx := context.Background()
	const pw = "a long enough password"
	a, err := svc.Create(ctx, "concurrent", pw, models.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	c := &Caller{Admin: a}
	e, err := svc.BeginTOTP(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	now, _ := totp.GenerateCode(e.Secret, clock)
	if _, _, err := svc.ConfirmTOTP(ctx, c, now, ""); err != nil {
		t.Fatal(err)
	}
	next, _ := totp.GenerateCode(e.Secret, clock.Add(30*time.Second))
	const n = 8 // under MaxPerUsername, so that every one is checked
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := svc.Login(ctx, LoginInput{Username: "concurrent", Password: pw, IP: "192.0.2.2", OTP: next})
			errs <- err
		}()
	}
	got := map[string]int{}
	for range n {
		got[models.ErrorCode(<-errs)]++
	}
	if got[""] != 1 || got[models.CodeTOTPInvalid] != n-1 {
		t.Fatalf("%d sign-ins with one code at once: %v, want 1 in and the rest TOTP_INVALID", n, got)
	}
}
