// Package wechattest is a WeChat simulator: a real HTTP server that speaks
// the parts of the WeChat API wxlogin uses, with the real service's habits
// (text/plain JSON, single-use codes that expire after 5 minutes, errcodes
// with a rid), plus the mini-program side that mints codes and legacy
// encrypted user data. Tests drive it over HTTP; dev mode mounts it.
package wechattest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"wxlogin/wechat"
)

// CodeTTL is how long a wx.login() code can be exchanged, as on WeChat.
const CodeTTL = 5 * time.Minute

// App is a mini program the simulator knows.
type App struct {
	AppID  string
	Secret string
	// NoUnionID makes code2Session omit unionid, as WeChat does for an app
	// not bound to an open platform account.
	NoUnionID bool
}

// Fault is a failure injected into the next code2Session calls, in order.
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

type issuedCode struct {
	appID, user string
	sessionKey  wechat.Secret
	issued      time.Time
	used        bool
}

type userKey struct{ appID, user string }

// Simulator is the simulated WeChat. The zero value is not usable; call New.
type Simulator struct {
	mu         sync.Mutex
	apps       map[string]App
	firstApp   string
	codes      map[string]*issuedCode
	current    map[userKey]wechat.Secret // each user's latest session_key
	blocked    map[string]bool
	faults     []Fault
	offset     time.Duration
	calls      map[string]int
	unexpected []string
	salt       []byte
	handedOut  []wechat.Secret
}

// New returns a simulator that knows apps; the first is the default for
// minting codes. openids and unionids derive from the user name, so "alice"
// is the same person across restarts.
func New(apps ...App) *Simulator {
	s := &Simulator{
		apps:    map[string]App{},
		codes:   map[string]*issuedCode{},
		current: map[userKey]wechat.Secret{},
		blocked: map[string]bool{},
		calls:   map[string]int{},
		salt:    []byte("wxlogin-simulator"),
	}
	for _, a := range apps {
		s.AddApp(a)
	}
	return s
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
	mux.Handle("/sns/", s.APIHandler())
	mux.Handle("/dev/wechat/", s.MiniProgramHandler())
	mux.HandleFunc("/", s.notFound)
	return mux
}

// APIHandler serves the WeChat server API (api.weixin.qq.com's paths).
func (s *Simulator) APIHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sns/jscode2session", s.jscode2session)
	mux.HandleFunc("/", s.notFound)
	return mux
}

// MiniProgramHandler serves what a phone would do: POST /dev/wechat/code
// with {"user":"alice"} answers {"code":"…"}; add "appid" to pick an app and
// "profile":{…} to also get legacy rawData/signature/encryptedData/iv.
func (s *Simulator) MiniProgramHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /dev/wechat/code", s.mintCode)
	mux.HandleFunc("/", s.notFound)
	return mux
}

// Inject queues faults for the next code2Session calls, one call each.
func (s *Simulator) Inject(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// Block makes WeChat refuse user's logins as high-risk (errcode 40226).
func (s *Simulator) Block(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[user] = true
}

// Advance moves the simulator's clock, to expire codes without waiting.
func (s *Simulator) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// Calls returns how many requests reached path (e.g. "/sns/jscode2session").
func (s *Simulator) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// Unexpected lists requests to paths the simulator does not serve, so a test
// can fail on calls the real WeChat would not understand either.
func (s *Simulator) Unexpected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.unexpected...)
}

// SessionKeys returns every session_key code2Session has handed out, so a
// test can check that none of them is stored or shown in the clear.
func (s *Simulator) SessionKeys() []wechat.Secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wechat.Secret(nil), s.handedOut...)
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
// default app) and rotates the user's session_key, as WeChat may.
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
	code := randomCode()
	key := wechat.Secret(base64.StdEncoding.EncodeToString(randomBytes(16)))
	s.codes[code] = &issuedCode{appID: appID, user: user, sessionKey: key, issued: s.now()}
	s.current[userKey{appID, user}] = key
	return code, nil
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
	key, ok := s.current[userKey{appID, user}]
	if !ok {
		return UserInfo{}, fmt.Errorf("wechattest: %q has not logged in to %q", user, appID)
	}
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
	s.calls[r.URL.Path]++
	code, err := s.loginLocked(in.AppID, in.User)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": err.Error()})
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
	s.mu.Lock()
	s.calls[r.URL.Path]++
	var f Fault
	if len(s.faults) > 0 {
		f, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()

	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case f.Status != 0:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		fmt.Fprintf(w, "<html><body>%d</body></html>", f.Status)
		return
	case f.Body != "":
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, f.Body)
		return
	case f.Errcode != 0:
		writeErrcode(w, f.Errcode)
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
		writeErrcode(w, 40002)
		return
	case q.Get("js_code") == "":
		writeErrcode(w, wechat.ErrcodeMissingCode)
		return
	}
	c, ok := s.codes[q.Get("js_code")]
	switch {
	case !ok || c.appID != app.AppID || s.now().Sub(c.issued) > CodeTTL:
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
	s.handedOut = append(s.handedOut, c.sessionKey)
	out := map[string]string{"openid": s.OpenID(app.AppID, c.user), "session_key": string(c.sessionKey)}
	if !app.NoUnionID {
		out["unionid"] = s.UnionID(c.user)
	}
	writeJSON(w, http.StatusOK, "text/plain", out)
}

func (s *Simulator) notFound(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.unexpected = append(s.unexpected, r.Method+" "+r.URL.Path)
	s.mu.Unlock()
	http.NotFound(w, r)
}

// errmsgs are WeChat's texts for the errcodes the simulator answers.
var errmsgs = map[int]string{
	wechat.ErrcodeBusy:         "system error",
	wechat.ErrcodeInvalidCode:  "invalid code",
	wechat.ErrcodeCodeUsed:     "code been used",
	wechat.ErrcodeRateLimited:  "api minute-quota reach limit  mustslower  retry next minute",
	wechat.ErrcodeUserBlocked:  "user is blocked",
	wechat.ErrcodeInvalidAppID: "invalid appid",
	wechat.ErrcodeInvalidCred:  "invalid appsecret",
	wechat.ErrcodeMissingCode:  "missing code",
	40002:                      "invalid grant_type",
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
