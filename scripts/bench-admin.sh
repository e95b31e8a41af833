#!/usr/bin/env bash
# make bench-admin: the dashboard's users page against PostGraphile v4 on
# the same table, in one run (issue 21).
#
# Finds PostgreSQL as make run does, on database wxlogin_bench_admin (or
# DATABASE_URL), seeds it up to BENCH_ADMIN_USERS users (1,000,000; in
# 100,000-user runs of `wxlogin admin seed`, about half a minute each, once),
# creates the admin bench-admin, starts the server (dev mode, default
# settings: session cache on, ADMIN_DB_MAX_CONNS 4) and PostGraphile v4
# (`npx postgraphile@4`, its own pool of 10, NODE_ENV=production) over the
# same database, and drives each with bench/load at BENCH_C connections
# for BENCH_D, alternating, BENCH_ROUNDS rounds. The two documents ask the
# same thing: the newest 20 users' id, nickname, avatarUrl, city and
# createdAt, and whether a next page follows with its cursor; both orders
# are served by the (created_at, id) index. CPU time per request is the
# /proc/<pid>/stat delta of each server and of all PostgreSQL processes
# (others' work on the same cluster included). Results: one JSON line per
# run in bin/bench/admin.jsonl, and a table on stdout.
#
# Settings: BENCH_C (32), BENCH_D (8s), BENCH_WARMUP (2s), BENCH_ROUNDS (3),
# BENCH_ADMIN_USERS (1000000), BENCH_ADMIN_BIN (the server binary to
# measure, bin/wxlogin by default: an older build, for before and after).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=$here
# shellcheck source=scripts/dev.sh
. "$root/scripts/dev.sh"
trap - ERR
root=$here
bin="$root/bin/wxlogin"
cd "$root"

c=${BENCH_C:-32}
d=${BENCH_D:-8s}
warmup=${BENCH_WARMUP:-2s}
rounds=${BENCH_ROUNDS:-3}
want=${BENCH_ADMIN_USERS:-1000000}
port=18090
pgport=15050
out=$root/bin/bench
mkdir -p "$out"
rm -f "$out"/admin.jsonl

build
go build -o "$root/bin/bench-load" ./bench/load
command -v psql >/dev/null || apt_install postgresql-client
command -v npx >/dev/null || die "npx (Node.js) is needed to run PostGraphile"

find_server probe_run wxlogin_bench_admin
dsn=$server_url
log "PostgreSQL: $(redact "$dsn") ($server_from)"
# The postmaster is the parent of the checkpointer, which lives as long as it
# (a backend of our own would be gone before we read its parent).
ckpt=$(psql "$dsn" -Atc "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
pgpid=$(awk '{print $4}' "/proc/$ckpt/stat" 2>/dev/null || echo 0)
[ -r "/proc/$pgpid/stat" ] || { log "PostgreSQL is not on this machine: its CPU is not measured"; pgpid=0; }

have=$(psql "$dsn" -Atc 'SELECT count(*) FROM users')
while [ "$have" -lt "$want" ]; do
	n=$((want - have < 100000 ? want - have : 100000))
	log "seeding $n users ($have of $want)"
	DATABASE_URL="$dsn" "$bin" admin seed -users "$n" >/dev/null
	have=$((have + n))
done
psql "$dsn" -qc 'VACUUM ANALYZE users' >/dev/null
pw="bench admin password $(date +%s)"
if ! printf '%s\n' "$pw" | DATABASE_URL="$dsn" "$bin" admin create bench-admin -role viewer >/dev/null 2>&1; then
	printf '%s\n' "$pw" | DATABASE_URL="$dsn" "$bin" admin passwd bench-admin >/dev/null
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_http() { # wait_http URL LOG
	for _ in $(seq 300); do curl -fs -o /dev/null "$1" 2>/dev/null && return; sleep 0.1; done
	cat "$2" >&2
	die "$1 did not answer"
}

env DEV_WECHAT=1 DATABASE_URL="$dsn" HOST=127.0.0.1 PORT=$port LOG_LEVEL=warn AVATAR_DIR="$out/avatars" \
	"${BENCH_ADMIN_BIN:-$bin}" serve >"$out/admin-server.log" 2>&1 &
spid=$!
pids+=("$spid")
wait_http "http://127.0.0.1:$port/healthz" "$out/admin-server.log"
body=$(jq -cn --arg p "$pw" '{query: "mutation($p: String!) { adminLogin(username: \"bench-admin\", password: $p) { token } }", variables: {p: $p}}')
curl -fs "http://127.0.0.1:$port/graphql" -H 'Content-Type: application/json' -d "$body" |
	jq -er .data.adminLogin.token >"$out/admin-token.txt" || die "adminLogin failed"
echo none >"$out/pgl-token.txt" # PostGraphile without JWT ignores the header

# PostGraphile's process is node itself (npx execs it): its CPU is this pid's.
(cd "$out" && NODE_ENV=production exec npx --yes postgraphile@4 -c "${dsn%%\?*}" -s public --host 127.0.0.1 --port $pgport \
	--disable-query-log --disable-graphiql >"$out/postgraphile.log" 2>&1) &
ppid_=$!
pids+=("$ppid_")
for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$pgport/graphql" 2>/dev/null && break; sleep 0.2; done
# npx runs it as a grandchild (npm, sh, node): the node process is the one
# listening on the port.
pgl=$(ss -ltnpH "sport = :$pgport" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
[ -n "$pgl" ] || { cat "$out/postgraphile.log" >&2; die "PostGraphile did not start"; }
pids+=("$pgl")

ours='{ users(first: 20) { edges { node { id nickname avatarUrl city createdAt } } pageInfo { hasNextPage endCursor } } }'
theirs='{ allUsers(first: 20, orderBy: [CREATED_AT_DESC, ID_DESC]) { edges { node { id nickname avatarUrl city createdAt } } pageInfo { hasNextPage endCursor } } }'
load() { "$root/bin/bench-load" -c "$c" -d "$d" -warmup "$warmup" -pgpid "$pgpid" "$@" | tee -a "$out/admin.jsonl"; }
for r in $(seq "$rounds"); do
	log "round $r: wxlogin"
	load -name wxlogin -mode me -addr 127.0.0.1:$port -tokens "$out/admin-token.txt" -query "$ours" -pid "$spid"
	log "round $r: PostGraphile"
	load -name postgraphile -mode me -addr 127.0.0.1:$pgport -tokens "$out/pgl-token.txt" -query "$theirs" -pid "$pgl"
done

echo
echo "| run | requests/s | p50 ms | p99 ms | server CPU µs/req | PostgreSQL CPU µs/req | errors |"
echo "|---|---|---|---|---|---|---|"
jq -r '"| \(.name) | \(.rps|floor) | \(.p50_ms) | \(.p99_ms) | \(.cpu_us_per_req|floor) | \(.pg_cpu_us_per_req|floor) | \(.errors) |"' "$out/admin.jsonl"
jq -rs 'def med: sort | .[length/2|floor]; (map(select(.name=="wxlogin").rps)|med) as $a | (map(select(.name=="postgraphile").rps)|med) as $b |
	"median requests/s: wxlogin \($a|floor), PostGraphile \($b|floor): \($a/$b*100|floor/100)×"' "$out/admin.jsonl"
