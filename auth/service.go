// Package auth is the login and session logic between the GraphQL layer and
// the store and WeChat: it exchanges codes, checks open data, issues and
// resolves bearer tokens, and turns every failure into a models.Error.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"wxlogin/blob"
	"wxlogin/models"
	"wxlogin/ratelimit"
	"wxlogin/sessioncache"
	"wxlogin/store"
	"wxlogin/token"
	"wxlogin/wechat"
)

// DefaultSessionTTL is how long a session lasts unless configured.
const DefaultSessionTTL = 30 * 24 * time.Hour

// touchEvery bounds how often a session's last_seen_at is written.
const touchEvery = time.Minute

// DefaultRecordTimeout bounds recording a login once WeChat has accepted
// its code. A request's deadline must leave this much after the WeChat call.
const DefaultRecordTimeout = 10 * time.Second

// Config is the Service's settings.
type Config struct {
	// SessionTTL is a session's lifetime; DefaultSessionTTL when zero.
	SessionTTL time.Duration
	// SecretKey seals session_keys at rest; see ParseSecretKey.
	SecretKey []byte
	// PreviousSecretKeys open session_keys sealed under them but never
	// seal; see ParsePreviousSecretKeys.
	PreviousSecretKeys [][]byte
	// Logger receives operational warnings; slog.Default when nil.
	Logger *slog.Logger
	// RecordTimeout is DefaultRecordTimeout when zero.
	RecordTimeout time.Duration
	// MoreApps are the other mini programs of the same WeChat open platform
	// account, which a login names by LoginInput.AppID; NewService's client
	// is the default.
	MoreApps []*wechat.Client
	// RateLimits applies Limits; nil limits nothing.
	RateLimits *ratelimit.Guard
	Limits     Limits
	// Cache, when set, answers Authenticate for recently seen tokens
	// without the database; keep it in step with sessioncache.Follow.
	Cache *SessionCache
	// ObserveLogin, when set, is told every login's LoginOutcome.
	ObserveLogin func(ctx context.Context, outcome string)
	// PolicyVersion is the privacy policy version users must accept
	// (POLICY_VERSION); empty tracks no consent.
	PolicyVersion string
	// DeleteGrace is deleteAccount's cooling-off period
	// (ACCOUNT_DELETE_GRACE); zero erases at once.
	DeleteGrace time.Duration
	// Blobs holds uploaded avatars, which an erasure deletes; nil deletes
	// none (a server without uploads).
	Blobs blob.Store
}

// SessionCache is the in-process cache of resolved callers.
type SessionCache = sessioncache.Cache[*Caller]

// Limits are the rate limits of the auth service; a zero Limit is off.
type Limits struct {
	// LoginPerIP counts logins per client address (IPv6: per /64), before
	// WeChat is asked, so a flood of codes costs one statement each.
	LoginPerIP ratelimit.Limit
	// LoginPerOpenID counts logins per mini program user, once WeChat has
	// named them: a client stuck in a login loop makes no more sessions.
	LoginPerOpenID ratelimit.Limit
	// BindPhonePerUser counts bindPhoneNumber calls per user, before WeChat
	// is asked: each phone-code exchange is a billed WeChat call.
	BindPhonePerUser ratelimit.Limit
}

// Service logs users in and resolves their sessions. Safe for concurrent use.
type Service struct {
	store *store.Store
	// wechat is the default app's client; apps holds every app's by appid.
	wechat *wechat.Client
	apps   map[string]*wechat.Client
	sealer *sealer
	ttl    time.Duration
	record time.Duration
	log    *slog.Logger
	limits *ratelimit.Guard
	limit  Limits
	cache  *SessionCache

	observeLogin func(context.Context, string)
	// policy is POLICY_VERSION, "" when consent is not tracked.
	policy string
	grace  time.Duration
	blobs  blob.Store
}

