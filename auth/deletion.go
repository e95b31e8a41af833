package auth

import (
	"context"
	"time"

	"wxlogin/models"
)

// Deletion is the answer to deleteAccount: when the account is erased.
type Deletion struct {
	// ErasesAt is when the erasure job erases the account, or when it was
	// erased (a grace of 0).
	ErasesAt time.Time
	// Erased reports that the account is already erased.
	Erased bool
}

// DeleteAccount revokes every session of the caller and schedules the
// account's erasure (注销账号).
func (s *Service) DeleteAccount(ctx context.Context, c *Caller, ip string) (*Deletion, error) {
	return nil, models.Errorf(models.CodeInternal, "not built yet")
}
