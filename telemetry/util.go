package telemetry

import (
	"database/sql"
	"errors"
	"strconv"
	"time"
)

func timeSince(t time.Time) time.Duration { return time.Since(t) }

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func itoa(i int) string { return strconv.Itoa(i) }
