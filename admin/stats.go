package admin

import (
	"context"
	"errors"
	"net"
	"time"

	"wxlogin/models"
	"wxlogin/store"
)

// MaxStatsDays bounds the days a statistic looks back: a year and a day.
const MaxStatsDays = 366

// checkDays refuses a look-back outside 1..MaxStatsDays.
func checkDays(days int) error {
	if days < 1 || days > MaxStatsDays {
		return models.Errorf(models.CodeBadUserInput, "days must be from 1 to %d", MaxStatsDays)
	}
	return nil
}

// since is the start of the first of the last days days, today included,
// in the statistics' zone: newUsers(7) and activeUsers(7) count the same
// seven calendar days as loginsPerDay(7)'s bars, not the last 168 hours,
// so that the overview's figures agree with its chart.
func (s *Service) since(days int) time.Time {
	starts, _ := store.ZoneDays(s.now(), days, s.statsZone)
	return starts[0]
}

// StatsZone is the zone whose days the statistics count, for the page to show.
func (s *Service) StatsZone() *time.Location { return s.statsZone }

// internal turns a store error into the client's: QUERY_TIMEOUT when the
// admin pool's statement timeout stopped the query, or when the request's
// deadline passed while it waited for one of the pool's connections (a
// context error) or for a statement's answer (pgdriver's socket deadline is
// the context's): both say "too costly or too busy", which the caller can
// act on. Anything else is INTERNAL.
func internal(err error) error {
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.As(err, &opErr) && opErr.Op == "dial":
		// The database did not answer a connection attempt: an outage,
		// not load, and it must reach the log as one.
		return models.WrapError(err, models.CodeInternal, "internal error")
	case store.IsStatementTimeout(err):
		return models.WrapError(err, models.CodeQueryTimeout, "this took too long and was stopped; narrow it and try again")
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return models.WrapError(err, models.CodeQueryTimeout, "the server is busy with other admin requests; try again in a moment")
	}
	return models.WrapError(err, models.CodeInternal, "internal error")
}

// TotalUsers counts every user.
func (s *Service) TotalUsers(ctx context.Context) (int, error) {
	n, err := s.store.CountUsers(ctx, time.Time{})
	if err != nil {
		return 0, internal(err)
	}
	return n, nil
}

// NewUsers counts users created in the last days days of the statistics'
// zone, today included.
func (s *Service) NewUsers(ctx context.Context, days int) (int, error) {
	if err := checkDays(days); err != nil {
		return 0, err
	}
	n, err := s.store.CountUsers(ctx, s.since(days))
	if err != nil {
		return 0, internal(err)
	}
	return n, nil
}

// ActiveUsers counts users who logged in during the last days days of the
// statistics' zone, today included.
func (s *Service) ActiveUsers(ctx context.Context, days int) (int, error) {
	if err := checkDays(days); err != nil {
		return 0, err
	}
	n, err := s.store.CountActiveUsers(ctx, s.since(days))
	if err != nil {
		return 0, internal(err)
	}
	return n, nil
}

// LoginsPerDay counts logins on each of the last days days of the
// statistics' zone, today included, oldest first.
func (s *Service) LoginsPerDay(ctx context.Context, days int) ([]models.DayCount, error) {
	if err := checkDays(days); err != nil {
		return nil, err
	}
	out, err := s.store.LoginsPerDay(ctx, s.now(), days, s.statsZone)
	if err != nil {
		return nil, internal(err)
	}
	return out, nil
}
