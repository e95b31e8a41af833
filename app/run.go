package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"wxlogin/store"
)

// usage lists the commands, for `wxlogin help` and an unknown command.
const usage = "usage: wxlogin [serve|migrate|admin|rekey] [flags]; wxlogin serve -h lists the settings, wxlogin admin -h the account commands, wxlogin rekey -h the SECRET_KEY rotation"

// Run is the program: it dispatches the subcommand in args (serve when none)
// and returns when it is done, or when ctx ends a serve. A UsageError or
// flag.ErrHelp is a misused command line (main exits 2), any other error a
// failure.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, args, getenv, stdout, stderr)
	case "admin":
		return adminCmd(ctx, args, getenv, stdin, stdout, stderr)
	case "rekey":
		return rekeyCmd(ctx, args, getenv, stdout, stderr)
	case "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return UsageError{msg: fmt.Sprintf("wxlogin: unknown command %q (want serve, migrate, admin or rekey)", cmd), usage: usage}
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig("wxlogin serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	m := &Main{Config: cfg, Log: newLogger(cfg, stderr), Getenv: getenv}
	if err := m.Open(ctx); err != nil {
		return err
	}
	m.printBanner(stdout)
	errc := make(chan error, 1)
	go func() { errc <- m.Serve() }()
	select {
	case err := <-errc:
		_ = m.Close(context.Background())
		return err
	case <-ctx.Done():
	}
	if d := m.Config.ShutdownDelay; d > 0 {
		// Lame duck: still serving, but no longer ready, until the load
		// balancer has seen it; closing idle connections at once would
		// race requests it is sending on them.
		m.draining.Store(true)
		m.Log.Info("draining: /readyz answers 503 before the shutdown", "delay", d)
		time.Sleep(d)
	}
	timeout := m.Config.ShutdownTimeout
	m.Log.Info("shutting down", "timeout", timeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := m.Close(shutdownCtx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("requests still in flight after SHUTDOWN_TIMEOUT (%v) were cut off", timeout)
		}
		return err
	}
	return nil
}

// AdminAppName is the application_name the admin pool's connections show
// in pg_stat_activity, to tell them apart from users'.
const AdminAppName = "wxlogin admin API"

func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wxlogin migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	createDB := fs.Bool("create-db", false, "create the database named in DATABASE_URL first, if it does not exist")
	// No default from the environment: usage text must not print a password.
	dsn := fs.String("database-url", "", "PostgreSQL URL (`DATABASE_URL`)")
	stmtTimeout := fs.Duration("statement-timeout", 10*time.Minute, "PostgreSQL statement_timeout for the migrations")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *dsn == "" {
		*dsn = getenv("DATABASE_URL")
	}
	if *dsn == "" {
		return errors.New("DATABASE_URL is required")
	}
	if *createDB {
		created, err := store.CreateDatabase(ctx, *dsn)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintln(stdout, "created the database")
		}
	}
	st, err := store.Open(ctx, *dsn, store.Options{MaxConns: 2, ApplicationName: "wxlogin migrate", StatementTimeout: *stmtTimeout})
	if err != nil {
		return err
	}
	defer st.Close()
	names, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migration(s)\n", len(names))
	for _, n := range names {
		fmt.Fprintln(stdout, "  "+n)
	}
	return nil
}
