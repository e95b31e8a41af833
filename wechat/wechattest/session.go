package wechattest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"wxlogin/wechat"
)

// checkSession serves GET /wxa/checksession: 0 when signature is
// hex(hmac_sha256(key=session_key, "")) with the user's current
// session_key, 87009 otherwise — also for a user the simulator does not
// know or has forgotten, whose session is gone.
func (s *Simulator) checkSession(w http.ResponseWriter, r *http.Request) {
	if serveFault(w, r, s.takeFault(PathCheckSession)) {
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	appID, ok := s.tokenAppLocked(w, q)
	if !ok {
		return
	}
	if q.Get("openid") == "" || q.Get("signature") == "" || q.Get("sig_method") != "hmac_sha256" {
		writeErrcode(w, wechat.ErrcodeInvalidArgs)
		return
	}
	el, ok := s.byOpenID[openIDKey{appID, q.Get("openid")}]
	if !ok {
		writeErrcode(w, wechat.ErrcodeInvalidSignature)
		return
	}
	m := hmac.New(sha256.New, []byte(el.Value.(*userState).sessionKey))
	want := hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(q.Get("signature")), []byte(want)) {
		writeErrcode(w, wechat.ErrcodeInvalidSignature)
		return
	}
	writeJSON(w, http.StatusOK, "text/plain", map[string]any{"errcode": 0, "errmsg": "ok"})
}
