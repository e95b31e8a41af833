package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"wxlogin/models"
	"wxlogin/store"
)

// Two-step sign-in (TOTP, RFC 6238): an admin who turned it on signs in
// with the password and a 6-digit code from an authenticator app, or one of
// ten one-time recovery codes. Codes are SHA-1 over 30 s steps (what every
// authenticator app reads from a QR code), accepted one step early or late
// for clocks that drift, and each step at most once: the last step used is
// stored, and no code of it or before it is accepted again.
const (
	// TOTPIssuer names the server in authenticator apps.
	TOTPIssuer = "wxlogin"
	// RecoveryCodeCount is how many recovery codes an enrolment hands out.
	RecoveryCodeCount = 10
	totpPeriod        = 30
	totpSkew          = 1
	totpSecretSize    = 20
	totpQRSize        = 256
	// recoveryCodeLen is a recovery code's length without its dashes: 16
	// base32 characters, 80 random bits, so that its SHA-256 cannot be
	// searched offline.
	recoveryCodeLen = 16
	// maxCodeLen bounds a code as typed (spaces, dashes), before anything
	// is done with it.
	maxCodeLen = 64
)

var (
	totpOpts      = totp.ValidateOpts{Period: totpPeriod, Skew: totpSkew, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	b32           = base32.StdEncoding.WithPadding(base32.NoPadding)
	errTOTPCode   = models.Errorf(models.CodeTOTPInvalid, "the code is wrong, used already or too old; enter the current one from the authenticator app, or a recovery code")
	errEnrolFirst = models.Errorf(models.CodeTOTPEnrolmentRequired,
		"two-step sign-in is required on this server (ADMIN_REQUIRE_TOTP): set it up first with startTotpEnrolment and confirmTotpEnrolment")
	errNoSealer = errors.New("admin: no SECRET_KEY to seal TOTP secrets with")
)

// TOTPEnrolment is an enrolment begun: what the admin's authenticator app
// needs, shown once. It signs nobody in until confirmed with a code.
type TOTPEnrolment struct {
	// Secret is the base32 secret, for typing into the app by hand.
	Secret string
	// URL is the otpauth:// URL the QR code holds.
	URL string
	// QRCode is the URL as a QR code, a data:image/png;base64 URL.
	QRCode string
}

// mustEnrol reports whether a's sessions may only enrol: ADMIN_REQUIRE_TOTP
// is on and a has no TOTP yet.
func (s *Service) mustEnrol(a *models.Admin) bool {
	return s.requireTOTP && !a.TOTPEnabled()
}

// BeginTOTP starts (or starts again) the caller's enrolment: a new secret,
// sealed and stored as pending, and audited (admin.totp_enrolment_started,
// without the secret). BAD_USER_INPUT when the caller's TOTP is on already:
// it is turned off first.
func (s *Service) BeginTOTP(ctx context.Context, c *Caller, ip string) (*TOTPEnrolment, error) {
	if s.totpSealer == nil {
		return nil, internal(errNoSealer)
	}
	// Counted before any work, per admin, and never taken back.
	counts, err := s.store.CountLoginAttempt(ctx, []string{"enrol:" + c.Admin.ID}, AttemptWindow)
	if err != nil {
		return nil, internal(err)
	}
	if _, err := rateLimited(counts); err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: c.Admin.Username,
		Period: totpPeriod, SecretSize: totpSecretSize, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, internal(err)
	}
	secret, err := b32.DecodeString(key.Secret())
	if err != nil {
		return nil, internal(err)
	}
	img, err := key.Image(totpQRSize, totpQRSize)
	if err != nil {
		return nil, internal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, internal(err)
	}
	audit := &models.AuditEntry{ActorKind: "admin", ActorID: &c.Admin.ID, ActorName: &c.Admin.Username,
		Action: "admin.totp_enrolment_started", Target: &c.Admin.ID, IP: nonEmpty(ip)}
	err = s.store.BeginAdminTOTP(ctx, c.Admin.ID, s.totpSealer.Seal(secret, c.Admin.ID), audit)
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, models.Errorf(models.CodeBadUserInput, "two-step sign-in is on already; turn it off first to set it up again")
	case errors.Is(err, store.ErrNotFound):
		return nil, errUnauthenticated
	case err != nil:
		return nil, internal(err)
	}
	return &TOTPEnrolment{Secret: key.Secret(), URL: key.URL(),
		QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// ConfirmTOTP turns the caller's TOTP on with a current code from the
// enrolment BeginTOTP started, and returns the recovery codes: shown this
// once, only their hashes kept, and the admin as now stored. Audited as
// admin.totp_enrolled. Errors:
// BAD_USER_INPUT (nothing begun, or on already), TOTP_INVALID (the code;
// it counts with the sign-in attempts), RATE_LIMITED.
func (s *Service) ConfirmTOTP(ctx context.Context, c *Caller, code, ip string) ([]string, *models.Admin, error) {
	if s.totpSealer == nil {
		return nil, nil, internal(errNoSealer)
	}
	a, err := s.store.AdminByID(ctx, c.Admin.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errUnauthenticated
	} else if err != nil {
		return nil, nil, internal(err)
	}
	switch {
	case a.TOTPEnabled():
		return nil, nil, models.Errorf(models.CodeBadUserInput, "two-step sign-in is on already")
	case a.TOTPSecretSealed == nil:
		return nil, nil, models.Errorf(models.CodeBadUserInput, "no enrolment to confirm: start one with startTotpEnrolment")
	}
	secret, err := s.totpSealer.Open(a.TOTPSecretSealed, a.ID)
	if err != nil {
		// Sealed under a key this server no longer has: begin again.
		return nil, nil, models.Errorf(models.CodeBadUserInput, "this enrolment can no longer be confirmed: start it again with startTotpEnrolment")
	}
	keys, err := s.countSessionAttempt(ctx, a, ip)
	if err != nil {
		return nil, nil, err
	}
	step, ok := matchStep(secret, normalizeCode(code), s.now())
	if !ok {
		s.auditCodeFailure(ctx, a, ip, "enrol")
		return nil, nil, errTOTPCode
	}
	codes, hashes := newRecoveryCodes(a.ID)
	audit := &models.AuditEntry{ActorKind: "admin", ActorID: &a.ID, ActorName: &a.Username,
		Action: "admin.totp_enrolled", Target: &a.ID, IP: nonEmpty(ip), Detail: map[string]any{"recoveryCodes": len(codes)}}
	err = s.store.EnableAdminTOTP(ctx, a.ID, a.TOTPSecretSealed, step, hashes, audit)
	s.forgetAdmins()
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, models.Errorf(models.CodeBadUserInput, "the enrolment changed meanwhile (begun again elsewhere?): confirm with a code of the newest one")
	} else if err != nil {
		return nil, nil, internal(err)
	}
	s.undoAttempt(ctx, keys)
	now := s.now()
	a.TOTPEnabledAt, a.TOTPLastStep, a.TOTPSecretSealed = &now, &step, nil
	return codes, a, nil
}

