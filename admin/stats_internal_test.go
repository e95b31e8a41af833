package admin

import (
	"testing"
	"time"
)

// TestSince_ZoneMidnight: newUsers(days) and activeUsers(days) count from
// midnight in the statistics' zone, days-1 days before today there; at
// 2026-12-06T17:30Z it is already the 7th in Shanghai.
func TestSince_ZoneMidnight(t *testing.T) {
	t.Parallel()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 17, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		zone *time.Location
		days int
		want time.Time
	}{
		{shanghai, 1, time.Date(2026, 12, 6, 16, 0, 0, 0, time.UTC)}, // 7 Dec 00:00 Shanghai
		{shanghai, 7, time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)},
		{nil, 1, time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}, // no zone: UTC days
	} {
		s := NewService(nil, Config{StatsZone: c.zone})
		s.now = func() time.Time { return now }
		if got := s.since(c.days); !got.Equal(c.want) {
			t.Errorf("%v, %d days: since %v, want %v", c.zone, c.days, got.UTC(), c.want)
		}
	}
}
