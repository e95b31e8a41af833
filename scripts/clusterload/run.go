package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"wxlogin/sessioncache"
)

// runCmd is the demonstration: load through haproxy while instance A is
// stopped with SIGTERM, then the cross-instance checks. It exits non-zero
// when a check fails.
func runCmd(args []string) error {
	fs := flag.NewFlagSet("clusterload run", flag.ExitOnError)
	d := &driver{}
	fs.StringVar(&d.lb, "lb", "http://127.0.0.1:8088", "haproxy's frontend")
	fs.StringVar(&d.a, "a", "http://127.0.0.1:18081", "instance A, directly")
	fs.StringVar(&d.b, "b", "http://127.0.0.1:18082", "instance B, directly")
	fs.StringVar(&d.sim, "sim", "http://127.0.0.1:18090", "the standalone WeChat simulator")
	fs.StringVar(&d.state, "state", ".data/cluster", "scripts/cluster.sh's state folder (a.pid, a.exit)")
	fs.StringVar(&d.startA, "start-a", "scripts/cluster.sh start a", "shell command that starts instance A again")
	fs.StringVar(&d.signal, "stop-signal", "TERM", "how A is stopped part-way: TERM (a graceful drain) or KILL")
	fs.DurationVar(&d.duration, "duration", 20*time.Second, "how long the load runs")
	fs.IntVar(&d.workers, "workers", 16, "concurrent clients")
	fs.IntVar(&d.openIDLimit, "openid-limit", 5, "the instances' RATE_LOGIN_PER_OPENID count")
	fs.IntVar(&d.ipLimit, "ip-limit", 20, "the instances' RATE_LOGIN_PER_IP count")
	fs.DurationVar(&d.maxLag, "max-lag", sessioncache.MaxLag, "the promised bound on cross-instance revocation")
	fs.IntVar(&d.rounds, "revocation-rounds", 30, "logouts on B whose token A is polled for until it refuses it")
	_ = fs.Parse(args)
	d.run = strconv.FormatInt(time.Now().Unix()%100000, 10)
	d.hc = &http.Client{Timeout: 40 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0}}
	return d.main()
}

type driver struct {
	lb, a, b, sim, state, startA string
	signal                       string
	duration                     time.Duration
	workers                      int
	openIDLimit, ipLimit         int
	maxLag                       time.Duration
	rounds                       int
	run                          string // distinguishes users and addresses of reruns
	hc                           *http.Client
	ipSeq                        atomic.Uint32

	checks []check
}

type check struct {
	name, got string
	ok        bool
}

func (d *driver) check(name string, ok bool, format string, args ...any) {
	d.checks = append(d.checks, check{name, fmt.Sprintf(format, args...), ok})
	mark := "ok  "
	if !ok {
		mark = "FAIL"
	}
	fmt.Printf("  %s %s: %s\n", mark, name, fmt.Sprintf(format, args...))
}

// nextIP is a fresh client address for X-Forwarded-For, so the load is many
// clients to the per-IP limit, as behind a real load balancer.
func (d *driver) nextIP() string {
	n := d.ipSeq.Add(1)
	return fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
}

// gqlAnswer is one GraphQL call's outcome.
type gqlAnswer struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string `json:"message"`
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	} `json:"errors"`
	servedBy string // haproxy's X-Served-By, "" when called directly
	kind     string // "" when it answered without errors, else what went wrong
}

func (g gqlAnswer) code() string {
	if len(g.Errors) > 0 {
		return g.Errors[0].Extensions.Code
	}
	return ""
}

func (d *driver) gql(ctx context.Context, base, token, ip, query string, vars map[string]any) gqlAnswer {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return gqlAnswer{kind: "request: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ip != "" {
		// The client is on 127.0.0.1 like haproxy, a trusted proxy: the
		// instances take this as the client's address.
		req.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return gqlAnswer{kind: "transport error: " + err.Error()}
	}
	defer resp.Body.Close()
	var g gqlAnswer
	g.servedBy = resp.Header.Get("X-Served-By")
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		g.kind = "body cut off"
		return g
	}
	if resp.StatusCode != http.StatusOK {
		g.kind = "HTTP " + strconv.Itoa(resp.StatusCode)
		return g
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		g.kind = "not JSON"
		return g
	}
	if c := g.code(); c != "" {
		g.kind = c
	}
	return g
}

