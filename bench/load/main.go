// Command load drives an HTTP endpoint at fixed concurrency for make bench
// (scripts/bench.sh): one keep-alive HTTP/1.1 connection per worker, each
// request written from bytes prepared in advance, so the generator spends
// little of the CPU it shares with the servers it measures. It prints one
// JSON object: requests, errors, rps, latency percentiles, and the CPU time
// per request of the processes named by -pid and of PostgreSQL's.
//
//	load -addr 127.0.0.1:8080 -mode me -tokens tokens.txt -c 32 -d 10s
//	load -addr 127.0.0.1:8080 -mode login -users 1000
//	load -addr 127.0.0.1:9090 -mode baseline -tokens tokens.txt
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Name        string  `json:"name"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	Seconds     float64 `json:"seconds"`
	RPS         float64 `json:"rps"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	P999ms      float64 `json:"p999_ms"`
	MaxMs       float64 `json:"max_ms"`
	CPUus       float64 `json:"cpu_us_per_req"`    // the -pid processes
	PGCPUus     float64 `json:"pg_cpu_us_per_req"` // PostgreSQL's processes
	FirstError  string  `json:"first_error,omitempty"`
	Concurrency int     `json:"concurrency"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port")
	mode := flag.String("mode", "me", "me (GraphQL { me }), apq (me by persisted-query hash), baseline (GET /me), login (mint a code, then login)")
	name := flag.String("name", "", "label in the output; default the mode")
	tokensFile := flag.String("tokens", "", "file of bearer tokens, one a line (me, apq, baseline)")
	users := flag.Int("users", 1000, "login: distinct simulator users")
	conc := flag.Int("c", 32, "concurrent connections")
	dur := flag.Duration("d", 10*time.Second, "measured duration")
	warm := flag.Duration("warmup", 2*time.Second, "unmeasured warm-up before it")
	pids := flag.String("pid", "", "comma-separated pids whose CPU time is charged to the requests")
	pgPid := flag.Int("pgpid", 0, "the postmaster's pid: it and its children are PostgreSQL's CPU")
	flag.StringVar(&pgDB, "pgdb", "", "with -pgpid: count only the backends connected to this database (others' work on a shared cluster left out)")
	query := flag.String("query", "{ me { id nickname avatarUrl gender createdAt lastLoginAt } }", "me: the GraphQL document")
	mintOut := flag.String("out", "", "mint: write -users fresh tokens here (logs in bench-token-0… through the simulator)")
	flag.Parse()
	if *mode == "ticks" { // PostgreSQL's CPU so far, in clock ticks, for pgbench's row
		fmt.Println(pgTicks(*pgPid))
		return
	}
	if *mode == "mint" {
		if err := mint(*addr, *users, *mintOut); err != nil {
			fatal(err)
		}
		return
	}
	if *name == "" {
		*name = *mode
	}
	var tokens []string
	if *tokensFile != "" {
		b, err := os.ReadFile(*tokensFile)
		if err != nil {
			fatal(err)
		}
		tokens = strings.Fields(string(b))
	}
	gen, err := newGenerator(*mode, *addr, *query, tokens, *users)
	if err != nil {
		fatal(err)
	}

	var (
		measuring atomic.Bool
		stop      atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		lat       []time.Duration
		nerr      int
		firstErr  string
	)
	for w := range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			errs := 0
			var first string
			var c *conn
			for i := w; !stop.Load(); i += *conc {
				if c == nil {
					var err error
					if c, err = dial(*addr); err != nil {
						errs++
						first = err.Error()
						time.Sleep(10 * time.Millisecond)
						continue
					}
				}
				t0, err := gen.do(c, i)
				d := time.Since(t0)
				if err != nil {
					c.close()
					c = nil
				}
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				mine = append(mine, d)
			}
			if c != nil {
				c.close()
			}
			mu.Lock()
			lat = append(lat, mine...)
			nerr += errs
			if firstErr == "" {
				firstErr = first
			}
			mu.Unlock()
		}()
	}
	time.Sleep(*warm)
	cpu0, pg0 := cpuTicks(*pids), pgTicks(*pgPid)
	pgDB0 := dbBackendTicks(*pgPid)
	t0 := time.Now()
	measuring.Store(true)
	time.Sleep(*dur)
	measuring.Store(false)
	elapsed := time.Since(t0)
	cpu1, pg1 := cpuTicks(*pids), pgTicks(*pgPid)
	if pgDB != "" {
		pg0, pg1 = 0, ticksSince(pgDB0, dbBackendTicks(*pgPid))
	}
	stop.Store(true)
	wg.Wait()

	slices.Sort(lat)
	ms := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	n := len(lat)
	r := result{Name: *name, Requests: n, Errors: nerr, Seconds: elapsed.Seconds(), RPS: float64(n) / elapsed.Seconds(),
		P50ms: ms(0.50), P99ms: ms(0.99), P999ms: ms(0.999), MaxMs: ms(1), FirstError: firstErr, Concurrency: *conc}
	if n > 0 {
		tick := 1e6 / 100.0 // µs per clock tick (USER_HZ is 100 on Linux)
		r.CPUus = float64(cpu1-cpu0) * tick / float64(n)
		r.PGCPUus = float64(pg1-pg0) * tick / float64(n)
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(1)
}

// generator makes the i-th request on c and returns when it was sent.
type generator interface {
	do(c *conn, i int) (time.Time, error)
}

func newGenerator(mode, addr, query string, tokens []string, users int) (generator, error) {
	switch mode {
	case "me", "apq", "baseline":
		if len(tokens) == 0 {
			return nil, errors.New("-tokens is required")
		}
		reqs := make([][]byte, len(tokens))
		for i, t := range tokens {
			switch mode {
			case "baseline":
				reqs[i] = fmt.Appendf(nil, "GET /me HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", addr, t)
			case "me":
				body, _ := json.Marshal(map[string]any{"query": query})
				reqs[i] = post(addr, "/graphql", t, body)
			case "apq":
				// A GET by hash alone: the document was registered in warm-up.
				reqs[i] = fmt.Appendf(nil, "GET /graphql?extensions=%s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\nAuthorization: Bearer %s\r\n\r\n",
					apqExtensions(query), addr, t)
			}
		}
		return &fixed{reqs: reqs, register: mode == "apq", addr: addr, query: query, tokens: tokens}, nil
	case "login":
		return &login{addr: addr, users: users}, nil
	}
	return nil, fmt.Errorf("unknown -mode %q", mode)
}

func post(addr, path, tok string, body []byte) []byte {
	auth := ""
	if tok != "" {
		auth = "Authorization: Bearer " + tok + "\r\n"
	}
	return fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json\r\n%sContent-Length: %d\r\n\r\n%s",
		path, addr, auth, len(body), body)
}

type fixed struct {
	reqs     [][]byte
	register bool
	once     sync.Once
	regErr   error
	addr     string
	query    string
	tokens   []string
}

func (f *fixed) do(c *conn, i int) (time.Time, error) {
	if f.register {
		f.once.Do(func() {
			// Automatic persisted queries: the first request carries the
			// document with its hash, later ones the hash alone.
			body, _ := json.Marshal(map[string]any{"query": f.query, "extensions": json.RawMessage(apqExtensionsJSON(f.query))})
			_, _, f.regErr = c.roundTrip(post(f.addr, "/graphql", f.tokens[0], body))
		})
		if f.regErr != nil {
			return time.Now(), f.regErr
		}
	}
	t0 := time.Now()
	status, body, err := c.roundTrip(f.reqs[i%len(f.reqs)])
	return t0, check(status, body, err)
}

type login struct {
	addr  string
	users int
}

func (l *login) do(c *conn, i int) (time.Time, error) {
	// Minting the code is the phone's part: not timed (its CPU is charged,
	// it runs in the server's simulator).
	status, body, err := c.roundTrip(post(l.addr, "/dev/wechat/code", "", fmt.Appendf(nil, `{"user":"bench%d"}`, i%l.users)))
	if err = check(status, body, err); err != nil {
		return time.Now(), err
	}
	var code struct{ Code string }
	if err := json.Unmarshal(body, &code); err != nil || code.Code == "" {
		return time.Now(), fmt.Errorf("minting a code: %s", body)
	}
	req, _ := json.Marshal(map[string]any{"query": `mutation($c: String!) { login(input: {code: $c}) { token user { id } } }`, "variables": map[string]string{"c": code.Code}})
	t0 := time.Now()
	status, body, err = c.roundTrip(post(l.addr, "/graphql", "", req))
	if err = check(status, body, err); err == nil && !bytes.Contains(body, []byte(`"token"`)) {
		err = fmt.Errorf("no token: %s", body)
	}
	return t0, err
}

func check(status int, body []byte, err error) error {
	if err != nil {
		return err
	}
	if status != 200 || bytes.Contains(body, []byte(`"errors"`)) {
		return fmt.Errorf("HTTP %d: %.200s", status, body)
	}
	return nil
}

// conn is one keep-alive HTTP/1.1 connection.
type conn struct {
	nc net.Conn
	rd *bufio.Reader
}

func dial(addr string) (*conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, rd: bufio.NewReaderSize(nc, 16<<10)}, nil
}

func (c *conn) close() { _ = c.nc.Close() }

// roundTrip writes req and reads one response: status and body.
func (c *conn) roundTrip(req []byte) (int, []byte, error) {
	_ = c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.nc.Write(req); err != nil {
		return 0, nil, err
	}
	line, err := c.rd.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	length, chunked := -1, false
	for {
		h, err := c.rd.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		if len(h) <= 2 {
			break
		}
		k, v, _ := bytes.Cut(h, []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(v))
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		}
	}
	if chunked {
		var body []byte
		for {
			l, err := c.rd.ReadString('\n')
			if err != nil {
				return 0, nil, err
			}
			n, err := strconv.ParseInt(strings.TrimSpace(l), 16, 64)
			if err != nil {
				return 0, nil, fmt.Errorf("bad chunk %q", l)
			}
			chunk := make([]byte, n+2)
			if _, err := io.ReadFull(c.rd, chunk); err != nil {
				return 0, nil, err
			}
			if n == 0 {
				return status, body, nil
			}
			body = append(body, chunk[:n]...)
		}
	}
	if length < 0 {
		return 0, nil, errors.New("response without Content-Length")
	}
	body := make([]byte, length)
	_, err = io.ReadFull(c.rd, body)
	return status, body, err
}

// cpuTicks sums utime+stime of the processes in pids (comma-separated).
func cpuTicks(pids string) int64 {
	var total int64
	for p := range strings.SplitSeq(pids, ",") {
		if p = strings.TrimSpace(p); p != "" {
			total += procTicks(p)
		}
	}
	return total
}

// pgTicks sums the CPU of the postmaster pgPid and its children (backends,
// background workers) still alive, plus the children it has reaped
// (cutime/cstime), so connections that came and went are counted too.
func pgTicks(pgPid int) int64 {
	if pgPid == 0 {
		return 0
	}
	pp := strconv.Itoa(pgPid)
	total := procTicksWithChildren(pp)
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		f := statFields(d)
		if len(f) > 14 && f[1] == pp {
			total += procTicks(filepath.Base(filepath.Dir(d)))
		}
	}
	return total
}

// pgDB is -pgdb: only the backends connected to this database count, so
// that the tests others run on the same cluster are not charged to the
// requests (the postmaster and background processes are left out too).
var pgDB string

// dbBackendTicks is the CPU so far of each backend of pgDB, by pid.
func dbBackendTicks(pgPid int) map[string]int64 {
	if pgPid == 0 || pgDB == "" {
		return nil
	}
	pp := strconv.Itoa(pgPid)
	out := map[string]int64{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		f := statFields(d)
		if len(f) > 14 && f[1] == pp {
			pid := filepath.Base(filepath.Dir(d))
			// "postgres: [<cluster>:] <user> <database> <host>(<port>) <state>"
			title, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			if slices.Contains(strings.Fields(strings.ReplaceAll(string(title), "\x00", " ")), pgDB) {
				out[pid] = procTicks(pid)
			}
		}
	}
	return out
}

// ticksSince is the CPU the backends in now spent since then: a backend
// that is new counts whole, one that ended in between is lost (the
// servers' pools keep theirs open; the CPU of one closed by an idle
// timeout after the previous run must not be subtracted).
func ticksSince(then, now map[string]int64) int64 {
	var t int64
	for pid, v := range now {
		t += v - then[pid]
	}
	return t
}

// statFields returns /proc/<pid>/stat's fields after the command, so that
// f[0] is the state, f[1] the ppid and f[11], f[12] utime and stime.
func statFields(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

func procTicks(pid string) int64 {
	f := statFields("/proc/" + pid + "/stat")
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func procTicksWithChildren(pid string) int64 {
	f := statFields("/proc/" + pid + "/stat")
	if len(f) < 15 {
		return 0
	}
	var t int64
	for _, x := range f[11:15] {
		v, _ := strconv.ParseInt(x, 10, 64)
		t += v
	}
	return t
}

// mint logs in n simulator users over 8 connections and writes their tokens.
func mint(addr string, n int, out string) error {
	toks := make([]string, n)
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dial(addr)
			if err != nil {
				failed.Store(err)
				return
			}
			defer c.close()
			for i := w; i < n; i += 8 {
				status, body, err := c.roundTrip(post(addr, "/dev/wechat/code", "", fmt.Appendf(nil, `{"user":"bench-token-%d"}`, i)))
				if err = check(status, body, err); err != nil {
					failed.Store(err)
					return
				}
				var code struct{ Code string }
				_ = json.Unmarshal(body, &code)
				req, _ := json.Marshal(map[string]any{"query": `mutation($c: String!) { login(input: {code: $c}) { token } }`, "variables": map[string]string{"c": code.Code}})
				status, body, err = c.roundTrip(post(addr, "/graphql", "", req))
				if err = check(status, body, err); err != nil {
					failed.Store(err)
					return
				}
				var res struct {
					Data struct{ Login struct{ Token string } }
				}
				_ = json.Unmarshal(body, &res)
				toks[i] = res.Data.Login.Token
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	return os.WriteFile(out, []byte(strings.Join(toks, "\n")+"\n"), 0o600)
}
