package store

import (
	"context"
	"fmt"
	"time"
)

// PurgeMediaChecks deletes the media_checks rows created before
// olderThan ago and returns how many. A row matters for minutes: until its
// verdict comes (WeChat answers within minutes, and retries a push for
// seconds) or its upload claims an early verdict. The state it led to is
// kept in user_moderation, with its trace_id.
func (s *Store) PurgeMediaChecks(ctx context.Context, olderThan time.Duration) (int64, error) {
	res, err := s.db.NewDelete().Table("media_checks").
		Where("created_at < now() - ?::interval", fmt.Sprintf("%d seconds", int64(olderThan/time.Second))).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: purging media checks: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