func (d *driver) postSim(ctx context.Context, path string, in map[string]string) (map[string]string, error) {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.sim+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("simulator %s: %d %s", path, resp.StatusCode, out["error"])
	}
	return out, nil
}

func (d *driver) mintCode(ctx context.Context, user string) (string, error) {
	out, err := d.postSim(ctx, "/dev/wechat/code", map[string]string{"user": user})
	return out["code"], err
}

func (d *driver) simCalls(ctx context.Context, path string) int {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.sim+"/stats", nil)
	resp, err := d.hc.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var out map[string]int
	if json.NewDecoder(resp.Body).Decode(&out) != nil {
		return -1
	}
	return out[path]
}

const (
	qLogin  = `mutation($c: String!) { login(input: {code: $c}) { token user { id } } }`
	qMe     = `{ me { id } }`
	qLogout = `mutation { logout }`
	qPhone  = `mutation($c: String, $d: String, $iv: String) { bindPhoneNumber(input: {code: $c, encryptedData: $d, iv: $iv}) { id phone } }`
)

// login mints a code for user and logs in at base; it answers the token and user id.
func (d *driver) login(ctx context.Context, base, user, ip string) (tok, id string, g gqlAnswer) {
	code, err := d.mintCode(ctx, user)
	if err != nil {
		return "", "", gqlAnswer{kind: "simulator: " + err.Error()}
	}
	g = d.gql(ctx, base, "", ip, qLogin, map[string]any{"c": code})
	if g.kind != "" {
		return "", "", g
	}
	var p struct {
		Token string
		User  struct{ ID string }
	}
	_ = json.Unmarshal(g.Data["login"], &p)
	return p.Token, p.User.ID, g
}

// meID answers the id me reports, or "" with the error kind.
func (d *driver) meID(ctx context.Context, base, tok string) (string, gqlAnswer) {
	g := d.gql(ctx, base, tok, d.nextIP(), qMe, nil)
	if g.kind != "" {
		return "", g
	}
	var me struct{ ID string }
	_ = json.Unmarshal(g.Data["me"], &me)
	return me.ID, g
}

