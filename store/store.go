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
	"maps"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
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

// ErrBusy means a data export waited its turn (see UserData) and did not
// get it: the caller should try again shortly.
var ErrBusy = errors.New("store: busy with another data export")

// IsStatementTimeout reports whether err is PostgreSQL cancelling a
// statement that ran past the connection's statement_timeout (SQLSTATE
// 57014): the query was too costly, not broken, and the caller can say so.
// pgdriver never sends a cancel request, so 57014 is the timeout (or an
// operator's pg_cancel_backend, which the same answer fits).
func IsStatementTimeout(err error) bool {
	var pgErr pgdriver.Error
	return errors.As(err, &pgErr) && pgErr.Field('C') == "57014"
}

// Defaults and fixed client-side limits of a connection.
const (
	defaultMaxConns         = 20
	defaultStatementTimeout = 10 * time.Second
	defaultIdleInTxTimeout  = 30 * time.Second
	// dialTimeout bounds connecting (TCP and TLS); a connect_timeout in the
	// DSN overrides it.
	dialTimeout = 5 * time.Second
	// readTimeoutMargin is how much longer than the statement timeout the
	// client waits for an answer. The server's statement_timeout fires
	// first and says so (57014); the client's read deadline only catches a
	// server that vanished without closing the connection.
	readTimeoutMargin = 5 * time.Second
)

// Options size the connection pool and limit its sessions.
type Options struct {
	// MaxConns caps open connections; idle ones are kept up to the same number,
	// so a busy server never closes and re-authenticates (SCRAM) connections
	// it will need again a millisecond later. Default 20.
	MaxConns int
	// ApplicationName shows in pg_stat_activity.
	ApplicationName string
	// StatementTimeout is the server-side statement_timeout of every
	// connection: the server cancels a longer statement itself (SQLSTATE
	// 57014), so its work stops too. Default (zero) 10s; negative means no
	// limit. Migrations run under it as well: open the store that migrates
	// with a longer one.
	StatementTimeout time.Duration
	// IdleInTxTimeout is the server-side idle_in_transaction_session_timeout:
	// a session that sits in an open transaction longer is closed, releasing
	// its locks. Default (zero) 30s; negative means no limit.
	IdleInTxTimeout time.Duration
	// NoPrepare keeps the store from preparing statements (DB_PREPARE=off),
	// for a pooler that cannot keep them, such as PgBouncer in transaction
	// mode without max_prepared_statements. Prepared, a returning user's
	// login is parsed and planned once per connection instead of every time.
	NoPrepare bool
	// Serial keeps PostgreSQL from adding parallel workers to this pool's
	// queries (max_parallel_workers_per_gather = 0). A pool's size bounds
	// its connections, not its CPU: four admin connections counting a
	// million users could bring several more busy workers with them, and
	// take the CPU the users' requests need.
	Serial bool
}

// Store is the database handle. It is safe for concurrent use.
type Store struct {
	db *bun.DB
	// connector holds db's connection settings, for Migrate's own pool.
	connector *pgdriver.Connector
	maxConns  int

	// hooks are AddQueryHook's, for statements that bypass bun's builders.
	hooks     queryHooks
	noPrepare bool
	// stmts are the store's own statements, by their text, prepared on
	// first use (see prepared); prepMu serializes adding one.
	stmts  atomic.Pointer[map[string]*sql.Stmt]
	prepMu sync.Mutex

	// trgmWide is what the database said when asked whether pg_trgm takes
	// non-ASCII letters for word characters (see probeTrigram): 0 not yet
	// known, trgmWideYes, or trgmWideNo.
	trgmWide atomic.Int32

	// narrowPages holds the statements of the column sets listPlain
	// admitted, at most maxNarrowPages: a set, not a count of attempts,
	// so that pages failing to prepare their statement (an outage) do not
	// use the bound up.
	narrowMu    sync.Mutex
	narrowPages map[string]bool

	// exportSlot lets one data export (UserData) run at a time on this
	// store; exportWait bounds how long another waits for it.
	exportSlot chan struct{}
	exportWait time.Duration
}

