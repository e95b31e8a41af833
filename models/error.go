// Package models holds the domain types shared by every layer — users,
// identities, sessions — and the one error type whose codes reach clients.
package models

import (
	"errors"
	"fmt"
)

// Error codes are public API: clients branch on them through
// extensions.code, so they are never renamed.
const (
	// CodeUnauthenticated means no token, or a token that is unknown, expired or revoked.
	CodeUnauthenticated = "UNAUTHENTICATED"
	// CodeForbidden means the caller is known but their role may not do this.
	CodeForbidden = "FORBIDDEN"
	// CodeUserDisabled means an operator disabled this user; logging in again will not help.
	CodeUserDisabled = "USER_DISABLED"
	// CodeInvalidCredentials means a wrong admin username or password (never which).
	CodeInvalidCredentials = "INVALID_CREDENTIALS"
	// CodeTOTPRequired means adminLogin's password was right but the admin
	// signs in in two steps: send it again with otp, a code from the
	// authenticator app or a recovery code.
	CodeTOTPRequired = "TOTP_REQUIRED"
	// CodeTOTPInvalid means the TOTP code or recovery code was wrong, used
	// already, or from too long ago; it counts as a failed attempt.
	CodeTOTPInvalid = "TOTP_INVALID"
	// CodeTOTPEnrolmentRequired means ADMIN_REQUIRE_TOTP is on and this
	// admin has no two-step sign-in yet: the session may only enrol
	// (startTotpEnrolment, confirmTotpEnrolment) or sign out.
	CodeTOTPEnrolmentRequired = "TOTP_ENROLMENT_REQUIRED"
	// CodeRateLimited means too many attempts; extensions.retryAfter says how many seconds to wait.
	CodeRateLimited = "RATE_LIMITED"
	// CodeBadUserInput means the request's arguments are malformed.
	CodeBadUserInput = "BAD_USER_INPUT"
	// CodeWechatCodeInvalid means WeChat rejected the wx.login() code: unknown, expired or used.
	CodeWechatCodeInvalid = "WECHAT_CODE_INVALID"
	// CodeWechatRateLimited means WeChat throttled the exchange (errcode 45011).
	CodeWechatRateLimited = "WECHAT_RATE_LIMITED"
	// CodeWechatUserBlocked means WeChat flagged the user as high-risk (errcode 40226).
	CodeWechatUserBlocked = "WECHAT_USER_BLOCKED"
	// CodeWechatUnavailable means WeChat could not be reached or answered nonsense; retry later.
	CodeWechatUnavailable = "WECHAT_UNAVAILABLE"
	// CodeDecryptFailed means encryptedData, its signature or its watermark did not check out.
	CodeDecryptFailed = "DECRYPT_FAILED"
	// CodeSessionKeyExpired means encrypted data did not open with the
	// session's session_key because a later wx.login() replaced it: call
	// wx.login(), log in again, and fetch the data again.
	CodeSessionKeyExpired = "SESSION_KEY_EXPIRED"
	// CodePhoneInUse means bindPhoneNumber verified a number that another
	// user already has: a number belongs to one user at a time.
	CodePhoneInUse = "PHONE_IN_USE"
	// CodeContentRejected means WeChat's content security check found the
	// text risky (updateProfile's nickname): nothing was saved, and
	// extensions.label is WeChat's category (20001 politics, 20002 porn,
	// 20003 abuse, 10001 ad, …). Ask the user for other text.
	CodeContentRejected = "CONTENT_REJECTED"
	// CodeQueryTooComplex means the request was refused before it ran: too
	// many tokens, fields, aliases, directives or levels, or more than one
	// login-like mutation.
	CodeQueryTooComplex = "QUERY_TOO_COMPLEX"
	// CodeQueryTimeout means an admin query was stopped after the admin
	// pool's statement timeout (ADMIN_STATEMENT_TIMEOUT), or waited for
	// one of its connections until the request's deadline: narrow the
	// search or filters, or try again shortly.
	CodeQueryTimeout = "QUERY_TIMEOUT"
	// CodeInternal means our fault; the client sees only a request id to quote.
	CodeInternal = "INTERNAL"
)

// Error is an error whose Code and Message are safe to show a client.
// Cause, when set, is for the log only and never leaves the server.
type Error struct {
	Code    string
	Message string
	Cause   error
	// Extensions are extra client-safe fields shown beside the code, such
	// as retryAfter.
	Extensions map[string]any
}

// Error renders code and message; the cause stays out so that printing an
// Error can never leak what Cause carries.
func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap exposes the cause to errors.Is/As for logging and tests.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an Error with a formatted client-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an Error that shows code and message and keeps cause for the log.
func WrapError(cause error, code, message string) *Error {
	return &Error{Code: code, Message: message, Cause: cause}
}

// ErrorCode returns the client-facing code of err: the Code of the first
// *Error in its chain, CodeInternal for anything else, "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-facing message of err; anything that is not
// an *Error gets a generic one so raw internals never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrExportBusy answers a data export (myData, userData) that waited for
// another to finish and did not get its turn: exports take turns, and the
// client tries again a moment later.
var ErrExportBusy = &Error{Code: CodeRateLimited, Message: "too many data exports at once; retry shortly",
	Extensions: map[string]any{"retryAfter": 1}}

// ErrErasureBusy answers deleteUser or deleteAccount (a grace of 0) when
// logins of the user kept it locked through every attempt to erase it: the
// client tries again a moment later (a pending deletion stays scheduled).
var ErrErasureBusy = &Error{Code: CodeRateLimited, Message: "the account is signing in right now; retry the deletion shortly",
	Extensions: map[string]any{"retryAfter": 1}}