func (d *driver) ready(ctx context.Context, base string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	resp, err := d.hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (d *driver) waitReady(ctx context.Context, base string, within time.Duration) error {
	end := time.Now().Add(within)
	for !d.ready(ctx, base) {
		if time.Now().After(end) {
			return fmt.Errorf("%s/readyz did not answer 200 within %v", base, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// record is one request of the load.
type record struct {
	op         string
	start, end time.Time
	servedBy   string
	kind       string
	// withinBound marks a revoked token accepted by the other instance
	// sooner than maxLag after the logout was answered, as promised.
	withinBound bool
}

func (d *driver) main() error {
	ctx := context.Background()
	for _, u := range []string{d.a, d.b, d.lb} {
		if err := d.waitReady(ctx, u, 30*time.Second); err != nil {
			return err
		}
	}
	// haproxy sends to both once both pass its health check.
	seen := map[string]bool{}
	for i := 0; i < 100 && !(seen["a"] && seen["b"]); i++ {
		g := d.gql(ctx, d.lb, "", "", `{ __typename }`, nil)
		seen[g.servedBy] = true
		if i > 0 && i%10 == 0 {
			time.Sleep(500 * time.Millisecond)
		}
	}
	if !(seen["a"] && seen["b"]) {
		return fmt.Errorf("haproxy did not send requests to both instances (X-Served-By seen: %v)", seen)
	}

	fmt.Println("Before the load, on both instances directly:")
	// A token from A, kept for the checks after A's stop.
	tokA, idA, g := d.login(ctx, d.a, "cross-a-"+d.run, d.nextIP())
	if g.kind != "" {
		return fmt.Errorf("logging in on A: %s", g.kind)
	}
	id, g := d.meID(ctx, d.b, tokA)
	d.check("a token from A works on B", id == idA, "me on B: %s", orKind(id == idA, "same user", g.kind))
	d.checkSessionKey(ctx)
	d.checkAccessToken(ctx)
	d.checkRevocationBound(ctx, d.rounds, byLogout)
	d.checkRevocationBound(ctx, 10, byDisable)
	d.checkRevocationBound(ctx, 3, byStalled)

	fmt.Printf("\nLoad: %d clients through haproxy (%s) for %v; SIG%s to instance A at %v\n", d.workers, d.lb, d.duration, d.signal, d.duration*2/5)
	recs, stop := d.load(ctx)

	fmt.Println("\nAfter the load:")
	d.report(recs, stop)

	// A is down: B alone has everything A knew.
	id, g = d.meID(ctx, d.lb, tokA)
	d.check("A's token through haproxy, A stopped", id == idA, "%s", orKind(id == idA, "same user", g.kind))
	id, g = d.meID(ctx, d.b, tokA)
	d.check("A's token directly on B", id == idA, "%s", orKind(id == idA, "same user", g.kind))
	tokB, idB, g := d.login(ctx, d.b, "cross-b-"+d.run, d.nextIP())
	if g.kind != "" {
		return fmt.Errorf("logging in on B: %s", g.kind)
	}
	g = d.gql(ctx, d.b, tokA, d.nextIP(), qLogout, nil)
	d.check("logout of A's token on B", g.kind == "", "%s", orKind(g.kind == "", "done", g.kind))

	fmt.Printf("  restarting A: %s\n", d.startA)
	cmd := exec.Command("sh", "-c", d.startA)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("restarting A: %w", err)
	}
	if err := d.waitReady(ctx, d.a, 30*time.Second); err != nil {
		return err
	}
	_, g = d.meID(ctx, d.a, tokA)
	d.check("the token B revoked, on restarted A", g.kind == "UNAUTHENTICATED", "%s", orKind(false, "", g.kind))
	id, g = d.meID(ctx, d.a, tokB)
	d.check("a token B issued while A was down, on A", id == idB, "%s", orKind(id == idB, "same user", g.kind))

	d.checkOpenIDLimit(ctx)
	d.checkIPLimit(ctx)

	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "check\tresult\t")
	failed := 0
	for _, c := range d.checks {
		res := "ok"
		if !c.ok {
			res, failed = "FAIL", failed+1
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", c.name, res, c.got)
	}
	_ = w.Flush()
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(d.checks))
	}
	fmt.Printf("all %d checks passed\n", len(d.checks))
	return nil
}

func orKind(ok bool, good, kind string) string {
	if ok {
		return good
	}
	if kind == "" {
		return "answered without error, but not as expected"
	}
	return kind
}

// checkSessionKey: a session_key sealed by A at login is opened by B, for
// the legacy encrypted phone number. Needs the same SECRET_KEY on both.
func (d *driver) checkSessionKey(ctx context.Context) {
	user := "key-" + d.run
	tok, _, g := d.login(ctx, d.a, user, d.nextIP())
	if g.kind != "" {
		d.check("session_key sealed on A opens on B", false, "login on A: %s", g.kind)
		return
	}
	out, err := d.postSim(ctx, "/dev/wechat/phonecode", map[string]string{"user": user, "countryCode": "86", "phoneNumber": d.mobile(999)})
	if err != nil || out["encryptedData"] == "" {
		d.check("session_key sealed on A opens on B", false, "simulator: %v", err)
		return
	}
	g = d.gql(ctx, d.b, tok, d.nextIP(), qPhone, map[string]any{"d": out["encryptedData"], "iv": out["iv"]})
	d.check("session_key sealed on A opens on B", g.kind == "", "legacy bindPhoneNumber on B: %s", orKind(g.kind == "", "bound", g.kind))
}

// mobile is this run's i-th mainland mobile number: a number belongs to
// one user, so a rerun against the same database needs numbers of its own.
func (d *driver) mobile(i int) string {
	run, _ := strconv.Atoi(d.run)
	return fmt.Sprintf("137%05d%03d", run, i)
}

// checkAccessToken: phone binds on both instances at once share one WeChat
// access token: at most one stable_token call (none when an earlier run
// left a valid one).
func (d *driver) checkAccessToken(ctx context.Context) {
	const binds = 10
	before := d.simCalls(ctx, "/cgi-bin/stable_token")
	var wg sync.WaitGroup
	var bad atomic.Int32
	var firstBad atomic.Value
	for i := range binds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := d.a
			if i%2 == 1 {
				base = d.b
			}
			user := fmt.Sprintf("phone-%s-%d", d.run, i)
			tok, _, g := d.login(ctx, base, user, d.nextIP())
			if g.kind == "" {
				out, err := d.postSim(ctx, "/dev/wechat/phonecode", map[string]string{"user": user, "countryCode": "86", "phoneNumber": d.mobile(i)})
				if err != nil {
					g.kind = "simulator: " + err.Error()
				} else {
					g = d.gql(ctx, base, tok, d.nextIP(), qPhone, map[string]any{"c": out["code"]})
				}
			}
			if g.kind != "" {
				bad.Add(1)
				firstBad.CompareAndSwap(nil, g.kind)
			}
		}()
	}
	wg.Wait()
	calls := d.simCalls(ctx, "/cgi-bin/stable_token") - before
	fb, _ := firstBad.Load().(string)
	if fb != "" {
		fb = " (" + fb + ")"
	}
	d.check("phone binds over A and B share one access token", bad.Load() == 0 && calls <= 1,
		"%d binds, %d failed%s, %d stable_token call(s)", binds, bad.Load(), fb, calls)
}

