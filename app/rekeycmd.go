package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"wxlogin/auth"
	"wxlogin/store"
)

const rekeyUsage = `usage: wxlogin rekey [-batch N] [-dry-run]

Re-seals every stored session_key, WeChat access token and admin TOTP
secret that is not yet under SECRET_KEY, opening it with SECRET_KEY or a key in SECRET_KEY_PREVIOUS,
so that SECRET_KEY_PREVIOUS can then be dropped with nobody logged out.
Safe while servers serve, and to run again. Values that open under no key
given are counted and left as they are.
DATABASE_URL, SECRET_KEY and SECRET_KEY_PREVIOUS name the database and the
keys (or the flags below).`

// rekeyProgressEvery spaces the progress lines of a long rekey.
const rekeyProgressEvery = 2 * time.Second

// rekeyCmd runs `wxlogin rekey`: the middle step of a SECRET_KEY rotation
// (docs/operations.md, Rotating SECRET_KEY).
func rekeyCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wxlogin rekey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, rekeyUsage)
		fs.PrintDefaults()
	}
	// No defaults from the environment: usage text must not print a secret.
	dsn := fs.String("database-url", "", "PostgreSQL URL (`DATABASE_URL`)")
	secretKey := fs.String("secret-key", "", "the current key, which everything is sealed under (`SECRET_KEY`)")
	previous := fs.String("secret-key-previous", "", "old keys, comma-separated, that open what is not yet under the current one (`SECRET_KEY_PREVIOUS`)")
	batch := fs.Int("batch", auth.DefaultRekeyBatch, "values re-sealed per statement")
	dryRun := fs.Bool("dry-run", false, "only count the values under an old key or format")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, v := range []struct {
		value *string
		env   string
	}{{dsn, "DATABASE_URL"}, {secretKey, "SECRET_KEY"}, {previous, "SECRET_KEY_PREVIOUS"}} {
		if *v.value == "" {
			*v.value = getenv(v.env)
		}
	}
	switch {
	case *dsn == "":
		return errors.New("DATABASE_URL is required")
	case *secretKey == "":
		return errors.New("SECRET_KEY is required: the key everything is to be sealed under")
	case *batch < 1 || *batch > 10_000:
		return errors.New("-batch must be from 1 to 10000")
	}
	key, err := auth.ParseSecretKey(*secretKey)
	if err != nil {
		return err
	}
	prev, err := auth.ParsePreviousSecretKeys(*previous)
	if err != nil {
		return err
	}

	// Counting reads whole tables: give statements minutes, not seconds.
	st, err := store.Open(ctx, *dsn, store.Options{MaxConns: 2, ApplicationName: "wxlogin rekey", StatementTimeout: 10 * time.Minute})
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "current SECRET_KEY has key id %s; %d key(s) in SECRET_KEY_PREVIOUS\n", auth.KeyID(key), len(prev))
	if *dryRun {
		counts, err := auth.CountOldSealed(ctx, st, key)
		if err != nil {
			return err
		}
		for _, c := range counts {
			fmt.Fprintf(stdout, "%s: %d under an old key or format\n", c.Name, c.Total)
		}
		return nil
	}

	r, err := auth.NewRekeyer(st, key, prev...)
	if err != nil {
		return err
	}
	r.Batch = *batch
	last := time.Now()
	r.Progress = func(p auth.RekeyProgress) {
		if time.Since(last) >= rekeyProgressEvery {
			last = time.Now()
			fmt.Fprintf(stdout, "%s: %d of %d done\n", p.Name, p.Done(), p.Total)
		}
	}
	start := time.Now()
	results, err := r.Rekey(ctx)
	var unopenable int64
	for _, p := range results {
		fmt.Fprintf(stdout, "%s: %d of %d done: %d re-sealed, %d changed meanwhile (left as written), %d open under no key (left as they are)\n",
			p.Name, p.Done(), p.Total, p.Resealed, p.Changed, p.Unopenable)
		unopenable += p.Unopenable
	}
	if err != nil {
		return fmt.Errorf("rekey stopped (run it again to go on; what is done stays done): %w", err)
	}
	if unopenable > 0 {
		fmt.Fprintf(stdout, "%d value(s) open under no key given: sealed under a key that is neither SECRET_KEY nor in SECRET_KEY_PREVIOUS. "+
			"They stay as they are: such a session still works but its legacy decrypts fail, such an access token is fetched again, "+
			"such an admin's TOTP secret no longer checks codes (another ADMIN resets their two-step sign-in: resetAdminTotp). "+
			"Add their key to SECRET_KEY_PREVIOUS and run rekey again, or let them expire.\n", unopenable)
	}
	fmt.Fprintf(stdout, "rekey done in %v: every value that opens is sealed under key id %s; SECRET_KEY_PREVIOUS can be dropped\n",
		time.Since(start).Round(time.Millisecond), auth.KeyID(key))
	return nil
}

// countOldSealed logs, once after start-up, how many stored sealed values
// are not under the current SECRET_KEY in the current format, so an
// operator mid-rotation knows whether rekey is still to run. It reads each
// table once (no index knows a value's key) beside serving, never before
// it, bounded by DB_STATEMENT_TIMEOUT; a count cut off says so instead.
func (m *Main) countOldSealed(ctx context.Context) {
	defer close(m.counted)
	counts, err := auth.CountOldSealed(ctx, m.store, m.Config.SecretKey)
	if err != nil {
		if ctx.Err() == nil {
			m.Log.Warn("could not count the sealed values under an old SECRET_KEY (wxlogin rekey -dry-run counts them)", "err", err)
		}
		return
	}
	attrs := []any{"key_id", auth.KeyID(m.Config.SecretKey), "previous_keys", len(m.Config.PreviousSecretKeys)}
	var total int64
	for _, c := range counts {
		attrs = append(attrs, strings.ReplaceAll(c.Name, " ", "_"), c.Total)
		total += c.Total
	}
	if total == 0 {
		m.Log.Info("every sealed value is under the current SECRET_KEY", attrs...)
		return
	}
	m.Log.Info("sealed values still under an old SECRET_KEY or format; wxlogin rekey re-seals them", attrs...)
}
