// Command starve measures what admin searches cost the mini program's
// users: one client logs in and asks for me, one after another, while -c
// admin clients repeat a search as fast as the server answers. It prints
// the login + me latencies (median, p90, max) and what the searches got.
// The server must run in dev mode (its simulator mints the codes); -c 0
// measures the idle latency.
//
//	starve -addr 127.0.0.1:8080 -admin viewer -password '…' -search % -c 40 -n 200
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port of a dev-mode server")
	user := flag.String("admin", "", "admin username (a VIEWER will do)")
	pw := flag.String("password", "", "its password")
	search := flag.String("search", "%", "what the admin clients search for")
	conc := flag.Int("c", 40, "concurrent admin clients; 0 for none")
	n := flag.Int("n", 200, "logins + me to measure")
	warm := flag.Duration("warmup", 2*time.Second, "admin load before the first measured login")
	flag.Parse()
	base := "http://" + *addr
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: *conc + 4}}

	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	searches := map[string]int{}
	if *conc > 0 {
		var tok struct {
			AdminLogin struct{ Token string }
		}
		if err := gql(client, base, "", `mutation($u: String!, $p: String!) { adminLogin(username: $u, password: $p) { token } }`,
			map[string]any{"u": *user, "p": *pw}, &tok); err != nil {
			fatal(err)
		}
		q := `query($s: String!) { users(first: 20, filter: {search: $s}) { totalCount edges { node { id } } } }`
		for range *conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					outcome := "ok"
					if err := gql(client, base, tok.AdminLogin.Token, q, map[string]any{"s": *search}, nil); err != nil {
						outcome = err.Error()
					}
					mu.Lock()
					searches[outcome]++
					mu.Unlock()
				}
			}()
		}
		time.Sleep(*warm)
	}

	var lat []time.Duration
	failed := map[string]int{}
	start := time.Now()
	for i := range *n {
		var code struct{ Code string }
		body, _ := json.Marshal(map[string]string{"user": fmt.Sprintf("starve-%d-%d", start.UnixNano(), i)})
		if err := post(client, base+"/dev/wechat/code", "", body, &code); err != nil {
			fatal(err)
		}
		// A login or me that fails counts with its latency, and by its code.
		t0 := time.Now()
		var login struct{ Login struct{ Token string } }
		err := gql(client, base, "", `mutation($c: String!) { login(input: {code: $c}) { token } }`, map[string]any{"c": code.Code}, &login)
		if err != nil {
			err = fmt.Errorf("login: %w", err)
		} else if err = gql(client, base, login.Login.Token, `{ me { id } }`, nil, nil); err != nil {
			err = fmt.Errorf("me: %w", err)
		}
		lat = append(lat, time.Since(t0))
		if err != nil {
			failed[err.Error()]++
		}
	}
	elapsed := time.Since(start)
	stop.Store(true)
	wg.Wait()

	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	out, _ := json.Marshal(map[string]any{
		"admin_clients": *conc, "search": *search, "logins": len(lat),
		"p50_ms": ms(lat[len(lat)/2]), "p90_ms": ms(lat[len(lat)*9/10]), "max_ms": ms(lat[len(lat)-1]),
		"failed": failed, "seconds": elapsed.Seconds(), "searches": searches,
	})
	fmt.Println(string(out))
}

// gql posts a GraphQL request and decodes its data into out (when not
// nil); a GraphQL error comes back as its extensions.code.
func gql(c *http.Client, base, token, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	var resp struct {
		Data   json.RawMessage
		Errors []struct {
			Message    string
			Extensions struct{ Code string }
		}
	}
	if err := post(c, base+"/graphql", token, body, &resp); err != nil {
		return err
	}
	if len(resp.Errors) > 0 {
		return fmt.Errorf("%s", resp.Errors[0].Extensions.Code)
	}
	if out != nil {
		return json.Unmarshal(resp.Data, out)
	}
	return nil
}

func post(c *http.Client, url, token string, body []byte, out any) error {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, raw)
	}
	return nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "starve:", err)
	os.Exit(1)
}
