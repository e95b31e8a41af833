// Package wechattest is a WeChat simulator: a real HTTP server that speaks
// the parts of the WeChat API wxlogin uses, with the real service's habits
// (text/plain JSON, single-use codes that expire after 5 minutes, errcodes
// with a rid), plus the mini-program side that mints codes and legacy
// encrypted user data. Tests drive it over HTTP; dev mode mounts it.
package wechattest

import (
	"container/list"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"wxlogin/wechat"
)

// CodeTTL is how long a wx.login() code can be exchanged, as on WeChat.
const CodeTTL = 5 * time.Minute

// Defaults for Limits fields left zero. Dev mode mounts the simulator in a
// long-running server where anyone who reaches it can mint codes, so all
// it remembers is bounded; full to the defaults it holds about 55 MB.
const (
	DefaultMaxCodes       = 100_000
	DefaultMaxUsers       = 100_000
	DefaultMaxUnexpected  = 1_000
	DefaultMaxSessionKeys = 100_000
)

// MaxUserLen bounds a user name, which every live code and user entry holds.
const MaxUserLen = 128

// maxUnexpectedLen bounds one remembered unexpected request; its method and
// path are the client's choice.
const maxUnexpectedLen = 256

// Limits bound the simulator's memory. A zero field takes its default.
type Limits struct {
	// Codes caps unexpired codes. Minting past it fails with
	// ErrTooManyCodes (HTTP 429) until some expire.
	Codes int
	// Users caps the users whose latest session_key is kept for UserInfo
	// and checksession, and separately the users given a phone by SetPhone.
	// A new user past it displaces those whose last login is older than
	// CodeTTL, least recent first, or fails with ErrTooManyUsers (HTTP 429).
	Users int
	// Unexpected is how many of the newest unexpected requests Unexpected
	// returns; UnexpectedTotal still counts them all.
	Unexpected int
	// SessionKeys is how many of the newest handed-out session_keys
	// SessionKeys returns.
	SessionKeys int
}

// withDefaults fills the zero (or negative) fields.
func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.Codes, DefaultMaxCodes)
	def(&l.Users, DefaultMaxUsers)
	def(&l.Unexpected, DefaultMaxUnexpected)
	def(&l.SessionKeys, DefaultMaxSessionKeys)
	return l
}

// Errors of minting a code when a Limits cap is reached; the mini-program
// side answers them with HTTP 429.
var (
	// ErrTooManyCodes means Limits.Codes unexpired codes exist already.
	ErrTooManyCodes = errors.New("wechattest: too many unexpired codes; retry when some have expired")
	// ErrTooManyUsers means Limits.Users users logged in within CodeTTL.
	ErrTooManyUsers = errors.New("wechattest: too many users logged in recently; retry later")
)

// The paths Calls counts and InjectAt takes; keyed by these constants
// only, so requests to made-up paths cannot grow the maps.
const (
	PathCode2Session = "/sns/jscode2session"              // code2Session: a login code for openid and session_key
	PathStableToken  = "/cgi-bin/stable_token"            // getStableAccessToken
	PathPhoneNumber  = "/wxa/business/getuserphonenumber" // a phone code for the user's number
	PathCheckSession = "/wxa/checksession"                // is this session_key current?
	PathMintCode     = "/dev/wechat/code"                 // mini-program side: wx.login()
	PathMintPhone    = "/dev/wechat/phonecode"            // mini-program side: the getPhoneNumber button
)

// PathPush (push.go) is counted too.

// knownPath reports whether p is one of the Path constants.
func knownPath(p string) bool {
	switch p {
	case PathCode2Session, PathStableToken, PathPhoneNumber, PathCheckSession, PathMintCode, PathMintPhone, PathPush,
		PathMsgSecCheck, PathMediaCheck:
		return true
	}
	return false
}

