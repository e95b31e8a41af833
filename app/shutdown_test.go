package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"wxlogin/app/apptest"
	"wxlogin/store"
	"wxlogin/store/storetest"
	"wxlogin/wechat/wechattest"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// builtBinary builds the program once for the package's tests.
func builtBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wxlogin-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "wxlogin")
		if out, err := exec.Command("go", "build", "-o", builtBin, "wxlogin").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// child is the real program running in a process of its own.
type child struct {
	cmd    *exec.Cmd
	addr   string
	sim    *wechattest.Simulator
	stderr *apptest.SyncBuffer
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
}

// startChild runs `wxlogin serve` (production mode, WeChat simulated over
// HTTP) on database dsn with extra environment settings.
func startChild(t *testing.T, dsn string, env ...string) *child {
	t.Helper()
	sim := wechattest.New(wechattest.App{AppID: apptest.AppID, Secret: apptest.Secret})
	wx := httptest.NewServer(sim.Handler())
	t.Cleanup(wx.Close)
	cmd := exec.Command(builtBinary(t), "serve")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn, "PORT=0", "HOST=127.0.0.1", "LOG_LEVEL=info",
		"WECHAT_APPID="+apptest.AppID, "WECHAT_SECRET="+apptest.Secret, "WECHAT_API_BASE="+wx.URL,
		"SECRET_KEY="+strings.Repeat("0102030405060708", 4), "AVATAR_DIR="+t.TempDir(), "DEV_WECHAT=0", "CONTENT_CHECK=off")
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, sim: sim, stderr: &apptest.SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.exited
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := regexp.MustCompile(`listening on http://([^\s"]+)`).FindStringSubmatch(sc.Text()); m != nil {
			c.addr = m[1]
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if c.addr == "" {
		<-c.exited
		t.Fatalf("the server printed no address: %v\n%s", c.err, c.stderr.String())
	}
	return c
}

// loginAsync posts a login for a fresh code of user; the answer (or the
// transport error) arrives on the channel.
func (c *child) loginAsync(t *testing.T, user string) <-chan apptest.Result {
	t.Helper()
	code, err := c.sim.Login("", user)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan apptest.Result, 1)
	go func() {
		body, _ := json.Marshal(map[string]any{"query": apptest.LoginMutation, "variables": map[string]any{"in": map[string]any{"code": code}}})
		start := time.Now()
		resp, err := http.Post("http://"+c.addr+"/graphql", "application/json", bytes.NewReader(body))
		if err != nil {
			out <- apptest.Result{Err: err, Took: time.Since(start)}
			return
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		r := apptest.Result{Status: resp.StatusCode, Took: time.Since(start), Err: err}
		if err == nil {
			r.Err = json.Unmarshal(raw, &r.Resp)
			r.Resp.Raw = string(raw)
		}
		out <- r
	}()
	return out
}

// waitCalls waits until the simulator has been asked for code2Session n times.
func (c *child) waitCalls(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); c.sim.Calls(wechattest.PathCode2Session) < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the login never reached WeChat\n%s", c.stderr.String())
		}
	}
}

