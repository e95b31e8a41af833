// Package admin is the operators' side: admin accounts, their sign-in with
// brute-force limits, their sessions (a kind of their own, never a user's),
// and the roles that guard the admin API. It sits beside auth, between the
// GraphQL layer and the store.
package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"wxlogin/auth"
	"wxlogin/blob"
	"wxlogin/models"
	"wxlogin/ratelimit"
	"wxlogin/sessioncache"
	"wxlogin/store"
	"wxlogin/token"
)

// Defaults for Config fields left zero.
const (
	DefaultSessionTTL  = 12 * time.Hour
	DefaultIdleTimeout = time.Hour
)

// Brute-force limits: failed sign-ins counted per username and per client
// network (ratelimit.ClientNet: an IPv4 address, an IPv6 /64) in a window,
// or only per device for a trusted device (see DeviceCookieName). Past a
// limit every attempt is refused unchecked, the right password included,
// until the window ends.
const (
	AttemptWindow  = 15 * time.Minute
	MaxPerUsername = 10
	MaxPerIP       = 50
	// MaxEnrolmentStarts bounds startTotpEnrolment per admin in the window:
	// each start seals a secret, draws a QR code and writes an audit row,
	// so a session looping it would flood the audit log.
	MaxEnrolmentStarts = 10
	maxUsernameLen     = 64
	touchEvery         = time.Minute
	dummyPassphrase    = "no admin has this password; it only keeps the timing even"
)

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// CheckUsername refuses what cannot be an admin's username, with a one-line reason.
func CheckUsername(name string) error {
	if !usernamePattern.MatchString(name) {
		return fmt.Errorf("a username is 1 to %d of A-Z a-z 0-9 . _ @ -, starting with a letter or digit", maxUsernameLen)
	}
	return nil
}

// Config is the Service's settings.
type Config struct {
	// SessionTTL is an admin session's lifetime; DefaultSessionTTL when zero.
	SessionTTL time.Duration
	// IdleTimeout ends a session unused this long; DefaultIdleTimeout when zero.
	IdleTimeout time.Duration
	// Logger receives operational warnings; slog.Default when nil.
	Logger *slog.Logger
	// SecretKey is SECRET_KEY, which the device cookies' signing key is
	// derived from; without it no device is trusted (see DeviceCookieName).
	SecretKey []byte
	// PreviousSecretKeys are SECRET_KEY_PREVIOUS: device cookies signed
	// under keys derived from them still verify, so that a rotation does
	// not untrust every admin's browser (new ones are signed under
	// SecretKey's).
	PreviousSecretKeys [][]byte
	// ForgetUser, when set, is told of a user whose sessions or state an
	// admin changed, once the change committed: this instance's session
	// cache drops them at once instead of when the notification arrives.
	ForgetUser func(userID string)
	// Blobs holds uploaded avatars, which deleteUser's erasure deletes;
	// nil deletes none.
	Blobs blob.Store
	// StatsZone is the zone whose days the statistics count
	// (STATS_TIME_ZONE); UTC when nil.
	StatsZone *time.Location
	// ExportMaxRows bounds a users export (ExportUsers);
	// DefaultExportMaxRows when zero.
	ExportMaxRows int
	// DeleteAvatarFile deletes an uploaded avatar's file given its stored
	// avatar_url, for moderateUser's rejections; files stay when nil.
	DeleteAvatarFile store.DeleteFile
	// Cache, when set, answers Authenticate for recently seen admin tokens
	// without the database; keep it in step with sessioncache.Follow (a
	// sessioncache.Pair beside the users' cache).
	Cache *SessionCache
	// RequireTOTP is ADMIN_REQUIRE_TOTP: an admin without two-step sign-in
	// gets a session that may only enrol (see Require).
	RequireTOTP bool
}

// SessionCache is the in-process cache of resolved admin callers, keyed by
// token hash and grouped by admin id.
type SessionCache = sessioncache.Cache[*Caller]

