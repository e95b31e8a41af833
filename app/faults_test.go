package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/store/storetest"
	"wxlogin/wechat/wechattest"
)

// requestGoroutines lists the stacks of goroutines that serve a request or
// call WeChat on one's behalf: once every request has been answered, none
// may be left (a handler still waiting on a WeChat call that was given up).
func requestGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, frame := range []string{"wxlogin/graph.", "wxlogin/gqlhttp.", "wxlogin/auth.", "wxlogin/wechat.(*Client)"} {
			if strings.Contains(g, frame) {
				found = append(found, g)
				break
			}
		}
	}
	return found
}

// waitNoRequestGoroutines fails t unless every request goroutine ends
// within 5 s and the goroutine count comes back to within slack of base
// (any count when base is negative).
func waitNoRequestGoroutines(t *testing.T, base, slack int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := requestGoroutines()
		n := runtime.NumGoroutine()
		if len(left) == 0 && (base < 0 || n <= base+slack) {
			if base >= 0 {
				t.Logf("goroutines: %d at the start, %d now", base, n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines (%d at the start); %d still serve a request:\n%s", n, base, len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFaults_WechatDown: whatever WeChat does — hang before or while
// answering, answer garbage or a 5xx, refuse or drop the connection — a
// login answers WECHAT_UNAVAILABLE within about WECHAT_TIMEOUT, and no
// goroutine is left waiting on the call once the answer is out.
func TestFaults_WechatDown(t *testing.T) {
	// Not parallel: the goroutine count must be this test's alone.
	const wechatTimeout = 300 * time.Millisecond
	// The bound a client can rely on: two WeChat calls (a busy retry) and slack.
	const bound = 2*wechatTimeout + time.Second

	// hanging holds every connection open, unanswered, until the test ends.
	stop := make(chan struct{})
	var held sync.WaitGroup
	serveRaw := func(handle func(net.Conn)) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held.Add(1)
		go func() {
			defer held.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				held.Add(1)
				go func() { defer held.Done(); defer c.Close(); handle(c) }()
			}
		}()
		go func() { <-stop; ln.Close() }()
		return "http://" + ln.Addr().String()
	}
	defer held.Wait()
	defer close(stop)
	blackHole := serveRaw(func(c net.Conn) {
		// Reads the request, never answers, until the client gives up.
		_, _ = io.Copy(io.Discard, c)
	})
	dropper := serveRaw(func(c net.Conn) {
		// Reads the request line, then hangs up without a word.
		_, _ = c.Read(make([]byte, 1024))
	})
	slowBody := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Headers and half an answer, then nothing.
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, `{"openid":"o`)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer slowBody.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String()
	closed.Close()

	cases := []struct {
		name  string
		base  string // WECHAT_API_BASE; empty for the simulator
		fault wechattest.Fault
	}{
		{name: "HangsBeforeHeaders", fault: wechattest.Fault{Delay: 30 * time.Second}},
		{name: "BlackHole", base: blackHole},
		{name: "HangsMidBody", base: slowBody.URL},
		{name: "HTML200", fault: wechattest.Fault{Body: "<html><body>502 Bad Gateway</body></html>"}},
		{name: "TruncatedJSON", fault: wechattest.Fault{Body: `{"openid":"o1","session_key":`}},
		{name: "JSONWithoutSession", fault: wechattest.Fault{Body: `{"errcode":0,"errmsg":"ok"}`}},
		{name: "BinaryGarbage", fault: wechattest.Fault{Body: "\x00\xff\xfe garbage \x1b[0m"}},
		{name: "Status500", fault: wechattest.Fault{Status: http.StatusInternalServerError}},
		{name: "Status503", fault: wechattest.Fault{Status: http.StatusServiceUnavailable}},
		{name: "Status504", fault: wechattest.Fault{Status: http.StatusGatewayTimeout}},
		{name: "ConnectionRefused", base: refused},
		{name: "HangsUp", base: dropper},
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	var servers []*apptest.Server
	for _, tc := range cases {
		ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) {
			c.WechatTimeout = wechatTimeout
			if tc.base != "" {
				c.WechatAPIBase = tc.base
			}
		}))
		servers = append(servers, ts)
	}
	// Round 0 opens whatever idle connections the WeChat clients keep; the
	// goroutine count after it is the base the later rounds must not raise.
	base := 0
	for round := range 4 {
		if round == 1 {
			waitNoRequestGoroutines(t, -1, 0)
			runtime.GC()
			base = runtime.NumGoroutine()
		}
		for i, tc := range cases {
			t.Run(fmt.Sprintf("%s/%d", tc.name, round), func(t *testing.T) {
				ts := servers[i]
				if tc.fault != (wechattest.Fault{}) {
					// Both calls of a busy retry would meet it.
					ts.Sim.Inject(tc.fault, tc.fault)
				}
				r := ts.Using(client).Post("", apptest.LoginMutation, map[string]any{"in": map[string]any{"code": ts.Code(t, "down-"+tc.name)}})
				if r.Err != nil {
					t.Fatalf("after %v: %v", r.Took, r.Err)
				}
				if r.Status != http.StatusOK || r.Resp.Code() != "WECHAT_UNAVAILABLE" {
					t.Fatalf("HTTP %d %s, want WECHAT_UNAVAILABLE", r.Status, r.Resp.Raw)
				}
				if r.Took > bound {
					t.Fatalf("answered after %v, want within %v (WECHAT_TIMEOUT %v)", r.Took, bound, wechatTimeout)
				}
				if round == 0 {
					t.Logf("WECHAT_UNAVAILABLE after %v", r.Took.Round(time.Millisecond))
				}
				ts.Sim.Inject() // nothing left queued for the next round
			})
		}
	}
	// Every answer is out: no handler or WeChat call may still be running,
	// and three more rounds of faults left no goroutine behind.
	waitNoRequestGoroutines(t, base, 3)
}

