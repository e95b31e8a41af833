package store

import (
	"context"

	"github.com/uptrace/bun/driver/pgdriver"
)

// Internals the external tests drive directly.
var (
	CheckTLS = checkTLS
	ConnDied = connDied
)

// MigrationLockID lets tests hold the migration lock.
const MigrationLockID = migrationLockID

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
