package models

import (
	"io"
	"strconv"
)

// What an audit entry's target names, by its action (AuditAction.Target).
const (
	// AuditTargetUser: the target is a user's id.
	AuditTargetUser = "user"
	// AuditTargetAdmin: the target is an admin's id.
	AuditTargetAdmin = "admin"
	// AuditTargetSession: the target is a user session's id.
	AuditTargetSession = "session"
	// AuditTargetOther: the target is none of those (or the action is not
	// one of AuditActions, written by an older or newer version).
	AuditTargetOther = "other"
)

// AuditAction is an action the server writes to the audit log, and what
// the target of its entries names ("" when its entries have none).
type AuditAction struct {
	Name   string
	Target string
}

// AuditActions is every action the server writes, in the order the
// dashboard offers them: the auditActions query answers it, docs/admin.md's
// table and the dashboard's catalogue (action.<name>) name each, and
// TestAuditActions_HoldToTheCode fails when the code writes an action that
// is not here or this lists one the code no longer writes.
var AuditActions = []AuditAction{
	{"user.create", AuditTargetUser},
	{"user.login", AuditTargetUser},
	{"user.logout", AuditTargetUser},
	{"user.merge", AuditTargetUser},
	{"user.bind_phone", AuditTargetUser},
	{"user.unbind_phone", AuditTargetUser},
	{"user.accept_policy", AuditTargetUser},
	{"user.disable", AuditTargetUser},
	{"user.enable", AuditTargetUser},
	{"user.revoke_sessions", AuditTargetUser},
	{"session.revoke", AuditTargetSession},
	{"user.moderate", AuditTargetUser},
	{"user.avatar_rejected", AuditTargetUser},
	{"user.delete_requested", AuditTargetUser},
	{"user.delete_cancelled", AuditTargetUser},
	{"user.erase", AuditTargetUser},
	{"admin.login", AuditTargetAdmin},
	{"admin.login_failed", AuditTargetAdmin},
	{"admin.logout", AuditTargetAdmin},
	{"admin.user_data", AuditTargetUser},
	{"admin.export_users", ""},
	{"admin.create", AuditTargetAdmin},
	{"admin.passwd", AuditTargetAdmin},
	{"admin.disable", AuditTargetAdmin},
	{"admin.enable", AuditTargetAdmin},
	{"admin.role", AuditTargetAdmin},
	{"admin.revoke_sessions", AuditTargetAdmin},
	{"admin.change_password", AuditTargetAdmin},
	{"admin.change_password_failed", AuditTargetAdmin},
	{"admin.totp_enrolment_started", AuditTargetAdmin},
	{"admin.totp_enrolled", AuditTargetAdmin},
	{"admin.totp_disabled", AuditTargetAdmin},
	{"admin.totp_reset", AuditTargetAdmin},
	{"admin.totp_failed", AuditTargetAdmin},
	{"wechat.received", AuditTargetUser},
	{"wechat.authorization_revoke", AuditTargetUser},
	{"wechat.user_info_modified", AuditTargetUser},
	{"wechat.authorization_cancellation", AuditTargetUser},
	{"wechat.media_check", AuditTargetUser},
}

// AuditTargetOf returns what the target of action's entries names:
// AuditTargetOther for an action not in AuditActions.
func AuditTargetOf(action string) string {
	for _, a := range AuditActions {
		if a.Name == action {
			if a.Target == "" {
				return AuditTargetOther
			}
			return a.Target
		}
	}
	return AuditTargetOther
}

// AuditNameState says how an audit entry's actor or target was named; the
// GraphQL enum of the same name, which the dashboard translates.
type AuditNameState string

// The name states.
const (
	// AuditNamed: Name is the admin's username, the user's nickname as it
	// is now, or the name recorded for the system part or WeChat app.
	AuditNamed AuditNameState = "NAMED"
	// AuditNoName: a user who has set no nickname, an anonymous caller, a
	// session (which has no name): Name is null.
	AuditNoName AuditNameState = "NO_NAME"
	// AuditErased: a user erased since; their name is gone for good.
	AuditErased AuditNameState = "ERASED"
	// AuditUnknown: the id names no user or admin now (a user merged into
	// another is deleted), or the target is of no known kind.
	AuditUnknown AuditNameState = "UNKNOWN"
)

// MarshalGQL writes the enum name for gqlgen.
func (s AuditNameState) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(s)))
}

// UnmarshalGQL reads the enum name for gqlgen.
func (s *AuditNameState) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	switch AuditNameState(str) {
	case AuditNamed, AuditNoName, AuditErased, AuditUnknown:
		if ok {
			*s = AuditNameState(str)
			return nil
		}
	}
	return Errorf(CodeBadUserInput, "not a valid AuditNameState")
}

// AuditParty is an audit entry's actor or target as the audit log shows
// it: the kind and id recorded, and the name it goes by now.
type AuditParty struct {
	// Kind is, for an actor, the entry's ActorKind; for a target, what it
	// names (AuditTargetUser, …), found by looking the id up or else by
	// the action (AuditTargetOf).
	Kind string
	// ID is the actor's id (nil for the system, WeChat or an anonymous
	// caller) or the target as recorded.
	ID *string
	// Name is the name to show, nil when State is not AuditNamed.
	Name  *string
	State AuditNameState
	// IsActor marks a target that is the actor itself (a user's own
	// login, an admin's sign-in), which the dashboard shows once.
	IsActor bool
}
