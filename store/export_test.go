package store

import (
	"context"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"
)

// Internals the external tests drive directly.
var (
	CheckTLS          = checkTLS
	ConnDied          = connDied
	TrigramSearchable = trigramSearchable
	UserColumns       = listColumns
	MaxNarrowPages    = maxNarrowPages
)

// PageColumnNames are the columns listPlain may read, in its order.
func PageColumnNames() []string {
	names := make([]string, len(pageColumns))
	for i, c := range pageColumns {
		names[i] = c.name
	}
	return names
}

// ConnectorConfig is the pgdriver config Open would connect with.
func ConnectorConfig(dsn string, opts Options) (*pgdriver.Config, error) {
	c, err := newConnector(dsn, opts)
	if err != nil {
		return nil, err
	}
	return c.Config(), nil
}

// LoginRetry is Login's second attempt, run as if the first had died.
func (s *Store) LoginRetry(ctx context.Context, p LoginParams) (*LoginResult, error) {
	return s.loginRetry(ctx, p)
}

// ForgetStatements is what fallsBack does on 0A000/26000 (review repro only).
func (s *Store) ForgetStatements() { s.forgetStatement() }

// SetAfterLookup sets the hook between a statement's lookup and its run;
// nil removes it. Only for tests that are not parallel.
func SetAfterLookup(f func(query string)) { afterLookup = f }

// HoldExport takes the store's data-export turn until release is called,
// and makes another export wait only wait for its turn.
func (s *Store) HoldExport(wait time.Duration) (release func()) {
	s.exportWait = wait
	s.exportSlot <- struct{}{}
	return func() { <-s.exportSlot }
}

// ParsePhoneSearch is parsePhoneSearch's answer as plain values.
func ParsePhoneSearch(s string) (numbers []string, tail string) {
	p := parsePhoneSearch(s)
	return p.numbers, p.tail
}
