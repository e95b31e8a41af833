// Package store keeps users, identities and sessions in PostgreSQL through
// Bun. Every multi-row change runs in one transaction; schema changes are the
// embedded SQL migrations in migrations/.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrNotFound is returned when a looked-up row does not exist or no longer counts.
var ErrNotFound = errors.New("store: not found")

// Options size the connection pool.
type Options struct {
	// MaxConns caps open connections; idle ones are kept up to the same number,
	// so a busy server never closes and re-authenticates (SCRAM) connections
	// it will need again a millisecond later. Default 20.
	MaxConns int
	// ApplicationName shows in pg_stat_activity.
	ApplicationName string
}

// Store is the database handle. It is safe for concurrent use.
type Store struct {
	db *bun.DB
}

// Open connects to dsn (a postgres:// URL), sizes the pool and pings.
// It refuses an sslmode that would use TLS without checking the server's
// certificate on a non-loopback host: pgdriver's default does exactly that.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	dsn, err := checkTLS(dsn)
	if err != nil {
		return nil, err
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 20
	}
	connOpts := []pgdriver.Option{pgdriver.WithDSN(dsn), pgdriver.WithTimeout(15 * time.Second)}
	if opts.ApplicationName != "" {
		connOpts = append(connOpts, pgdriver.WithApplicationName(opts.ApplicationName))
	}
	sqldb := sql.OpenDB(pgdriver.NewConnector(connOpts...))
	sqldb.SetMaxOpenConns(opts.MaxConns)
	sqldb.SetMaxIdleConns(opts.MaxConns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	sqldb.SetConnMaxLifetime(time.Hour)
	db := bun.NewDB(sqldb, pgdialect.New())
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: connecting to %s: %w", redactDSN(dsn), err)
	}
	return &Store{db: db}, nil
}

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// DB exposes the Bun handle, for tests and ad-hoc operator queries.
func (s *Store) DB() *bun.DB { return s.db }

// Ping checks that the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// migrationLockID is the pg_advisory_lock key that serializes migrations
// across instances. An advisory lock dies with its connection, so a crashed
// migrator cannot leave the lock held (Bun's table lock would).
const migrationLockID = 7_263_540_912

// Migrate applies pending migrations and returns their names. It is
// idempotent and safe to run from several instances at once.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(migrationFiles); err != nil {
		return nil, fmt.Errorf("store: loading migrations: %w", err)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", migrationLockID); err != nil {
		return nil, fmt.Errorf("store: migrate: taking the lock: %w", err)
	}
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", migrationLockID)
	}()
	m := migrate.NewMigrator(s.db, ms, migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("store: migrate: init: %w", err)
	}
	group, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	var names []string
	for _, mg := range group.Migrations {
		names = append(names, mg.Name)
	}
	return names, nil
}

// openAdmin connects to the "postgres" database of dsn's server and returns
// it with the database name dsn names.
func openAdmin(ctx context.Context, dsn string) (*Store, string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, "", fmt.Errorf("store: DATABASE_URL is not a URL")
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return nil, "", fmt.Errorf("store: DATABASE_URL names no database")
	}
	admin := *u
	admin.Path = "/postgres"
	st, err := Open(ctx, admin.String(), Options{MaxConns: 1})
	if err != nil {
		return nil, "", err
	}
	return st, name, nil
}

// DropDatabase drops the database named in dsn, closing its connections.
func DropDatabase(ctx context.Context, dsn string) error {
	st, name, err := openAdmin(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.db.ExecContext(ctx, "DROP DATABASE IF EXISTS ? WITH (FORCE)", bun.Ident(name)); err != nil {
		return fmt.Errorf("store: dropping database %q: %w", name, err)
	}
	return nil
}

// CreateDatabase creates the database named in dsn unless it exists,
// connecting to the server's "postgres" database to do so.
func CreateDatabase(ctx context.Context, dsn string) (created bool, err error) {
	st, name, err := openAdmin(ctx, dsn)
	if err != nil {
		return false, err
	}
	defer st.Close()
	exists, err := st.db.NewSelect().TableExpr("pg_database").Where("datname = ?", name).Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("store: looking for database %q: %w", name, err)
	}
	if exists {
		return false, nil
	}
	if _, err := st.db.ExecContext(ctx, "CREATE DATABASE ?", bun.Ident(name)); err != nil {
		var pgErr pgdriver.Error
		if errors.As(err, &pgErr) && pgErr.Field('C') == "42P04" { // created meanwhile
			return false, nil
		}
		return false, fmt.Errorf("store: creating database %q: %w", name, err)
	}
	return true, nil
}

// redactDSN drops the password from dsn for error messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "DATABASE_URL"
	}
	return u.Redacted()
}
