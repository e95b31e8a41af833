package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"wxlogin/wechat/wechattest"
)

// BenchmarkE2E_MeCached is the `make bench` `me` request as production runs
// it: session cache on, one JSON log line per request at INFO. It is the
// benchmark the profiles in BENCHMARKS.md were taken with:
//
//	go test -run '^$' -bench E2E_MeCached -cpu 2 -cpuprofile cpu.out -memprofile mem.out .
//
// startCachedServer is Main as production runs it for `me`: session cache
// on, JSON log at INFO (to io.Discard).
func startCachedServer(b *testing.B) (*Main, string) {
	sim := wechattest.New(wechattest.App{AppID: e2eAppID, Secret: e2eSecret})
	wx := httptest.NewServer(sim.Handler())
	b.Cleanup(wx.Close)
	cfg := testConfig(b, e2eAppID, wx.URL)
	cfg.SessionCacheTTL, cfg.SessionCacheSize = 30*time.Second, 10000
	m := &Main{Config: cfg, Log: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if err := m.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	go func() { _ = m.Serve() }()
	b.Cleanup(func() { _ = m.Close(context.Background()) })
	code, _ := sim.Login("", "bench")
	return m, benchLogin(b, &testServer{Main: m, sim: sim}, code)
}

const benchMeBody = `{"query":"{ me { id nickname avatarUrl gender createdAt lastLoginAt } }"}`

// BenchmarkHandler_MeCached is the same request handed to the server's
// handler in process: no sockets, no HTTP client, so ns/op and allocs/op
// are the server's own (middleware, GraphQL, session cache, JSON).
func BenchmarkHandler_MeCached(b *testing.B) {
	m, token := startCachedServer(b)
	h := m.server.Handler
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
	url := m.URL() + "/graphql"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchPost(b, client, url, token, body)
		}
	})
}
