package auth

import (
	"context"
	"errors"
	"time"

	"wxlogin/blob"
	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/token"
)

// Deletion is the answer to deleteAccount: when the account is erased.
type Deletion struct {
	// ErasesAt is when the erasure job erases the account, or when it was
	// erased (a grace of 0).
	ErasesAt time.Time
	// Erased reports that the account is already erased.
	Erased bool
}

// DeleteAccount deletes the caller's account (注销账号): in one
// transaction every session of theirs is revoked (this instance forgets
// them at once, the others on the sessions trigger's NOTIFY) and the
// erasure is scheduled after the cooling-off period, audited as
// user.delete_requested. A second call keeps the first schedule. With a
// grace of 0 the account is erased before the answer, the user as the
// erasure's actor. A user disabled while the deletion is pending stays
// scheduled: their login is refused (USER_DISABLED) and cancels nothing.
// (A user disabled before has no session to call this with: the store
// refuses every session of a disabled user. They prove who they are with
// a wx.login() code instead: DeleteAccountWithCode.) Errors: RATE_LIMITED
// (retryAfter 1) when a grace of 0 meets logins of the user holding it;
// INTERNAL.
func (s *Service) DeleteAccount(ctx context.Context, c *Caller, ip string) (*Deletion, error) {
	id := c.User.ID
	audit := &models.AuditEntry{ActorKind: "user", ActorID: &id, Action: "user.delete_requested", Target: &id,
		IP: nonEmpty(ip), Detail: map[string]any{"session": c.Session.ID}}
	// The request outlives a client that hangs up: its sessions are
	// revoked, and it must not be left half done.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.record)
	defer cancel()
	u, err := s.store.RequestDeletion(ctx, id, s.grace, audit)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errSessionEnded // erased (or merged away) a moment ago
	} else if err != nil {
		return nil, models.WrapError(err, models.CodeInternal, "internal error")
	}
	s.ForgetUser(id)
	endRequest(ctx)
	d := &Deletion{ErasesAt: *u.ErasesAt}
	if u.ErasesAt.After(time.Now()) {
		return d, nil
	}
	// A grace of 0 (or a schedule already due): erase now. Should this
	// fail, the erasure job finds the account due and erases it.
	e, err := s.EraseUser(ctx, id, &models.AuditEntry{ActorKind: "user", ActorID: &id, Action: "user.erase"})
	if errors.Is(err, store.ErrNotFound) {
		d.Erased = true // erased already, by the job or an admin
		return d, nil
	} else if err != nil {
		return nil, err
	}
	d.ErasesAt, d.Erased = *e.User.DeletedAt, true
	return d, nil
}

// CodeDeletion is deleteAccount's request without a session: a
// wx.login() code that names the WeChat user, as LoginInput's does.
type CodeDeletion struct {
	// AppID names the mini program the code is from; empty for the default.
	AppID string
	Code  string
	IP    string
}

// errNoAccount: the code's WeChat user has no account (never signed in,
// or erased). Nothing is made for them.
var errNoAccount = models.Errorf(models.CodeBadUserInput, "no account for this WeChat user")

// DeleteAccountWithCode is DeleteAccount for a caller without a session,
// above all a disabled user (every session of whom is refused): PIPL's
// right to deletion does not end with a ban. The code is checked and
// rate limited as a login's is (the same limiters: it spends a WeChat
// call) and spent on code2session; the accounts of the WeChat user it
// names are scheduled as DeleteAccount schedules the caller's (see
// store.RequestDeletionOf: the identity's user and the unionid's), with
// user.delete_requested detail {"via": "code", "appid"}. Nothing else
// happens: no session, no login recorded, no identity made or linked, no
// merge. A request that also sends a bearer token is BAD_USER_INPUT
// before the code is spent: one request proves one caller. Errors:
// BAD_USER_INPUT (also "no account for this WeChat user", creating
// nothing), WECHAT_CODE_INVALID, WECHAT_RATE_LIMITED,
// WECHAT_USER_BLOCKED, WECHAT_UNAVAILABLE, RATE_LIMITED, INTERNAL.
func (s *Service) DeleteAccountWithCode(ctx context.Context, in CodeDeletion) (*Deletion, error) {
	if r, _ := ctx.Value(requestKey{}).(*token.Request[*Caller]); r != nil && r.Token() != "" {
		return nil, models.Errorf(models.CodeBadUserInput, "deleteAccount takes a session or a login code, not both: send the code without the Authorization header")
	}
	wc, ws, err := s.spendCode(ctx, LoginInput{AppID: in.AppID, Code: in.Code, IP: in.IP})
	if err != nil {
		return nil, err
	}
	// The code is spent: finish even if the client hangs up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.record)
	defer cancel()
	users, err := s.store.RequestDeletionOf(ctx, store.WechatUser{Provider: models.ProviderWechatMiniProgram,
		AppID: wc.AppID(), OpenID: ws.OpenID, UnionID: ws.UnionID}, s.grace,
		models.AuditEntry{ActorKind: "user", Action: "user.delete_requested", IP: nonEmpty(in.IP),
			Detail: map[string]any{"via": "code", "appid": wc.AppID()}})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoAccount
	} else if err != nil {
		return nil, models.WrapError(err, models.CodeInternal, "internal error")
	}
	for _, u := range users {
		s.ForgetUser(u.ID)
	}
	d := &Deletion{ErasesAt: *users[0].ErasesAt}
	if d.ErasesAt.After(time.Now()) {
		return d, nil
	}
	// A grace of 0: erase now, each with its user as the actor. Should
	// this fail, the erasure job finds the accounts due.
	for i, u := range users {
		e, err := s.EraseUser(ctx, u.ID, &models.AuditEntry{ActorKind: "user", ActorID: &u.ID, Action: "user.erase"})
		if errors.Is(err, store.ErrNotFound) {
			continue // erased already, by the job or an admin
		} else if err != nil {
			return nil, err
		}
		if i == 0 {
			d.ErasesAt = *e.User.DeletedAt
		}
	}
	d.Erased = true
	return d, nil
}

// EraseUser erases user id at once (store.EraseUser) with audit as the
// user.erase entry, and deletes the avatar files no one else uses.
// Errors: store.ErrNotFound as it is (unknown or already erased);
// RATE_LIMITED (models.ErrErasureBusy) when logins of the user kept it
// busy; INTERNAL.
func (s *Service) EraseUser(ctx context.Context, id string, audit *models.AuditEntry) (*store.Erasure, error) {
	e, err := s.store.EraseUser(ctx, id, audit)
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	} else if errors.Is(err, store.ErrErasureBusy) {
		return nil, models.ErrErasureBusy
	} else if err != nil {
		return nil, models.WrapError(err, models.CodeInternal, "internal error")
	}
	s.ForgetUser(id)
	if err := blob.DeleteAll(ctx, s.blobs, e.AvatarKeys); err != nil {
		// The file is left with no user pointing at it: the log names it
		// for an operator to delete by hand.
		s.log.WarnContext(ctx, "deleting an erased user's avatar file; delete it by hand", "err", err)
	}
	return e, nil
}
