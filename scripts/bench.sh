#!/usr/bin/env bash
# make bench: the performance comparison of issue 12, in one run.
#
# Finds PostgreSQL as make run does (scripts/dev.sh's find_server), starts
# the server in dev mode (WeChat simulator on loopback, rate limits off) on
# database wxlogin_bench, logs in BENCH_TOKENS users for tokens, starts the
# raw baseline (bench/baseline: net/http + pgx), and drives both with
# bench/load at BENCH_C connections, alternating, BENCH_ROUNDS rounds each;
# then login against pgbench running bench/login.sql. CPU time per request
# comes from /proc/<pid>/stat deltas of each server and of PostgreSQL's
# processes. The table is printed and written into BENCHMARKS.md between
# the bench:begin and bench:end markers.
#
# Settings: BENCH_C (32), BENCH_D (10s), BENCH_WARMUP (3s), BENCH_ROUNDS (2),
# BENCH_TOKENS (2000), BENCH_DB_CONNS (the server's and baseline's pools, 20),
# BENCH_LOG_LEVEL (the server's LOG_LEVEL, warn), BENCH_LOGIN_USERS (distinct
# users the login run cycles through, 1000: a large number makes every
# login a first one), BENCH_PARTS (which runs:
# "me login nocache revocation", all by default;
# BENCHMARKS.md is only rewritten when all ran).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=$here
# scripts/dev.sh's functions (sourced, it runs no command).
# shellcheck source=scripts/dev.sh
. "$root/scripts/dev.sh"
trap - ERR
root=$here
bin="$root/bin/wxlogin"
cd "$root"

c=${BENCH_C:-32}
d=${BENCH_D:-10s}
warmup=${BENCH_WARMUP:-3s}
rounds=${BENCH_ROUNDS:-2}
ntokens=${BENCH_TOKENS:-2000}
conns=${BENCH_DB_CONNS:-20}
port=18080
bport=19090
out=$root/bin/bench
mkdir -p "$out"
rm -f "$out"/results.jsonl "$out"/pgbench.*

build
go build -o "$root/bin/bench-load" ./bench/load
go build -o "$root/bin/bench-report" ./bench/report
(cd bench/baseline && go build -o "$root/bin/bench-baseline" .)
command -v pgbench >/dev/null && command -v psql >/dev/null || apt_install postgresql-client