// Service signs admins in and resolves their sessions. Safe for concurrent use.
type Service struct {
	store *store.Store
	ttl   time.Duration
	idle  time.Duration
	log   *slog.Logger
	// hashSlots bounds concurrent password checks: each takes 19 MiB and a
	// core for ~25 ms, and a burst of sign-ins must not take the server down.
	hashSlots chan struct{}
	// dummyHash is checked for unknown usernames, so that they cost as much
	// as wrong passwords and the timing does not tell which usernames exist.
	dummyHash func() string
	// forget is Config.ForgetUser, never nil.
	forget func(userID string)
	// deviceKey signs device cookies; nil when there are none.
	deviceKey []byte
	// deviceKeys verify them: deviceKey, then those of the previous keys.
	deviceKeys [][]byte
	// now is time.Now: the clock device cookies are issued and checked by.
	now   func() time.Time
	blobs blob.Store
	// statsZone is Config.StatsZone, never nil.
	statsZone *time.Location
	// exportSlot is held by the one users export running (ExportUsers);
	// exportMax is Config.ExportMaxRows.
	exportSlot chan struct{}
	exportMax  int
	// deleteAvatar is Config.DeleteAvatarFile.
	deleteAvatar store.DeleteFile
	// cache is Config.Cache; nil for none.
	cache *SessionCache
	// totpSealer seals TOTP secrets under SecretKey; nil without one.
	totpSealer *auth.TOTPSealer
	// requireTOTP is Config.RequireTOTP.
	requireTOTP bool
}

