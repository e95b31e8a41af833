// Command report turns make bench's measurements into the markdown table
// written to BENCHMARKS.md (between the bench:begin and bench:end markers)
// and printed. Input: the JSON lines of bench/load, pgbench's output and
// per-transaction logs, and key=value facts about the run.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

type result struct {
	Name     string  `json:"name"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	CPUus    float64 `json:"cpu_us_per_req"`
	PGCPUus  float64 `json:"pg_cpu_us_per_req"`
}

func main() {
	results := flag.String("results", "", "JSON lines from bench/load")
	pgbOut := flag.String("pgbench", "", "pgbench's output")
	pgbLogs := flag.String("pgbench-logs", "", "glob of pgbench's per-transaction logs")
	facts := flag.String("facts", "", "file of key=value lines: machine, date, commit, rss, revocation, ...")
	md := flag.String("md", "BENCHMARKS.md", "file to write the section into")
	flag.Parse()

	byName := map[string][]result{}
	f, err := os.Open(*results)
	if err != nil {
		fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r result
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Name != "" {
			byName[r.Name] = append(byName[r.Name], r)
		}
	}
	kv := map[string]string{}
	if b, err := os.ReadFile(*facts); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				kv[k] = v
			}
		}
	}
	pgb := pgbench(*pgbOut, *pgbLogs)
	if pgb != nil {
		byName["pgbench"] = []result{*pgb}
	}

	var w bytes.Buffer
	fmt.Fprintf(&w, "### %s — `make bench`\n\n", kv["date"])
	fmt.Fprintf(&w, "Machine: %s. Commit `%s`. Concurrency %s, %s per round after %s warm-up; rounds alternate server and baseline.\n\n",
		kv["machine"], kv["commit"], kv["c"], kv["d"], kv["warmup"])
	fmt.Fprintln(&w, "| run | rounds | rps | p50 ms | p99 ms | errors | CPU µs/req (process) | PostgreSQL CPU µs/req | ratio |")
	fmt.Fprintln(&w, "|---|---|---|---|---|---|---|---|---|")
	base := avg(byName["baseline"])
	pg := avg(byName["pgbench"])
	row := func(name, label string, ref *result) {
		rs := byName[name]
		if len(rs) == 0 {
			return
		}
		a := avg(rs)
		ratio := "—"
		if ref != nil && ref.RPS > 0 {
			ratio = fmt.Sprintf("**%.2f×**", a.RPS/ref.RPS)
		}
		cpu := fmt.Sprintf("%.0f", a.CPUus)
		if name == "pgbench" {
			cpu = "—"
		}
		fmt.Fprintf(&w, "| %s | %d | %.0f | %.2f | %.2f | %d | %s | %.0f | %s |\n", label, len(rs), a.RPS, a.P50ms, a.P99ms, a.Errors, cpu, a.PGCPUus, ratio)
	}
	row("baseline", "`me` raw baseline (net/http + pgx, `bench/baseline`)", nil)
	row("me", "`me` wxlogin, GraphQL POST", base)
	row("apq", "`me` wxlogin, persisted query (GET by hash)", base)
	row("me-nocache", "`me` wxlogin, SESSION_CACHE_TTL=0", base)
	row("pgbench", "login transaction, pgbench -M prepared", nil)
	row("login", "`login` wxlogin (+ simulator on loopback)", pg)
	fmt.Fprintln(&w)
	if v := kv["rss"]; v != "" {
		fmt.Fprintf(&w, "Peak RSS of the server over the whole run (VmHWM): %s. ", v)
	}
	if v := kv["revocation"]; v != "" {
		fmt.Fprintf(&w, "Cross-instance revocation (TestSessionCache_RevocationLatency, logout on A until B refuses): %s.", v)
	}
	fmt.Fprintln(&w)
	fmt.Fprintln(&w)
	tbl := w.String()
	fmt.Print(tbl)

	doc, err := os.ReadFile(*md)
	if err != nil {
		fatal(err)
	}
	const begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
	i, j := bytes.Index(doc, []byte(begin)), bytes.Index(doc, []byte(end))
	if i < 0 || j < i {
		fatal(fmt.Errorf("%s has no %s … %s section", *md, begin, end))
	}
	out := slices.Concat(doc[:i+len(begin)], []byte("\n"), []byte(tbl), doc[j:])
	if err := os.WriteFile(*md, out, 0o644); err != nil {
		fatal(err)
	}
}

func avg(rs []result) *result {
	if len(rs) == 0 {
		return nil
	}
	var a result
	for _, r := range rs {
		a.Requests += r.Requests
		a.Errors += r.Errors
		a.RPS += r.RPS
		a.P50ms += r.P50ms
		a.P99ms += r.P99ms
		a.CPUus += r.CPUus
		a.PGCPUus += r.PGCPUus
	}
	n := float64(len(rs))
	a.RPS, a.P50ms, a.P99ms, a.CPUus, a.PGCPUus = a.RPS/n, a.P50ms/n, a.P99ms/n, a.CPUus/n, a.PGCPUus/n
	return &a
}

var tpsRe = regexp.MustCompile(`tps = ([0-9.]+) \(without`)
var pgCPURe = regexp.MustCompile(`pg_cpu_us_per_req=([0-9.]+)`)
var failRe = regexp.MustCompile(`number of failed transactions: ([0-9]+)`)

// pgbench reads tps from pgbench's output and latency percentiles from its
// per-transaction logs (third field: latency in µs).
func pgbench(out, logs string) *result {
	b, err := os.ReadFile(out)
	if err != nil {
		return nil
	}
	m := tpsRe.FindSubmatch(b)
	if m == nil {
		return nil
	}
	r := &result{Name: "pgbench"}
	r.RPS, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := failRe.FindSubmatch(b); m != nil {
		r.Errors, _ = strconv.Atoi(string(m[1]))
	}
	if m := pgCPURe.FindSubmatch(b); m != nil {
		r.PGCPUus, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	files, _ := filepath.Glob(logs)
	var lat []float64
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for l := range strings.SplitSeq(string(data), "\n") {
			fs := strings.Fields(l)
			if len(fs) >= 3 {
				v, _ := strconv.ParseFloat(fs[2], 64)
				lat = append(lat, v/1000)
			}
		}
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50ms, r.P99ms = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return r
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(1)
}
