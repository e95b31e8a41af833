package models

import (
	"time"

	"github.com/uptrace/bun"
)

// AuditEntry is one line of the audit log: who (ActorKind, e.g. "admin",
// "user", "system", "anonymous"; ActorID and ActorName when known) did what
// (Action, e.g. "admin.login", "user.disable") to what (Target), from where.
//
// Every admin, viewers included, reads the log, so nothing in an entry may be
// secret: never put a password, password hash, token, token hash or session
// key in Detail (or anywhere else here). Session ids are fine; they open nothing.
type AuditEntry struct {
	bun.BaseModel `bun:"table:audit_log,alias:al"`

	// ID is a UUIDv7, so entries sort by the time they were written.
	ID        string    `bun:"id,pk,type:uuid"`
	At        time.Time `bun:"at,nullzero,notnull,default:current_timestamp"`
	ActorKind string    `bun:"actor_kind"`
	ActorID   *string   `bun:"actor_id,type:uuid"`
	// ActorName is the actor's name as it was then, kept because names change.
	ActorName *string `bun:"actor_name"`
	Action    string  `bun:"action"`
	Target    *string `bun:"target"`
	IP        *string `bun:"ip,type:inet"`
	// Detail holds further non-secret facts as a JSON object; nil is stored as {}.
	Detail map[string]any `bun:"detail,type:jsonb,nullzero,notnull,default:'{}'"`

	// Actor and TargetParty are the actor and the target named as the
	// audit log shows them (admin.Service.AuditLog fills them in for a
	// page at a time); not stored.
	Actor       *AuditParty `bun:"-"`
	TargetParty *AuditParty `bun:"-"`
}