// DisableTOTP turns the caller's TOTP off with a current code or an unused
// recovery code, deleting the recovery codes, and returns the admin as now
// stored; audited as
// admin.totp_disabled. Errors: FORBIDDEN while ADMIN_REQUIRE_TOTP is on,
// BAD_USER_INPUT when it is off, TOTP_INVALID, RATE_LIMITED.
func (s *Service) DisableTOTP(ctx context.Context, c *Caller, code, ip string) (*models.Admin, error) {
	if s.requireTOTP {
		return nil, models.Errorf(models.CodeForbidden, "two-step sign-in is required on this server (ADMIN_REQUIRE_TOTP): it cannot be turned off")
	}
	a, err := s.store.AdminByID(ctx, c.Admin.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthenticated
	} else if err != nil {
		return nil, internal(err)
	}
	if !a.TOTPEnabled() {
		return nil, models.Errorf(models.CodeBadUserInput, "two-step sign-in is off")
	}
	keys, err := s.countSessionAttempt(ctx, a, ip)
	if err != nil {
		return nil, err
	}
	factor, _, reason, err := s.checkCode(ctx, a, code)
	if err != nil {
		return nil, err
	}
	if reason != "" {
		s.auditCodeFailure(ctx, a, ip, "disable")
		return nil, errTOTPCode
	}
	audit := &models.AuditEntry{ActorKind: "admin", ActorID: &a.ID, ActorName: &a.Username,
		Action: "admin.totp_disabled", IP: nonEmpty(ip), Detail: map[string]any{"secondFactor": factor}}
	err = s.store.DisableAdminTOTP(ctx, a.ID, true, false, audit)
	s.forgetAdmins()
	if errors.Is(err, store.ErrConflict) {
		return nil, models.Errorf(models.CodeBadUserInput, "two-step sign-in is off")
	} else if err != nil {
		return nil, internal(err)
	}
	s.undoAttempt(ctx, keys)
	a.TOTPEnabledAt, a.TOTPLastStep, a.TOTPSecretSealed = nil, nil, nil
	return a, nil
}