// NewService returns a Service over st.
func NewService(st *store.Store, cfg Config) *Service {
	s := &Service{store: st, ttl: cfg.SessionTTL, idle: cfg.IdleTimeout, log: cfg.Logger,
		hashSlots: make(chan struct{}, max(2, runtime.GOMAXPROCS(0))), forget: cfg.ForgetUser,
		deviceKey: deviceKey(cfg.SecretKey), now: time.Now, blobs: cfg.Blobs, statsZone: cfg.StatsZone,
		exportSlot: make(chan struct{}, 1), exportMax: cfg.ExportMaxRows,
		deleteAvatar: cfg.DeleteAvatarFile, cache: cfg.Cache, requireTOTP: cfg.RequireTOTP}
	if len(cfg.SecretKey) > 0 {
		// A key of the wrong size was refused when the config was read.
		s.totpSealer, _ = auth.NewTOTPSealer(cfg.SecretKey, cfg.PreviousSecretKeys...)
	}
	if s.statsZone == nil {
		s.statsZone = time.UTC
	}
	if s.exportMax <= 0 {
		s.exportMax = DefaultExportMaxRows
	}
	if s.deviceKey != nil {
		s.deviceKeys = append(s.deviceKeys, s.deviceKey)
		for _, k := range cfg.PreviousSecretKeys {
			s.deviceKeys = append(s.deviceKeys, deviceKey(k))
		}
	}
	if s.forget == nil {
		s.forget = func(string) {}
	}
	if s.ttl <= 0 {
		s.ttl = DefaultSessionTTL
	}
	if s.idle <= 0 {
		s.idle = DefaultIdleTimeout
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.dummyHash = sync.OnceValue(func() string { return HashPassword(dummyPassphrase) })
	return s
}

// LoginInput is an admin's sign-in and where it came from.
type LoginInput struct {
	Username  string
	Password  string
	IP        string
	UserAgent string
	// Devices are the request's device cookies (DeviceCookies), in the
	// order to try them; only the first maxDeviceCookies are.
	Devices []string
	// OTP is the second step for an admin with TOTP on: a code from the
	// authenticator app or a recovery code ("" for none).
	OTP string
}

// LoginResult is a new admin session.
type LoginResult struct {
	// Token is the bearer token; it is shown once and only its hash is kept.
	Token     string
	ExpiresAt time.Time
	Admin     *models.Admin
	// Device is a fresh device cookie's value for this browser ("" without
	// SECRET_KEY); see DeviceCookie.
	Device string
	// MustEnrolTOTP says the session may only set up two-step sign-in
	// (ADMIN_REQUIRE_TOTP and the admin has none yet).
	MustEnrolTOTP bool
}

var errInvalidCredentials = models.Errorf(models.CodeInvalidCredentials, "the username or password is wrong")

// Login checks an admin's username and password, and for an admin with
// TOTP on the code in OTP (secondStep). Errors are *models.Error:
// BAD_USER_INPUT, INVALID_CREDENTIALS (a wrong username and a wrong
// password alike, in about the same time), TOTP_REQUIRED, TOTP_INVALID
// (counted as a failed attempt), RATE_LIMITED (with extensions.retryAfter
// in seconds) or INTERNAL.
func (s *Service) Login(ctx context.Context, in LoginInput) (*LoginResult, error) {
	if in.Username == "" || len(in.Username) > maxUsernameLen || len(in.Password) > MaxPasswordLen {
		return nil, errInvalidCredentials
	}
	var a *models.Admin
	looked := false
	keys := []string{"user:" + strings.ToLower(in.Username)}
	if in.IP != "" {
		keys = append(keys, addressKey(in.IP))
	}
	// A browser this admin signed in with before is counted on its own,
	// not per username nor per network, so that strangers' guesses cannot
	// lock the admin out (see DeviceCookieName). Only a cookie that
	// verifies costs the lookup here, once however many do; a cookie names
	// the admin by id and password, so the first naming the account the
	// username names now, with the password it has now, is the one used.
	if ds := s.verifiedDevices(in.Devices); len(ds) > 0 {
		var err error
		if a, err = s.adminByUsername(ctx, in.Username); err != nil {
			return nil, err
		}
		looked = true
		for _, d := range ds {
			if a != nil && d.trusts(a, passwordTag(d.signKey, a.PasswordHash)) {
				keys = []string{d.key}
				break
			}
		}
	}
	// Counted before the password is checked, in one statement per attempt:
	// 60 parallel guesses get counts 1..60, and only the first 10 a check.
	counts, err := s.store.CountLoginAttempt(ctx, keys, AttemptWindow)
	if err != nil {
		return nil, internal(err)
	}
	if reached, err := rateLimited(counts); err != nil {
		// Once per limit and window, not per refusal: a flood refused
		// unchecked must not become a flood of log lines either.
		for _, kind := range reached {
			s.log.WarnContext(ctx, "admin sign-in limit reached: attempts are refused unchecked until the window ends",
				"limit", kind, "ip", in.IP, "window", AttemptWindow)
		}
		return nil, err
	}

	if !looked {
		if a, err = s.adminByUsername(ctx, in.Username); err != nil {
			return nil, err
		}
	}
	hash := s.dummyHash()
	if a != nil {
		hash = a.PasswordHash
	}
	ok, err := s.verify(ctx, hash, in.Password)
	if err != nil {
		return nil, internal(err)
	}
	if a == nil || !ok || a.DisabledAt != nil {
		s.auditFailure(ctx, a, in)
		return nil, errInvalidCredentials
	}
	factor, codesLeft, err := s.secondStep(ctx, a, in, keys)
	if err != nil {
		return nil, err
	}
	// This attempt was no failure: take it back, leaving others' counts be.
	s.undoAttempt(ctx, keys)

	tok, tokenHash := token.New(token.Admin)
	sess := &models.AdminSession{
		// Admin set: AdminLogin refuses if the password changed since it was checked.
		ID: store.NewID(), TokenHash: tokenHash, AdminID: a.ID, Admin: a,
		ExpiresAt: time.Now().Add(s.ttl).UTC().Truncate(time.Microsecond),
		IP:        nonEmpty(in.IP), UserAgent: nonEmpty(in.UserAgent),
	}
	audit := &models.AuditEntry{ActorKind: "admin", ActorID: &a.ID, ActorName: &a.Username,
		Action: "admin.login", Target: &a.ID, IP: nonEmpty(in.IP), Detail: map[string]any{"session": sess.ID}}
	mustEnrol := s.mustEnrol(a)
	switch {
	case factor == "recovery_code":
		audit.Detail["secondFactor"], audit.Detail["recoveryCodesLeft"] = factor, codesLeft
	case factor != "":
		audit.Detail["secondFactor"] = factor
	case mustEnrol:
		audit.Detail["totpEnrolmentRequired"] = true
	}
	if err := s.store.AdminLogin(ctx, sess, audit); errors.Is(err, store.ErrNotFound) {
		return nil, errInvalidCredentials // disabled or deleted meanwhile
	} else if err != nil {
		return nil, internal(err)
	}
	return &LoginResult{Token: tok, ExpiresAt: sess.ExpiresAt, Admin: a, Device: newDevice(s.deviceKey, a.ID, a.PasswordHash, s.now()),
		MustEnrolTOTP: mustEnrol}, nil
}

// adminByUsername is the admin named username, or nil when there is none.
func (s *Service) adminByUsername(ctx context.Context, username string) (*models.Admin, error) {
	a, err := s.store.AdminByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, internal(err)
	}
	return a, nil
}