// Open connects to dsn (a postgres:// URL), sizes the pool and pings.
// It refuses an sslmode that would use TLS without checking the server's
// certificate on a non-loopback host: pgdriver's default does exactly that.
//
// Contexts: pgdriver turns a ctx deadline into a socket deadline, so the
// call returns at the deadline, but it drops the connection and sends no
// cancel request, so the statement goes on running on the server; a ctx
// cancelled without a deadline is not noticed until the statement ends.
// The server-side StatementTimeout is what bounds both.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = defaultMaxConns
	}
	connector, err := newConnector(dsn, opts)
	if err != nil {
		return nil, err
	}
	sqldb := sql.OpenDB(connector)
	sqldb.SetMaxOpenConns(opts.MaxConns)
	sqldb.SetMaxIdleConns(opts.MaxConns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	sqldb.SetConnMaxLifetime(time.Hour)
	db := bun.NewDB(sqldb, pgdialect.New())
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: connecting to %s: %w", redactDSN(dsn), err)
	}
	s := &Store{db: db, connector: connector, maxConns: opts.MaxConns, noPrepare: opts.NoPrepare,
		exportSlot: make(chan struct{}, 1), exportWait: exportWait}
	s.probeTrigram(ctx)
	return s, nil
}

// sessionParams are the server settings Options own; a DSN setting them
// too would leave two places to look.
var sessionParams = []string{"statement_timeout", "idle_in_transaction_session_timeout", "max_parallel_workers_per_gather"}

// newConnector checks dsn and builds the pgdriver connector for opts.
//
// pgdriver sends unknown DSN query parameters as session settings (SET
// after startup), and WithConnParams replaces that map wholesale, so the
// timeouts are merged into the parsed config instead. Its own default read
// timeout (10s) would cut any statement the server still allows, so the read
// deadline is derived from the statement timeout.
func newConnector(dsn string, opts Options) (c *pgdriver.Connector, err error) {
	dsn, err = checkTLS(dsn)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: DATABASE_URL is not a URL")
	}
	for _, p := range sessionParams {
		if u.Query().Has(p) {
			return nil, fmt.Errorf("store: DATABASE_URL sets %s; the server sets it itself (from its statement and idle-in-transaction timeout settings, and serially for the admin pool)", p)
		}
	}
	stmt := serverTimeout(opts.StatementTimeout, defaultStatementTimeout)
	idle := serverTimeout(opts.IdleInTxTimeout, defaultIdleInTxTimeout)
	var readTimeout time.Duration // none: the server never gives up on a statement either
	if stmt > 0 {
		readTimeout = stmt + readTimeoutMargin
	}

	// WithDSN panics on what it cannot parse (bad sslmode, unreadable
	// sslrootcert); none of those messages carries the password.
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("store: DATABASE_URL: %v", r)
		}
	}()
	c = pgdriver.NewConnector(
		pgdriver.WithDialTimeout(dialTimeout),
		pgdriver.WithDSN(dsn),
		pgdriver.WithReadTimeout(readTimeout),
	)
	conf := c.Config()
	if opts.ApplicationName != "" {
		conf.AppName = opts.ApplicationName
	}
	params := make(map[string]any, len(conf.ConnParams)+2)
	maps.Copy(params, conf.ConnParams)
	params["statement_timeout"] = stmt.Milliseconds()
	params["idle_in_transaction_session_timeout"] = idle.Milliseconds()
	if opts.Serial {
		params["max_parallel_workers_per_gather"] = "0"
	}
	conf.ConnParams = params

	// verify-full takes its ServerName from the URL host only; with the
	// host from PGHOST or ?host= it would be empty and every handshake fail.
	if tc := conf.TLSConfig; tc != nil && !tc.InsecureSkipVerify && tc.ServerName == "" && conf.Network == "tcp" {
		tc.ServerName = hostOf(conf.Addr)
	}
	return c, nil
}