find_server probe_run wxlogin_bench
dsn=$server_url
log "PostgreSQL: $(redact "$dsn") ($server_from)"
# The postmaster is the parent of any backend: its children are PostgreSQL's CPU.
backend=$(psql "$dsn" -Atc 'SELECT pg_backend_pid()')
pgpid=$(awk '{print $4}' "/proc/$backend/stat" 2>/dev/null || echo 0)
[ -r "/proc/$pgpid/stat" ] || { log "PostgreSQL is not on this machine: its CPU is not measured"; pgpid=0; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start_server() { # start_server NAME ENV... : starts bin/wxlogin with ENV, sets spid
	local name=$1; shift
	env DEV_WECHAT=1 DATABASE_URL="$dsn" HOST=127.0.0.1 PORT=$port LOG_LEVEL="${BENCH_LOG_LEVEL:-warn}" DB_MAX_CONNS="$conns" \
		RATE_LOGIN_PER_IP=off RATE_LOGIN_PER_OPENID=off AVATAR_DIR="$out/avatars" "$@" \
		"$bin" serve >"$out/$name.log" 2>&1 &
	spid=$!
	pids+=("$spid")
	for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
	cat "$out/$name.log" >&2
	die "the server did not start"
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }
load() { "$root/bin/bench-load" -c "$c" -d "$d" -warmup "$warmup" -pgpid "$pgpid" "$@" | tee -a "$out/results.jsonl"; }

start_server server
"$root/bin/bench-load" -addr 127.0.0.1:$port -mode mint -users "$ntokens" -out "$out/tokens.txt"
log "logged in $ntokens users for tokens"
DATABASE_URL="$dsn" "$root/bin/bench-baseline" -addr 127.0.0.1:$bport -conns "$conns" >"$out/baseline.log" 2>&1 &
bpid=$!
pids+=("$bpid")
sleep 1

parts=" ${BENCH_PARTS:-me login nocache revocation} "
part() { [[ $parts == *" $1 "* ]]; }

for r in $(seq "$rounds"); do
	part me || break
	log "round $r: me"
	load -name me -mode me -addr 127.0.0.1:$port -tokens "$out/tokens.txt" -pid "$spid"
	log "round $r: baseline"
	load -name baseline -mode baseline -addr 127.0.0.1:$bport -tokens "$out/tokens.txt" -pid "$bpid"
	log "round $r: me by persisted query"
	load -name apq -mode apq -addr 127.0.0.1:$port -tokens "$out/tokens.txt" -pid "$spid"
done
if part login; then
log "login"
load -name login -mode login -addr 127.0.0.1:$port -users "${BENCH_LOGIN_USERS:-1000}" -pid "$spid"
fi
rss=$(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$spid/status")
stop "$spid"
stop "$bpid"

if part login; then
log "pgbench: the login transaction"
secs=${d%s}
pgb() { (cd "$out" && pgbench -n -M prepared -c "$c" -j 2 -T "$1" -D nusers=1000 -f "$root/bench/login.sql" -l --log-prefix=pgbench.log "$dsn"); }
pgb 3 >/dev/null 2>&1 || true # warm-up, and creates pgbench's users
rm -f "$out"/pgbench.log*
t0=$("$root/bin/bench-load" -mode ticks -pgpid "$pgpid")
pgb "$secs" >"$out/pgbench.out" 2>&1 || { cat "$out/pgbench.out" >&2; die "pgbench failed"; }
t1=$("$root/bin/bench-load" -mode ticks -pgpid "$pgpid")
n=$(sed -n 's/.*actually processed: \([0-9]*\).*/\1/p' "$out/pgbench.out")
if [ "${n:-0}" -gt 0 ]; then echo "pg_cpu_us_per_req=$(( (t1 - t0) * 10000 / n ))" >>"$out/pgbench.out"; fi
cat "$out/pgbench.out"
fi

if part nocache; then
log "me without the session cache (for the record)"
start_server nocache SESSION_CACHE_TTL=0
DATABASE_URL="$dsn" "$root/bin/bench-baseline" -addr 127.0.0.1:$bport -conns "$conns" >"$out/baseline.log" 2>&1 &
bpid=$!
pids+=("$bpid")
sleep 1
load -name me-nocache -mode me -addr 127.0.0.1:$port -tokens "$out/tokens.txt" -pid "$spid"
stop "$spid"
stop "$bpid"
fi

if ! part revocation || [ "$parts" != " me login nocache revocation " ]; then
	log "BENCH_PARTS=${BENCH_PARTS}: results in $out/results.jsonl; BENCHMARKS.md left as it was"
	exit 0
fi
log "cross-instance revocation latency"
test_url="${dsn%%/wxlogin_bench*}/postgres?sslmode=disable"
rev=$(TEST_DATABASE_URL="$test_url" go test -count=1 -run '^TestSessionCache_RevocationLatency$' -v ./e2e/ 2>&1 | sed -n 's/.*revocation latency: //p')

{
	echo "date=$(date -u +%Y-%m-%d)"
	echo "machine=$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(go env GOVERSION), $(psql "$dsn" -Atc 'SHOW server_version')"
	echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo '+dirty')"
	echo "c=$c"; echo "d=$d"; echo "warmup=$warmup"
	echo "rss=$rss"
	echo "revocation=$rev"
} >"$out/facts.txt"
"$root/bin/bench-report" -results "$out/results.jsonl" -pgbench "$out/pgbench.out" -pgbench-logs "$out/pgbench.log*" -facts "$out/facts.txt" -md "$root/BENCHMARKS.md"
log "written to BENCHMARKS.md"