// TestFaults_StatementTimeout: a statement PostgreSQL cannot run (here
// blocked by a lock) is cancelled by DB_STATEMENT_TIMEOUT, and the request
// answers INTERNAL well before its own deadline instead of hanging on.
func TestFaults_StatementTimeout(t *testing.T) {
	// Not parallel: it locks the sessions table of the package's database.
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.DBStatementTimeout = 300 * time.Millisecond }))
	p := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "stmt-timeout")})

	locker := storetest.Open(t)
	ctx := context.Background()
	tx, err := locker.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: time.Minute}
	for name, send := range map[string]func() apptest.Result{
		"me": func() apptest.Result { return ts.Using(client).Post(p.Token, `{ me { id } }`, nil) },
		"login": func() apptest.Result {
			return ts.Using(client).Post("", apptest.LoginMutation, map[string]any{"in": map[string]any{"code": ts.Code(t, "stmt-timeout")}})
		},
	} {
		r := send()
		if r.Err != nil || r.Status != http.StatusOK || r.Resp.Code() != "INTERNAL" {
			t.Fatalf("%s while sessions is locked: HTTP %d %v %s, want INTERNAL", name, r.Status, r.Err, r.Resp.Raw)
		}
		if r.Took > 3*time.Second {
			t.Fatalf("%s answered after %v; DB_STATEMENT_TIMEOUT is 300ms", name, r.Took)
		}
		t.Logf("%s: INTERNAL after %v", name, r.Took.Round(time.Millisecond))
	}
	_ = tx.Rollback()
	if me := ts.Do(t, p.Token, `{ me { id } }`, nil); len(me.Errors) > 0 {
		t.Fatalf("me after the lock was released: %s", me.Raw)
	}
}

