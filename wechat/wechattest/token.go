package wechattest

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"wxlogin/wechat"
)

// The access-token rules of /cgi-bin/stable_token, as WeChat documents them.
const (
	// TokenTTL is a new token's expires_in.
	TokenTTL = 7200 * time.Second
	// TokenRenewWindow is the end of a token's life in which a normal call
	// hands out a new one; before it, normal calls answer the same token
	// with the time it has left. The replaced token stays valid until it
	// expires, so instances still holding it are not cut off.
	TokenRenewWindow = 5 * time.Minute
	// ForceInterval is the least time between forced refreshes: one
	// sooner is ignored, answering the current token unchanged.
	ForceInterval = 30 * time.Second
	// ForcesPerDay is how many forced refreshes an app gets in 24 hours;
	// past it stable_token answers 45009.
	ForcesPerDay = 20
)

// errcodeDataFormat is WeChat's answer to a body that is not the JSON asked for.
const errcodeDataFormat = 47001

// accessToken is one issued token.
type accessToken struct {
	value, appID string
	expires      time.Time
}

// tokenState is an app's tokens: the current one, the one a normal renewal
// replaced (valid until it expires), and the recent forced refreshes.
type tokenState struct {
	current, previous *accessToken
	lastForced        time.Time
	// forced holds the forced refreshes of the last 24 hours, at most ForcesPerDay.
	forced []time.Time
}

// InvalidateToken makes appID's access tokens unknown, so the next call
// with one answers 40001, as after a reset secret or another party's
// forced refresh. It does not count as a forced refresh.
func (s *Simulator) InvalidateToken(appID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if appID == "" {
		appID = s.firstApp
	}
	if ts := s.appTokens[appID]; ts != nil {
		s.dropToken(ts.current)
		s.dropToken(ts.previous)
		ts.current, ts.previous = nil, nil
	}
}

// AccessTokens returns how many access tokens appID has that WeChat would
// accept now: 0, 1, or 2 in a normal renewal's overlap.
func (s *Simulator) AccessTokens(appID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, now := 0, s.now()
	for _, t := range s.tokens {
		if t.appID == appID && now.Before(t.expires) {
			n++
		}
	}
	return n
}

func (s *Simulator) dropToken(t *accessToken) {
	if t != nil {
		delete(s.tokens, t.value)
	}
}

// issueToken makes a new current token for ts; keepOld keeps the current
// one valid until it expires, as a normal renewal does.
func (s *Simulator) issueToken(ts *tokenState, appID string, now time.Time, keepOld bool) *accessToken {
	s.dropToken(ts.previous)
	ts.previous = nil
	if keepOld && ts.current != nil && now.Before(ts.current.expires) {
		ts.previous = ts.current
	} else {
		s.dropToken(ts.current)
	}
	// Real tokens are a few hundred URL-safe characters behind a number.
	t := &accessToken{value: "86_" + base64.RawURLEncoding.EncodeToString(randomBytes(96)), appID: appID, expires: now.Add(TokenTTL)}
	ts.current = t
	s.tokens[t.value] = t
	return t
}

// stableToken serves POST /cgi-bin/stable_token, checking in WeChat's
// order: body, appid, secret, grant_type.
func (s *Simulator) stableToken(w http.ResponseWriter, r *http.Request) {
	if serveFault(w, r, s.takeFault(PathStableToken)) {
		return
	}
	var in struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeErrcode(w, errcodeDataFormat)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	app, ok := s.apps[in.AppID]
	switch {
	case !ok:
		writeErrcode(w, wechat.ErrcodeInvalidAppID)
		return
	case !hmac.Equal([]byte(in.Secret), []byte(app.Secret)):
		writeErrcode(w, wechat.ErrcodeInvalidCred)
		return
	case in.GrantType != "client_credential":
		writeErrcode(w, wechat.ErrcodeInvalidGrant)
		return
	}
	now := s.now()
	ts := s.appTokens[app.AppID]
	if ts == nil {
		ts = &tokenState{}
		s.appTokens[app.AppID] = ts
	}
	live := ts.current != nil && now.Before(ts.current.expires)
	t := ts.current
	switch {
	case in.ForceRefresh && live && now.Sub(ts.lastForced) < ForceInterval:
		// Too soon after the last forced refresh: WeChat does not refresh.
	case in.ForceRefresh:
		kept := ts.forced[:0]
		for _, at := range ts.forced {
			if now.Sub(at) < 24*time.Hour {
				kept = append(kept, at)
			}
		}
		ts.forced = kept
		if len(ts.forced) >= ForcesPerDay {
			writeErrcode(w, wechat.ErrcodeDailyQuota)
			return
		}
		ts.forced = append(ts.forced, now)
		ts.lastForced = now
		// A forced refresh invalidates the old token at once.
		t = s.issueToken(ts, app.AppID, now, false)
	case !live || ts.current.expires.Sub(now) <= TokenRenewWindow:
		t = s.issueToken(ts, app.AppID, now, true)
	}
	left := int64((t.expires.Sub(now) + time.Second - 1) / time.Second)
	writeJSON(w, http.StatusOK, "text/plain", map[string]any{"access_token": t.value, "expires_in": left})
}

// tokenShaped reports whether v looks like an access token at all; WeChat
// answers 40014 for one that does not, and 40001 for one it does not know.
func tokenShaped(v string) bool {
	if len(v) < 16 || len(v) > 512 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// callLocked checks a POST API call as WeChat does — the access token
// first, then the JSON body (at most 64 KiB) into in — and answers the
// errcode itself when either fails. It returns the token's appid.
func (s *Simulator) callLocked(w http.ResponseWriter, r *http.Request, in any) (string, bool) {
	appID, ok := s.tokenAppLocked(w, r.URL.Query())
	if !ok {
		return "", false
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(in); err != nil {
		writeErrcode(w, errcodeDataFormat)
		return "", false
	}
	return appID, true
}

// tokenAppLocked checks q's access_token as WeChat does and returns its
// app. On failure it has answered the errcode and returns false.
func (s *Simulator) tokenAppLocked(w http.ResponseWriter, q url.Values) (string, bool) {
	v := q.Get("access_token")
	code := 0
	t, ok := s.tokens[v]
	switch {
	case v == "":
		code = wechat.ErrcodeMissingToken
	case !tokenShaped(v):
		code = wechat.ErrcodeBadToken
	case !ok:
		code = wechat.ErrcodeInvalidToken
	case !s.now().Before(t.expires):
		code = wechat.ErrcodeTokenExpired
	}
	if code != 0 {
		writeErrcode(w, code)
		return "", false
	}
	return t.appID, true
}
