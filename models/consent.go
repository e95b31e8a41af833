package models

import (
	"time"

	"github.com/uptrace/bun"
)

// Consent is one acceptance of the privacy policy and terms of a version
// (POLICY_VERSION): append-only, so that what a user agreed to, and when,
// stays provable.
type Consent struct {
	bun.BaseModel `bun:"table:consents,alias:c"`

	ID         string    `bun:"id,pk,type:uuid"`
	UserID     string    `bun:"user_id,type:uuid"`
	Version    string    `bun:"version"`
	AcceptedAt time.Time `bun:"accepted_at,nullzero,notnull,default:current_timestamp"`
	IP         *string   `bun:"ip,type:inet"`
}