// checkOpenIDLimit logs one user in alternately on A and B: the
// openid limit is one count across both.
func (d *driver) checkOpenIDLimit(ctx context.Context) {
	user := "limit-" + d.run
	var seq []string
	passed := 0
	for i := range d.openIDLimit + 2 {
		base, name := d.a, "A"
		if i%2 == 1 {
			base, name = d.b, "B"
		}
		_, _, g := d.login(ctx, base, user, d.nextIP())
		if g.kind == "" {
			passed++
			seq = append(seq, name+":ok")
		} else {
			seq = append(seq, name+":"+g.kind)
		}
	}
	want := d.openIDLimit
	ok := passed == want && strings.HasSuffix(seq[len(seq)-1], "RATE_LIMITED") && strings.HasSuffix(seq[want], "RATE_LIMITED")
	d.check(fmt.Sprintf("login per openid %d, alternating A/B", want), ok, "%d of %d passed: %s", passed, len(seq), strings.Join(seq, " "))
}

// checkIPLimit logs fresh users in from one client address alternately on
// A and B: the per-IP limit is one count across both.
func (d *driver) checkIPLimit(ctx context.Context) {
	n, _ := strconv.Atoi(d.run)
	ip := fmt.Sprintf("198.51.%d.%d", n/256%256, n%256)
	passed, limited := 0, 0
	other := ""
	attempts := d.ipLimit + 4
	for i := range attempts {
		base := d.a
		if i%2 == 1 {
			base = d.b
		}
		_, _, g := d.login(ctx, base, fmt.Sprintf("ip-%s-%d", d.run, i), ip)
		switch g.kind {
		case "":
			passed++
		case "RATE_LIMITED":
			limited++
		default:
			other = ", other: " + g.kind
		}
	}
	d.check(fmt.Sprintf("login per IP %d, alternating A/B", d.ipLimit), passed == d.ipLimit && limited == attempts-d.ipLimit,
		"%d of %d passed, %d RATE_LIMITED%s", passed, attempts, limited, other)
}

// stopInfo is when A was told to stop and when it exited.
type stopInfo struct {
	sigterm, exited time.Time
	status          string
}

