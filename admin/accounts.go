package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/token"
)

// Admin accounts managed from the page (GraphQL), under the command line's
// rules: the same username and password checks, the same audit actions
// (admin.create, admin.passwd, admin.disable, admin.enable, and the page's
// admin.role, admin.revoke_sessions and admin.change_password), written in
// the change's transaction, and no change may leave the last enabled ADMIN
// disabled or demoted (store.ErrLastAdmin, for the command line too).
//
// What an admin may do to their own account: change their role (while
// another enabled ADMIN remains) and end their own sessions, this one
// included. Not disable themselves (they would lose the page without
// another ADMIN having decided so), nor reset their own password, which
// would skip the current-password check: that is ChangeMyPassword.
//
// A password another admin sets or generates here is known to them, so
// its owner must change it before doing anything else
// (Admin.MustChangePassword, enforced by Require). The command line's
// passwords are final: whoever runs it at the shell is trusted with the
// database already.

// generatedAlphabet spells generated passwords: lower-case letters and
// digits without the look-alikes (0/o, 1/l/i), for a password read off a
// screen and typed elsewhere.
const generatedAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// generatedGroups and generatedGroupLen shape a generated password,
// "xxxx-xxxx-xxxx-xxxx-xxxx": 20 characters of 31, about 99 bits.
const (
	generatedGroups   = 5
	generatedGroupLen = 4
)

// GeneratePassword returns a random one-time password for an admin
// account, which passes CheckPasswordStrength.
func GeneratePassword() string {
	var b strings.Builder
	buf := make([]byte, 1)
	for g := range generatedGroups {
		if g > 0 {
			b.WriteByte('-')
		}
		for n := 0; n < generatedGroupLen; {
			_, _ = rand.Read(buf)
			// 248 = 8·31: rejecting the rest keeps every character equally likely.
			if buf[0] < 248 {
				b.WriteByte(generatedAlphabet[int(buf[0])%len(generatedAlphabet)])
				n++
			}
		}
	}
	return b.String()
}

// Admins returns every admin account (at most store.MaxAdmins), ordered
// by username.
func (s *Service) Admins(ctx context.Context) ([]*models.Admin, error) {
	admins, err := s.store.ListAdmins(ctx)
	if err != nil {
		return nil, internal(err)
	}
	return admins, nil
}

// PasswordSet is an account change that set a password: the admin as it
// is now, and the password when the server generated it, shown this once
// ("" when the acting admin chose it).
type PasswordSet struct {
	Admin     *models.Admin
	Generated string
}

// CreateAdmin adds an admin account for the caller c (an ADMIN): with
// password, or a generated one when password is "". Either way the new
// admin must change it at first sign-in. Errors: BAD_USER_INPUT (a bad
// username, a weak password, a username taken in any case, too many
// accounts), INTERNAL.
func (s *Service) CreateAdmin(ctx context.Context, c *Caller, username, password string, role models.Role, ip string) (*PasswordSet, error) {
	generated := password == ""
	if generated {
		password = GeneratePassword()
	}
	audit := actorAudit(c, "admin.create", ip, map[string]any{"username": username, "role": string(role), "generated": generated})
	a, err := s.create(ctx, username, password, role, true, audit)
	if err != nil {
		return nil, err
	}
	out := &PasswordSet{Admin: a}
	if generated {
		out.Generated = password
	}
	return out, nil
}

// create checks and adds an admin account, writing audit with it: the
// command line's Create and the page's CreateAdmin.
func (s *Service) create(ctx context.Context, username, password string, role models.Role, mustChange bool, audit *models.AuditEntry) (*models.Admin, error) {
	if err := CheckUsername(username); err != nil {
		return nil, models.Errorf(models.CodeBadUserInput, "%v", err)
	}
	if !role.Valid() {
		return nil, models.Errorf(models.CodeBadUserInput, "%q is not a role", role)
	}
	if err := CheckPasswordStrength(password); err != nil {
		return nil, models.Errorf(models.CodeBadUserInput, "%v", err)
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return nil, internal(err)
	}
	a := &models.Admin{Username: username, PasswordHash: hash, Role: role, MustChangePassword: mustChange}
	switch err := s.store.CreateAdmin(ctx, a, audit); {
	case errors.Is(err, store.ErrConflict):
		return nil, models.Errorf(models.CodeBadUserInput, "an admin named %s already exists", username)
	case errors.Is(err, store.ErrTooManyAdmins):
		return nil, models.Errorf(models.CodeBadUserInput, "there are %d admin accounts already, the most there may be", store.MaxAdmins)
	case err != nil:
		return nil, internal(err)
	}
	return a, nil
}

