package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"wxlogin/wechat/wechattest"
)

// simCmd serves the WeChat simulator on its own: the API side (what
// WECHAT_API_BASE points at), the mini-program side (POST /dev/wechat/code),
// and GET /stats, the count of calls to each API path.
func simCmd(args []string) error {
	fs := flag.NewFlagSet("clusterload sim", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18090", "address to listen on")
	appID := fs.String("appid", "", "the mini program's appid")
	secret := fs.String("secret", "", "its app secret")
	latency := fs.Duration("latency", 0, "how long code2Session takes, like the real WeChat's round trip")
	_ = fs.Parse(args)
	if *appID == "" || *secret == "" {
		log.Fatal("clusterload sim: -appid and -secret are required")
	}
	sim := wechattest.New(wechattest.App{AppID: *appID, Secret: *secret})
	all := sim.Handler()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]int{}
		for _, p := range []string{wechattest.PathCode2Session, wechattest.PathStableToken, wechattest.PathPhoneNumber,
			wechattest.PathCheckSession, wechattest.PathMintCode, wechattest.PathMintPhone} {
			out[p] = sim.Calls(p)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *latency > 0 && r.URL.Path == wechattest.PathCode2Session {
			select {
			case <-time.After(*latency):
			case <-r.Context().Done():
				return
			}
		}
		all.ServeHTTP(w, r)
	}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Printf("WeChat simulator for %s on http://%s (code2Session latency %v)", *appID, *addr, *latency)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}
