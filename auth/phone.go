package auth

import (
	"context"
	"errors"
	"strings"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/wechat"
)

// PhoneInput is a bindPhoneNumber request: either Code, from the
// getPhoneNumber button, or the legacy button's EncryptedData and IV.
// Empty means not given.
type PhoneInput struct {
	Code          string
	EncryptedData string
	IV            string
	// IP is the client's address, for the audit log.
	IP string
}

// BindPhone verifies the caller's phone number with WeChat and stores it on
// their user, writing a user.bind_phone audit entry (country code and a
// masked number only) in the same transaction. Errors are *models.Error:
// BAD_USER_INPUT (neither or both forms, or one of the wrong form, before
// WeChat is called); WECHAT_CODE_INVALID (also for a code issued to another
// user than the session's openid), WECHAT_RATE_LIMITED, WECHAT_UNAVAILABLE;
// PHONE_IN_USE (another user has the number: a number belongs to one user,
// and a second bind is refused); SESSION_KEY_EXPIRED (encryptedData made with a
// session_key newer than this session's); DECRYPT_FAILED; UNAUTHENTICATED;
// RATE_LIMITED (per user, before WeChat is asked, extensions.retryAfter in
// seconds); INTERNAL. The number, the code and the session_key are never logged.
func (s *Service) BindPhone(ctx context.Context, c *Caller, in PhoneInput) (*models.User, error) {
	code, legacy := in.Code != "", in.EncryptedData != "" || in.IV != ""
	switch {
	case code && legacy:
		return nil, models.Errorf(models.CodeBadUserInput, "give either code or encryptedData and iv, not both")
	case !code && !legacy:
		return nil, models.Errorf(models.CodeBadUserInput, "give code (from the getPhoneNumber button) or, from its legacy form, encryptedData and iv")
	}
	var (
		phone  *wechat.Phone
		method string
		err    error
	)
	if code {
		method = "code"
		if err := wechat.CheckPhoneCode(in.Code); err != nil {
			msg := err.Error()
			var m *wechat.MalformedError
			if errors.As(err, &m) {
				msg = "code " + m.Reason // the client's name for the field
			}
			return nil, models.WrapError(err, models.CodeBadUserInput, msg)
		}
		if err := s.checkPhoneLimit(ctx, c); err != nil {
			return nil, err
		}
		// The code comes from the mini program the caller signed in from:
		// its access token must be that app's, and WeChat checks the code
		// was issued to this identity's openid, so that nobody binds a
		// number from someone else's button.
		ident, err := s.sessionIdentity(ctx, c)
		if err != nil {
			return nil, err
		}
		phone, err = s.appOf(ident).PhoneNumber(ctx, in.Code, ident.OpenID)
		if err != nil {
			return nil, phoneCodeError(err)
		}
		// The code is spent now: record the number even if the client
		// hangs up, so that a retry does not need another button press.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), s.record)
		defer cancel()
	} else {
		method = "encryptedData"
		if err := wechat.CheckUserData("", "", in.EncryptedData, in.IV); err != nil {
			return nil, models.WrapError(err, models.CodeBadUserInput, err.Error())
		}
		if err := s.checkPhoneLimit(ctx, c); err != nil {
			return nil, err
		}
		if phone, err = s.decryptPhone(ctx, c, in.EncryptedData, in.IV); err != nil {
			return nil, err
		}
	}
	audit := &models.AuditEntry{ActorKind: "user", ActorID: &c.User.ID, Action: "user.bind_phone", Target: &c.User.ID,
		IP: nonEmpty(in.IP), Detail: map[string]any{"countryCode": phone.CountryCode, "phone": MaskPhone(phone), "method": method}}
	u, err := s.store.SetPhone(ctx, c.User.ID, phone.E164, phone.CountryCode, audit)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errSessionEnded
	} else if errors.Is(err, store.ErrPhoneInUse) {
		return nil, models.WrapError(err, models.CodePhoneInUse,
			"this phone number is already bound to another account; sign in to that account, or bind another number")
	} else if err != nil {
		return nil, models.WrapError(err, models.CodeInternal, "internal error")
	}
	s.ForgetUser(c.User.ID)
	return u, nil
}

// checkPhoneLimit counts a well-formed bindPhoneNumber against the
// caller's limit, before WeChat (a billed exchange, or checksession) is asked.
func (s *Service) checkPhoneLimit(ctx context.Context, c *Caller) error {
	return s.limits.Check(ctx, "bind_phone:user", c.User.ID, s.limit.BindPhonePerUser,
		"too many phone number bindings; try again in %d seconds")
}