// ResetTOTP turns another admin's TOTP off, for one who lost their phone
// and recovery codes: their recovery codes are deleted and their sessions
// ended, and they sign in with the password alone (or, under
// ADMIN_REQUIRE_TOTP, are made to enrol again). Audited as
// admin.totp_reset. BAD_USER_INPUT for an unknown id, the caller's own
// (who turns theirs off with a code: a stolen session must not shed the
// second step) or an admin without TOTP. The caller's role is checked by
// the caller of this (ADMIN).
func (s *Service) ResetTOTP(ctx context.Context, c *Caller, adminID, ip string) (*models.Admin, error) {
	if !validID(adminID) {
		return nil, models.Errorf(models.CodeBadUserInput, "no admin has this id")
	}
	if adminID == c.Admin.ID {
		return nil, models.Errorf(models.CodeBadUserInput, "your own two-step sign-in is turned off with a code (disableTotp), not reset")
	}
	audit := &models.AuditEntry{ActorKind: "admin", ActorID: &c.Admin.ID, ActorName: &c.Admin.Username,
		Action: "admin.totp_reset", IP: nonEmpty(ip)}
	err := s.store.DisableAdminTOTP(ctx, adminID, true, true, audit)
	s.forgetAdmins()
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, models.Errorf(models.CodeBadUserInput, "no admin has this id")
	case errors.Is(err, store.ErrConflict):
		return nil, models.Errorf(models.CodeBadUserInput, "this admin's two-step sign-in is off")
	case err != nil:
		return nil, internal(err)
	}
	a, err := s.store.AdminByID(ctx, adminID)
	if err != nil {
		return nil, internal(err)
	}
	return a, nil
}

// RecoveryCodesLeft is how many unused recovery codes the caller has.
func (s *Service) RecoveryCodesLeft(ctx context.Context, c *Caller) (int, error) {
	n, err := s.store.RecoveryCodesLeft(ctx, c.Admin.ID)
	if err != nil {
		return 0, internal(err)
	}
	return n, nil
}

// secondStep is Login's second step for a whose password was right:
// nothing ("" and nil) when a has no TOTP; TOTP_REQUIRED when otp is
// empty (the attempt taken back: the password was right); the factor used
// ("totp", "recovery_code") and, for a recovery code, how many are left;
// or TOTP_INVALID, audited as admin.login_failed and left counted with the
// password attempts.
func (s *Service) secondStep(ctx context.Context, a *models.Admin, in LoginInput, keys []string) (factor string, left int, err error) {
	if !a.TOTPEnabled() {
		return "", 0, nil
	}
	if strings.TrimSpace(in.OTP) == "" {
		s.auditFailureAs(ctx, a, in, "totp_required")
		s.undoAttempt(ctx, keys)
		return "", 0, models.Errorf(models.CodeTOTPRequired, "enter the code from your authenticator app (or a recovery code) as otp")
	}
	factor, left, reason, err := s.checkCode(ctx, a, in.OTP)
	if err != nil {
		return "", 0, err
	}
	if reason != "" {
		s.auditFailureAs(ctx, a, in, reason)
		return "", 0, errTOTPCode
	}
	return factor, left, nil
}

