package deploy

import (
	"bufio"
	"context"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"wxlogin/auth"
	"wxlogin/edge"
	"wxlogin/ratelimit"
)

// loadCompose loads compose.yaml with the Compose specification's reference
// loader (the one docker compose uses): schema validation, interpolation of
// ${…} with an empty environment (so defaults apply), anchors and merges,
// env_file read into each service's environment.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	wd, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  wd,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(wd, "compose.yaml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("wxlogin", true) })
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return p
}

func env(s types.ServiceConfig) map[string]string {
	m := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			m[k] = *v
		}
	}
	return m
}

func TestCompose(t *testing.T) {
	srv := readServer(t)
	p := loadCompose(t)
	if got, want := sortedKeys(p.Services), []string{"app1", "app2", "lb", "migrate", "postgres", "redis"}; !slices.Equal(got, want) {
		t.Fatalf("compose.yaml services %v, want %v", got, want)
	}
	svc := func(name string) types.ServiceConfig { return p.Services[name] }
	apps := []string{"app1", "app2"}

	// The wxlogin image: built from the Dockerfile at the root, one image
	// for the apps and the migration.
	mig := svc("migrate")
	if mig.Build == nil || filepath.Clean(mig.Build.Context) != mustAbs(t, root) || mig.Build.Dockerfile != "Dockerfile" {
		t.Errorf("migrate builds %+v, want the Dockerfile at the repository's root", mig.Build)
	}
	if !slices.Equal(mig.Command, []string{"migrate"}) || !srv.commands["migrate"] {
		t.Errorf("migrate runs %v, want [migrate]", mig.Command)
	}
	if mig.Restart != "no" {
		t.Errorf("migrate restart %q: a one-shot job must not restart", mig.Restart)
	}
	wantDeps(t, "migrate", mig, map[string]string{"postgres": types.ServiceConditionHealthy})

	pg := svc("postgres")
	pgEnv := env(pg)
	if pg.Image != "postgres:16" {
		t.Errorf("postgres image %s, want postgres:16", pg.Image)
	}
	if pg.HealthCheck == nil || !strings.Contains(strings.Join(pg.HealthCheck.Test, " "), "pg_isready") {
		t.Errorf("postgres healthcheck %+v: want pg_isready", pg.HealthCheck)
	}
	rd := svc("redis")
	if !strings.HasPrefix(rd.Image, "redis:7") || rd.HealthCheck == nil {
		t.Errorf("redis: image %s, healthcheck %+v: want redis:7 with a healthcheck", rd.Image, rd.HealthCheck)
	}
	if cmd := strings.Join(rd.Command, " "); !strings.Contains(cmd, "--save  ") && !strings.HasSuffix(cmd, "--save ") || !strings.Contains(cmd, "--appendonly no") {
		t.Errorf("redis runs %q: want no persistence (--save \"\" --appendonly no)", cmd)
	}

	lb := svc("lb")
	if !strings.HasPrefix(lb.Image, "haproxy:") {
		t.Errorf("lb image %s, want haproxy", lb.Image)
	}
	var lbAddr netip.Addr
	for name, n := range lb.Networks {
		if n == nil || n.Ipv4Address == "" {
			t.Errorf("lb has no fixed address on network %s: TRUSTED_PROXIES names it", name)
			continue
		}
		lbAddr = netip.MustParseAddr(n.Ipv4Address)
	}
	hcfg := readHAProxy(t)
	var mountsCfg bool
	for _, v := range lb.Volumes {
		if v.Target == "/usr/local/etc/haproxy/haproxy.cfg" && v.Source == mustAbs(t, "haproxy.cfg") && v.ReadOnly {
			mountsCfg = true
		}
	}
	if !mountsCfg {
		t.Errorf("lb does not mount ./haproxy.cfg read-only at /usr/local/etc/haproxy/haproxy.cfg: %+v", lb.Volumes)
	}
	if len(lb.Ports) != 1 || lb.Ports[0].Target != uint32(hcfg.bind) {
		t.Errorf("lb publishes %+v; haproxy.cfg binds :%d", lb.Ports, hcfg.bind)
	}
	if !slices.Equal(hcfg.servers, []string{"app1:" + strconv.Itoa(srv.port()), "app2:" + strconv.Itoa(srv.port())}) {
		t.Errorf("haproxy.cfg balances %v, want app1 and app2 on PORT's default %d", hcfg.servers, srv.port())
	}
	if !srv.probes[hcfg.checkURI] || hcfg.checkURI != "/readyz" {
		t.Errorf("haproxy.cfg checks %q, want /readyz", hcfg.checkURI)
	}
	if rt := srv.duration(t, "REQUEST_TIMEOUT"); hcfg.serverTimeout <= rt {
		t.Errorf("haproxy.cfg timeout server %v must exceed REQUEST_TIMEOUT (%v), so the app answers first", hcfg.serverTimeout, rt)
	}

	for _, name := range apps {
		s := svc(name)
		e := env(s)
		where := "compose.yaml " + name
		checkEnvNames(t, where, sortedKeys(e), srv)
		if !slices.Equal(s.Command, []string{"serve"}) {
			t.Errorf("%s runs %v, want [serve]", where, s.Command)
		}
		if s.Image != mig.Image || s.Image == "" {
			t.Errorf("%s image %q, migrate's %q: they must be one", where, s.Image, mig.Image)
		}
		wantDeps(t, name, s, map[string]string{
			"migrate":  types.ServiceConditionCompletedSuccessfully,
			"postgres": types.ServiceConditionHealthy,
			"redis":    types.ServiceConditionHealthy,
		})
		if s.Restart != types.RestartPolicyUnlessStopped && s.Restart != types.RestartPolicyAlways {
			t.Errorf("%s restart %q", where, s.Restart)
		}
		shutdown := parseDur(t, where+" SHUTDOWN_TIMEOUT", cmpOr(e["SHUTDOWN_TIMEOUT"], srv.env["SHUTDOWN_TIMEOUT"]))
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) < shutdown+5*time.Second {
			t.Errorf("%s stop_grace_period %v: want at least SHUTDOWN_TIMEOUT (%v) + 5s, or the drain is SIGKILLed", where, s.StopGracePeriod, shutdown)
		}
		if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("%s: want read_only and cap_drop ALL", where)
		}
		// Avatars: one named volume, mounted at AVATAR_DIR in every instance.
		var avatars bool
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeVolume && v.Source == "avatars" && v.Target == e["AVATAR_DIR"] && !v.ReadOnly {
				avatars = true
			}
		}
		if !avatars {
			t.Errorf("%s does not mount the shared volume avatars at AVATAR_DIR (%q)", where, e["AVATAR_DIR"])
		}
		// Values the server would refuse, checked with its own parsers.
		proxies, err := edge.ParseProxies(e["TRUSTED_PROXIES"])
		if err != nil {
			t.Errorf("%s TRUSTED_PROXIES: %v", where, err)
		} else if !proxies.Trusts(lbAddr) {
			t.Errorf("%s TRUSTED_PROXIES=%s does not trust the load balancer's %v", where, e["TRUSTED_PROXIES"], lbAddr)
		}
		if err := ratelimit.CheckRedisURL(e["REDIS_URL"]); err != nil || !strings.Contains(e["REDIS_URL"], "//redis:") {
			t.Errorf("%s REDIS_URL %q: %v (want the redis service)", where, e["REDIS_URL"], err)
		}
		checkComposeDB(t, where, e["DATABASE_URL"], pgEnv)
		if _, err := auth.ParseSecretKey(e["SECRET_KEY"]); err == nil {
			t.Errorf("%s: example.env's SECRET_KEY is a usable key; it must be a placeholder the server refuses", where)
		}
		if e["DEV_WECHAT"] != "" {
			t.Errorf("%s sets DEV_WECHAT: never in a deployment", where)
		}
	}
	checkComposeDB(t, "compose.yaml migrate", env(mig)["DATABASE_URL"], pgEnv)
	checkEnvNames(t, "compose.yaml migrate", sortedKeys(env(mig)), srv)
	if env(svc("app1"))["AVATAR_DIR"] != dockerfileEnv(t, readDockerfile(t, filepath.Join(root, "Dockerfile"))[1])["AVATAR_DIR"] {
		t.Error("compose.yaml's AVATAR_DIR differs from the Dockerfile's, whose folder the image makes writable")
	}
}

