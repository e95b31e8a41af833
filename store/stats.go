package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun/dialect/pgdialect"

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

// ZoneDays returns the starts of the days days that end with now's day in
// loc, oldest first, and the start of the day after them: the days the
// statistics count (STATS_TIME_ZONE's). Dates are stepped in loc rather
// than by 24 hours, so that a day across a daylight-saving change is still
// one day.
func ZoneDays(now time.Time, days int, loc *time.Location) (starts []time.Time, end time.Time) {
	y, m, d := now.In(loc).Date()
	starts = make([]time.Time, days)
	for i := range starts {
		starts[i] = time.Date(y, m, d-(days-1-i), 0, 0, 0, 0, loc)
	}
	return starts, time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

// LoginsPerDay counts user logins (from the audit log) on each of the days
// days that end with now's day in loc, oldest first, with zeros for quiet
// days. The day bounds are computed here, not by PostgreSQL's AT TIME ZONE,
// so that the zone is the one the server validated at start, whatever
// zone names the database's own tz data knows.
func (s *Store) LoginsPerDay(ctx context.Context, now time.Time, days int, loc *time.Location) ([]models.DayCount, error) {
	starts, end := ZoneDays(now, days, loc)
	var rows []struct {
		Bucket int `bun:"bucket"`
		Count  int `bun:"count"`
	}
	// width_bucket numbers the day an instant falls in: 1 for starts[0]'s.
	err := s.db.NewRaw(`
		SELECT width_bucket(at, ?::timestamptz[]) AS bucket, count(*) AS count
		FROM audit_log
		WHERE action = 'user.login' AND at >= ? AND at < ?
		GROUP BY 1`, pgdialect.Array(starts), starts[0], end).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("store: counting logins per day: %w", err)
	}
	out := make([]models.DayCount, days)
	for i, t := range starts {
		out[i].Date = t
	}
	for _, r := range rows {
		if r.Bucket >= 1 && r.Bucket <= days {
			out[r.Bucket-1].Count = r.Count
		}
	}
	return out, nil
}
