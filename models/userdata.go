package models

import "time"

// UserDataVersion is the version of the UserData document's shape: raised
// when a field changes meaning or goes away, so that a reader can tell. A
// field added (user.deletionRequestedAt, user.erasesAt, moderation) keeps
// the version: a reader of version 1 ignores what it does not know.
const UserDataVersion = 1

// UserData is everything stored about one user, as myData and userData
// export it (PIPL Art. 45): their own data and nothing else — never a token
// hash, a sealed session_key or another user's data. Long lists are capped
// (the newest kept) and say so.
type UserData struct {
	Version    int                            `json:"version"`
	ExportedAt time.Time                      `json:"exportedAt"`
	User       UserDataProfile                `json:"user"`
	Moderation UserDataModeration             `json:"moderation"`
	Identities []UserDataIdentity             `json:"identities"`
	Sessions   UserDataList[UserDataSession]  `json:"sessions"`
	Consents   UserDataList[UserDataConsent]  `json:"consents"`
	Audit      UserDataList[UserDataAuditRow] `json:"audit"`
}

// UserDataList is a capped list: Items are the newest Total, at most the
// cap, Truncated when some were left out.
type UserDataList[T any] struct {
	Total     int  `json:"total"`
	Truncated bool `json:"truncated"`
	Items     []T  `json:"items"`
}

// UserDataProfile is the users row, as stored.
type UserDataProfile struct {
	ID               string     `json:"id"`
	Nickname         *string    `json:"nickname"`
	AvatarURL        *string    `json:"avatarUrl"`
	Gender           *Gender    `json:"gender"`
	Language         *string    `json:"language"`
	City             *string    `json:"city"`
	Province         *string    `json:"province"`
	Country          *string    `json:"country"`
	Phone            *string    `json:"phone"`
	PhoneCountryCode *string    `json:"phoneCountryCode"`
	CreatedAt        time.Time  `json:"createdAt"`
	UpdatedAt        time.Time  `json:"updatedAt"`
	LastLoginAt      *time.Time `json:"lastLoginAt"`
	DisabledAt       *time.Time `json:"disabledAt"`
	DisabledReason   *string    `json:"disabledReason"`
	// DeletionRequestedAt and ErasesAt are set while a deletion is pending.
	DeletionRequestedAt *time.Time `json:"deletionRequestedAt"`
	ErasesAt            *time.Time `json:"erasesAt"`
}

// UserDataModeration is where the user's nickname and avatar stand in the
// content checks (WeChat's and an admin's): each state is null when the
// user has no such value, UNCHECKED when no check applies to it.
type UserDataModeration struct {
	Nickname      *ModerationState `json:"nickname"`
	NicknameLabel *int             `json:"nicknameLabel"`
	Avatar        *ModerationState `json:"avatar"`
	AvatarLabel   *int             `json:"avatarLabel"`
}

// UserDataIdentity is one identity: how the user signs in from one mini program.
type UserDataIdentity struct {
	Provider    string    `json:"provider"`
	AppID       string    `json:"appId"`
	OpenID      string    `json:"openId"`
	UnionID     *string   `json:"unionId"`
	CreatedAt   time.Time `json:"firstLoginAt"`
	LastLoginAt time.Time `json:"lastLoginAt"`
}

// UserDataSession is one session, live or ended, without its token hash
// or sealed session_key.
type UserDataSession struct {
	ID         string     `json:"id"`
	AppID      string     `json:"appId"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastSeenAt time.Time  `json:"lastSeenAt"`
	ExpiresAt  time.Time  `json:"expiresAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
	IP         *string    `json:"ip"`
	UserAgent  *string    `json:"userAgent"`
}

// UserDataConsent is one acceptance of the privacy policy.
type UserDataConsent struct {
	Version    string    `json:"version"`
	AcceptedAt time.Time `json:"acceptedAt"`
	IP         *string   `json:"ip"`
}

// UserDataAuditRow is one audit entry whose actor or target is the user.
// An admin actor is named (kind and username: staff acting on the user's
// data, which the user may know); another user acting is shown by kind
// only.
type UserDataAuditRow struct {
	ID        string         `json:"id"`
	At        time.Time      `json:"at"`
	Action    string         `json:"action"`
	ActorKind string         `json:"actorKind"`
	ActorName *string        `json:"actorName,omitempty"`
	Self      bool           `json:"byUser"`
	Target    *string        `json:"target"`
	IP        *string        `json:"ip"`
	Detail    map[string]any `json:"detail"`
}