// addressKey is the per-address counter key of ip: grouped as every other
// limiter groups addresses (ratelimit.ClientNet), so that the 70 addresses
// of one IPv6 /64 are one client here too and not 70 budgets of guesses.
func addressKey(ip string) string {
	return "ip:" + ratelimit.ClientNet(ip)
}

// rateLimited returns RATE_LIMITED when any key is past its limit, with the
// longest wait among them; and the kinds of keys ("user", "device", "ip")
// this attempt took past their limit, which happens once a window.
func rateLimited(counts []store.AttemptCount) (reached []string, err error) {
	var wait time.Duration
	for _, c := range counts {
		limit := MaxPerIP
		switch {
		case strings.HasPrefix(c.Key, "user:"):
			limit = MaxPerUsername
		case strings.HasPrefix(c.Key, "device:"):
			limit = MaxPerDevice
		case strings.HasPrefix(c.Key, "enrol:"):
			limit = MaxEnrolmentStarts
		}
		if c.Count > limit {
			wait = max(wait, c.RetryAfter)
		}
		if c.Count == limit+1 {
			kind, _, _ := strings.Cut(c.Key, ":")
			reached = append(reached, kind)
		}
	}
	if wait == 0 {
		return nil, nil
	}
	secs := int(math.Ceil(wait.Seconds()))
	return reached, &models.Error{Code: models.CodeRateLimited,
		Message:    fmt.Sprintf("too many sign-in attempts; try again in %d seconds", secs),
		Extensions: map[string]any{"retryAfter": secs}}
}

// verify checks a password hash, waiting for a free slot.
func (s *Service) verify(ctx context.Context, hash, pw string) (bool, error) {
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.hashSlots }()
	return VerifyPassword(hash, pw)
}

// auditFailure records a failed sign-in. The attempted username is kept
// only when it names an admin: an unknown one is often a password typed
// into the wrong box.
//
// Failures are audited per group — reason, admin (or none), client network
// (an IPv6 /64, as the limits count it) — and window: the first writes the
// row, the rest raise its detail.count (store.RecordLoginFailure). A flood
// from one network then writes at most a row per admin it guessed at and
// one for unknown usernames each AttemptWindow, not a row per guess; the
// limits bound the guesses themselves.
func (s *Service) auditFailure(ctx context.Context, a *models.Admin, in LoginInput) {
	reason := "unknown_username"
	if a != nil {
		reason = "wrong_password"
		if a.DisabledAt != nil {
			reason = "disabled"
		}
	}
	s.auditFailureAs(ctx, a, in, reason)
}

// auditFailureAs is auditFailure with the reason given (the second step's:
// totp_required, wrong_code, replayed_code, wrong_recovery_code).
func (s *Service) auditFailureAs(ctx context.Context, a *models.Admin, in LoginInput, reason string) {
	e := &models.AuditEntry{ActorKind: "anonymous", Action: "admin.login_failed", IP: nonEmpty(in.IP),
		Detail: map[string]any{"reason": reason}}
	target := ""
	if a != nil {
		target = a.ID
		e.Target = &a.ID
	}
	network := ratelimit.ClientNet(in.IP)
	if network != in.IP {
		e.Detail["network"] = network
	}
	key := "fail:" + e.Detail["reason"].(string) + ":" + target + ":" + network
	if _, err := s.store.RecordLoginFailure(ctx, key, AttemptWindow, e); err != nil {
		s.log.WarnContext(ctx, "writing the audit log", "err", err)
	}
}

// Caller is the signed-in admin of a request.
type Caller struct {
	Session *models.AdminSession
	Admin   *models.Admin
}

// As auth's: one code, three messages (no token, not a token, a session
// that has ended).
var (
	errSignInFirst     = models.Errorf(models.CodeUnauthenticated, "sign in first: send Authorization: Bearer <token> from adminLogin")
	errMalformed       = models.Errorf(models.CodeUnauthenticated, "the Authorization header holds no token from adminLogin: send Authorization: Bearer <token>, the token as adminLogin returned it")
	errUnauthenticated = models.Errorf(models.CodeUnauthenticated, "this admin session has ended (signed out, idle too long, expired, revoked or the account disabled): sign in again with adminLogin")
)