// hash hashes a new password in one of the hash slots that password checks
// take turns in (see Service.hashSlots): it costs as much as a check.
func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.hashSlots }()
	return HashPassword(pw), nil
}

// SetAdminRole makes the admin with id a role. Errors: BAD_USER_INPUT (no
// such admin), LAST_ADMIN (demoting the last enabled ADMIN), INTERNAL.
// Demoting oneself ends this request's use of the ADMIN role at once.
func (s *Service) SetAdminRole(ctx context.Context, c *Caller, id string, role models.Role, ip string) (*models.Admin, error) {
	id = strings.ToLower(id) // as PostgreSQL compares uuids, and so that c's own id is recognised
	if !role.Valid() {
		return nil, models.Errorf(models.CodeBadUserInput, "%q is not a role", role)
	}
	ch := store.AdminChange{Role: role, Audit: func(before *models.Admin, _ int) *models.AuditEntry {
		if before.Role == role {
			return nil // nothing changed, nothing to record
		}
		return actorAudit(c, "admin.role", ip, map[string]any{"username": before.Username, "from": string(before.Role), "to": string(role)})
	}}
	done, err := s.changeAdmin(ctx, id, ch)
	if err != nil {
		return nil, err
	}
	if id == c.Admin.ID && role != c.Admin.Role {
		endRequest(ctx, models.Errorf(models.CodeForbidden, "this request changed your own role: send the next one as the new role"))
	}
	return done.After, nil
}

// SetAdminDisabledByID disables (ending their sessions) or enables the
// admin with id. Errors: BAD_USER_INPUT (no such admin, or the caller
// disabling themselves), LAST_ADMIN (the last enabled ADMIN), INTERNAL.
func (s *Service) SetAdminDisabledByID(ctx context.Context, c *Caller, id string, disabled bool, ip string) (*models.Admin, error) {
	id = strings.ToLower(id)
	if disabled && id == c.Admin.ID {
		return nil, models.Errorf(models.CodeBadUserInput, "you cannot disable your own account: another ADMIN can, or the command line")
	}
	action := "admin.enable"
	if disabled {
		action = "admin.disable"
	}
	ch := store.AdminChange{Disabled: &disabled, Audit: func(before *models.Admin, ended int) *models.AuditEntry {
		if before.Disabled() == disabled {
			return nil
		}
		detail := map[string]any{"username": before.Username}
		if disabled {
			detail["sessions"] = ended
		}
		return actorAudit(c, action, ip, detail)
	}}
	done, err := s.changeAdmin(ctx, id, ch)
	if err != nil {
		return nil, err
	}
	return done.After, nil
}

// ResetAdminPassword replaces the password of the admin with id by
// password, or by a generated one when password is "", ends every session
// of theirs, and makes them change it at their next sign-in. Errors:
// BAD_USER_INPUT (no such admin, a weak password, the caller's own
// account: see ChangeMyPassword), INTERNAL.
func (s *Service) ResetAdminPassword(ctx context.Context, c *Caller, id, password, ip string) (*PasswordSet, error) {
	id = strings.ToLower(id)
	if id == c.Admin.ID {
		return nil, models.Errorf(models.CodeBadUserInput, "change your own password with changeMyPassword, which asks for the current one")
	}
	generated := password == ""
	if generated {
		password = GeneratePassword()
	} else if err := CheckPasswordStrength(password); err != nil {
		return nil, models.Errorf(models.CodeBadUserInput, "%v", err)
	}
	if !validID(id) {
		return nil, noAdmin(id)
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return nil, internal(err)
	}
	ch := store.AdminChange{PasswordHash: hash, MustChangePassword: true, Audit: func(before *models.Admin, ended int) *models.AuditEntry {
		return actorAudit(c, "admin.passwd", ip, map[string]any{"username": before.Username, "generated": generated, "sessions": ended})
	}}
	done, err := s.changeAdmin(ctx, id, ch)
	if err != nil {
		return nil, err
	}
	out := &PasswordSet{Admin: done.After}
	if generated {
		out.Generated = password
	}
	return out, nil
}

// EndAdminSessions ends every live session of the admin with id and
// returns how many; the caller's own included when id is theirs, and the
// rest of this request then acts for nobody. Errors: BAD_USER_INPUT (no
// such admin), INTERNAL.
func (s *Service) EndAdminSessions(ctx context.Context, c *Caller, id, ip string) (int, error) {
	id = strings.ToLower(id)
	ch := store.AdminChange{EndSessions: true, Audit: func(before *models.Admin, ended int) *models.AuditEntry {
		return actorAudit(c, "admin.revoke_sessions", ip, map[string]any{"username": before.Username, "sessions": ended})
	}}
	done, err := s.changeAdmin(ctx, id, ch)
	if err != nil {
		return 0, err
	}
	if id == c.Admin.ID {
		endRequest(ctx, errUnauthenticated)
	}
	return done.SessionsEnded, nil
}