// checkCode checks code, as typed, against a's TOTP or unused recovery
// codes, and spends it: a TOTP step or recovery code is accepted once. It
// returns the factor ("totp", "recovery_code") and the recovery codes left;
// or the reason it was refused ("wrong_code", "replayed_code",
// "wrong_recovery_code"); err only for a failure of ours.
func (s *Service) checkCode(ctx context.Context, a *models.Admin, code string) (factor string, left int, reason string, err error) {
	n := normalizeCode(code)
	switch {
	case len(n) == int(otp.DigitsSix) && isDigits(n):
		secret, err := s.openSecret(ctx, a)
		if err != nil {
			return "", 0, "", err
		}
		step, ok := matchStep(secret, n, s.now())
		if !ok {
			return "", 0, "wrong_code", nil
		}
		used, err := s.store.UseAdminTOTPStep(ctx, a.ID, step)
		if err != nil {
			return "", 0, "", internal(err)
		}
		if !used {
			return "", 0, "replayed_code", nil
		}
		return "totp", 0, "", nil
	case len(n) == recoveryCodeLen:
		ok, left, err := s.store.UseAdminRecoveryCode(ctx, a.ID, recoveryCodeHash(a.ID, n))
		if err != nil {
			return "", 0, "", internal(err)
		}
		if !ok {
			return "", 0, "wrong_recovery_code", nil
		}
		return "recovery_code", left, "", nil
	}
	return "", 0, "wrong_code", nil
}

// openSecret opens a's TOTP secret. One that opens under no key (sealed
// under a SECRET_KEY since dropped) is logged, without the secret, and
// INTERNAL: the admin signs in with a recovery code, or another ADMIN
// resets it.
func (s *Service) openSecret(ctx context.Context, a *models.Admin) ([]byte, error) {
	if s.totpSealer == nil {
		return nil, internal(errNoSealer)
	}
	secret, err := s.totpSealer.Open(a.TOTPSecretSealed, a.ID)
	if err != nil {
		s.log.ErrorContext(ctx, "an admin's TOTP secret opens under no SECRET_KEY given: they need a recovery code or a reset (resetAdminTotp)", "admin", a.ID)
		return nil, internal(err)
	}
	return secret, nil
}

// matchStep returns the time step, within totpSkew of now's, whose code is
// code, comparing each in constant time.
func matchStep(secret []byte, code string, now time.Time) (int64, bool) {
	enc := b32.EncodeToString(secret)
	cur := now.Unix() / totpPeriod
	var found int64
	ok := false
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := totp.GenerateCodeCustom(enc, time.Unix(step*totpPeriod, 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found, ok = step, true
		}
	}
	return found, ok
}

// normalizeCode is code as typed without spaces and dashes, in lower case;
// "" for anything longer than maxCodeLen.
func normalizeCode(code string) string {
	if len(code) > maxCodeLen {
		return ""
	}
	return strings.ToLower(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(code))
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// newRecoveryCodes returns RecoveryCodeCount fresh recovery codes, written
// xxxx-xxxx-xxxx-xxxx in lower-case base32, and their hashes for adminID.
func newRecoveryCodes(adminID string) (codes []string, hashes [][]byte) {
	for range RecoveryCodeCount {
		b := make([]byte, recoveryCodeLen*5/8)
		_, _ = rand.Read(b)
		c := strings.ToLower(b32.EncodeToString(b))
		codes = append(codes, c[0:4]+"-"+c[4:8]+"-"+c[8:12]+"-"+c[12:16])
		hashes = append(hashes, recoveryCodeHash(adminID, c))
	}
	return codes, hashes
}

// recoveryCodeHash is what is stored of a normalized recovery code: bound
// to its admin, so one hash never matches another admin's code.
func recoveryCodeHash(adminID, code string) []byte {
	h := sha256.Sum256([]byte("wxlogin/recovery-code/v1:" + adminID + ":" + code))
	return h[:]
}

// undoAttempt takes back an attempt that turned out no failure.
func (s *Service) undoAttempt(ctx context.Context, keys []string) {
	if err := s.store.UndoLoginAttempt(ctx, keys); err != nil {
		s.log.WarnContext(ctx, "taking back a sign-in attempt", "err", err)
	}
}

// auditCodeFailure records a wrong code given in a session (during:
// "enrol", "disable") as admin.totp_failed, grouped per admin, kind and
// window as failed sign-ins are (store.RecordLoginFailure).
func (s *Service) auditCodeFailure(ctx context.Context, a *models.Admin, ip, during string) {
	e := &models.AuditEntry{ActorKind: "admin", ActorID: &a.ID, ActorName: &a.Username, Action: "admin.totp_failed",
		Target: &a.ID, IP: nonEmpty(ip), Detail: map[string]any{"during": during}}
	if _, err := s.store.RecordLoginFailure(ctx, "fail:totp_"+during+":"+a.ID, AttemptWindow, e); err != nil {
		s.log.WarnContext(ctx, "writing the audit log", "err", err)
	}
}