// NewService returns a Service over st and wc.
func NewService(st *store.Store, wc *wechat.Client, cfg Config) (*Service, error) {
	if len(cfg.SecretKey) != SecretKeySize {
		return nil, fmt.Errorf("auth: secret key must be %d bytes", SecretKeySize)
	}
	sl, err := newSealer(cfg.SecretKey, cfg.PreviousSecretKeys...)
	if err != nil {
		return nil, err
	}
	s := &Service{store: st, wechat: wc, apps: map[string]*wechat.Client{}, sealer: sl, ttl: cfg.SessionTTL, record: cfg.RecordTimeout, log: cfg.Logger,
		limits: cfg.RateLimits, limit: cfg.Limits, cache: cfg.Cache, observeLogin: cfg.ObserveLogin, policy: cfg.PolicyVersion,
		grace: cfg.DeleteGrace, blobs: cfg.Blobs}
	for _, c := range append([]*wechat.Client{wc}, cfg.MoreApps...) {
		if s.apps[c.AppID()] != nil {
			return nil, fmt.Errorf("auth: appid %s given twice", c.AppID())
		}
		s.apps[c.AppID()] = c
	}
	if s.ttl <= 0 {
		s.ttl = DefaultSessionTTL
	}
	if s.record <= 0 {
		s.record = DefaultRecordTimeout
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// LoginInput is a login request: the wx.login() code and, optionally, the
// legacy wx.getUserInfo output, plus where the request came from.
type LoginInput struct {
	// AppID names the mini program the code is from; empty for the default.
	AppID         string
	Code          string
	RawData       string
	Signature     string
	EncryptedData string
	IV            string
	IP            string
	UserAgent     string
}

// LoginResult is a new session.
type LoginResult struct {
	// Token is the bearer token; it is shown once and only its hash is kept.
	Token     string
	ExpiresAt time.Time
	User      *models.User
	// Created reports whether this login made the user.
	Created bool
	// DeletionCancelled reports that this login cancelled the account's
	// pending deletion (the cooling-off period of deleteAccount).
	DeletionCancelled bool
}

// Login exchanges in.Code with WeChat, checks any legacy user data against
// this login's session_key, and records the user and a new session in one
// transaction. Errors are *models.Error with codes BAD_USER_INPUT,
// WECHAT_CODE_INVALID, WECHAT_RATE_LIMITED, WECHAT_USER_BLOCKED,
// WECHAT_UNAVAILABLE, DECRYPT_FAILED, USER_DISABLED, RATE_LIMITED (with
// extensions.retryAfter in seconds) or INTERNAL.
func (s *Service) Login(ctx context.Context, in LoginInput) (*LoginResult, error) {
	res, err := s.login(ctx, in)
	if s.observeLogin != nil {
		s.observeLogin(ctx, LoginOutcome(res, err))
	}
	return res, err
}

// LoginOutcome names a login's result for metrics: "created" for a new
// user, "ok" for a returning one, else the error's code.
func LoginOutcome(res *LoginResult, err error) string {
	switch {
	case err != nil:
		var me *models.Error
		if errors.As(err, &me) {
			return me.Code
		}
		return models.CodeInternal
	case res.Created:
		return "created"
	}
	return "ok"
}

func (s *Service) login(ctx context.Context, in LoginInput) (*LoginResult, error) {
	wc, ws, err := s.spendCode(ctx, in)
	if err != nil {
		return nil, err
	}
	profile, unionID, err := openLegacyData(wc.AppID(), in, ws)
	if err != nil {
		return nil, err
	}
	tok, hash := token.New(token.User)
	sess := &models.Session{
		ID:        store.NewID(),
		TokenHash: hash,
		ExpiresAt: time.Now().Add(s.ttl).UTC().Truncate(time.Microsecond),
		IP:        nonEmpty(in.IP),
		UserAgent: nonEmpty(clean(in.UserAgent)),
	}
	sess.SessionKeySealed = s.sealer.seal([]byte(ws.SessionKey), sess.ID)
	// The code is spent now: finish recording the login even if the client
	// hangs up, so a retry does not meet WECHAT_CODE_INVALID for nothing.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.record)
	defer cancel()
	res, err := s.store.Login(ctx, store.LoginParams{
		Provider: models.ProviderWechatMiniProgram,
		AppID:    wc.AppID(),
		OpenID:   ws.OpenID,
		UnionID:  unionID,
		Profile:  profile,
		Session:  sess,
	})
	if errors.Is(err, store.ErrUserDisabled) {
		return nil, models.Errorf(models.CodeUserDisabled, "this account has been disabled")
	} else if err != nil {
		return nil, models.WrapError(err, models.CodeInternal, "internal error")
	}
	for _, from := range res.MergedFrom {
		s.log.InfoContext(ctx, "merged users: a unionid showed them to be one person", "from", from, "into", res.User.ID, "appid", wc.AppID())
	}
	return &LoginResult{Token: tok, ExpiresAt: sess.ExpiresAt, User: res.User, Created: res.Created,
		DeletionCancelled: res.DeletionCancelled}, nil
}

// maxAppIDLen bounds an appId quoted back in an error; real ones are 18 bytes.
const maxAppIDLen = 32

// app returns the client of the mini program appID names ("" for the
// default), or BAD_USER_INPUT.
func (s *Service) app(appID string) (*wechat.Client, error) {
	if appID == "" {
		return s.wechat, nil
	}
	if c := s.apps[appID]; c != nil {
		return c, nil
	}
	if len(appID) > maxAppIDLen || clean(appID) != appID {
		return nil, models.Errorf(models.CodeBadUserInput, "appId is not a mini program of this server")
	}
	return nil, models.Errorf(models.CodeBadUserInput, "appId %q is not a mini program of this server", appID)
}

// spendCode checks in and exchanges its wx.login() code with WeChat, for
// login and for deleteAccount with a code: both spend a code, so both are
// bounded by the same limits in the same order. Everything that can be
// refused before WeChat is asked is (the app, the input, the network's
// limit), so that the code stays unspent for the retry; the user's own
// limit can be checked only once WeChat has named them, and the code is
// then spent.
func (s *Service) spendCode(ctx context.Context, in LoginInput) (*wechat.Client, *wechat.Session, error) {
	wc, err := s.app(in.AppID)
	if err != nil {
		return nil, nil, err
	}
	if err := validateLoginInput(in); err != nil {
		return nil, nil, err
	}
	if in.IP != "" {
		if err := s.limits.Check(ctx, "login:ip", ratelimit.ClientNet(in.IP), s.limit.LoginPerIP,
			"too many logins from this network; try again in %d seconds"); err != nil {
			return nil, nil, err
		}
	}
	ws, err := s.code2Session(ctx, wc, in.Code)
	if err != nil {
		return nil, nil, wechatError(err)
	}
	// Counted before anything is recorded, so a login loop makes no more
	// sessions.
	if err := s.limits.Check(ctx, "login:openid", wc.AppID()+"/"+ws.OpenID, s.limit.LoginPerOpenID,
		"too many logins for this user; call wx.login() again in %d seconds"); err != nil {
		return nil, nil, err
	}
	return wc, ws, nil
}

// code2Session asks WeChat about code, leaving enough of the request's
// deadline to record the login afterwards: a code WeChat accepted but we
// could not record is a login lost.
func (s *Service) code2Session(ctx context.Context, wc *wechat.Client, code string) (*wechat.Session, error) {
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-s.record))
		defer cancel()
	}
	return wc.Code2Session(ctx, code)
}

