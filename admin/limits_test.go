package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"wxlogin/admin"
	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// testSecret stands for SECRET_KEY.
var testSecret = bytes.Repeat([]byte{9, 8, 7, 6, 5, 4, 3, 2}, 4)

// codes counts the outcomes of sign-ins by error code ("" for success).
func tally(errs []error) map[string]int {
	got := map[string]int{}
	for _, err := range errs {
		got[models.ErrorCode(err)]++
	}
	return got
}

// TestLogin_IPv6NetworkIsOneClient: 70 addresses of one /64 get the
// password checks one address gets (50), as the user login limiter counts
// them; another /64 is another client. Before, each address had 50. The
// 20 refusals log one line, when the limit is reached (were 20).
func TestLogin_IPv6NetworkIsOneClient(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	svc := admin.NewService(storetest.Open(t), admin.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	var errs []error
	for i := range 70 {
		_, err := svc.Login(ctx, admin.LoginInput{Username: fmt.Sprintf("v6spray%d", i), Password: "guess",
			IP: fmt.Sprintf("2001:db8:70:1:%x::%x", i, i+1)})
		errs = append(errs, err)
	}
	if got := tally(errs); got[string(models.CodeInvalidCredentials)] != admin.MaxPerIP || got[string(models.CodeRateLimited)] != 70-admin.MaxPerIP {
		t.Fatalf("70 addresses of one /64: %v, want %d checked and the rest RATE_LIMITED", got, admin.MaxPerIP)
	}
	_, err := svc.Login(ctx, admin.LoginInput{Username: "v6spray-next", Password: "guess", IP: "2001:db8:70:2::1"})
	if models.ErrorCode(err) != models.CodeInvalidCredentials {
		t.Fatalf("the next /64: %v, want it checked", err)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "limit=ip") {
		t.Fatalf("%d WARN lines for 20 refusals, want 1 naming the limit:\n%s", n, logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// auditRows returns the admin.login_failed rows' count and the sum of
// their detail.count, for failures from ip's network.
func auditRows(t *testing.T, st *store.Store, like string) (rows, failures int) {
	t.Helper()
	err := st.DB().QueryRowContext(context.Background(),
		"SELECT count(*), coalesce(sum((detail->>'count')::int), 0) FROM audit_log WHERE action = 'admin.login_failed' AND host(ip) LIKE ?", like).
		Scan(&rows, &failures)
	if err != nil {
		t.Fatal(err)
	}
	return rows, failures
}

// TestLogin_FailuresAuditedPerGroup: a flood of failed sign-ins writes one
// audit row per (reason, admin, network) and window, counting the rest on
// it, however many run at once; before, one row per failure.
func TestLogin_FailuresAuditedPerGroup(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	svc := admin.NewService(st, admin.Config{})
	ctx := context.Background()
	if _, err := svc.Create(ctx, "flooded", "a long enough password", models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for i := range admin.MaxPerIP {
		// 10 guesses at "flooded" (its limit), 40 at unknown usernames.
		name := "flooded"
		if i >= admin.MaxPerUsername {
			name = fmt.Sprintf("nobody%d", i)
		}
		wg.Go(func() {
			_, err := svc.Login(ctx, admin.LoginInput{Username: name, Password: "wrong password here", IP: fmt.Sprintf("2001:db8:a0d1::%x", i+1)})
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	if got := tally(errs); got[string(models.CodeInvalidCredentials)] != admin.MaxPerIP {
		t.Fatalf("outcomes %v, want %d checked", got, admin.MaxPerIP)
	}
	rows, failures := auditRows(t, st, "2001:db8:a0d1::%")
	if rows != 2 || failures != admin.MaxPerIP {
		t.Fatalf("%d failed sign-ins from one /64 wrote %d audit rows counting %d; want 2 rows (one per admin guessed at, one for unknown usernames) counting all",
			admin.MaxPerIP, rows, failures)
	}
	var reason, network string
	var count int
	if err := st.DB().QueryRowContext(ctx, `SELECT detail->>'reason', detail->>'network', (detail->>'count')::int FROM audit_log
		WHERE action = 'admin.login_failed' AND target IS NOT NULL AND host(ip) LIKE '2001:db8:a0d1::%'`).Scan(&reason, &network, &count); err != nil {
		t.Fatal(err)
	}
	if reason != "wrong_password" || network != "2001:db8:a0d1::/64" || count != admin.MaxPerUsername {
		t.Fatalf("the admin's row: reason %q, network %q, count %d", reason, network, count)
	}

	// Another network is another group: its first failure has a row of its own.
	if _, err := svc.Login(ctx, admin.LoginInput{Username: "nobody-else", Password: "x", IP: "192.0.2.99"}); models.ErrorCode(err) != models.CodeInvalidCredentials {
		t.Fatal(err)
	}
	if rows, failures := auditRows(t, st, "192.0.2.99"); rows != 1 || failures != 1 {
		t.Fatalf("another network: %d rows counting %d, want 1 and 1", rows, failures)
	}
	// A new window opens a new row. (Only this network's counters end: the
	// package's tests share the database.)
	if _, err := st.DB().ExecContext(ctx, "UPDATE login_attempts SET window_start = now() - interval '16 minutes' WHERE key LIKE '%:2001:db8:a0d1::/64'"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, admin.LoginInput{Username: "nobody-again", Password: "x", IP: "2001:db8:a0d1::99"}); models.ErrorCode(err) != models.CodeInvalidCredentials {
		t.Fatal(err)
	}
	if rows, failures := auditRows(t, st, "2001:db8:a0d1::%"); rows != 3 || failures != admin.MaxPerIP+1 {
		t.Fatalf("next window: %d rows counting %d, want 3 counting %d", rows, failures, admin.MaxPerIP+1)
	}
}

// TestLogin_StrangersCannotLockOutTheAdmin: ten wrong passwords for an
// admin, each from another stranger's address, used to lock the admin out
// (RATE_LIMITED with the right password, from their usual address). Now the
// browser they signed in with before (its device cookie) still gets in,
// while strangers — and the admin on a browser without the cookie — keep
// the per-username limit, and a device has a budget of its own.
func TestLogin_StrangersCannotLockOutTheAdmin(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	svc := admin.NewService(st, admin.Config{SecretKey: testSecret})
	ctx := context.Background()
	const pw = "the boss's long password"
	for _, name := range []string{"boss", "deputy"} {
		if _, err := svc.Create(ctx, name, pw, models.RoleAdmin); err != nil {
			t.Fatal(err)
		}
	}
	const home = "198.51.100.10"
	signIn := func(user, pass, ip, device string) (*admin.LoginResult, error) {
		in := admin.LoginInput{Username: user, Password: pass, IP: ip}
		if device != "" {
			in.Devices = []string{device}
		}
		return svc.Login(ctx, in)
	}
	first, err := signIn("boss", pw, home, "")
	if err != nil || first.Device == "" {
		t.Fatalf("first sign-in: %+v, %v; want a device cookie", first, err)
	}
	deputy, err := signIn("deputy", pw, home, "")
	if err != nil {
		t.Fatal(err)
	}
	otherKey := admin.NewService(st, admin.Config{SecretKey: bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 4)})
	foreign, err := otherKey.Login(ctx, admin.LoginInput{Username: "boss", Password: pw, IP: home})
	if err != nil {
		t.Fatal(err)
	}

	for i := range admin.MaxPerUsername {
		if _, err := signIn("boss", "a stranger's guess", fmt.Sprintf("203.0.113.%d", i+1), ""); models.ErrorCode(err) != models.CodeInvalidCredentials {
			t.Fatalf("stranger %d: %v", i+1, err)
		}
	}
	// One character of the signature changed, still valid base64url.
	tampered := []byte(first.Device)
	tampered[len(tampered)-5] = map[bool]byte{true: 'B', false: 'A'}[tampered[len(tampered)-5] == 'A']
	for _, tc := range []struct{ name, pass, ip, device string }{
		{"a stranger without the cookie", "another guess", "203.0.113.50", ""},
		{"a stranger with the right password", pw, "203.0.113.51", ""},
		{"the admin on a browser without the cookie", pw, home, ""},
		{"a tampered cookie", pw, home, string(tampered)},
		{"another admin's cookie", pw, home, deputy.Device},
		{"a cookie signed under another SECRET_KEY", pw, home, foreign.Device},
	} {
		if _, err := signIn("boss", tc.pass, tc.ip, tc.device); models.ErrorCode(err) != models.CodeRateLimited {
			t.Errorf("%s: %v, want RATE_LIMITED", tc.name, err)
		}
	}

	res, err := signIn("boss", pw, home, first.Device)
	if err != nil {
		t.Fatalf("the admin with their device cookie after the strangers' guesses: %v, want signed in", err)
	}
	if res.Device == "" || res.Device == first.Device {
		t.Fatalf("a sign-in issues a fresh cookie, got %q", res.Device)
	}
	// The old cookie still counts (it has not expired); the two devices
	// share no limit.
	for i := range admin.MaxPerDevice {
		if _, err := signIn("boss", "typo", home, res.Device); models.ErrorCode(err) != models.CodeInvalidCredentials {
			t.Fatalf("the device's guess %d: %v", i+1, err)
		}
	}
	if _, err := signIn("boss", pw, home, res.Device); models.ErrorCode(err) != models.CodeRateLimited {
		t.Fatalf("past the device's own budget: %v, want RATE_LIMITED", err)
	}
	if _, err := signIn("boss", pw, home, first.Device); err != nil {
		t.Fatalf("another device of the admin: %v, want signed in", err)
	}
}

// TestLogin_NetworkCannotLockOutTheAdmin: 50 failures at made-up usernames
// from the admin's own network (a NAT, a /64, or everyone behind a proxy
// missing from TRUSTED_PROXIES) used to lock the admin out with the device
// cookie too: the per-network limit came first. The cookie's sign-in now
// has the device's budget in its place; without the cookie the network's
// limit holds, and the device's own budget still ends its guesses.
func TestLogin_NetworkCannotLockOutTheAdmin(t *testing.T) {
	t.Parallel()
	svc := admin.NewService(storetest.Open(t), admin.Config{SecretKey: testSecret})
	ctx := context.Background()
	const pw = "the office's long password"
	if _, err := svc.Create(ctx, "office", pw, models.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	const home = "198.51.100.20"
	first, err := svc.Login(ctx, admin.LoginInput{Username: "office", Password: pw, IP: home})
	if err != nil || first.Device == "" {
		t.Fatalf("first sign-in: %+v, %v", first, err)
	}
	for i := range admin.MaxPerIP {
		if _, err := svc.Login(ctx, admin.LoginInput{Username: fmt.Sprintf("office-stranger%d", i), Password: "guess", IP: home}); models.ErrorCode(err) != models.CodeInvalidCredentials {
			t.Fatalf("stranger's guess %d: %v", i+1, err)
		}
	}
	if _, err := svc.Login(ctx, admin.LoginInput{Username: "office", Password: pw, IP: home}); models.ErrorCode(err) != models.CodeRateLimited {
		t.Fatalf("the admin without the cookie from the spent network: %v, want RATE_LIMITED", err)
	}
	withCookie := admin.LoginInput{Username: "office", Password: pw, IP: home, Devices: []string{first.Device}}
	if _, err := svc.Login(ctx, withCookie); err != nil {
		t.Fatalf("the admin with the cookie from the spent network: %v, want signed in", err)
	}
	typo := withCookie
	typo.Password = "typo"
	for i := range admin.MaxPerDevice {
		if _, err := svc.Login(ctx, typo); models.ErrorCode(err) != models.CodeInvalidCredentials {
			t.Fatalf("the device's guess %d: %v", i+1, err)
		}
	}
	if _, err := svc.Login(ctx, withCookie); models.ErrorCode(err) != models.CodeRateLimited {
		t.Fatalf("past the device's own budget: %v, want RATE_LIMITED", err)
	}
}

// TestLogin_EveryDeviceCookieIsTried: a cookie planted ahead of the
// device's (junk, or another admin's) used to hide it, since only the first
// was read. Every one is tried now, up to 8: a ninth is not.
func TestLogin_EveryDeviceCookieIsTried(t *testing.T) {
	t.Parallel()
	svc := admin.NewService(storetest.Open(t), admin.Config{SecretKey: testSecret})
	ctx := context.Background()
	const pw = "the owner's long password"
	for _, name := range []string{"owner", "other"} {
		if _, err := svc.Create(ctx, name, pw, models.RoleAdmin); err != nil {
			t.Fatal(err)
		}
	}
	const home = "198.51.100.30"
	mine, err := svc.Login(ctx, admin.LoginInput{Username: "owner", Password: pw, IP: home})
	if err != nil {
		t.Fatal(err)
	}
	other, err := svc.Login(ctx, admin.LoginInput{Username: "other", Password: pw, IP: home})
	if err != nil {
		t.Fatal(err)
	}
	for i := range admin.MaxPerUsername {
		if _, err := svc.Login(ctx, admin.LoginInput{Username: "owner", Password: "guess", IP: fmt.Sprintf("203.0.113.%d", 100+i)}); models.ErrorCode(err) != models.CodeInvalidCredentials {
			t.Fatalf("stranger %d: %v", i+1, err)
		}
	}
	eightJunk := strings.Split(strings.Repeat("junk ", 8), " ")[:8]
	for _, tc := range []struct {
		name    string
		devices []string
		want    string
	}{
		{"junk first, the device's second", []string{"junk", mine.Device}, ""},
		{"another admin's first, the device's second", []string{other.Device, mine.Device}, ""},
		{"eight before the device's", append(eightJunk, mine.Device), models.CodeRateLimited},
	} {
		_, err := svc.Login(ctx, admin.LoginInput{Username: "owner", Password: pw, IP: home, Devices: tc.devices})
		if models.ErrorCode(err) != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestLogin_NewPasswordUntrustsDevices: a device cookie outlived a new
// password, so whoever once had the old one kept a budget of guesses at
// the new one for each cookie they had minted, beyond the network's limit.
// A new password (which ends the sessions too) now makes the cookies
// issued under the old one count as none; signing in with it mints one
// that counts.
func TestLogin_NewPasswordUntrustsDevices(t *testing.T) {
	t.Parallel()
	svc := admin.NewService(storetest.Open(t), admin.Config{SecretKey: testSecret})
	ctx := context.Background()
	const oldPW, newPW = "the old long password", "the new long password"
	if _, err := svc.Create(ctx, "rotated", oldPW, models.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	const home = "198.51.100.40"
	old, err := svc.Login(ctx, admin.LoginInput{Username: "rotated", Password: oldPW, IP: home})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SetPassword(ctx, "rotated", newPW); err != nil {
		t.Fatal(err)
	}
	fresh, err := svc.Login(ctx, admin.LoginInput{Username: "rotated", Password: newPW, IP: home})
	if err != nil {
		t.Fatal(err)
	}
	for i := range admin.MaxPerUsername {
		if _, err := svc.Login(ctx, admin.LoginInput{Username: "rotated", Password: "guess", IP: fmt.Sprintf("203.0.113.%d", 200+i)}); models.ErrorCode(err) != models.CodeInvalidCredentials {
			t.Fatalf("stranger %d: %v", i+1, err)
		}
	}
	if _, err := svc.Login(ctx, admin.LoginInput{Username: "rotated", Password: newPW, IP: home, Devices: []string{old.Device}}); models.ErrorCode(err) != models.CodeRateLimited {
		t.Fatalf("a cookie issued under the old password: %v, want RATE_LIMITED (no device)", err)
	}
	if _, err := svc.Login(ctx, admin.LoginInput{Username: "rotated", Password: newPW, IP: home, Devices: []string{old.Device, fresh.Device}}); err != nil {
		t.Fatalf("a cookie issued under the new password: %v, want signed in", err)
	}
}