// TestFaults_PostgresKilledUnderLoad: logins and me calls run from several
// clients while every backend of the database is terminated, several times.
// Each request gets an answer within its deadline — success or a clean
// GraphQL error, never a 5xx, HTML or a dropped connection; every login
// that handed out a token is recorded (its token works afterwards); and the
// server recovers by itself: /readyz and requests succeed within seconds.
func TestFaults_PostgresKilledUnderLoad(t *testing.T) {
	// Not parallel: it kills every connection to the package's database.
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.WechatTimeout = time.Second; c.DBMaxConns = 8 }))
	deadline := ts.Config.RequestTimeout
	killer := storetest.Open(t)
	kill := func() int {
		var n int
		if err := killer.DB().QueryRowContext(context.Background(),
			`SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
			  WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Errorf("killing backends: %v", err)
		}
		return n
	}

	const workers = 8
	const runFor = 4 * time.Second
	client := &http.Client{Timeout: deadline + 10*time.Second}
	var (
		mu        sync.Mutex
		tokens    []string
		counts    = map[string]int{}
		failures  []string
		requests  atomic.Int64
		slowest   atomic.Int64
		loadEnded = make(chan struct{})
		// lastKill and recovered are UnixNano: the last kill, and the end of
		// the first login that started after it and succeeded.
		lastKill, recovered atomic.Int64
	)
	judge := func(op string, r apptest.Result) {
		requests.Add(1)
		if d := int64(r.Took); d > slowest.Load() {
			slowest.Store(d)
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Err != nil:
			failures = append(failures, fmt.Sprintf("%s: %v after %v", op, r.Err, r.Took))
		case r.Status != http.StatusOK:
			failures = append(failures, fmt.Sprintf("%s: HTTP %d %s", op, r.Status, r.Resp.Raw))
		case r.Took > deadline+time.Second:
			failures = append(failures, fmt.Sprintf("%s: answered after %v, past REQUEST_TIMEOUT %v", op, r.Took, deadline))
		case len(r.Resp.Errors) > 0 && (r.Resp.Code() != "INTERNAL" || len(r.Resp.Data) > 0 && string(r.Resp.Data[op]) != "null"):
			failures = append(failures, fmt.Sprintf("%s: %s, want INTERNAL", op, r.Resp.Raw))
		}
		if r.Err == nil && len(r.Resp.Errors) > 0 {
			counts[op+" "+r.Resp.Code()]++
		} else if r.Err == nil {
			counts[op+" ok"]++
		}
	}
	var wg sync.WaitGroup
	stopAt := time.Now().Add(runFor)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stopAt); i++ {
				code, err := ts.Sim.Login("", fmt.Sprintf("load-%d-%d", w, i%5))
				if err != nil {
					t.Error(err)
					return
				}
				start := time.Now()
				r := ts.Using(client).Post("", apptest.LoginMutation, map[string]any{"in": map[string]any{"code": code}})
				judge("login", r)
				var p struct{ Token string }
				if r.Err != nil || len(r.Resp.Errors) > 0 || json.Unmarshal(r.Resp.Data["login"], &p) != nil || p.Token == "" {
					continue
				}
				if k := lastKill.Load(); k != 0 && start.UnixNano() > k {
					recovered.CompareAndSwap(0, time.Now().UnixNano())
				}
				mu.Lock()
				tokens = append(tokens, p.Token)
				mu.Unlock()
				judge("me", ts.Using(client).Post(p.Token, `{ me { id } }`, nil))
			}
		}()
	}
	go func() { wg.Wait(); close(loadEnded) }()

	var killed []int
	for range 3 {
		time.Sleep(runFor / 4)
		killed = append(killed, kill())
	}
	lastKill.Store(time.Now().UnixNano())
	<-loadEnded
	if recovered.Load() == 0 {
		t.Fatal("no login that started after the last kill succeeded before the load ended")
	}
	recoveredIn := time.Duration(recovered.Load() - lastKill.Load())

	// Recovery: without any help, /readyz and a fresh login answer again.
	for {
		r, err := client.Get(ts.URL() + "/readyz")
		ok := err == nil && r.StatusCode == http.StatusOK
		if err == nil {
			r.Body.Close()
		}
		if ok {
			code, _ := ts.Sim.Login("", "after-kills")
			r := ts.Using(client).Post("", apptest.LoginMutation, map[string]any{"in": map[string]any{"code": code}})
			if r.Err == nil && len(r.Resp.Errors) == 0 {
				break
			}
		}
		if time.Since(time.Unix(0, lastKill.Load())) > 5*time.Second {
			t.Fatalf("not recovered 5s after the last kill (readyz ok: %v)", ok)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("killed %v backends; %d requests, slowest %v; a login succeeded %v after the last kill; outcomes %v",
		killed, requests.Load(), time.Duration(slowest.Load()).Round(time.Millisecond), recoveredIn.Round(time.Millisecond), counts)
	if len(failures) > 0 {
		t.Fatalf("%d unclean answers, e.g.:\n%s", len(failures), strings.Join(failures[:min(len(failures), 10)], "\n"))
	}
	if counts["login ok"] == 0 || killed[0] == 0 {
		t.Fatal("no login succeeded, or nothing was killed: the test proved nothing")
	}
	if recoveredIn > 5*time.Second {
		t.Fatalf("the first login to succeed after the last kill took until %v after it", recoveredIn)
	}
	// WeChat spends a code before the session is recorded, so a login
	// cut by a dead connection is tried again on a live one (store.Login)
	// instead of answering INTERNAL. A kill racing that retry may still
	// cut one; without the retry there are a handful per kill.
	if n := counts["login INTERNAL"]; n > len(killed) {
		t.Fatalf("%d logins answered INTERNAL in %d kills: the retry on a dead connection does not work", n, len(killed))
	}
	// No confirmed login is lost: every token handed out still works.
	for _, tok := range tokens {
		r := ts.Using(client).Post(tok, `{ me { id } }`, nil)
		if r.Err != nil || len(r.Resp.Errors) > 0 {
			t.Fatalf("a login confirmed during the kills is lost: me = %v %s", r.Err, r.Resp.Raw)
		}
	}
	if n := len(tokens); n != counts["login ok"] {
		t.Fatalf("%d tokens for %d successful logins", n, counts["login ok"])
	}
}