// serverTimeout turns an Options timeout into the server's: zero is def,
// negative is 0 (no limit), and anything under a millisecond is rounded up
// so that it does not become "no limit".
func serverTimeout(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return ((d + time.Millisecond - 1) / time.Millisecond) * time.Millisecond
}

// Close closes the pool.
func (s *Store) Close() error {
	if m := s.stmts.Swap(nil); m != nil {
		closeAll(*m)
	}
	return s.db.Close()
}

// DB exposes the Bun handle, for tests and ad-hoc operator queries.
func (s *Store) DB() *bun.DB { return s.db }

// Ping checks that the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// migrationLockID is the pg_advisory_lock key that serializes migrations
// across instances. An advisory lock dies with its connection, so a crashed
// migrator cannot leave the lock held (Bun's table lock would).
const migrationLockID = 7_263_540_912

// MigrationLockID is migrationLockID, for tests that hold the lock
// (store/storetest.HoldMigrationLock) to see a start-up wait for it.
const MigrationLockID = migrationLockID

// lockPollInterval is how often Migrate asks again for the migration lock
// while another instance holds it.
const lockPollInterval = 200 * time.Millisecond

// Migrate applies pending migrations and returns their names. It is
// idempotent and safe to run from several instances at once: they take turns
// through an advisory lock. If ctx ends while another instance holds the
// lock, Migrate gives up and says so.
//
// It runs on a small pool of its own, whatever MaxConns is: the lock holds
// one connection for the whole run while the migrator needs another (with
// MaxConns 1 they used to wait for each other forever), and a session
// setting a migration makes dies with that pool instead of lingering on a
// connection the server later uses.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(migrationFiles); err != nil {
		return nil, fmt.Errorf("store: loading migrations: %w", err)
	}
	// Same settings, but no client read deadline: a migration that lifts
	// statement_timeout for a long index build must not be cut by the client.
	conf := *s.connector.Config()
	conf.ReadTimeout = 0
	sqldb := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithConfig(&conf)))
	// The lock's connection and the migrator's, plus one spare so that a
	// migrator that ever overlaps two connections cannot deadlock here.
	sqldb.SetMaxOpenConns(3)
	db := bun.NewDB(sqldb, pgdialect.New())
	defer db.Close()

	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	defer conn.Close()
	if err := waitForMigrationLock(ctx, conn); err != nil {
		return nil, err
	}
	defer func() {
		// Closing the pool would release it too, but only once the server
		// notices; unlocking lets a waiting instance in at once.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(uctx, "SELECT pg_advisory_unlock(?)", migrationLockID)
	}()

	m := migrate.NewMigrator(db, ms, migrate.WithMarkAppliedOnSuccess(true))
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
	s.probeTrigram(ctx) // pg_trgm may have come with these migrations
	return names, nil
}

// waitForMigrationLock takes the migration lock on conn, polling with
// pg_try_advisory_lock rather than blocking in pg_advisory_lock: pgdriver
// only notices a context's deadline, never its cancellation, and a blocked
// lock call would also count against statement_timeout.
func waitForMigrationLock(ctx context.Context, conn bun.Conn) error {
	for {
		var ok bool
		err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(?)", migrationLockID).Scan(&ok)
		// pgdriver's socket deadline is ctx's and may fire a moment before
		// ctx says it is done: a timeout at the deadline is ctx's ending.
		if dl, hasDL := ctx.Deadline(); err != nil && ctx.Err() == nil && !(hasDL && !time.Now().Before(dl)) {
			return fmt.Errorf("store: migrate: taking the migration lock: %w", err)
		}
		if ok {
			return nil
		}
		t := time.NewTimer(lockPollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("store: migrate: gave up waiting for the migration lock, held by another instance: %w", ctx.Err())
		case <-t.C:
		}
	}
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