// App is a mini program the simulator knows.
type App struct {
	AppID  string
	Secret string
	// NoUnionID makes code2Session omit unionid, as WeChat does for an app
	// not bound to an open platform account.
	NoUnionID bool
	// PushToken and PushAESKey are its message push Token and
	// EncodingAESKey, which MakePush signs and encrypts with (plaintext
	// mode without a key).
	PushToken, PushAESKey string
}

// Fault is a failure injected into the next calls of one API path, in order.
type Fault struct {
	// Errcode, when non-zero, is answered instead of the real result.
	Errcode int
	// Status, when non-zero, is the HTTP status answered with an HTML body.
	Status int
	// Body, when non-empty, is answered verbatim with status 200.
	Body string
	// Delay is waited before answering (after which the call proceeds).
	Delay time.Duration
}

// UserInfo is the legacy wx.getUserInfo output a mini program forwards.
type UserInfo struct {
	RawData       string `json:"rawData"`
	Signature     string `json:"signature"`
	EncryptedData string `json:"encryptedData"`
	IV            string `json:"iv"`
}

// issuedCode is a wx.login() code or, with phone set, a getPhoneNumber
// code. Both kinds share one table, so Limits.Codes bounds them together.
type issuedCode struct {
	code        string
	appID, user string
	sessionKey  wechat.Secret
	phone       *phone
	issued      time.Time
	used        bool
}

type userKey struct{ appID, user string }

// userState is a user's latest login, an element of Simulator.byLogin.
type userState struct {
	key        userKey
	openID     string
	sessionKey wechat.Secret
	lastLogin  time.Time
}

// openIDKey finds a user by what checksession sends: the app (known from
// the access token) and the openid.
type openIDKey struct{ appID, openID string }

// Simulator is the simulated WeChat. The zero value is not usable; call New.
type Simulator struct {
	mu       sync.Mutex
	limits   Limits
	apps     map[string]App
	firstApp string
	codes    map[string]*issuedCode
	// byIssue holds the codes in the order minted, so the expired ones are
	// found at its front without scanning the map.
	byIssue []*issuedCode
	// current finds each user's latest login in byLogin, which is ordered
	// least recent first, so the users to forget are at its front.
	current    map[userKey]*list.Element
	byOpenID   map[openIDKey]*list.Element
	byLogin    *list.List
	blocked    map[string]bool
	faults     map[string][]Fault
	offset     time.Duration
	calls      map[string]int
	unexpected lastN[string]
	salt       []byte
	handedOut  lastN[wechat.Secret]
	// tokens finds an access token's app; appTokens holds each app's
	// current and previous token. Both stay at two tokens per app at most.
	tokens    map[string]*accessToken
	appTokens map[string]*tokenState
	// phones holds the number bound to each user's WeChat account, bounded
	// by Limits.Users.
	phones map[string]phone
	// pushTarget is the base URL of the server pushes go to.
	pushTarget string
	// The media checks: SetMediaCheckDelivery's delay and function, the
	// checks whose verdict is being made, and the newest finished ones.
	mediaDelay    time.Duration
	mediaDeliver  func(MediaCheck)
	mediaInFlight int
	mediaChecks   lastN[MediaCheck]
}

// New returns a simulator that knows apps; the first is the default for
// minting codes. openids and unionids derive from the user name, so "alice"
// is the same person across restarts.
func New(apps ...App) *Simulator {
	s := &Simulator{
		apps:      map[string]App{},
		codes:     map[string]*issuedCode{},
		current:   map[userKey]*list.Element{},
		byOpenID:  map[openIDKey]*list.Element{},
		byLogin:   list.New(),
		blocked:   map[string]bool{},
		faults:    map[string][]Fault{},
		calls:     map[string]int{},
		salt:      []byte("wxlogin-simulator"),
		tokens:    map[string]*accessToken{},
		appTokens: map[string]*tokenState{},
		phones:    map[string]phone{},
	}
	s.SetLimits(Limits{})
	for _, a := range apps {
		s.AddApp(a)
	}
	return s
}

