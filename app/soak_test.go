//go:build soak

package app_test

// The soak test is not part of `make test`: `make soak` runs it,
//
//	go test -tags soak -run '^TestSoak$' -count=1 -v -timeout 10m .
//
// against the PostgreSQL server in TEST_DATABASE_URL (as every test), for
// SOAK_DURATION (default 60s).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/wechat/wechattest"
)

// soakSample is the process's state at one moment, after a full GC.
type soakSample struct {
	at         time.Duration
	goroutines int
	heapLive   uint64 // bytes of live heap objects
	requests   int64
}

func takeSoakSample(start time.Time, requests int64) soakSample {
	runtime.GC()
	s := []metrics.Sample{{Name: "/sched/goroutines:goroutines"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return soakSample{at: time.Since(start), goroutines: int(s[0].Value.Uint64()), heapLive: s[1].Value.Uint64(), requests: requests}
}

// TestSoak runs mixed load — logins, me, the admin users list, logouts and
// bad requests — on loopback against the real server, sampling goroutines
// and the live heap every few seconds; after a warm-up both must stay flat.
func TestSoak(t *testing.T) {
	duration := time.Minute
	if s := os.Getenv("SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("SOAK_DURATION: %v", err)
		}
		duration = d
	}
	const (
		workers = 8
		users   = 200 // a bounded population, as the simulator keeps each one
		every   = 5 * time.Second
	)
	warmUp := min(duration/6, 10*time.Second)

	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.DBMaxConns = 10 }))
	adminToken, resp := ts.AdminLogin(t, "soak-viewer", apptest.CreateAdmin(t, "soak-viewer", "viewer"))
	if adminToken == "" {
		t.Fatal(resp.Raw)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 30 * time.Second}

	var (
		requests atomic.Int64
		mu       sync.Mutex
		outcomes = map[string]int{}
		failures []string
	)
	record := func(op string, r apptest.Result, want ...string) {
		requests.Add(1)
		got := "ok"
		if r.Err == nil && len(r.Resp.Errors) > 0 {
			got = r.Resp.Code()
		}
		mu.Lock()
		defer mu.Unlock()
		outcomes[op+" "+got]++
		switch {
		case r.Err != nil:
			failures = append(failures, fmt.Sprintf("%s: %v", op, r.Err))
		case r.Status >= 500:
			failures = append(failures, fmt.Sprintf("%s: HTTP %d %s", op, r.Status, r.Resp.Raw))
		default:
			for _, w := range want {
				if got == w {
					return
				}
			}
			failures = append(failures, fmt.Sprintf("%s: %s, want one of %v", op, r.Resp.Raw, want))
		}
	}

	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, err := ts.Sim.Login("", fmt.Sprintf("soak-%d", (w*7919+i)%users))
				if err != nil {
					t.Error(err)
					return
				}
				r := ts.Using(client).Post("", apptest.LoginMutation, map[string]any{"in": map[string]any{"code": code}})
				record("login", r, "ok", "RATE_LIMITED", "WECHAT_CODE_INVALID")
				var p struct{ Token string }
				if r.Err != nil || len(r.Resp.Errors) > 0 || json.Unmarshal(r.Resp.Data["login"], &p) != nil {
					continue
				}
				for range 3 {
					record("me", ts.Using(client).Post(p.Token, `{ me { id nickname createdAt lastLoginAt } }`, nil), "ok", "RATE_LIMITED")
				}
				if i%4 == 0 {
					record("users", ts.Using(client).Post(adminToken,
						`{ users(first: 20, filter: {search: "soak"}) { totalCount edges { cursor node { id } } pageInfo { endCursor } } }`, nil),
						"ok", "RATE_LIMITED")
				}
				switch i % 5 {
				case 0:
					record("bad query", ts.Using(client).Post("", `{ me { nope } }`, nil), "GRAPHQL_VALIDATION_FAILED")
				case 1:
					record("bad token", ts.Using(client).Post("not-a-token", `{ me { id } }`, nil), "UNAUTHENTICATED", "RATE_LIMITED")
				case 2:
					record("bad cursor", ts.Using(client).Post(adminToken, `{ users(first: 1, after: "x") { totalCount } }`, nil), "BAD_USER_INPUT", "RATE_LIMITED")
				}
				record("logout", ts.Using(client).Post(p.Token, `mutation { logout }`, nil), "ok", "RATE_LIMITED")
			}
		}()
	}

	var samples []soakSample
	errorLines := 0
	tick := time.NewTicker(every)
	for samples = append(samples, takeSoakSample(start, 0)); time.Since(start) < duration; {
		<-tick.C
		// The simulator, in this process too, keeps every code it mints
		// for CodeTTL (5 minutes): expire them, so that what is measured
		// is the server. A code minted just before may expire unused.
		ts.Sim.Advance(wechattest.CodeTTL)
		// The server's log goes to a buffer here: check it, then empty it.
		logged := ts.Logs.Take()
		if strings.Contains(logged, "level=ERROR") || strings.Contains(logged, "panic") {
			errorLines++
			if errorLines == 1 {
				t.Errorf("the server logged errors:\n%.2000s", logged)
			}
		}
		samples = append(samples, takeSoakSample(start, requests.Load()))
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	client.CloseIdleConnections()

	var table strings.Builder
	fmt.Fprintf(&table, "%8s %10s %12s %10s %8s\n", "time", "goroutines", "live heap", "requests", "req/s")
	for i, s := range samples {
		rate := 0.0
		if i > 0 {
			rate = float64(s.requests-samples[i-1].requests) / (s.at - samples[i-1].at).Seconds()
		}
		fmt.Fprintf(&table, "%8s %10d %9.1f MB %10d %8.0f\n", s.at.Round(time.Second), s.goroutines, float64(s.heapLive)/(1<<20), s.requests, rate)
	}
	t.Logf("soak of %v, %d workers:\n%s", duration, workers, table.String())
	t.Logf("outcomes: %v", outcomes)

	if len(failures) > 0 {
		t.Errorf("%d unexpected answers, e.g.:\n%s", len(failures), strings.Join(failures[:min(len(failures), 10)], "\n"))
	}
	// Flat after the warm-up: the samples after it may not climb above the
	// first of them by more than noise (goroutines come and go with the
	// requests in flight at the moment of sampling: up to a few per worker).
	var base *soakSample
	for i := range samples {
		if samples[i].at >= warmUp {
			base = &samples[i]
			break
		}
	}
	if base == nil || len(samples) < 3 {
		t.Fatalf("too short a soak to judge (%v, warm-up %v)", duration, warmUp)
	}
	last := samples[len(samples)-1]
	if maxG := base.goroutines + 4*workers; last.goroutines > maxG {
		t.Errorf("goroutines grew from %d (at %v) to %d: a leak", base.goroutines, base.at.Round(time.Second), last.goroutines)
	}
	if maxHeap := base.heapLive + base.heapLive/2 + 4<<20; last.heapLive > maxHeap {
		t.Errorf("live heap grew from %.1f MB (at %v) to %.1f MB: a leak", float64(base.heapLive)/(1<<20), base.at.Round(time.Second), float64(last.heapLive)/(1<<20))
	}
	if last.requests < int64(duration.Seconds())*10 {
		t.Errorf("only %d requests in %v: the load did not run", last.requests, duration)
	}
}
