package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"wxlogin/admin"
	"wxlogin/models"
)

// bannerAdmin is what the start-up banner says about the admin accounts:
// the way back into the dashboard, so that nobody has to search the README
// for it after a restart.
type bannerAdmin struct {
	// username is the account the banner names: "admin" when it is an
	// enabled ADMIN, else the first enabled ADMIN by name; "" when there
	// is none.
	username string
	// count is how many admin accounts there are, disabled ones included.
	count int
}

// lookupAdmins reads the admin accounts for the banner.
func lookupAdmins(ctx context.Context, adm *admin.Service) (bannerAdmin, error) {
	admins, err := adm.List(ctx)
	if err != nil {
		return bannerAdmin{}, err
	}
	b := bannerAdmin{count: len(admins)}
	for _, a := range admins {
		if a.Role != models.RoleAdmin || a.DisabledAt != nil {
			continue
		}
		if b.username == "" || a.Username == "admin" {
			b.username = a.Username
		}
	}
	return b, nil
}

// adminCommand is the shell command that runs `wxlogin admin <args>` on
// this server's database, the new password on standard input, and whether
// a password in DATABASE_URL was replaced by ****: a banner goes to a
// terminal, a CI log or a log shipper, where a password must not.
func (m *Main) adminCommand(args string) (cmd string, hidden bool) {
	dsn, hidden := redactDSN(m.Config.DatabaseURL)
	return fmt.Sprintf("printf '%%s\\n' 'a new long password' | DATABASE_URL=%s %s admin %s", shellQuote(dsn), m.executablePath(), args), hidden
}

// adminLines are the banner's lines about the admin account, for a person.
func (m *Main) adminLines() []string {
	var lines []string
	var cmd string
	var hidden bool
	switch {
	case m.devAdminPassword != "":
		cmd, hidden = m.adminCommand("passwd admin")
		lines = append(lines,
			fmt.Sprintf("  Admin sign-in:    username admin, password %s (shown this once; dev mode made this account)", m.devAdminPassword),
			"                    change it: "+cmd)
	case m.admins.username != "":
		cmd, hidden = m.adminCommand("passwd " + m.admins.username)
		exists := fmt.Sprintf("  Admin account:    %s exists", m.admins.username)
		if m.admins.count > 1 {
			exists += fmt.Sprintf(" (one of %d admin accounts; %s admin list lists them)", m.admins.count, m.executablePath())
		}
		lines = append(lines, exists, "                    forgot its password? reset it: "+cmd)
	default:
		cmd, hidden = m.adminCommand("create <username> -role admin")
		none := "  Admin account:    none yet; make one:"
		if m.admins.count > 0 {
			none = fmt.Sprintf("  Admin account:    no enabled ADMIN among the %d admin accounts; make one:", m.admins.count)
		}
		lines = append(lines, none, "                    "+cmd)
	}
	if hidden {
		lines = append(lines, "                    (the password in DATABASE_URL is shown as ****: put the real one in its place)")
	}
	return lines
}

// executablePath is how the banner's commands name this binary: the path
// it was started from, relative to the working directory when it lies
// below it (make run's bin/wxlogin), so that the command runs as printed
// from there; wxlogin is not on PATH.
func (m *Main) executablePath() string {
	if m.executable != "" {
		return m.executable
	}
	exe, err := os.Executable()
	if err != nil {
		return "bin/wxlogin"
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, exe); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			exe = rel
			if !strings.ContainsRune(rel, filepath.Separator) {
				exe = "." + string(filepath.Separator) + rel
			}
		}
	}
	return shellQuote(exe)
}

var (
	// dsnQueryPassword is a password in a URL's query
	// (?password=…, &sslpassword=…) or in a key=value connection string.
	dsnQueryPassword = regexp.MustCompile(`(?i)((?:^|[?&\s])(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)`)
	// dsnUserPassword is the password of a URL's user:password@.
	dsnUserPassword = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*):[^/?#]*@`)
)

// redactDSN replaces any password in a PostgreSQL URL or key=value
// connection string with ****, and says whether it did.
func redactDSN(dsn string) (string, bool) {
	out := dsnUserPassword.ReplaceAllString(dsn, "${1}:****@")
	out = dsnQueryPassword.ReplaceAllString(out, "${1}****")
	return out, out != dsn
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