// SetLimits replaces the bounds on the simulator's memory. Lowering a cap
// below what is held keeps the newest remembered requests and keys; codes
// and users beyond it are refused more until enough expire.
func (s *Simulator) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l.withDefaults()
	s.unexpected.resize(s.limits.Unexpected)
	s.handedOut.resize(s.limits.SessionKeys)
	s.mediaChecks.resize(s.limits.Unexpected)
}

// AddApp registers another mini program.
func (s *Simulator) AddApp(a App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.firstApp == "" {
		s.firstApp = a.AppID
	}
	s.apps[a.AppID] = a
}

// Handler serves both sides: the WeChat API and the mini-program side.
func (s *Simulator) Handler() http.Handler {
	mux := http.NewServeMux()
	api := s.APIHandler()
	mux.Handle("/sns/", api)
	mux.Handle("/cgi-bin/", api)
	mux.Handle("/wxa/", api)
	mux.Handle("/dev/wechat/", s.MiniProgramHandler())
	mux.HandleFunc("/", s.notFound)
	return mux
}

// APIHandler serves the WeChat server API (api.weixin.qq.com's paths).
func (s *Simulator) APIHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathCode2Session, s.jscode2session)
	mux.HandleFunc("POST "+PathStableToken, s.stableToken)
	mux.HandleFunc("POST "+PathPhoneNumber, s.phoneNumber)
	mux.HandleFunc("GET "+PathCheckSession, s.checkSession)
	mux.HandleFunc("POST "+PathMsgSecCheck, s.msgSecCheck)
	mux.HandleFunc("POST "+PathMediaCheck, s.mediaCheck)
	mux.HandleFunc("/", s.notFound)
	return mux
}

// MiniProgramHandler serves what a phone would do: POST /dev/wechat/code
// with {"user":"alice"} answers {"code":"…"}; add "appid" to pick an app and
// "profile":{…} to also get legacy rawData/signature/encryptedData/iv.
// POST /dev/wechat/phonecode is the getPhoneNumber button; see mintPhoneCode.
// POST /dev/wechat/push sends an event of WeChat's message push to the
// server (SetPushTarget); see triggerPush.
func (s *Simulator) MiniProgramHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathMintCode, s.mintCode)
	mux.HandleFunc("POST "+PathMintPhone, s.mintPhoneCode)
	mux.HandleFunc("POST "+PathPush, s.triggerPush)
	mux.HandleFunc("/", s.notFound)
	return mux
}

// Inject queues faults for the next code2Session calls, one call each.
func (s *Simulator) Inject(faults ...Fault) { s.InjectAt(PathCode2Session, faults...) }

// InjectAt queues faults for the next calls of path, one of the Path
// constants, one call each. Other paths are ignored, so the map stays small.
func (s *Simulator) InjectAt(path string, faults ...Fault) {
	if !knownPath(path) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[path] = append(s.faults[path], faults...)
}

// takeFault pops path's next fault and counts the call, under the lock.
func (s *Simulator) takeFault(path string) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[path]++
	var f Fault
	if q := s.faults[path]; len(q) > 0 {
		f, s.faults[path] = q[0], q[1:]
	}
	return f
}

// serveFault waits out f's delay and answers f's failure. It reports false
// when the call should proceed to the real answer.
func serveFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return true
		}
	}
	switch {
	case f.Status != 0:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		fmt.Fprintf(w, "<html><body>%d</body></html>", f.Status)
	case f.Body != "":
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, f.Body)
	case f.Errcode != 0:
		writeErrcode(w, f.Errcode)
	default:
		return false
	}
	return true
}

// Block makes WeChat refuse user's logins as high-risk (errcode 40226).
func (s *Simulator) Block(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[user] = true
}

// Advance moves the simulator's clock, to expire codes and access tokens
// without waiting.
func (s *Simulator) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// Calls returns how many requests reached path, one of the Path constants;
// any other path is 0.
func (s *Simulator) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// Unexpected lists the newest (Limits.Unexpected) requests to paths the
// simulator does not serve, oldest first, so a test can fail on calls the
// real WeChat would not understand either.
func (s *Simulator) Unexpected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unexpected.items()
}