// validateLoginInput checks everything that can be checked without the
// session_key, so that a malformed request never spends the one-time code.
func validateLoginInput(in LoginInput) error {
	if in.Code == "" {
		return models.Errorf(models.CodeBadUserInput, "code is required: pass the code from wx.login()")
	}
	if err := wechat.CheckCode(in.Code); err != nil {
		return models.WrapError(err, models.CodeBadUserInput, err.Error())
	}
	if err := wechat.CheckUserData(in.RawData, in.Signature, in.EncryptedData, in.IV); err != nil {
		return models.WrapError(err, models.CodeBadUserInput, err.Error())
	}
	return nil
}

// openLegacyData checks the optional wx.getUserInfo output: the rawData
// signature, then the encryptedData with its watermark and openId. The
// decrypted payload is authoritative when both are given. It returns the
// profile to save (nil when none was sent) and the best-known unionid.
// appID is the login's mini program, which the watermark must name.
func openLegacyData(appID string, in LoginInput, ws *wechat.Session) (*models.Profile, string, error) {
	unionID := ws.UnionID
	var profile *models.Profile
	if in.RawData != "" {
		if err := wechat.VerifySignature(in.RawData, ws.SessionKey, in.Signature); err != nil {
			return nil, "", decryptError(err)
		}
		var p wechat.Profile
		if err := json.Unmarshal([]byte(in.RawData), &p); err != nil {
			return nil, "", models.Errorf(models.CodeBadUserInput, "rawData is not a JSON object")
		}
		profile = profileOf(&p)
	}
	if in.EncryptedData != "" {
		info, err := wechat.DecryptUserInfo(appID, ws.OpenID, ws.SessionKey, in.EncryptedData, in.IV)
		if err != nil {
			return nil, "", decryptError(err)
		}
		profile = profileOf(&info.Profile)
		if unionID == "" {
			unionID = info.UnionID
		}
	}
	return profile, unionID, nil
}

