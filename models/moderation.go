package models

import (
	"io"
	"strconv"
	"time"

	"github.com/uptrace/bun"
)

// ModerationState is where a user's nickname or avatar stands in WeChat's
// content security check and an admin's review; the GraphQL enum of the
// same name.
type ModerationState string

// The moderation states. Only Pending, Approved and Review are stored; a
// value without a state that applies to it is Unchecked.
const (
	// ModerationUnchecked: saved without a check (CONTENT_CHECK off, before
	// checks existed, or from WeChat's own profile data at login).
	ModerationUnchecked ModerationState = "UNCHECKED"
	// ModerationPending: sent to WeChat, whose verdict has not come yet
	// (avatars only). The user sees it meanwhile.
	ModerationPending ModerationState = "PENDING"
	// ModerationApproved: WeChat said pass, or an admin approved it.
	ModerationApproved ModerationState = "APPROVED"
	// ModerationReview: WeChat said review; shown, and waiting for an
	// admin's moderateUser.
	ModerationReview ModerationState = "REVIEW"
)

// MarshalGQL writes the enum name for gqlgen.
func (s ModerationState) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(s)))
}

// UnmarshalGQL reads the enum name for gqlgen.
func (s *ModerationState) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	switch ModerationState(str) {
	case ModerationUnchecked, ModerationPending, ModerationApproved, ModerationReview:
		if ok {
			*s = ModerationState(str)
			return nil
		}
	}
	return Errorf(CodeBadUserInput, "not a valid ModerationState")
}

// Moderation is a user's row of user_moderation: the state of the nickname
// and of the avatar_url kept beside it, each with WeChat's label and
// trace_id of the verdict behind it. A state applies only while the user's
// value is the one kept here (see Of).
type Moderation struct {
	bun.BaseModel `bun:"table:user_moderation,alias:um"`

	UserID        string           `bun:"user_id,pk,type:uuid"`
	Nickname      *string          `bun:"nickname"`
	NicknameState *ModerationState `bun:"nickname_state"`
	NicknameLabel *int             `bun:"nickname_label"`
	NicknameTrace *string          `bun:"nickname_trace"`
	AvatarURL     *string          `bun:"avatar_url"`
	AvatarState   *ModerationState `bun:"avatar_state"`
	AvatarLabel   *int             `bun:"avatar_label"`
	AvatarTrace   *string          `bun:"avatar_trace"`
	UpdatedAt     time.Time        `bun:"updated_at,nullzero,notnull,default:current_timestamp"`
}

// UserModeration is a user's moderation as admins see it (the GraphQL
// type Moderation): each state is nil when the user has no such value.
type UserModeration struct {
	Nickname        *ModerationState
	NicknameLabel   *int
	NicknameTraceID *string
	Avatar          *ModerationState
	AvatarLabel     *int
	AvatarTraceID   *string
}

// NeedsReview reports whether the nickname or the avatar awaits an admin.
func (m UserModeration) NeedsReview() bool {
	return m.Nickname != nil && *m.Nickname == ModerationReview || m.Avatar != nil && *m.Avatar == ModerationReview
}

// Of returns the moderation of u's nickname and avatar according to m
// (which may be nil: no row). A state kept for another value than u's is
// Unchecked.
func (m *Moderation) Of(u *User) UserModeration {
	var out UserModeration
	unchecked := ModerationUnchecked
	if u.Nickname != nil {
		out.Nickname = &unchecked
		if m != nil && m.NicknameState != nil && m.Nickname != nil && *m.Nickname == *u.Nickname {
			out.Nickname, out.NicknameLabel, out.NicknameTraceID = m.NicknameState, m.NicknameLabel, m.NicknameTrace
		}
	}
	if u.AvatarURL != nil {
		out.Avatar = &unchecked
		if m != nil && m.AvatarState != nil && m.AvatarURL != nil && *m.AvatarURL == *u.AvatarURL {
			out.Avatar, out.AvatarLabel, out.AvatarTraceID = m.AvatarState, m.AvatarLabel, m.AvatarTrace
		}
	}
	return out
}