// load runs the workers for d.duration, sending SIGTERM to A part-way.
func (d *driver) load(ctx context.Context) ([]record, stopInfo) {
	ctx, cancel := context.WithTimeout(ctx, d.duration)
	defer cancel()
	var (
		mu   sync.Mutex
		recs []record
	)
	add := func(op string, start time.Time, g gqlAnswer) {
		mu.Lock()
		recs = append(recs, record{op, start, time.Now(), g.servedBy, g.kind, false})
		mu.Unlock()
	}
	// Requests are not cut short by the load's end: ctx only stops new ones.
	bg := context.Background()
	var wg sync.WaitGroup
	for w := range d.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Staggered, so the workers' logins (each waiting on WeChat)
			// do not move in step and A's stop falls amid them.
			time.Sleep(time.Duration(rand.Int64N(int64(500 * time.Millisecond))))
			for i := 0; ctx.Err() == nil; i++ {
				code, err := d.mintCode(bg, fmt.Sprintf("load-%s-%d-%d", d.run, w, i))
				if err != nil {
					add("simulator", time.Now(), gqlAnswer{kind: "simulator: " + err.Error()})
					time.Sleep(100 * time.Millisecond)
					continue
				}
				t := time.Now()
				g := d.gql(bg, d.lb, "", d.nextIP(), qLogin, map[string]any{"c": code})
				add("login", t, g)
				if g.kind != "" {
					continue
				}
				var p struct{ Token string }
				_ = json.Unmarshal(g.Data["login"], &p)
				t = time.Now()
				g = d.gql(bg, d.lb, p.Token, d.nextIP(), qMe, nil)
				add("me", t, g)
				if i%3 != 0 {
					continue
				}
				t = time.Now()
				g = d.gql(bg, d.lb, p.Token, d.nextIP(), qLogout, nil)
				add("logout", t, g)
				if g.kind != "" {
					continue
				}
				by, loggedOut := g.servedBy, time.Now()
				t = time.Now()
				g = d.gql(bg, d.lb, p.Token, d.nextIP(), qMe, nil)
				within := false
				switch g.kind {
				case "UNAUTHENTICATED":
					g.kind = ""
				case "":
					// The promise: at once on the instance that logged
					// out, within maxLag of the commit on the others.
					if by != g.servedBy && t.Sub(loggedOut) < d.maxLag {
						within = true
					} else {
						g.kind = "REVOKED TOKEN ACCEPTED"
					}
				}
				op := "me after logout (same instance)"
				if by != g.servedBy {
					op = "me after logout (other instance)"
				}
				mu.Lock()
				recs = append(recs, record{op, t, time.Now(), g.servedBy, g.kind, within})
				mu.Unlock()
			}
		}()
	}
	var st stopInfo
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
			return
		case <-time.After(d.duration * 2 / 5):
		}
		st = d.stopA()
	}()
	wg.Wait()
	<-stopped
	return recs, st
}

// stopA sends SIGTERM to instance A and waits for cluster.sh's wrapper to
// record its exit status.
func (d *driver) stopA() stopInfo {
	var st stopInfo
	raw, err := os.ReadFile(filepath.Join(d.state, "a.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		st.status = "no a.pid: " + fmt.Sprint(err)
		return st
	}
	exitFile := filepath.Join(d.state, "a.exit")
	_ = os.Remove(exitFile)
	sig := syscall.SIGTERM
	if d.signal == "KILL" {
		sig = syscall.SIGKILL
	}
	st.sigterm = time.Now()
	if err := syscall.Kill(pid, sig); err != nil {
		st.status = "kill: " + err.Error()
		return st
	}
	fmt.Printf("  %s SIG%s to A (pid %d)\n", st.sigterm.Format("15:04:05.000"), d.signal, pid)
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if raw, err := os.ReadFile(exitFile); err == nil && len(raw) > 0 {
			st.exited, st.status = time.Now(), "exit status "+strings.TrimSpace(string(raw))
			fmt.Printf("  %s A exited after %v, %s\n", st.exited.Format("15:04:05.000"), st.exited.Sub(st.sigterm).Round(time.Millisecond), st.status)
			return st
		}
	}
	st.status = "did not exit within a minute"
	return st
}

