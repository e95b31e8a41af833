package wechat

import (
	"errors"
	"fmt"
)

// Errcodes of the WeChat API that callers act on.
const (
	ErrcodeBusy         = -1    // system busy; the only one worth retrying
	ErrcodeInvalidCode  = 40029 // unknown or expired js_code
	ErrcodeCodeUsed     = 40163 // js_code already exchanged
	ErrcodeRateLimited  = 45011 // too many calls for this app
	ErrcodeUserBlocked  = 40226 // high-risk user, login blocked by WeChat
	ErrcodeInvalidAppID = 40013 // appid unknown to WeChat
	ErrcodeInvalidCred  = 40125 // wrong app secret
	ErrcodeMissingCode  = 41008 // js_code empty
	ErrcodeInvalidGrant = 40002 // grant_type is not what the API expects
	ErrcodeDailyQuota   = 45009 // daily quota of this API used up (stable_token: 20 forced refreshes a day)

	// An access token WeChat refuses. withToken renews it and retries once.
	ErrcodeInvalidToken = 40001 // unknown or replaced (for instance by a forced refresh elsewhere)
	ErrcodeTokenExpired = 42001 // past its expires_in
	ErrcodeBadToken     = 40014 // not of an access token's form

	ErrcodeMissingToken = 41001 // access_token absent from the query; a bug of ours, never retried

	ErrcodeInvalidOpenID    = 40003 // openid unknown to this app
	ErrcodeInvalidArgs      = 40097 // a parameter is missing or has the wrong form
	ErrcodeInvalidSignature = 87009 // checksession: the signature is not made with the current session_key
)

// Sentinel errors to test with errors.Is; an *APIError matches the one its
// errcode belongs to.
var (
	// ErrInvalidCode means the code is unknown, expired or already used (40029, 40163).
	ErrInvalidCode = errors.New("wechat: invalid or used code")
	// ErrRateLimited means WeChat throttles this app (45011, 45009).
	ErrRateLimited = errors.New("wechat: rate limited")
	// ErrUserBlocked means WeChat refuses this user as high-risk (40226).
	ErrUserBlocked = errors.New("wechat: user blocked")
	// ErrUnavailable means no usable answer: network, timeout, 5xx, bad
	// JSON, busy after the retry, or an access token refused after renewal.
	ErrUnavailable = errors.New("wechat: unavailable")
)

// APIError is an errcode answer of the WeChat API. Its text carries WeChat's
// errmsg (with its rid, which WeChat support asks for) and never a secret.
type APIError struct {
	Code    int
	Message string
}

// Error reports errcode and errmsg.
func (e *APIError) Error() string {
	return fmt.Sprintf("wechat: errcode %d: %s", e.Code, e.Message)
}

// Is maps errcodes onto the sentinel errors.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrInvalidCode:
		return e.Code == ErrcodeInvalidCode || e.Code == ErrcodeCodeUsed
	case ErrRateLimited:
		return e.Code == ErrcodeRateLimited || e.Code == ErrcodeDailyQuota
	case ErrUserBlocked:
		return e.Code == ErrcodeUserBlocked
	case ErrOpenIDRefused:
		return e.Code == ErrcodeInvalidOpenID || e.Code == ErrcodeUserNotRecent
	case ErrUnavailable:
		// A refused access token is ours to fix, not the user's: by the
		// time a caller sees one, withToken has renewed and retried.
		return e.Code == ErrcodeBusy || isTokenErrcode(e.Code)
	}
	return false
}

// isTokenErrcode reports whether code says the access token was refused.
func isTokenErrcode(code int) bool {
	switch code {
	case ErrcodeInvalidToken, ErrcodeTokenExpired, ErrcodeBadToken:
		return true
	}
	return false
}

// unavailable wraps a transport-level failure so that it matches ErrUnavailable.
func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnavailable, fmt.Sprintf(format, args...))
}

// ErrDecrypt matches every failure of the open-data checks that needs the
// session_key: the key itself, padding, JSON, watermark, openid and
// signature. Input of the wrong form is ErrMalformed instead.
var ErrDecrypt = errors.New("wechat: open data rejected")

// DecryptError says which open-data check failed. All of them match ErrDecrypt.
type DecryptError struct{ reason string }

// Error names the failed check, never the data or the key.
func (e *DecryptError) Error() string { return "wechat: open data rejected: " + e.reason }

// Is makes every DecryptError match ErrDecrypt.
func (e *DecryptError) Is(target error) bool { return target == ErrDecrypt }

// The individual open-data failures, for errors.Is.
var (
	ErrBadKey         = &DecryptError{"session_key is not base64 of 16 bytes"}
	ErrBadPadding     = &DecryptError{"bad PKCS#7 padding"}
	ErrBadJSON        = &DecryptError{"plaintext is not a JSON object"}
	ErrWatermark      = &DecryptError{"watermark appid does not match"}
	ErrOpenIDMismatch = &DecryptError{"openId does not match the login"}
	ErrBadSignature   = &DecryptError{"rawData signature does not match"}
	ErrBadPhone       = &DecryptError{"phone number is not a valid E.164 number"}
)

// ErrMalformed matches every input refused for its form alone, which is
// known before WeChat is called and so before a single-use code is spent.
var ErrMalformed = errors.New("wechat: malformed input")

// MalformedError says which field breaks which rule of form. All of them
// match ErrMalformed, none matches ErrDecrypt: a caller that checks first
// answers them as the client's mistake, not as data that failed to verify.
type MalformedError struct {
	// Field is the input's name as the mini program sends it: code,
	// rawData, signature, encryptedData or iv.
	Field string
	// Reason completes the sentence that starts with Field.
	Reason string
}

// Error is written for the client, so it has no package prefix: it names
// the field and the rule, and never quotes the value.
func (e *MalformedError) Error() string { return e.Field + " " + e.Reason }

// Is makes every MalformedError match ErrMalformed.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }
