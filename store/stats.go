package store

import (
	"context"
	"fmt"
	"time"

	"wxlogin/models"
)

// CountUsers counts users created at or after since (all users when since
// is zero), erased ones (tombstones) left out.
func (s *Store) CountUsers(ctx context.Context, since time.Time) (int, error) {
	q := s.db.NewSelect().TableExpr("users").Where("deleted_at IS NULL")
	if !since.IsZero() {
		q = q.Where("created_at >= ?", since)
	}
	n, err := q.Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: counting users: %w", err)
	}
	return int(n), nil
}

// CountActiveUsers counts users who logged in at or after since. It compares
// the expression users_last_login_at_id_idx is built on, so that the index
// serves it; on the bare column it would scan every user. An erased user
// has no login time, and so is never counted.
func (s *Store) CountActiveUsers(ctx context.Context, since time.Time) (int, error) {
	n, err := s.db.NewSelect().TableExpr("users").Where("COALESCE(last_login_at, '-infinity'::timestamptz) >= ?", since).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: counting active users: %w", err)
	}
	return int(n), nil
}

// LoginsPerDay counts user logins (from the audit log) on each of the last
// days UTC days, today included, oldest first, with zeros for quiet days.
func (s *Store) LoginsPerDay(ctx context.Context, days int) ([]models.DayCount, error) {
	var rows []struct {
		Day   time.Time `bun:"day"`
		Count int       `bun:"count"`
	}
	err := s.db.NewRaw(`
		WITH d AS (
			SELECT generate_series(
				date_trunc('day', now() AT TIME ZONE 'UTC') - (? - 1) * interval '1 day',
				date_trunc('day', now() AT TIME ZONE 'UTC'),
				interval '1 day') AS day
		), l AS (
			SELECT date_trunc('day', at AT TIME ZONE 'UTC') AS day, count(*) AS count
			FROM audit_log
			WHERE action = 'user.login'
			  AND at >= (date_trunc('day', now() AT TIME ZONE 'UTC') - (? - 1) * interval '1 day') AT TIME ZONE 'UTC'
			GROUP BY 1
		)
		SELECT d.day AT TIME ZONE 'UTC' AS day, COALESCE(l.count, 0) AS count
		FROM d LEFT JOIN l USING (day)
		ORDER BY d.day`, days, days).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("store: counting logins per day: %w", err)
	}
	out := make([]models.DayCount, len(rows))
	for i, r := range rows {
		out[i] = models.DayCount{Date: r.Day.UTC(), Count: r.Count}
	}
	return out, nil
}