// Authenticate resolves an admin token to its caller. Anything that is not
// an active admin session of an enabled admin is UNAUTHENTICATED.
func (s *Service) Authenticate(ctx context.Context, tok string) (*Caller, error) {
	hash, ok := token.Parse(token.Admin, tok)
	if !ok {
		return nil, errMalformed
	}
	var gen uint64
	if s.cache != nil {
		if c, ok := s.cache.Get(hash); ok {
			return c, nil
		}
		gen = s.cache.Gen()
	}
	sess, a, err := s.store.AdminSessionByTokenHash(ctx, hash, s.idle)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthenticated
	} else if err != nil {
		return nil, internal(err)
	}
	// Touch often enough for the idle timeout to be kept to about a minute,
	// or to half of it when it is shorter. Only a cache miss gets here, at
	// most once per cache TTL per token.
	every := min(touchEvery, s.idle/2)
	seen := sess.LastSeenAt
	if time.Since(sess.LastSeenAt) > every {
		if err := s.store.TouchAdminSession(ctx, sess.ID, every); err != nil {
			s.log.WarnContext(ctx, "recording admin session use", "err", err)
		} else {
			seen = time.Now()
		}
	}
	c := &Caller{Session: sess, Admin: a}
	if s.cache != nil {
		// Never served past the session's end nor its idle deadline.
		// Shared by the requests the cache answers: nothing may modify it.
		end := sess.ExpiresAt
		if idleEnd := seen.Add(s.idle); idleEnd.Before(end) {
			end = idleEnd
		}
		s.cache.Put(hash, a.ID, end, c, gen)
	}
	return c, nil
}

// forgetAdmins empties this instance's admin session cache once a change to
// an admin or their sessions committed: the notification tells the other
// instances (and this one) within milliseconds, but this one must not
// answer from the cache in the meantime. Every write that may end or alter
// an admin's sessions calls it. The whole cache, not one admin's entries:
// it holds a few signed-in admins, and the writes name admins by username.
func (s *Service) forgetAdmins() {
	if s.cache != nil {
		s.cache.Clear()
	}
}

// Logout ends the caller's session and records it.
func (s *Service) Logout(ctx context.Context, c *Caller, ip string) error {
	audit := &models.AuditEntry{ActorKind: "admin", ActorID: &c.Admin.ID, ActorName: &c.Admin.Username,
		Action: "admin.logout", Target: &c.Admin.ID, IP: nonEmpty(ip), Detail: map[string]any{"session": c.Session.ID}}
	err := s.store.RevokeAdminSession(ctx, c.Session.ID, audit)
	if s.cache != nil {
		s.cache.InvalidateToken(c.Session.TokenHash)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return internal(err)
	}
	// The fields after adminLogout in the same mutation act for nobody.
	if r, _ := ctx.Value(requestKey{}).(*token.Request[*Caller]); r != nil {
		r.End(errUnauthenticated)
	}
	return nil
}

type requestKey struct{}

// WithToken returns ctx carrying the request's bearer token ("" for none).
func WithToken(ctx context.Context, tok string) context.Context {
	return context.WithValue(ctx, requestKey{}, token.NewRequest[*Caller](tok))
}

// HasToken reports whether the request carries an admin token at all.
func HasToken(ctx context.Context) bool {
	r, _ := ctx.Value(requestKey{}).(*token.Request[*Caller])
	return r != nil && strings.HasPrefix(r.Token(), token.Admin)
}

// Caller returns the signed-in admin of the request in ctx, or an
// UNAUTHENTICATED error. The token is looked up once per request.
func (s *Service) Caller(ctx context.Context) (*Caller, error) {
	r, _ := ctx.Value(requestKey{}).(*token.Request[*Caller])
	if r == nil || r.Token() == "" {
		return nil, errSignInFirst
	}
	return r.Resolve(func(tok string) (*Caller, error) { return s.Authenticate(ctx, tok) })
}