// report prints the load's numbers and checks that only requests in
// flight on A when it stopped may have failed.
func (d *driver) report(recs []record, st stopInfo) {
	if len(recs) == 0 {
		d.check("load ran", false, "no requests")
		return
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].start.Before(recs[j].start) })
	first, last := recs[0].start, recs[0].end
	ops := map[string]int{}
	served := map[string]int{}
	errs := map[string]int{}
	var total, failed, inFlightA, inFlightAFailed, errInWindow, errOutside, afterExitOnA, withinBound int
	for _, r := range recs {
		total++
		ops[r.op]++
		if r.withinBound {
			withinBound++
		}
		served[r.servedBy]++
		if r.end.After(last) {
			last = r.end
		}
		// In flight on A at the signal: sent to A before it, answered after.
		// A request that got no answer at all (haproxy closes the client's
		// connection when an instance dies on a reused connection) carries
		// no X-Served-By; in flight across the signal, it was A's.
		onA := r.servedBy == "a" || (r.servedBy == "" && r.kind != "")
		if onA && !st.sigterm.IsZero() && r.start.Before(st.sigterm) && r.end.After(st.sigterm) {
			inFlightA++
			if r.kind != "" {
				inFlightAFailed++
			}
		}
		if r.servedBy == "a" && !st.exited.IsZero() && r.start.After(st.exited) {
			afterExitOnA++
		}
		if r.kind == "" {
			continue
		}
		failed++
		errs[r.op+": "+r.kind]++
		// During A's stop: started before A exited and ended after SIGTERM.
		if !st.sigterm.IsZero() && r.start.Before(st.exited.Add(time.Second)) && r.end.After(st.sigterm) {
			errInWindow++
		} else {
			errOutside++
		}
	}
	secs := last.Sub(first).Seconds()
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "requests through haproxy\t%d in %.1f s (%.0f/s)\t\n", total, secs, float64(total)/secs)
	var names []string
	for k := range ops {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %s\t%d\t\n", k, ops[k])
	}
	fmt.Fprintf(w, "served by A / B / no header\t%d / %d / %d\t\n", served["a"], served["b"], served[""])
	fmt.Fprintf(w, "A's stop\t%s, drain %v\t\n", st.status, st.exited.Sub(st.sigterm).Round(time.Millisecond))
	fmt.Fprintf(w, "in flight on A at the signal\t%d, of which failed %d\t\n", inFlightA, inFlightAFailed)
	fmt.Fprintf(w, "sent to A after it exited\t%d\t\n", afterExitOnA)
	fmt.Fprintf(w, "failed requests\t%d (during A's stop %d, at other times %d)\t\n", failed, errInWindow, errOutside)
	names = names[:0]
	for k := range errs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %s\t%d\t\n", k, errs[k])
	}
	_ = w.Flush()
	d.check("A stopped cleanly", st.status == "exit status 0", "%s", st.status)
	d.check("no failures except requests in flight on A at its stop", errOutside == 0 && errInWindow <= inFlightA,
		"%d failed during the stop (%d were in flight on A), %d at other times", errInWindow, inFlightA, errOutside)
	if d.signal == "TERM" {
		d.check("a graceful drain fails no request", failed == 0, "%d failed", failed)
	}
	d.check("nothing sent to A after it exited", afterExitOnA == 0, "%d", afterExitOnA)
	revoked := ops["me after logout (other instance)"]
	late := errs["me after logout (other instance): REVOKED TOKEN ACCEPTED"] + errs["me after logout (same instance): REVOKED TOKEN ACCEPTED"]
	d.check(fmt.Sprintf("logouts honoured at once on the same instance, within %v on the other", d.maxLag), revoked > 0 && late == 0,
		"%d me-after-logout on the other instance, %d on the same; revoked tokens accepted: %d beyond the promise, %d by the other instance within %v",
		revoked, ops["me after logout (same instance)"], late, withinBound, d.maxLag)
}
