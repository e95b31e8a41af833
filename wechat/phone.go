package wechat

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// MaxPhoneCodeLen bounds a getPhoneNumber code; WeChat's are 64 hex digits
// today, and the headroom lets them grow without locking users out.
const MaxPhoneCodeLen = 128

// maxE164Digits is E.164's limit on a number's digits, country code included.
const maxE164Digits = 15

var errPhoneCode = &MalformedError{"phoneCode", fmt.Sprintf("must be 1 to %d characters of A-Z a-z 0-9 - . _ ~", MaxPhoneCodeLen)}

// Phone is a user's verified phone number.
type Phone struct {
	// E164 is the number as +<country code><national number>, like "+8613800138000".
	E164 string
	// CountryCode is the calling code without "+", like "86".
	CountryCode string
	// National is the number within its country, like "13800138000".
	National string
}

// CheckPhoneCode refuses what cannot be a getPhoneNumber code, so that
// garbage never reaches WeChat. The error is a *MalformedError naming the
// field "phoneCode".
func CheckPhoneCode(code string) error {
	if len(code) == 0 || len(code) > MaxPhoneCodeLen {
		return errPhoneCode
	}
	for i := 0; i < len(code); i++ {
		if !isCodeByte(code[i]) {
			return errPhoneCode
		}
	}
	return nil
}

// ErrNotCallersCode means WeChat refused a phone code because it was issued
// to another user than the openid sent with it (errcode 40003 from
// getuserphonenumber). It also matches ErrInvalidCode, and errors.As finds
// the *APIError.
var ErrNotCallersCode = errors.New("wechat: phone code issued to another user")

// PhoneNumber exchanges a getPhoneNumber code at
// /wxa/business/getuserphonenumber. openID is the caller's openid in this
// app: WeChat then refuses a code that another user's button produced, so
// a code cannot bind someone else's number to the caller. A code is
// single-use and valid for 5 minutes. Errors: *MalformedError for a code of
// the wrong form (WeChat not called); ErrNotCallersCode (which matches
// ErrInvalidCode too) for another user's code; ErrInvalidCode for an
// unknown, used or expired code; ErrRateLimited; ErrUnavailable, also when
// the access token is refused after renewal; ErrWatermark or ErrBadPhone
// when the answer is not this app's or not a valid number.
func (c *Client) PhoneNumber(ctx context.Context, code, openID string) (*Phone, error) {
	const path = "/wxa/business/getuserphonenumber"
	if err := CheckPhoneCode(code); err != nil {
		return nil, err
	}
	if openID == "" {
		// WeChat takes the openid as optional; without it any user's
		// code would do, which is the hole this parameter closes.
		return nil, errors.New("wechat: PhoneNumber needs the caller's openid")
	}
	var out struct {
		PhoneInfo *phoneInfo `json:"phone_info"`
	}
	err := c.withToken(ctx, func(ctx context.Context, token string) error {
		return c.do(ctx, http.MethodPost, path, url.Values{"access_token": {token}}, map[string]string{"code": code, "openid": openID}, &out)
	})
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Code == ErrcodeInvalidOpenID {
		return nil, &notCallersCode{apiErr}
	}
	if err != nil {
		return nil, err
	}
	if out.PhoneInfo == nil {
		return nil, unavailable("%s: answer lacks phone_info", path)
	}
	return out.PhoneInfo.phone(c.appID)
}

// notCallersCode is getuserphonenumber's 40003: the code is not the
// openid's. It is an invalid code to whoever only asks that.
type notCallersCode struct{ api *APIError }

func (e *notCallersCode) Error() string { return ErrNotCallersCode.Error() + ": " + e.api.Error() }

func (e *notCallersCode) Is(target error) bool {
	return target == ErrNotCallersCode || target == ErrInvalidCode
}

func (e *notCallersCode) Unwrap() error { return e.api }

// DecryptPhone decrypts the legacy getPhoneNumber button's encryptedData
// and checks that its watermark names appID. encryptedData and iv of the
// wrong form return the *MalformedError CheckUserData does; every other
// failure is a *DecryptError (ErrBadPhone for a number that is not E.164).
func DecryptPhone(appID string, sessionKey Secret, encryptedData, iv string) (*Phone, error) {
	pt, err := Decrypt(sessionKey, encryptedData, iv)
	if err != nil {
		return nil, err
	}
	var info phoneInfo
	if err := json.Unmarshal(pt, &info); err != nil {
		return nil, ErrBadJSON
	}
	return info.phone(appID)
}

// phoneInfo is WeChat's phone payload, the same in getuserphonenumber's
// phone_info and in the legacy encryptedData.
type phoneInfo struct {
	// PhoneNumber is left unread: its form varies ("13800138000" in
	// mainland China, with the country code elsewhere), and the two
	// fields below say the same thing unambiguously.
	PurePhoneNumber string      `json:"purePhoneNumber"`
	CountryCode     countryCode `json:"countryCode"`
	Watermark       Watermark   `json:"watermark"`
}

// phone checks the watermark and the number and builds the Phone.
func (p *phoneInfo) phone(appID string) (*Phone, error) {
	if p.Watermark.AppID == "" || subtle.ConstantTimeCompare([]byte(p.Watermark.AppID), []byte(appID)) != 1 {
		return nil, ErrWatermark
	}
	cc, nat := string(p.CountryCode), p.PurePhoneNumber
	if !digits(cc) || len(cc) > 3 || cc[0] == '0' || !digits(nat) || len(cc)+len(nat) > maxE164Digits {
		return nil, ErrBadPhone
	}
	// Mainland mobile numbers, nearly all mini-program users', are 11
	// digits starting with 1; anything else there is garbled.
	if cc == "86" && (len(nat) != 11 || nat[0] != '1') {
		return nil, ErrBadPhone
	}
	return &Phone{E164: "+" + cc + nat, CountryCode: cc, National: nat}, nil
}

// digits reports whether s is one or more ASCII digits.
func digits(s string) bool {
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

// countryCode takes countryCode as WeChat sends it: a string in the legacy
// encryptedData ("86"), a number in getuserphonenumber's example (86).
// Anything else decodes to "", which phone refuses.
type countryCode string

// UnmarshalJSON accepts a JSON string, or a number written in digits only.
func (c *countryCode) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = countryCode(s)
		return nil
	}
	if digits(string(b)) {
		*c = countryCode(b)
		return nil
	}
	*c = ""
	return nil
}