// checkComposeDB: DATABASE_URL names the postgres service with its user,
// password and database.
func checkComposeDB(t *testing.T, where, dsn string, pg map[string]string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Errorf("%s DATABASE_URL: %v", where, err)
		return
	}
	pw, _ := u.User.Password()
	if u.Hostname() != "postgres" || u.User.Username() != pg["POSTGRES_USER"] || pw != pg["POSTGRES_PASSWORD"] || strings.TrimPrefix(u.Path, "/") != pg["POSTGRES_DB"] {
		t.Errorf("%s DATABASE_URL does not name the postgres service's user, password and database", where)
	}
	// Unset sslmode is refused for a non-loopback host; disable is an
	// explicit choice (docs/operations.md, Database connections and TLS).
	if m := u.Query().Get("sslmode"); m != "disable" && m != "verify-full" {
		t.Errorf("%s DATABASE_URL sslmode=%q: the server refuses it for a remote host", where, m)
	}
}

func wantDeps(t *testing.T, name string, s types.ServiceConfig, want map[string]string) {
	t.Helper()
	for dep, cond := range want {
		d, ok := s.DependsOn[dep]
		if !ok || d.Condition != cond {
			t.Errorf("compose.yaml %s: depends_on %s should be %s, is %+v", name, dep, cond, d)
		}
	}
}