// decryptPhone opens the legacy getPhoneNumber data with the session_key of
// the caller's login. When it does not open, WeChat's checksession tells a
// session_key that a later wx.login() replaced (SESSION_KEY_EXPIRED: log in
// again) from data that is bad (DECRYPT_FAILED). If WeChat cannot say, the
// answer is WECHAT_UNAVAILABLE: retrying is right in either case, and
// guessing would send the client down the wrong path.
func (s *Service) decryptPhone(ctx context.Context, c *Caller, encryptedData, iv string) (*wechat.Phone, error) {
	key, err := s.SessionKey(ctx, c.Session)
	if err != nil {
		return nil, err
	}
	ident, err := s.sessionIdentity(ctx, c)
	if err != nil {
		return nil, err
	}
	phone, err := wechat.DecryptPhone(ident.AppID, key, encryptedData, iv)
	if err == nil {
		return phone, nil
	}
	if errors.Is(err, wechat.ErrMalformed) {
		return nil, models.WrapError(err, models.CodeBadUserInput, err.Error())
	}
	if errors.Is(err, wechat.ErrWatermark) || errors.Is(err, wechat.ErrBadPhone) {
		// It opened, so the key is right: the data is another app's, or
		// not a number.
		return nil, phoneDecryptError(err)
	}
	current, cerr := s.appOf(ident).CheckSession(ctx, ident.OpenID, key)
	switch {
	case cerr != nil && errors.Is(cerr, wechat.ErrRateLimited):
		return nil, models.WrapError(cerr, models.CodeWechatRateLimited, "WeChat is rate limiting this app; retry shortly")
	case cerr != nil && errors.Is(cerr, wechat.ErrUnavailable):
		return nil, models.WrapError(cerr, models.CodeWechatUnavailable, "the phone data did not open and WeChat is unavailable to say why; retry shortly")
	case cerr != nil:
		return nil, models.WrapError(cerr, models.CodeInternal, "internal error")
	case !current:
		return nil, models.WrapError(err, models.CodeSessionKeyExpired,
			"the phone data was made for a newer WeChat login than this session's: call wx.login(), log in again with its code, then ask for the phone number again")
	}
	return nil, phoneDecryptError(err)
}

func phoneDecryptError(err error) error {
	return models.WrapError(err, models.CodeDecryptFailed, "the phone data did not verify against this session's login; ask for the phone number again")
}

// phoneCodeError maps getuserphonenumber's failures. A code of the wrong
// form never gets here (it is checked first); an answer that is not this
// app's or not a number is WeChat misbehaving: INTERNAL, logged.
func phoneCodeError(err error) error {
	switch {
	case errors.Is(err, wechat.ErrNotCallersCode):
		// The signed-in WeChat user is not the one who pressed the
		// button: a token kept from another WeChat account, or a code
		// sent on someone else's behalf.
		return models.WrapError(err, models.CodeWechatCodeInvalid,
			"the phone code was issued to another WeChat user than the one signed in; call wx.login(), log in again, then get a new code from the getPhoneNumber button")
	case errors.Is(err, wechat.ErrInvalidCode):
		return models.WrapError(err, models.CodeWechatCodeInvalid,
			"the phone code is invalid, expired or already used; get a new one from the getPhoneNumber button")
	case errors.Is(err, wechat.ErrRateLimited):
		return models.WrapError(err, models.CodeWechatRateLimited, "WeChat is rate limiting this app; retry shortly")
	case errors.Is(err, wechat.ErrUnavailable):
		return models.WrapError(err, models.CodeWechatUnavailable, "WeChat is unavailable; retry shortly with a new code from the getPhoneNumber button")
	}
	return models.WrapError(err, models.CodeInternal, "internal error")
}

// MaskPhone shows enough of a number to recognize it and too little to
// dial it: the country code, the national number's first three digits when
// it has 11 or more, and its last four (last two when it has fewer than 8),
// the rest as '*'. +8613800138000 is +86138****8000.
func MaskPhone(p *wechat.Phone) string {
	n := p.National
	head, tail := 0, 4
	switch {
	case len(n) >= 11:
		head = 3
	case len(n) < 8:
		tail = 2
	}
	if head+tail >= len(n) {
		head, tail = 0, 0
	}
	return "+" + p.CountryCode + n[:head] + strings.Repeat("*", len(n)-head-tail) + n[len(n)-tail:]
}

// sessionIdentity is the identity (app and openid) the caller's session
// signed in with.
func (s *Service) sessionIdentity(ctx context.Context, c *Caller) (*models.Identity, error) {
	ident, err := s.store.SessionIdentity(ctx, c.Session.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errSessionEnded
	} else if err != nil {
		return nil, models.WrapError(err, models.CodeInternal, "internal error")
	}
	return ident, nil
}

// appOf is the client of the mini program ident signed in from; the
// default app's for an app since removed from the configuration.
func (s *Service) appOf(ident *models.Identity) *wechat.Client {
	if c := s.apps[ident.AppID]; c != nil {
		return c
	}
	return s.wechat
}
