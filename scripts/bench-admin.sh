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
# are served by the (created_at, id) index. Then the same again for a deep
# page: the 20 users after the 100,000th (page 5,001), by each server's own
# cursor for that user. CPU time per request is the /proc/<pid>/stat delta
# of each server and of the PostgreSQL backends connected to the bench
# database (others' work on the same cluster left out). Each server gets an
# unmeasured warm-up run first (PostGraphile's JIT, our prepared
# statements). Results: one JSON line per run in bin/bench/admin.jsonl,
# and a table on stdout.
#
# Settings: BENCH_C (32), BENCH_D (8s), BENCH_WARMUP (2s, before each run),
# BENCH_ADMIN_WARM (15s, each server's first run), BENCH_ROUNDS (3),
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
warm=${BENCH_ADMIN_WARM:-15s}
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
db=$(psql "$dsn" -Atc 'SELECT current_database()')
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

fields='edges { node { id nickname avatarUrl city createdAt } } pageInfo { hasNextPage endCursor }'
ours="{ users(first: 20) { $fields } }"
theirs="{ allUsers(first: 20, orderBy: [CREATED_AT_DESC, ID_DESC]) { $fields } }"
# The deep page: after the 100,000th user, newest first. Our cursor is
# store.Cursor's encoding (base64url of {"v":1,"o":…,"d":true,"k":<µs>,"i":…});
# PostGraphile's is the one it gives that user at offset 99,999.
deep=100000
row=$(psql "$dsn" -Atc "SELECT (extract(epoch FROM created_at) * 1000000)::bigint, id FROM users WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC OFFSET $((deep - 1)) LIMIT 1")
ourcur=$(printf '{"v":1,"o":"CREATED_AT","d":true,"k":%s,"i":"%s"}' "${row%%|*}" "${row##*|}" | base64 -w0 | tr '+/' '-_' | tr -d '=')
theircur=$(curl -fs "http://127.0.0.1:$pgport/graphql" -H 'Content-Type: application/json' \
	-d "$(jq -cn --arg q "{ allUsers(first: 1, offset: $((deep - 1)), orderBy: [CREATED_AT_DESC, ID_DESC]) { edges { cursor node { id } } } }" '{query: $q}')" |
	jq -er '.data.allUsers.edges[0] | select(.node.id == "'"${row##*|}"'") | .cursor') || die "PostGraphile's cursor for user $deep"
oursdeep="{ users(first: 20, after: \"$ourcur\") { $fields } }"
theirsdeep="{ allUsers(first: 20, after: \"$theircur\", orderBy: [CREATED_AT_DESC, ID_DESC]) { $fields } }"
# Both deep pages must hold the same users.
ids() { curl -fs "http://127.0.0.1:$1/graphql" -H 'Content-Type: application/json' -H "Authorization: Bearer $(cat "$2")" -d "$(jq -cn --arg q "$3" '{query: $q}')" | jq -c '[.data[].edges[].node.id]'; }
[ "$(ids $port "$out/admin-token.txt" "$oursdeep")" = "$(ids $pgport "$out/pgl-token.txt" "$theirsdeep")" ] || die "the deep pages differ"

load() { "$root/bin/bench-load" -c "$c" -d "$d" -warmup "$warmup" -pgpid "$pgpid" -pgdb "$db" "$@"; }
wx() { load -mode me -addr 127.0.0.1:$port -tokens "$out/admin-token.txt" -pid "$spid" "$@"; }
pg() { load -mode me -addr 127.0.0.1:$pgport -tokens "$out/pgl-token.txt" -pid "$pgl" "$@"; }
log "warm-up (not measured)"
wx -name warm -query "$ours" -d "$warm" >/dev/null
pg -name warm -query "$theirs" -d "$warm" >/dev/null
for r in $(seq "$rounds"); do
	log "round $r"
	wx -name wxlogin -query "$ours" | tee -a "$out/admin.jsonl"
	pg -name postgraphile -query "$theirs" | tee -a "$out/admin.jsonl"
	wx -name wxlogin-deep -query "$oursdeep" | tee -a "$out/admin.jsonl"
	pg -name postgraphile-deep -query "$theirsdeep" | tee -a "$out/admin.jsonl"
done

echo
echo "| run | requests/s | p50 ms | p99 ms | server CPU µs/req | PostgreSQL CPU µs/req | errors |"
echo "|---|---|---|---|---|---|---|"
jq -r '"| \(.name) | \(.rps|floor) | \(.p50_ms) | \(.p99_ms) | \(.cpu_us_per_req|floor) | \(.pg_cpu_us_per_req|floor) | \(.errors) |"' "$out/admin.jsonl"
# Ratios of each round's pair (the two ran back to back), then their median.
jq -rs 'def med: sort | .[length/2|floor];
	def pairs(a; b): [map(select(.name==a)), map(select(.name==b))] | transpose | map(.[0].rps / .[1].rps);
	def cpu(a): map(select(.name==a) | .cpu_us_per_req + .pg_cpu_us_per_req) | med;
	"first page: per-round ratios \(pairs("wxlogin"; "postgraphile") | map(.*100|floor/100)), median \(pairs("wxlogin"; "postgraphile") | med*100|floor/100)×; CPU per request (server + PostgreSQL, medians) \(cpu("wxlogin")|floor) µs against \(cpu("postgraphile")|floor) µs: \(cpu("postgraphile")/cpu("wxlogin")*100|floor/100)×",
	"deep page: per-round ratios \(pairs("wxlogin-deep"; "postgraphile-deep") | map(.*100|floor/100)), median \(pairs("wxlogin-deep"; "postgraphile-deep") | med*100|floor/100)×; CPU per request \(cpu("wxlogin-deep")|floor) µs against \(cpu("postgraphile-deep")|floor) µs",
	"wxlogin deep page / first page, per round: \(pairs("wxlogin-deep"; "wxlogin") | map(.*100|floor/100))"' "$out/admin.jsonl"