type haproxyConfig struct {
	bind          int
	servers       []string
	checkURI      string
	serverTimeout time.Duration
}

// readHAProxy reads the few lines of haproxy.cfg the compose file relies on.
func readHAProxy(t *testing.T) haproxyConfig {
	t.Helper()
	f, err := os.Open("haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c haproxyConfig
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch {
		case fields[0] == "bind":
			_, port, _ := strings.Cut(fields[1], ":")
			c.bind, _ = strconv.Atoi(port)
		case fields[0] == "server" && len(fields) >= 3:
			c.servers = append(c.servers, fields[2])
		case fields[0] == "http-check" && fields[1] == "send":
			if i := slices.Index(fields, "uri"); i > 0 && i+1 < len(fields) {
				c.checkURI = fields[i+1]
			}
		case fields[0] == "timeout" && fields[1] == "server" && len(fields) == 3:
			c.serverTimeout = parseDur(t, "haproxy.cfg timeout server", fields[2])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestComposeConfig runs `config -q` of whichever Compose is installed:
// Debian's docker-compose (1.29, Python) and the docker compose plugin each
// validate the file their own way.
func TestComposeConfig(t *testing.T) {
	ran := false
	if p, err := exec.LookPath("docker-compose"); err == nil {
		runQuiet(t, p, "-f", "compose.yaml", "config", "-q")
		ran = true
	}
	if p, err := exec.LookPath("docker"); err == nil && exec.Command(p, "compose", "version").Run() == nil {
		runQuiet(t, p, "compose", "-f", "compose.yaml", "config", "-q")
		ran = true
	}
	if !ran {
		tool(t, "docker-compose")
	}
}

// TestHAProxyConfig runs haproxy -c on haproxy.cfg. The instances' names
// resolve only on the compose network, so that warning alone is expected.
func TestHAProxyConfig(t *testing.T) {
	p := tool(t, "haproxy")
	out, err := exec.Command(p, "-c", "-f", "haproxy.cfg").CombinedOutput()
	if err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, "[WARNING]") && !regexp.MustCompile(`could not resolve address 'app\d'`).MatchString(line) ||
			strings.Contains(line, "[ALERT]") {
			t.Errorf("haproxy -c: %s", strings.TrimSpace(line))
		}
	}
}

func runQuiet(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	// Defaults apply, as in the Go loader above: no POSTGRES_PASSWORD etc.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func parseDur(t *testing.T, what, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return d
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
