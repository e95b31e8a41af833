package models

import (
	"time"

	"github.com/uptrace/bun"
)

// ProviderWechatMiniProgram names identities that sign in through wx.login().
const ProviderWechatMiniProgram = "wechat_miniprogram"

// Identity is one way a user signs in: an openid of one mini program. Users are
// never keyed by openid alone, since openids differ per appid; UnionID joins
// the identities of one person across the apps of an open platform account.
type Identity struct {
	bun.BaseModel `bun:"table:identities,alias:i"`

	ID          string    `bun:"id,pk,type:uuid"`
	UserID      string    `bun:"user_id,type:uuid"`
	Provider    string    `bun:"provider"`
	AppID       string    `bun:"appid"`
	OpenID      string    `bun:"openid"`
	UnionID     *string   `bun:"unionid"`
	CreatedAt   time.Time `bun:"created_at,nullzero,notnull,default:current_timestamp"`
	UpdatedAt   time.Time `bun:"updated_at,nullzero,notnull,default:current_timestamp"`
	LastLoginAt time.Time `bun:"last_login_at,nullzero,notnull,default:current_timestamp"`
}

// Session is one signed-in client. Only the SHA-256 of its bearer token is
// kept, and the WeChat session_key only sealed under the server's SECRET_KEY.
type Session struct {
	bun.BaseModel `bun:"table:sessions,alias:s"`

	ID         string `bun:"id,pk,type:uuid"`
	TokenHash  []byte `bun:"token_hash"`
	UserID     string `bun:"user_id,type:uuid"`
	IdentityID string `bun:"identity_id,type:uuid"`
	// SessionKeySealed is the AES-GCM-sealed session_key from this login.
	SessionKeySealed []byte     `bun:"session_key_sealed"`
	CreatedAt        time.Time  `bun:"created_at,nullzero,notnull,default:current_timestamp"`
	LastSeenAt       time.Time  `bun:"last_seen_at,nullzero,notnull,default:current_timestamp"`
	ExpiresAt        time.Time  `bun:"expires_at"`
	RevokedAt        *time.Time `bun:"revoked_at"`
	IP               *string    `bun:"ip,type:inet"`
	UserAgent        *string    `bun:"user_agent"`

	// User is loaded with the session by lookups that join users.
	User *User `bun:"rel:belongs-to,join:user_id=id"`
}