// countSessionAttempt counts a secret checked inside a session (the
// current password of changeMyPassword, a TOTP code while enrolling or
// turning it off) with the admin's sign-in attempts, per username and per
// client network: a stolen session gets no more guesses than the sign-in
// page. It returns the keys counted, to take the attempt back on success.
func (s *Service) countSessionAttempt(ctx context.Context, a *models.Admin, ip string) ([]string, error) {
	keys := []string{"user:" + strings.ToLower(a.Username)}
	if ip != "" {
		keys = append(keys, addressKey(ip))
	}
	counts, err := s.store.CountLoginAttempt(ctx, keys, AttemptWindow)
	if err != nil {
		return nil, internal(err)
	}
	if _, err := rateLimited(counts); err != nil {
		return nil, err
	}
	return keys, nil
}

// Require returns the caller when their role is at least min: FORBIDDEN
// below it, UNAUTHENTICATED without an admin session,
// PASSWORD_CHANGE_REQUIRED while their password is one another admin set,
// TOTP_ENROLMENT_REQUIRED for a session that may only enrol (mustEnrol).
func (s *Service) Require(ctx context.Context, min models.Role) (*Caller, error) {
	c, err := s.Caller(ctx)
	if err != nil {
		return nil, err
	}
	// The password first: an admin who must change it and enrol changes
	// it (changeMyPassword needs no role), then enrols.
	if c.Admin.MustChangePassword {
		return nil, errChangePasswordFirst // see accounts.go
	}
	if s.mustEnrol(c.Admin) {
		return nil, errEnrolFirst
	}
	if !c.Admin.Role.AtLeast(min) {
		return nil, models.Errorf(models.CodeForbidden, "this needs the %s role", min)
	}
	return c, nil
}

// Account management, for the command line.

// Create adds an admin account. It refuses a bad username or weak password
// with BAD_USER_INPUT and an existing username (in any case) with
// BAD_USER_INPUT too, saying so.
func (s *Service) Create(ctx context.Context, username, password string, role models.Role) (*models.Admin, error) {
	// The page's CreateAdmin's checks; a password set here is final.
	return s.create(ctx, username, password, role, false, operatorAudit("admin.create", map[string]any{"username": username, "role": string(role)}))
}

// SetPassword replaces an admin's password and ends their sessions.
func (s *Service) SetPassword(ctx context.Context, username, password string) error {
	if err := CheckPasswordStrength(password); err != nil {
		return models.Errorf(models.CodeBadUserInput, "%v", err)
	}
	audit := operatorAudit("admin.passwd", map[string]any{"username": username})
	err := s.store.SetAdminPassword(ctx, username, HashPassword(password), audit)
	s.forgetAdmins()
	return notFound(err, username)
}

// SetDisabled disables (ending their sessions) or enables an admin.
func (s *Service) SetDisabled(ctx context.Context, username string, disabled bool) error {
	action := "admin.enable"
	if disabled {
		action = "admin.disable"
	}
	err := s.store.SetAdminDisabled(ctx, username, disabled, operatorAudit(action, map[string]any{"username": username}))
	s.forgetAdmins()
	return notFound(err, username)
}

// operatorAudit is the audit entry of an account change made from the
// command line: the actor is the system's operator, not a signed-in admin.
func operatorAudit(action string, detail map[string]any) *models.AuditEntry {
	name := "command line"
	return &models.AuditEntry{ActorKind: "system", ActorName: &name, Action: action, Detail: detail}
}

// List returns every admin account.
func (s *Service) List(ctx context.Context) ([]*models.Admin, error) {
	return s.store.ListAdmins(ctx)
}

// EnsureDevAdmin creates the account "admin" with a random password when
// there is no admin at all, and returns that password ("" when it created
// none). Dev mode only: production has no default account.
func (s *Service) EnsureDevAdmin(ctx context.Context) (string, error) {
	n, err := s.store.CountAdmins(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	pw := base64.RawURLEncoding.EncodeToString(b)
	if _, err := s.Create(ctx, "admin", pw, models.RoleAdmin); err != nil {
		if models.ErrorCode(err) == models.CodeBadUserInput {
			return "", nil // another instance made it first
		}
		return "", err
	}
	return pw, nil
}

func notFound(err error, username string) error {
	if errors.Is(err, store.ErrNotFound) {
		return models.Errorf(models.CodeBadUserInput, "no admin named %s", username)
	} else if errors.Is(err, store.ErrLastAdmin) {
		return errLastAdmin
	} else if err != nil {
		return internal(err)
	}
	return nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
