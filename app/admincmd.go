package app

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"wxlogin/admin"
	"wxlogin/models"
	"wxlogin/store"
)

const adminUsage = `usage:
  wxlogin admin create <username> [-role admin|viewer]   password on standard input (one line, at least 12 characters)
  wxlogin admin list
  wxlogin admin passwd <username>                         new password on standard input; ends the admin's sessions
  wxlogin admin disable <username>                        ends the admin's sessions
  wxlogin admin enable <username>
  wxlogin admin seed -users N [-appid wx…]                fills the database with N users whose data holds together (load tests; never in production)
DATABASE_URL names the database (or -database-url).`

// UsageError is a command line that cannot be run; main exits 2 for it.
type UsageError struct {
	msg string
	// usage is the text of the command that was misused, printed after msg.
	usage string
}

// Error is the message and the usage text.
func (e UsageError) Error() string { return e.msg + "\n" + e.usage }

// adminUsageError is a misused `wxlogin admin` command line.
func adminUsageError(msg string) UsageError { return UsageError{msg: msg, usage: adminUsage} }

// adminCmd runs `wxlogin admin …`, the operators' account management.
func adminCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintln(stdout, adminUsage)
		if len(args) == 0 {
			return adminUsageError("wxlogin admin: name a subcommand")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("wxlogin admin "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := fs.String("database-url", "", "PostgreSQL URL (`DATABASE_URL`)")
	role := fs.String("role", "admin", "admin or viewer")
	users := fs.Int("users", 0, "how many users seed makes")
	appID := fs.String("appid", DevAppID, "the appid of the seeded identities")
	// Flags may stand before or after the username.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return adminUsageError(fmt.Sprintf("wxlogin admin %s: %v", sub, err))
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	wantArgs := map[string]int{"create": 1, "list": 0, "passwd": 1, "disable": 1, "enable": 1, "seed": 0}
	n, known := wantArgs[sub]
	if !known {
		return adminUsageError(fmt.Sprintf("wxlogin admin: unknown subcommand %q", sub))
	}
	if len(positional) != n {
		return adminUsageError(fmt.Sprintf("wxlogin admin %s: want %d argument(s), got %d", sub, n, len(positional)))
	}
	r := models.Role(strings.ToUpper(*role))
	if !r.Valid() {
		return adminUsageError(fmt.Sprintf("wxlogin admin %s: -role must be admin or viewer", sub))
	}
	if *dsn == "" {
		*dsn = getenv("DATABASE_URL")
	}
	if *dsn == "" {
		return errors.New("DATABASE_URL is required")
	}

	// Read the password before connecting, so a missing one costs nothing.
	var password string
	var err error
	if sub == "create" || sub == "passwd" {
		if password, err = readPassword(stdin); err != nil {
			return err
		}
		if err := admin.CheckPasswordStrength(password); err != nil {
			return err
		}
	}
	if sub == "seed" && (*users < 1 || *users > 10_000_000) {
		return adminUsageError("wxlogin admin seed: -users must be from 1 to 10000000")
	}
	timeout := time.Minute
	if sub == "seed" {
		timeout = time.Hour
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	opts := store.Options{MaxConns: 2, ApplicationName: "wxlogin admin"}
	if sub == "seed" {
		// A COPY's foreign-key checks, and the commit's deferred ones, run
		// after its last row: minutes at a million users, with nothing read
		// meanwhile. The hour's context bounds the seed instead.
		opts.StatementTimeout, opts.IdleInTxTimeout = -1, -1
	}
	st, err := store.Open(ctx, *dsn, opts)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	svc := admin.NewService(st, admin.Config{})
	switch sub {
	case "create":
		a, err := svc.Create(ctx, positional[0], password, r)
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "created admin %s (role %s)\n", a.Username, strings.ToLower(string(a.Role)))
	case "list":
		admins, err := svc.List(ctx)
		if err != nil {
			return cliError(err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tROLE\tSTATUS\tCREATED\tLAST LOGIN")
		for _, a := range admins {
			status, last := "enabled", "never"
			if a.DisabledAt != nil {
				status = "disabled"
			}
			if a.LastLoginAt != nil {
				last = a.LastLoginAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Username, strings.ToLower(string(a.Role)), status, a.CreatedAt.UTC().Format(time.RFC3339), last)
		}
		return tw.Flush()
	case "passwd":
		if err := svc.SetPassword(ctx, positional[0], password); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "changed the password of %s; their sessions are ended\n", positional[0])
	case "seed":
		start := time.Now()
		if err := st.SeedWith(ctx, store.SeedOptions{Users: *users, AppID: *appID, Progress: stdout}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seeded %d users in %v\n", *users, time.Since(start).Round(time.Millisecond))
	case "disable", "enable":
		if err := svc.SetDisabled(ctx, positional[0], sub == "disable"); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "%sd admin %s\n", sub, positional[0])
	}
	return nil
}

// readPassword reads one line from stdin, without its line ending.
func readPassword(stdin io.Reader) (string, error) {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, admin.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("give the password as one line on standard input, e.g. printf '%s\\n' \"$PASSWORD\" | wxlogin admin …")
	}
	return line, nil
}

// cliError shows a client-safe error as the one line a shell user reads.
func cliError(err error) error {
	if models.ErrorCode(err) == models.CodeInternal {
		var e *models.Error
		if errors.As(err, &e) && e.Cause != nil {
			return e.Cause
		}
	}
	return errors.New(models.ErrorMessage(err))
}