// ChangeMyPassword replaces the caller's password after checking the
// current one, ends their other sessions and keeps this one. A wrong
// current password counts as a failed sign-in for the username and the
// client's network (the same limits as Login), so a stolen session cannot
// guess at it faster than a stranger at the sign-in form. Errors:
// INVALID_CREDENTIALS (wrong current password), RATE_LIMITED,
// BAD_USER_INPUT (a weak new password, or the current one again),
// INTERNAL.
func (s *Service) ChangeMyPassword(ctx context.Context, c *Caller, current, newPassword, ip string) (*models.Admin, error) {
	if err := CheckPasswordStrength(newPassword); err != nil {
		return nil, models.Errorf(models.CodeBadUserInput, "%v", err)
	}
	if newPassword == current {
		return nil, models.Errorf(models.CodeBadUserInput, "the new password must differ from the current one")
	}
	if len(current) > MaxPasswordLen {
		return nil, errWrongCurrent
	}
	keys, err := s.countSessionAttempt(ctx, c.Admin, ip)
	if err != nil {
		return nil, err
	}
	a, err := s.store.AdminByID(ctx, c.Admin.ID)
	if err != nil {
		return nil, internal(err)
	}
	ok, err := s.verify(ctx, a.PasswordHash, current)
	if err != nil {
		return nil, internal(err)
	}
	if !ok {
		e := actorAudit(c, "admin.change_password_failed", ip, map[string]any{"username": a.Username})
		e.Target = &a.ID
		if err := s.store.WriteAudit(ctx, s.store.DB(), e); err != nil {
			s.log.WarnContext(ctx, "writing the audit log", "err", err)
		}
		return nil, errWrongCurrent
	}
	if err := s.store.UndoLoginAttempt(ctx, keys); err != nil {
		s.log.WarnContext(ctx, "taking back a sign-in attempt", "err", err)
	}
	hash, err := s.hash(ctx, newPassword)
	if err != nil {
		return nil, internal(err)
	}
	ch := store.AdminChange{PasswordHash: hash, IfPasswordHash: a.PasswordHash, KeepSession: c.Session.ID,
		Audit: func(before *models.Admin, ended int) *models.AuditEntry {
			return actorAudit(c, "admin.change_password", ip, map[string]any{"username": before.Username, "sessions": ended})
		}}
	done, err := s.changeAdmin(ctx, c.Admin.ID, ch)
	if errors.Is(err, store.ErrStale) {
		// Reset by another admin between the check and the change.
		return nil, errWrongCurrent
	} else if err != nil {
		return nil, err
	}
	return done.After, nil
}

var errChangePasswordFirst = models.Errorf(models.CodePasswordChangeRequired,
	"another admin set your password: choose your own with changeMyPassword first")

var errWrongCurrent = models.Errorf(models.CodeInvalidCredentials, "the current password is wrong")

// changeAdmin applies ch to the admin with id and, once committed, empties
// this instance's admin session cache (the other instances hear of it from
// the database's notification): the next request of that admin, here or
// anywhere, reads the change.
func (s *Service) changeAdmin(ctx context.Context, id string, ch store.AdminChange) (*store.AdminChanged, error) {
	if !validID(id) {
		return nil, noAdmin(id)
	}
	done, err := s.store.ChangeAdmin(ctx, id, ch)
	s.forgetAdmins()
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, noAdmin(id)
	case errors.Is(err, store.ErrLastAdmin):
		return nil, errLastAdmin
	case err != nil && !errors.Is(err, store.ErrStale):
		return nil, internal(err)
	}
	return done, err
}

var errLastAdmin = models.Errorf(models.CodeLastAdmin, "this is the last enabled ADMIN: enable or promote another ADMIN first")

func noAdmin(id string) error {
	return models.Errorf(models.CodeBadUserInput, "no admin has the id %q", id)
}

// actorAudit is the audit entry of a change the signed-in admin c made.
func actorAudit(c *Caller, action, ip string, detail map[string]any) *models.AuditEntry {
	return &models.AuditEntry{ActorKind: "admin", ActorID: &c.Admin.ID, ActorName: &c.Admin.Username,
		Action: action, IP: nonEmpty(ip), Detail: detail}
}

// endRequest makes the rest of the request in ctx fail with err instead
// of acting as its caller, whose session or role this request changed.
func endRequest(ctx context.Context, err error) {
	if r, _ := ctx.Value(requestKey{}).(*token.Request[*Caller]); r != nil {
		r.End(err)
	}
}