// profileOf keeps what can be true of a WeChat profile: a gender WeChat
// defines (checked before narrowing, so 65537 does not wrap to MALE) and an
// avatar served over https (never javascript: or data: URLs a dashboard
// might render).
func profileOf(info *wechat.Profile) *models.Profile {
	g := models.GenderUnknown
	switch info.Gender {
	case int(models.GenderMale), int(models.GenderFemale):
		g = models.Gender(info.Gender)
	}
	return &models.Profile{
		Nickname: shown(info.NickName), AvatarURL: httpsURL(clean(info.AvatarURL)), Gender: g,
		Language: shown(info.Language), City: shown(info.City), Province: shown(info.Province), Country: shown(info.Country),
	}
}

// httpsURL returns s when it is one of WeChat's avatar URLs (wechat.IsAvatarURL), else "".
func httpsURL(s string) string {
	if !wechat.IsAvatarURL(s) {
		return ""
	}
	return s
}

// maxFieldLen bounds a profile or header string we store.
const maxFieldLen = 512

// clean makes client-supplied text storable and safe to show: valid UTF-8,
// none of models.HiddenRune's characters (NUL, which Postgres text refuses;
// the bidirectional overrides that make a nickname display as another text
// in a dashboard), bounded length.
// shown is clean(s) when it passes the rules updateProfile applies to the
// same fields (models.TextProblem), else "": a profile that comes in with a
// login is shown to other people just the same, so an invisible or
// mark-stacked nickname must not get in this way either.
func shown(s string) string {
	s = clean(s)
	if models.TextProblem(s, false) != "" {
		return ""
	}
	return s
}

func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if models.HiddenRune(r) {
			return -1
		}
		return r
	}, s)
	return truncate(strings.TrimSpace(s), maxFieldLen)
}

// wechatError maps the wechat module's errors onto client codes. An errcode
// we do not expect (a wrong appid or secret) is our misconfiguration: INTERNAL.
func wechatError(err error) error {
	switch {
	case errors.Is(err, wechat.ErrInvalidCode):
		return models.WrapError(err, models.CodeWechatCodeInvalid, "the login code is invalid, expired or already used; call wx.login() again")
	case errors.Is(err, wechat.ErrRateLimited):
		return models.WrapError(err, models.CodeWechatRateLimited, "WeChat is rate limiting logins; retry shortly")
	case errors.Is(err, wechat.ErrUserBlocked):
		return models.WrapError(err, models.CodeWechatUserBlocked, "WeChat has blocked this user's login")
	case errors.Is(err, wechat.ErrUnavailable):
		return models.WrapError(err, models.CodeWechatUnavailable, "WeChat is unavailable; retry shortly")
	}
	return models.WrapError(err, models.CodeInternal, "internal error")
}

func decryptError(err error) error {
	return models.WrapError(err, models.CodeDecryptFailed, "the user data did not verify against this login; call wx.login() and wx.getUserInfo() again")
}

// Caller is the authenticated client of a request.
type Caller struct {
	Session *models.Session
	User    *models.User
}

// The three UNAUTHENTICATED answers: one code, so clients sign in again
// whichever it is, but a message that tells a developer what happened —
// after logout, "send the header" would name the one just sent.
var (
	errSignInFirst  = models.Errorf(models.CodeUnauthenticated, "sign in first: send Authorization: Bearer <token> from login")
	errMalformed    = models.Errorf(models.CodeUnauthenticated, "the Authorization header holds no token from login: send Authorization: Bearer <token>, the token as login returned it")
	errSessionEnded = models.Errorf(models.CodeUnauthenticated, "this session has ended (signed out, expired, revoked or the account disabled): sign in again with login")
)

