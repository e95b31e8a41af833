package e2e_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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
