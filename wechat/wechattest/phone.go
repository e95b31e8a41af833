package wechattest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"wxlogin/wechat"
)

// phone is the number bound to a user's WeChat account.
type phone struct{ countryCode, national string }

// display is phoneNumber as WeChat shows it: the national number in
// mainland China, with its country code elsewhere.
func (p phone) display() string {
	if p.countryCode == "86" {
		return p.national
	}
	return "+" + p.countryCode + " " + p.national
}

// OpenData is encrypted open data as a mini program hands it over.
type OpenData struct {
	EncryptedData string `json:"encryptedData"`
	IV            string `json:"iv"`
}

// ErrNoPhone means PhoneCode or PhoneData was asked for a user without SetPhone.
var ErrNoPhone = errors.New("wechattest: user has no phone number; call SetPhone first")

// SetPhone binds a phone number to user's WeChat account in every app:
// countryCode like "86" or "+86", national like "13800138000". Past
// Limits.Users numbers, a new user fails with ErrTooManyUsers.
func (s *Simulator) SetPhone(user, countryCode, national string) error {
	cc := strings.TrimPrefix(countryCode, "+")
	if !allDigits(cc) || len(cc) > 3 || cc[0] == '0' || !allDigits(national) || len(national) < 4 || len(cc)+len(national) > 15 {
		return fmt.Errorf("wechattest: %q %q is not an E.164 number", countryCode, national)
	}
	if user == "" || len(user) > MaxUserLen {
		return fmt.Errorf("wechattest: user must be 1 to %d bytes", MaxUserLen)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.phones[user]; !ok && len(s.phones) >= s.limits.Users {
		return ErrTooManyUsers
	}
	s.phones[user] = phone{cc, national}
	return nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// PhoneCode is the getPhoneNumber button: a fresh single-use code for
// user's phone in appID ("" for the default app), valid CodeTTL. It does
// not rotate the session_key. Past Limits.Codes it fails with ErrTooManyCodes.
func (s *Simulator) PhoneCode(appID, user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phoneCodeLocked(appID, user)
}

func (s *Simulator) phoneCodeLocked(appID, user string) (string, error) {
	if appID == "" {
		appID = s.firstApp
	}
	if _, ok := s.apps[appID]; !ok {
		return "", fmt.Errorf("wechattest: unknown appid %q", appID)
	}
	p, ok := s.phones[user]
	if !ok {
		return "", ErrNoPhone
	}
	now := s.now()
	s.pruneCodes(now)
	if len(s.codes) >= s.limits.Codes {
		return "", ErrTooManyCodes
	}
	// Phone codes are 64 hex digits, as in WeChat's example.
	c := &issuedCode{code: hex.EncodeToString(randomBytes(32)), appID: appID, user: user, phone: &p, issued: now}
	s.codes[c.code] = c
	s.byIssue = append(s.byIssue, c)
	return c.code, nil
}

// PhoneData is the legacy getPhoneNumber button: user's phone encrypted
// with their current session_key in appID and watermarked with appID.
func (s *Simulator) PhoneData(appID, user string) (OpenData, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phoneDataLocked(appID, user)
}

func (s *Simulator) phoneDataLocked(appID, user string) (OpenData, error) {
	if appID == "" {
		appID = s.firstApp
	}
	el, ok := s.current[userKey{appID, user}]
	if !ok {
		return OpenData{}, fmt.Errorf("wechattest: %q has not logged in to %q", user, appID)
	}
	p, ok := s.phones[user]
	if !ok {
		return OpenData{}, ErrNoPhone
	}
	// The legacy payload spells countryCode as a string.
	plain, err := json.Marshal(map[string]any{
		"phoneNumber": p.display(), "purePhoneNumber": p.national, "countryCode": p.countryCode,
		"watermark": wechat.Watermark{AppID: appID, Timestamp: s.now().Unix()},
	})
	if err != nil {
		return OpenData{}, err
	}
	iv := base64.StdEncoding.EncodeToString(randomBytes(16))
	enc, err := wechat.Encrypt(el.Value.(*userState).sessionKey, iv, plain)
	if err != nil {
		return OpenData{}, err
	}
	return OpenData{EncryptedData: enc, IV: iv}, nil
}

// mintPhoneCode serves POST /dev/wechat/phonecode: {"user":"alice"} with
// optional "appid" and, to set the number first, "countryCode" and
// "phoneNumber" (national). It answers {"code":…}, and the legacy
// encryptedData and iv when the user has logged in.
func (s *Simulator) mintPhoneCode(w http.ResponseWriter, r *http.Request) {
	var in struct {
		User        string `json:"user"`
		AppID       string `json:"appid"`
		CountryCode string `json:"countryCode"`
		PhoneNumber string `json:"phoneNumber"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": `body must be JSON like {"user":"alice","countryCode":"86","phoneNumber":"13800138000"}`})
		return
	}
	s.mu.Lock()
	s.calls[PathMintPhone]++
	s.mu.Unlock()
	fail := func(err error) {
		status := http.StatusBadRequest
		if errors.Is(err, ErrTooManyCodes) || errors.Is(err, ErrTooManyUsers) {
			status = http.StatusTooManyRequests
		}
		writeJSON(w, status, "application/json", map[string]string{"error": err.Error()})
	}
	if in.CountryCode != "" || in.PhoneNumber != "" {
		if err := s.SetPhone(in.User, in.CountryCode, in.PhoneNumber); err != nil {
			fail(err)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	code, err := s.phoneCodeLocked(in.AppID, in.User)
	if err != nil {
		fail(err)
		return
	}
	out := map[string]string{"code": code}
	if d, err := s.phoneDataLocked(in.AppID, in.User); err == nil {
		out["encryptedData"], out["iv"] = d.EncryptedData, d.IV
	}
	writeJSON(w, http.StatusOK, "application/json", out)
}

// phoneNumber serves POST /wxa/business/getuserphonenumber: the token is
// checked first, then the code, which is single-use, bound to its app, and
// valid CodeTTL. Unknown, used and expired codes all answer 40029.
func (s *Simulator) phoneNumber(w http.ResponseWriter, r *http.Request) {
	if serveFault(w, r, s.takeFault(PathPhoneNumber)) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var in struct {
		Code   string `json:"code"`
		OpenID string `json:"openid"`
	}
	appID, ok := s.callLocked(w, r, &in)
	if !ok {
		return
	}
	if in.Code == "" {
		writeErrcode(w, wechat.ErrcodeMissingCode)
		return
	}
	c, ok := s.codes[in.Code]
	switch {
	case !ok || c.phone == nil || c.appID != appID || c.used || expired(c, s.now()):
		writeErrcode(w, wechat.ErrcodeInvalidCode)
		return
	case in.OpenID != "" && in.OpenID != s.OpenID(appID, c.user):
		writeErrcode(w, wechat.ErrcodeInvalidOpenID)
		return
	}
	c.used = true
	// countryCode is a number here, as in WeChat's example answer.
	writeJSON(w, http.StatusOK, "text/plain", map[string]any{
		"errcode": 0, "errmsg": "ok",
		"phone_info": map[string]any{
			"phoneNumber": c.phone.display(), "purePhoneNumber": c.phone.national, "countryCode": json.Number(c.phone.countryCode),
			"watermark": map[string]any{"timestamp": s.now().Unix(), "appid": appID},
		},
	})
}
