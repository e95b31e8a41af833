package e2e_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
)

// BenchmarkE2E_MeCached is the `make bench` `me` request as production runs
// it: session cache on, one JSON log line per request at INFO. It is the
// benchmark the profiles in BENCHMARKS.md were taken with:
//
//	go test -run '^$' -bench E2E_MeCached -cpu 2 -cpuprofile cpu.out -memprofile mem.out ./e2e/
//
// startCachedServer is Main as production runs it for `me`: session cache
// on, JSON log at INFO (to io.Discard).
func startCachedServer(b *testing.B) (*apptest.Server, string) {
	ts := apptest.Start(b, apptest.WithLogOutput(io.Discard), apptest.WithConfig(func(c *app.Config) {
		c.SessionCacheTTL, c.SessionCacheSize = 30*time.Second, 10000
		c.LogFormat, c.LogLevel = "json", slog.LevelInfo
	}))
	return ts, benchLogin(b, ts, ts.Code(b, "bench"))
}

const benchMeBody = `{"query":"{ me { id nickname avatarUrl gender createdAt lastLoginAt } }"}`

// BenchmarkHandler_MeCached is the same request handed to the server's
// handler in process: no sockets, no HTTP client, so ns/op and allocs/op
// are the server's own (middleware, GraphQL, session cache, JSON).
func BenchmarkHandler_MeCached(b *testing.B) {
	m, token := startCachedServer(b)
	h := m.Handler()
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(benchMeBody))
			req.RemoteAddr = "127.0.0.1:40000"
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatal(w.Code, w.Body.String())
			}
		}
	})
}

func BenchmarkE2E_MeCached(b *testing.B) {
	m, token := startCachedServer(b)
	body := []byte(benchMeBody)
	c := m.Using(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}})
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.PostBody(b, token, body)
		}
	})
}

// benchUsersPageBody is the dashboard's users page of issue 21 (item 11):
// 20 users, five fields each, with the page info to go on.
const benchUsersPageBody = `{"query":"{ users(first: 20) { edges { node { id nickname avatarUrl city createdAt } } pageInfo { hasNextPage endCursor } } }"}`

// BenchmarkHandler_UsersPage is that page handed to the server's handler
// in process, with an admin whose session is cached: the CPU of the
// admin session lookup, the page query, Bun's scan and the executor.
//
//	go test -run '^$' -bench Handler_UsersPage -cpu 2 -cpuprofile cpu.out ./e2e/
func BenchmarkHandler_UsersPage(b *testing.B) {
	ts := apptest.Start(b, apptest.WithLogOutput(io.Discard), apptest.WithConfig(func(c *app.Config) {
		c.SessionCacheTTL, c.SessionCacheSize = 30*time.Second, 10000
		c.LogFormat, c.LogLevel = "json", slog.LevelInfo
	}))
	for i := range 25 {
		benchLogin(b, ts, ts.Code(b, fmt.Sprintf("bench-users-page-%d", i)))
	}
	// A name of its own per run: the benchmark function runs more than once.
	name := fmt.Sprintf("bench-users-page-%d", time.Now().UnixNano())
	tok, resp := ts.AdminLogin(b, name, apptest.CreateAdmin(b, name, "viewer"))
	if tok == "" {
		b.Fatal(resp.Raw)
	}
	h := ts.Handler()
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	// CPU time of the process per request (this benchmark's goroutines
	// included, which are little): ns/op on a shared machine is its load.
	cpu0 := processCPU()
	defer func() { b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op") }()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(benchUsersPageBody))
			req.RemoteAddr = "127.0.0.1:40000"
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `"errors"`) {
				b.Fatal(w.Code, w.Body.String())
			}
		}
	})
}

// processCPU is this process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