// UnexpectedTotal counts every unexpected request, including those
// Unexpected no longer lists.
func (s *Simulator) UnexpectedTotal() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unexpected.total
}

// SessionKeys returns the newest (Limits.SessionKeys) session_keys
// code2Session has handed out, oldest first, so a test can check that none
// of them is stored or shown in the clear.
func (s *Simulator) SessionKeys() []wechat.Secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handedOut.items()
}

// OpenID returns the openid user has in appID.
func (s *Simulator) OpenID(appID, user string) string {
	return s.derive("openid", appID, user)
}

// UnionID returns user's unionid, shared by all apps of the open platform account.
func (s *Simulator) UnionID(user string) string {
	return s.derive("unionid", "", user)
}

// derive makes a 28-character WeChat-looking id, stable for its inputs.
func (s *Simulator) derive(kind, appID, user string) string {
	m := hmac.New(sha256.New, s.salt)
	fmt.Fprintf(m, "%s\x00%s\x00%s", kind, appID, user)
	return "o" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:27]
}

// Login is wx.login(): it mints a fresh code for user in appID ("" for the
// default app) and rotates the user's session_key, as WeChat may. Past a
// Limits cap it fails with ErrTooManyCodes or ErrTooManyUsers.
func (s *Simulator) Login(appID, user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loginLocked(appID, user)
}

func (s *Simulator) loginLocked(appID, user string) (string, error) {
	if appID == "" {
		appID = s.firstApp
	}
	if _, ok := s.apps[appID]; !ok {
		return "", fmt.Errorf("wechattest: unknown appid %q", appID)
	}
	if user == "" {
		return "", fmt.Errorf("wechattest: user is required")
	}
	if len(user) > MaxUserLen {
		return "", fmt.Errorf("wechattest: user is longer than %d bytes", MaxUserLen)
	}
	now := s.now()
	s.pruneCodes(now)
	if len(s.codes) >= s.limits.Codes {
		return "", ErrTooManyCodes
	}
	k := userKey{appID, user}
	el, known := s.current[k]
	if !known {
		s.forgetStaleUsers(now)
		if len(s.current) >= s.limits.Users {
			return "", ErrTooManyUsers
		}
	}

	code := randomCode()
	key := wechat.Secret(base64.StdEncoding.EncodeToString(randomBytes(16)))
	c := &issuedCode{code: code, appID: appID, user: user, sessionKey: key, issued: now}
	s.codes[code] = c
	s.byIssue = append(s.byIssue, c)
	// wx.login() rotates the session_key: from here on it is the user's
	// current one, which checksession and the open-data helpers use, and
	// a key the server got from an earlier code is stale.
	if known {
		u := el.Value.(*userState)
		u.sessionKey, u.lastLogin = key, now
		s.byLogin.MoveToBack(el)
	} else {
		openID := s.OpenID(appID, user)
		el := s.byLogin.PushBack(&userState{key: k, openID: openID, sessionKey: key, lastLogin: now})
		s.current[k] = el
		s.byOpenID[openIDKey{appID, openID}] = el
	}
	return code, nil
}

// expired reports whether c can no longer be exchanged at now.
func expired(c *issuedCode, now time.Time) bool { return now.Sub(c.issued) > CodeTTL }

// pruneCodes forgets expired codes, oldest first. Each code is appended and
// popped once, so the cost is constant per code minted. Should Advance move
// the clock back, a later code can expire before an earlier one; it then
// waits for those before it, and is refused on exchange meanwhile.
func (s *Simulator) pruneCodes(now time.Time) {
	for len(s.byIssue) > 0 && expired(s.byIssue[0], now) {
		delete(s.codes, s.byIssue[0].code)
		s.byIssue[0] = nil // let the popped code be collected
		s.byIssue = s.byIssue[1:]
	}
}

