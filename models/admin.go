package models

import (
	"io"
	"strconv"
	"time"

	"github.com/uptrace/bun"
)

// Role is what an admin may do. It is stored as its name and shown in
// GraphQL as the Role enum.
type Role string

// The roles, from most to least powerful.
const (
	// RoleAdmin may do everything, changes included.
	RoleAdmin Role = "ADMIN"
	// RoleViewer may only read.
	RoleViewer Role = "VIEWER"
)

// roleRank orders the roles; a role missing here ranks below every other.
var roleRank = map[Role]int{RoleViewer: 1, RoleAdmin: 2}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	_, ok := roleRank[r]
	return ok
}

// AtLeast reports whether r may do what min may. An unknown role, on either
// side, never qualifies: a typo must not grant anything.
func (r Role) AtLeast(min Role) bool {
	have, ok1 := roleRank[r]
	need, ok2 := roleRank[min]
	return ok1 && ok2 && have >= need
}

// MarshalGQL writes the enum name for gqlgen.
func (r Role) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(r)))
}

// UnmarshalGQL reads the enum name for gqlgen.
func (r *Role) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return Errorf(CodeBadUserInput, "role must be a string")
	}
	if !Role(s).Valid() {
		return Errorf(CodeBadUserInput, "%q is not a valid Role", s)
	}
	*r = Role(s)
	return nil
}

// Admin is an operator of the admin API, signing in with a username and
// password. Usernames are unique whatever their case.
type Admin struct {
	bun.BaseModel `bun:"table:admins,alias:a"`

	ID       string `bun:"id,pk,type:uuid"`
	Username string `bun:"username"`
	// PasswordHash is a PHC string, opaque to the store. It is never
	// marshalled to JSON, so an Admin can be logged or served as-is.
	PasswordHash string     `bun:"password_hash" json:"-"`
	Role         Role       `bun:"role"`
	DisabledAt   *time.Time `bun:"disabled_at"`
	CreatedAt    time.Time  `bun:"created_at,nullzero,notnull,default:current_timestamp"`
	UpdatedAt    time.Time  `bun:"updated_at,nullzero,notnull,default:current_timestamp"`
	LastLoginAt  *time.Time `bun:"last_login_at"`
	// MustChangePassword is set when another admin set or generated the
	// password (they know it): its owner must change it before anything
	// else (admin.Service.Require).
	MustChangePassword bool `bun:"must_change_password"`
	// TOTPSecretSealed is the admin's TOTP secret sealed under SECRET_KEY
	// (enabled or an enrolment not yet confirmed); never marshalled, and
	// left out of the session lookups.
	TOTPSecretSealed []byte `bun:"totp_secret_sealed" json:"-"`
	// TOTPEnabledAt is when the admin turned two-step sign-in on; nil: off.
	TOTPEnabledAt *time.Time `bun:"totp_enabled_at"`
	// TOTPLastStep is the time step of the last TOTP code accepted, which
	// no later code may repeat or precede.
	TOTPLastStep *int64 `bun:"totp_last_step" json:"-"`
}

// Disabled reports whether the admin has been disabled.
func (a *Admin) Disabled() bool { return a.DisabledAt != nil }

// TOTPEnabled reports whether signing in takes a TOTP code besides the password.
func (a *Admin) TOTPEnabled() bool { return a.TOTPEnabledAt != nil }

// AdminSession is one signed-in admin. Only the SHA-256 of its bearer token
// is kept, as for users' sessions, and in a table of its own so that a user's
// token can never pass for an admin's.
type AdminSession struct {
	bun.BaseModel `bun:"table:admin_sessions,alias:as"`

	ID         string     `bun:"id,pk,type:uuid"`
	TokenHash  []byte     `bun:"token_hash"`
	AdminID    string     `bun:"admin_id,type:uuid"`
	CreatedAt  time.Time  `bun:"created_at,nullzero,notnull,default:current_timestamp"`
	LastSeenAt time.Time  `bun:"last_seen_at,nullzero,notnull,default:current_timestamp"`
	ExpiresAt  time.Time  `bun:"expires_at"`
	RevokedAt  *time.Time `bun:"revoked_at"`
	IP         *string    `bun:"ip,type:inet"`
	UserAgent  *string    `bun:"user_agent"`

	// Admin is loaded with the session by lookups that join admins.
	Admin *Admin `bun:"rel:belongs-to,join:admin_id=id"`
}