// Authenticate resolves a bearer token to its caller. Unknown, malformed,
// expired and revoked tokens, and disabled users, are all UNAUTHENTICATED:
// a malformed one (or an admin's) with errMalformed, the others with
// errSessionEnded.
func (s *Service) Authenticate(ctx context.Context, tok string) (*Caller, error) {
	hash, ok := token.Parse(token.User, tok)
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
	sess, user, err := s.store.SessionByTokenHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errSessionEnded
	} else if err != nil {
		return nil, models.WrapError(err, models.CodeInternal, "internal error")
	}
	// Written at most once per touchEvery per session, and only on a cache
	// miss, which happens at most once per cache TTL per token.
	if time.Since(sess.LastSeenAt) > touchEvery {
		if err := s.store.TouchSession(ctx, sess.ID, touchEvery); err != nil {
			s.log.WarnContext(ctx, "recording session use", "err", err)
		}
	}
	sess.TokenHash = hash
	c := &Caller{Session: sess, User: user}
	if s.cache != nil {
		// Shared by the requests the cache answers: nothing may modify it.
		s.cache.Put(hash, user.ID, sess.ExpiresAt, c, gen)
	}
	return c, nil
}

// Logout revokes the caller's session, recording it in the audit log.
// Revoking an already revoked session is not an error.
func (s *Service) Logout(ctx context.Context, c *Caller, ip string) error {
	audit := &models.AuditEntry{ActorKind: "user", ActorID: &c.User.ID, Action: "user.logout", Target: &c.User.ID,
		IP: nonEmpty(ip), Detail: map[string]any{"session": c.Session.ID}}
	_, err := s.store.RevokeSession(ctx, c.Session.ID, "", audit)
	if s.cache != nil && err == nil {
		// The notification will say so too; this instance need not wait
		// for it.
		s.cache.InvalidateToken(c.Session.TokenHash)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return models.WrapError(err, models.CodeInternal, "internal error")
	}
	endRequest(ctx)
	return nil
}

// endRequest makes the rest of the request in ctx unauthenticated: it
// ended its own session, and a field after logout in the same mutation
// (mutation { logout updateProfile(…) }) must not act for the user.
func endRequest(ctx context.Context) {
	if r, _ := ctx.Value(requestKey{}).(*token.Request[*Caller]); r != nil {
		r.End(errSessionEnded)
	}
}

// SessionKey unseals the session_key stored with a session, for server-side
// decrypts after login. It never leaves the server. It is read here, not
// with every authenticated request, which never needs it.
func (s *Service) SessionKey(ctx context.Context, sess *models.Session) (wechat.Secret, error) {
	sealed, err := s.store.SessionKeySealed(ctx, sess.ID)
	if errors.Is(err, store.ErrNotFound) {
		return "", errSessionEnded
	} else if err != nil {
		return "", models.WrapError(err, models.CodeInternal, "internal error")
	}
	pt, err := s.sealer.open(sealed, sess.ID)
	if err != nil {
		return "", models.WrapError(err, models.CodeInternal, "internal error")
	}
	return wechat.Secret(pt), nil
}

type requestKey struct{}

// WithToken returns ctx carrying the request's bearer token ("" for none).
func WithToken(ctx context.Context, tok string) context.Context {
	return context.WithValue(ctx, requestKey{}, token.NewRequest[*Caller](tok))
}

// Caller returns the authenticated caller of the request in ctx, or an
// UNAUTHENTICATED error. The token is looked up once per request.
func (s *Service) Caller(ctx context.Context) (*Caller, error) {
	r, _ := ctx.Value(requestKey{}).(*token.Request[*Caller])
	if r == nil || r.Token() == "" {
		return nil, errSignInFirst
	}
	return r.Resolve(func(tok string) (*Caller, error) { return s.Authenticate(ctx, tok) })
}

// CachedCaller returns the caller of the request in ctx only when the
// session cache can answer without the database: a fast path may then skip
// work a lookup would need. ok is false for no token, a malformed one, or a
// cache miss; Caller is the way to an answer then.
func (s *Service) CachedCaller(ctx context.Context) (c *Caller, ok bool) {
	r, _ := ctx.Value(requestKey{}).(*token.Request[*Caller])
	if s.cache == nil || r == nil || r.Token() == "" {
		return nil, false
	}
	hash, ok := token.Parse(token.User, r.Token())
	if !ok {
		return nil, false
	}
	return s.cache.Get(hash)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so Postgres gets valid UTF-8.
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// ForgetUser drops the user's sessions from this instance's cache, for a
// change that committed here: the other instances hear of it by NOTIFY,
// but this one must not answer from the cache in the meantime.
func (s *Service) ForgetUser(userID string) {
	if s.cache != nil {
		s.cache.InvalidateUser(userID)
	}
}