// refused reports whether a new connection to the server is refused.
func (c *child) refused() bool {
	conn, err := net.DialTimeout("tcp", c.addr, time.Second)
	if err == nil {
		conn.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// waitRefused fails t unless new connections are refused within a second.
func (c *child) waitRefused(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	for !c.refused() {
		if time.Since(start) > time.Second {
			t.Fatal("still accepting connections a second after SIGTERM")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// TestShutdown_DrainsInFlight: on SIGTERM the server stops accepting at
// once, lets the login in flight finish (and record its session), closes
// its pool and exits 0 — all within SHUTDOWN_TIMEOUT.
func TestShutdown_DrainsInFlight(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			dsn, dbName := storetest.FreshDatabase(t)
			const shutdownTimeout = 10 * time.Second
			c := startChild(t, dsn, "SHUTDOWN_TIMEOUT="+shutdownTimeout.String())
			// WeChat takes 1.5 s to answer this login.
			const wechatDelay = 1500 * time.Millisecond
			c.sim.Inject(wechattest.Fault{Delay: wechatDelay})
			login := c.loginAsync(t, "in-flight")
			c.waitCalls(t, 1)

			signalled := time.Now()
			if err := c.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			refusedAfter := c.waitRefused(t)
			var r apptest.Result
			select {
			case r = <-login:
				if r.Err != nil {
					t.Fatalf("the login in flight was cut off: %v", r.Err)
				}
				t.Fatalf("the login was answered before new connections were refused: nothing was in flight: %s", r.Resp.Raw)
			default:
			}
			select {
			case r = <-login:
			case <-c.exited:
				t.Fatalf("exited (%v) before the login in flight was answered\n%s", c.err, c.stderr.String())
			}
			var p apptest.LoginPayload
			if r.Err != nil || len(r.Resp.Errors) > 0 || json.Unmarshal(r.Resp.Data["login"], &p) != nil || p.Token == "" {
				t.Fatalf("the login in flight at %v: HTTP %d %v %s", sig, r.Status, r.Err, r.Resp.Raw)
			}
			select {
			case <-c.exited:
			case <-time.After(shutdownTimeout):
				t.Fatalf("still running %v after %v\n%s", shutdownTimeout, sig, c.stderr.String())
			}
			took := time.Since(signalled)
			if c.err != nil {
				t.Fatalf("exit after %v: %v, want 0\n%s", sig, c.err, c.stderr.String())
			}
			storetest.WaitNoBackends(t, dbName)
			// The login handed out is recorded: its session is there.
			var n int
			st, err := store.Open(context.Background(), dsn, store.Options{MaxConns: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := st.DB().QueryRowContext(context.Background(), "SELECT count(*) FROM sessions WHERE revoked_at IS NULL").Scan(&n); err != nil || n != 1 {
				t.Fatalf("sessions = %d (%v), want the drained login's", n, err)
			}
			t.Logf("%v: refused new connections after %v, answered the login in flight after %v, exited 0 after %v",
				sig, refusedAfter.Round(time.Millisecond), r.Took.Round(time.Millisecond), took.Round(time.Millisecond))
		})
	}
}

// TestShutdown_DeadlineCutsOff: a request that outlasts SHUTDOWN_TIMEOUT
// is cut off, and the server exits anyway, soon after the deadline, with
// status 1 and a line saying so: a drain that lost requests is not clean.
func TestShutdown_DeadlineCutsOff(t *testing.T) {
	t.Parallel()
	dsn, dbName := storetest.FreshDatabase(t)
	const shutdownTimeout = time.Second
	c := startChild(t, dsn, "SHUTDOWN_TIMEOUT="+shutdownTimeout.String(),
		"WECHAT_TIMEOUT=30s", "REQUEST_TIMEOUT=2m")
	c.sim.Inject(wechattest.Fault{Delay: time.Minute})
	login := c.loginAsync(t, "too-slow")
	c.waitCalls(t, 1)

	signalled := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	c.waitRefused(t)
	select {
	case <-c.exited:
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatalf("still running %v after SIGTERM with SHUTDOWN_TIMEOUT=%v\n%s", time.Since(signalled), shutdownTimeout, c.stderr.String())
	}
	took := time.Since(signalled)
	var exit *exec.ExitError
	if !errors.As(c.err, &exit) || exit.ExitCode() != 1 || !strings.Contains(c.stderr.String(), "SHUTDOWN_TIMEOUT") {
		t.Fatalf("exit %v, want status 1 naming SHUTDOWN_TIMEOUT\n%s", c.err, c.stderr.String())
	}
	if took < shutdownTimeout {
		t.Fatalf("exited %v after SIGTERM, before SHUTDOWN_TIMEOUT (%v): it did not wait", took, shutdownTimeout)
	}
	select {
	case r := <-login:
		if r.Err == nil {
			t.Fatalf("the cut-off login got an answer: HTTP %d %s", r.Status, r.Resp.Raw)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cut-off login's connection is still open")
	}
	storetest.WaitNoBackends(t, dbName)
	t.Logf("exited 1 after %v: %s", took.Round(time.Millisecond), lastLine(c.stderr.String()))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// serveEnv is the environment of a production-mode serve on a free
// loopback port against database dsn and a WeChat simulator, with the
// settings in more (name, value pairs) besides; and the simulator.
func serveEnv(t *testing.T, dsn string, more ...string) (func(string) string, *wechattest.Simulator) {
	sim := wechattest.New(wechattest.App{AppID: apptest.AppID, Secret: apptest.Secret})
	wx := httptest.NewServer(sim.Handler())
	t.Cleanup(wx.Close)
	env := map[string]string{
		"DATABASE_URL": dsn, "PORT": "0", "HOST": "127.0.0.1", "WECHAT_APPID": apptest.AppID, "WECHAT_SECRET": apptest.Secret,
		"WECHAT_API_BASE": wx.URL, "SECRET_KEY": strings.Repeat("0102030405060708", 4), "AVATAR_DIR": t.TempDir(), "CONTENT_CHECK": "off",
	}
	for i := 0; i+1 < len(more); i += 2 {
		env[more[i]] = more[i+1]
	}
	return apptest.Env(env), sim
}

// TestShutdown_InProcessClosesPool runs serve itself, as main does, with a
// context cancelled mid-request: serve returns nil once the request in
// flight has its answer, and by then the pool is closed — the database has
// no connection left while this process lives on.
func TestShutdown_InProcessClosesPool(t *testing.T) {
	t.Parallel()
	dsn, dbName := storetest.FreshDatabase(t)
	env, sim := serveEnv(t, dsn, "SHUTDOWN_TIMEOUT", "10s")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := apptest.Serve(t, ctx, env)
	addr, served, stderr := srv.Addr, srv.Done, srv.Stderr
	c := &child{addr: addr, sim: sim, stderr: stderr}
	sim.Inject(wechattest.Fault{Delay: time.Second})
	login := c.loginAsync(t, "in-process")
	c.waitCalls(t, 1)
	if n := storetest.Backends(t, dbName); n == 0 {
		t.Fatal("the server holds no connection: the test would prove nothing")
	}
	cancel()
	c.waitRefused(t)
	if r := <-login; r.Err != nil || len(r.Resp.Errors) > 0 {
		t.Fatalf("the login in flight: %v %s", r.Err, r.Resp.Raw)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve = %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return")
	}
	storetest.WaitNoBackends(t, dbName)
}

// TestShutdown_DelayFailsReadinessFirst: with SHUTDOWN_DELAY, the signal
// first turns /readyz to 503 while every request is still served, so a
// load balancer stops sending before idle connections are closed.
func TestShutdown_DelayFailsReadinessFirst(t *testing.T) {
	t.Parallel()
	dsn, _ := storetest.FreshDatabase(t)
	env := apptest.Env(map[string]string{
		"DATABASE_URL": dsn, "PORT": "0", "HOST": "127.0.0.1", "DEV_WECHAT": "1", "AVATAR_DIR": t.TempDir(),
		"SHUTDOWN_DELAY": "1s",
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := apptest.Serve(t, ctx, env)
	addr, served := srv.Addr, srv.Done
	status := func(path string) int {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status("/readyz"); s != 200 {
		t.Fatalf("/readyz before the signal = %d", s)
	}
	cancel()
	var ready, health int
	for deadline := time.Now().Add(5 * time.Second); ready != 503 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ready = status("/readyz")
	}
	health = status("/healthz")
	if ready != 503 || health != 200 {
		t.Fatalf("during the delay: /readyz %d, /healthz %d; want 503 and 200", ready, health)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not return after the delay")
	}
}

// TestServe_JSONModeWritesOnlyJSON: in json log mode (production's
// default) every line serve writes, the start banner included, is one JSON
// record, so a log shipper meets no plain text.
func TestServe_JSONModeWritesOnlyJSON(t *testing.T) {
	t.Parallel()
	dsn, _ := storetest.FreshDatabase(t)
	env, _ := serveEnv(t, dsn)
	ctx, cancel := context.WithCancel(context.Background())
	srv := apptest.Serve(t, ctx, env)
	stdout, stderr, served := srv.Stdout, srv.Stderr, srv.Done
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	var banner map[string]any
	for name, out := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String()} {
		for line := range strings.Lines(out) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Errorf("%s: a line that is not JSON: %q", name, line)
			} else if strings.Contains(fmt.Sprint(rec["msg"]), "listening on") {
				banner = rec
			}
		}
	}
	if u, _ := banner["graphql"].(string); !strings.HasPrefix(u, "http://127.0.0.1:") || banner["url"] == nil {
		t.Errorf("the start record %v lacks the url and graphql endpoint", banner)
	}
}