// forgetStaleUsers makes room for a new user by forgetting those whose last
// login is older than CodeTTL, least recent first: all their codes have
// expired, so they can only be asked for UserInfo of a login long past.
func (s *Simulator) forgetStaleUsers(now time.Time) {
	for len(s.current) >= s.limits.Users {
		front := s.byLogin.Front()
		if front == nil {
			return
		}
		u := front.Value.(*userState)
		if now.Sub(u.lastLogin) <= CodeTTL {
			return
		}
		s.byLogin.Remove(front)
		delete(s.current, u.key)
		delete(s.byOpenID, openIDKey{u.key.appID, u.openID})
	}
}

// UserInfo is wx.getUserInfo(): profile encrypted with user's current
// session_key in appID, signed, and watermarked with appID.
func (s *Simulator) UserInfo(appID, user string, p wechat.Profile) (UserInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userInfoLocked(appID, user, p)
}

func (s *Simulator) userInfoLocked(appID, user string, p wechat.Profile) (UserInfo, error) {
	if appID == "" {
		appID = s.firstApp
	}
	el, ok := s.current[userKey{appID, user}]
	if !ok {
		return UserInfo{}, fmt.Errorf("wechattest: %q has not logged in to %q", user, appID)
	}
	key := el.Value.(*userState).sessionKey
	raw, err := json.Marshal(p)
	if err != nil {
		return UserInfo{}, err
	}
	full := struct {
		OpenID  string `json:"openId"`
		UnionID string `json:"unionId,omitempty"`
		wechat.Profile
		Watermark wechat.Watermark `json:"watermark"`
	}{OpenID: s.OpenID(appID, user), Profile: p, Watermark: wechat.Watermark{AppID: appID, Timestamp: s.now().Unix()}}
	if !s.apps[appID].NoUnionID {
		full.UnionID = s.UnionID(user)
	}
	plain, err := json.Marshal(full)
	if err != nil {
		return UserInfo{}, err
	}
	iv := base64.StdEncoding.EncodeToString(randomBytes(16))
	enc, err := wechat.Encrypt(key, iv, plain)
	if err != nil {
		return UserInfo{}, err
	}
	return UserInfo{RawData: string(raw), Signature: wechat.Sign(string(raw), key), EncryptedData: enc, IV: iv}, nil
}

func (s *Simulator) now() time.Time { return time.Now().Add(s.offset) }

