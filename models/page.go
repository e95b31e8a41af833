package models

import "time"

// Page is one page of a list read by keyset pagination (users, the audit
// log): what the store returns and the API shapes into a Relay connection.
type Page[T any] struct {
	Items []T
	// Cursors[i] is the encoded position of Items[i], to pass back as an
	// after or before cursor.
	Cursors []string
	// HasNextPage tells whether an item follows the last one on this page;
	// HasPreviousPage whether one precedes the first. Paging forward from a
	// cursor, a previous page is assumed (the cursor's item was on it), as
	// is a next page paging backward from one: Relay allows that shortcut,
	// and it saves a query.
	HasNextPage, HasPreviousPage bool
	// TotalCount is every item matching the filters, regardless of the
	// cursor; computed only when asked for (zero otherwise).
	TotalCount int
}

// DayCount is a number of events on one day of the statistics' time zone
// (STATS_TIME_ZONE).
type DayCount struct {
	// Date is the day's start: midnight in that zone, its Location.
	Date  time.Time
	Count int
}

// Day is the day as YYYY-MM-DD in Date's zone, as the API shows it (DayCount.day).
func (d DayCount) Day() string { return d.Date.Format(time.DateOnly) }
