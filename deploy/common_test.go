package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// root is the repository, the folder above this package's.
const root = ".."

// runtimeEnv are variables read by the Go runtime, not by wxlogin's config.
var runtimeEnv = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GODEBUG": true, "TZ": true}

// serverSettings is what the deployment files must agree with, read from
// the server's source so that a renamed setting or endpoint fails here.
type serverSettings struct {
	env      map[string]string // environment variable → default
	probes   map[string]bool   // GET paths served, e.g. /healthz
	commands map[string]bool   // subcommands: serve, migrate, admin
}

func (s serverSettings) port() int {
	p, err := strconv.Atoi(s.env["PORT"])
	if err != nil {
		panic("PORT's default is not a number: " + s.env["PORT"])
	}
	return p
}

func (s serverSettings) duration(t *testing.T, name string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s.env[name])
	if err != nil {
		t.Fatalf("%s's default %q: %v", name, s.env[name], err)
	}
	return d
}

// readServer parses app/config.go's settings table (row(flag, ENV, default,
// usage, set)) and app/main.go's and run.go's subcommands and GET handlers.
func readServer(t *testing.T) serverSettings {
	t.Helper()
	s := serverSettings{env: map[string]string{}, probes: map[string]bool{}, commands: map[string]bool{}}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(root, "app", "config.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "row" {
			return true
		}
		if len(call.Args) < 3 {
			t.Fatalf("app/config.go: a setting that is not row(flag, env, default, …): %s", fset.Position(call.Pos()))
		}
		env := stringLit(call.Args[1])
		if env == "" {
			t.Fatalf("app/config.go: a setting whose environment variable is not a string literal: %s", fset.Position(call.Pos()))
		}
		// A default that is not a literal (strconv.Itoa(d.MaxDepth)) is "?".
		def := "?"
		if lit, ok := call.Args[2].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			def = stringLit(lit)
		}
		s.env[env] = def
		return false
	})
	// wxlogin migrate and admin read DATABASE_URL themselves.
	if _, ok := s.env["DATABASE_URL"]; !ok || len(s.env) < 30 {
		t.Fatalf("read %d settings from app/config.go, without DATABASE_URL: has its settings table changed shape?", len(s.env))
	}
	var src []byte
	for _, name := range []string{"main.go", "run.go"} {
		b, err := os.ReadFile(filepath.Join(root, "app", name))
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	for _, m := range regexp.MustCompile(`HandleFunc\("GET (/[a-z]+)"`).FindAllStringSubmatch(string(src), -1) {
		s.probes[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`(?m)^\tcase "([a-z]+)":\n\t\treturn [a-zA-Z]+\(ctx`).FindAllStringSubmatch(string(src), -1) {
		s.commands[m[1]] = true
	}
	if !s.probes["/healthz"] || !s.probes["/readyz"] || !s.commands["serve"] || !s.commands["migrate"] {
		t.Fatalf("server.go: found endpoints %v and commands %v; expected /healthz, /readyz, serve and migrate", s.probes, s.commands)
	}
	return s
}

func stringLit(e ast.Expr) string {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return ""
	}
	v, err := strconv.Unquote(lit.Value)
	if err != nil {
		return ""
	}
	return v
}

// checkEnvNames fails for each name the server does not read.
func checkEnvNames(t *testing.T, where string, names []string, s serverSettings) {
	t.Helper()
	for _, n := range names {
		if _, ok := s.env[n]; !ok && !runtimeEnv[n] {
			t.Errorf("%s sets %s, which wxlogin does not read (config.go)", where, n)
		}
	}
}

// goVersion is go.mod's go line as major.minor, e.g. 1.26.
func goVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

// tool finds an optional external checker. Where DEPLOY_TEST=require (make
// test, which installs them), a missing one fails instead of skipping.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		// Debian puts haproxy in /usr/sbin, which a user's PATH may lack.
		if _, serr := os.Stat("/usr/sbin/" + name); serr == nil {
			return "/usr/sbin/" + name
		}
		if os.Getenv("DEPLOY_TEST") == "require" {
			t.Fatalf("%s is not installed, and DEPLOY_TEST=require", name)
		}
		t.Skipf("%s is not installed: skipped (DEPLOY_TEST=require makes this a failure)", name)
	}
	return p
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func trimQuotes(s string) string { return strings.Trim(s, `"'`) }