// mintCode serves POST /dev/wechat/code.
func (s *Simulator) mintCode(w http.ResponseWriter, r *http.Request) {
	var in struct {
		User    string          `json:"user"`
		AppID   string          `json:"appid"`
		Profile *wechat.Profile `json:"profile"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": "body must be JSON like {\"user\":\"alice\"}"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[PathMintCode]++
	code, err := s.loginLocked(in.AppID, in.User)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrTooManyCodes) || errors.Is(err, ErrTooManyUsers) {
			status = http.StatusTooManyRequests
		}
		writeJSON(w, status, "application/json", map[string]string{"error": err.Error()})
		return
	}
	out := map[string]string{"code": code}
	if in.Profile != nil {
		ui, err := s.userInfoLocked(in.AppID, in.User, *in.Profile)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": err.Error()})
			return
		}
		out["rawData"], out["signature"], out["encryptedData"], out["iv"] = ui.RawData, ui.Signature, ui.EncryptedData, ui.IV
	}
	writeJSON(w, http.StatusOK, "application/json", out)
}

// jscode2session serves GET /sns/jscode2session the way WeChat does,
// checking in WeChat's order: appid, secret, code.
func (s *Simulator) jscode2session(w http.ResponseWriter, r *http.Request) {
	if serveFault(w, r, s.takeFault(PathCode2Session)) {
		return
	}

	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	app, ok := s.apps[q.Get("appid")]
	switch {
	case !ok:
		writeErrcode(w, wechat.ErrcodeInvalidAppID)
		return
	case !hmac.Equal([]byte(q.Get("secret")), []byte(app.Secret)):
		writeErrcode(w, wechat.ErrcodeInvalidCred)
		return
	case q.Get("grant_type") != "authorization_code":
		writeErrcode(w, wechat.ErrcodeInvalidGrant)
		return
	case q.Get("js_code") == "":
		writeErrcode(w, wechat.ErrcodeMissingCode)
		return
	}
	c, ok := s.codes[q.Get("js_code")]
	switch {
	case !ok || c.phone != nil || c.appID != app.AppID || expired(c, s.now()):
		writeErrcode(w, wechat.ErrcodeInvalidCode)
		return
	case c.used:
		writeErrcode(w, wechat.ErrcodeCodeUsed)
		return
	case s.blocked[c.user]:
		writeErrcode(w, wechat.ErrcodeUserBlocked)
		return
	}
	c.used = true
	s.handedOut.push(c.sessionKey)
	out := map[string]string{"openid": s.OpenID(app.AppID, c.user), "session_key": string(c.sessionKey)}
	if !app.NoUnionID {
		out["unionid"] = s.UnionID(c.user)
	}
	writeJSON(w, http.StatusOK, "text/plain", out)
}

func (s *Simulator) notFound(w http.ResponseWriter, r *http.Request) {
	what := r.Method + " " + r.URL.Path
	if len(what) > maxUnexpectedLen {
		what = what[:maxUnexpectedLen] + "…"
	}
	s.mu.Lock()
	s.unexpected.push(what)
	s.mu.Unlock()
	http.NotFound(w, r)
}

// errmsgs are WeChat's texts for the errcodes the simulator answers.
var errmsgs = map[int]string{
	wechat.ErrcodeBusy:             "system error",
	wechat.ErrcodeInvalidCode:      "invalid code",
	wechat.ErrcodeCodeUsed:         "code been used",
	wechat.ErrcodeRateLimited:      "api minute-quota reach limit  mustslower  retry next minute",
	wechat.ErrcodeUserBlocked:      "user is blocked",
	wechat.ErrcodeInvalidAppID:     "invalid appid",
	wechat.ErrcodeInvalidCred:      "invalid appsecret",
	wechat.ErrcodeMissingCode:      "missing code",
	wechat.ErrcodeInvalidGrant:     "invalid grant_type",
	wechat.ErrcodeDailyQuota:       "reach max api daily quota limit",
	wechat.ErrcodeInvalidToken:     "invalid credential, access_token is invalid or not latest",
	wechat.ErrcodeTokenExpired:     "access_token expired",
	wechat.ErrcodeBadToken:         "invalid access_token",
	wechat.ErrcodeMissingToken:     "access_token missing",
	wechat.ErrcodeInvalidOpenID:    "invalid openid",
	wechat.ErrcodeInvalidArgs:      "invalid args",
	wechat.ErrcodeInvalidSignature: "invalid signature",
	wechat.ErrcodeUserNotRecent:    "user has not visited the mini program in the last 2 hours",
}

func writeErrcode(w http.ResponseWriter, code int) {
	msg, ok := errmsgs[code]
	if !ok {
		msg = "simulated error"
	}
	// WeChat appends a request id ("rid") to every errmsg.
	writeJSON(w, http.StatusOK, "text/plain", map[string]any{
		"errcode": code,
		"errmsg":  fmt.Sprintf("%s, rid: %s", msg, hex.EncodeToString(randomBytes(8))),
	})
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

const codeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomCode looks like a wx.login() code: 32 alphanumerics.
func randomCode() string {
	b := randomBytes(32)
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// lastN keeps the newest n values pushed and counts all of them.
type lastN[T any] struct {
	buf   []T // a ring once len(buf) == n
	start int // index of the oldest value once the ring is full
	n     int
	total int
}

func (r *lastN[T]) push(v T) {
	r.total++
	if len(r.buf) < r.n {
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % r.n
}

// items returns the values kept, oldest first, in a new slice.
func (r *lastN[T]) items() []T {
	out := make([]T, 0, len(r.buf))
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}

// resize keeps the newest n values.
func (r *lastN[T]) resize(n int) {
	items := r.items()
	if len(items) > n {
		items = items[len(items)-n:]
	}
	r.buf, r.start, r.n = items, 0, n
}
