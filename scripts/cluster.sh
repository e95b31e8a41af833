#!/usr/bin/env bash
# Two wxlogin instances on one PostgreSQL behind Debian's haproxy, on this
# machine, without Docker (make cluster):
#
#   scripts/cluster.sh up      # database, WeChat simulator, instances A and B, haproxy; prints the URLs
#   scripts/cluster.sh load    # the demonstration (scripts/clusterload run) against a running cluster
#   scripts/cluster.sh down    # stop everything, drop the database if up created it
#   scripts/cluster.sh demo    # up, load, down: what make cluster runs
#   scripts/cluster.sh start|stop a|b|sim|haproxy   # one process (load uses `start a`)
#
# PostgreSQL: the server in DATABASE_URL if set, else 127.0.0.1:5432 (user
# postgres), else make run's project-local cluster on 127.0.0.1:54329. The
# database is always CLUSTER_DB (wxlogin_cluster), never DATABASE_URL's own:
# up drops and creates it, down drops it.
#
# Settings (environment, read by up): CLUSTER_LB_PORT (8088),
# CLUSTER_A_PORT (18081), CLUSTER_B_PORT (18082), CLUSTER_SIM_PORT (18090),
# CLUSTER_STATS_PORT (8089), CLUSTER_SHUTDOWN_TIMEOUT (10s),
# CLUSTER_SHUTDOWN_DELAY (3s: haproxy's check interval 1s × fall 2, plus one),
# CLUSTER_RATE_LOGIN_PER_OPENID (5/10m), CLUSTER_RATE_LOGIN_PER_IP (20/1m),
# CLUSTER_WECHAT_LATENCY (100ms, the simulator's code2Session time),
# CLUSTER_DURATION and CLUSTER_WORKERS (load: 20s, 16), CLUSTER_STATE (the
# folder of pids, logs and settings: .data/cluster; make test uses its own,
# with its own CLUSTER_DB and free ports, beside any cluster you have up).
# Break-checks: CLUSTER_SECRET_KEY_B gives B another SECRET_KEY (up);
# CLUSTER_STOP_SIGNAL=KILL (load) kills A instead of draining it;
# CLUSTER_SHUTDOWN_TIMEOUT=1ms (up) cuts A's drain short.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
state=${CLUSTER_STATE:-$root/.data/cluster}
logs="$state/logs"
self="$root/scripts/cluster.sh"

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
missing_hint="install haproxy"

ensure_haproxy() {
	command -v haproxy >/dev/null 2>&1 && return
	[ -x /usr/sbin/haproxy ] && return
	# Debian starts its own haproxy service on port 80 with /etc/haproxy; ours is separate.
	apt_install haproxy
}

haproxy_bin() { command -v haproxy 2>/dev/null || echo /usr/sbin/haproxy; }

tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

redact() {
	printf '%s\n' "$1" | sed -E 's|^([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*):[^/?#]*@|\1:xxxxx@|'
}

# with_db URL NAME: URL with its database replaced by NAME.
with_db() {
	printf '%s\n' "$1" | sed -E "s|^([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)(/[^?#]*)?|\1/$2|"
}

# find_database sets db_url to CLUSTER_DB on the first server found.
find_database() {
	local name=${CLUSTER_DB:-wxlogin_cluster}
	if [ -n "${DATABASE_URL:-}" ]; then
		db_url=$(with_db "$DATABASE_URL" "$name")
	elif tcp_open 127.0.0.1 5432; then
		db_url="postgres://postgres@127.0.0.1:5432/$name?sslmode=disable"
	elif tcp_open 127.0.0.1 54329; then
		db_url="postgres://postgres@127.0.0.1:54329/$name?sslmode=disable"
	else
		die "no PostgreSQL: set DATABASE_URL (its server is used, database $name), or start one (make run starts a project-local one)"
	fi
}

# The settings up chose, kept for start and load.
load_env() {
	[ -f "$state/env" ] || die "no cluster is up (run: scripts/cluster.sh up)"
	set -a
	# shellcheck disable=SC1091
	. "$state/env"
	set +a
}

# spawn NAME CMD…: run CMD in its own session, detached, its output in
# logs/NAME.log; a wrapper shell waits for it and writes its exit status
# to NAME.exit, so a stop can wait for the drain to end and see how.
spawn() {
	local name=$1
	shift
	rm -f "$state/$name.pid" "$state/$name.exit"
	setsid bash -c 'name=$1 state=$2 log=$3; shift 3
		"$@" >>"$log" 2>&1 </dev/null &
		echo $! >"$state/$name.pid.tmp" && mv "$state/$name.pid.tmp" "$state/$name.pid"
		wait $!
		echo $? >"$state/$name.exit"' _ "$name" "$state" "$logs/$name.log" "$@" </dev/null >/dev/null 2>&1 &
	local i
	for i in $(seq 50); do
		[ -s "$state/$name.pid" ] && return
		sleep 0.1
	done
	die "$name did not start"
}

running() {
	[ -s "$state/$1.pid" ] && [ ! -e "$state/$1.exit" ] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null
}

# http_ok PORT PATH: does GET PATH on 127.0.0.1:PORT answer 200? (No curl
# on a fresh Debian.)
http_ok() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3 &&
		IFS= read -r line <&3 && [[ $line == HTTP/1.?" 200"* ]]' _ "$1" "$2" 2>/dev/null
}

# wait_http PORT PATH NAME: wait until NAME answers 200 there.
wait_http() {
	local i
	for i in $(seq 100); do
		if http_ok "$1" "$2"; then return; fi
		if [ -e "$state/$3.exit" ]; then tail -n 20 "$logs/$3.log" >&2; die "$3 exited"; fi
		sleep 0.2
	done
	tail -n 20 "$logs/$3.log" >&2
	die "$3 did not answer at 127.0.0.1:$1$2"
}

start_one() {
	load_env
	running "$1" && { log "$1 is already running"; return; }
	case $1 in
	sim)
		spawn sim "$root/bin/clusterload" sim -addr "127.0.0.1:$CLUSTER_SIM_PORT" -appid "$WECHAT_APPID" -secret "$WECHAT_SECRET" -latency "$CLUSTER_WECHAT_LATENCY"
		wait_http "$CLUSTER_SIM_PORT" /stats sim
		;;
	a | b)
		local port=$CLUSTER_A_PORT key=$SECRET_KEY
		if [ "$1" = b ]; then port=$CLUSTER_B_PORT key=${CLUSTER_SECRET_KEY_B:-$SECRET_KEY}; fi
		PORT=$port SECRET_KEY=$key spawn "$1" "$root/bin/wxlogin" serve
		wait_http "$port" /readyz "$1"
		;;
	haproxy)
		spawn haproxy "$(haproxy_bin)" -f "$root/deploy/haproxy-local.cfg"
		wait_http "$CLUSTER_LB_PORT" /readyz haproxy
		;;
	*) die "start what? a, b, sim or haproxy" ;;
	esac
	log "started $1 (pid $(cat "$state/$1.pid"))"
}

# stop_one NAME [SIGNAL]: signal it (TERM) and wait for its wrapper to
# record the exit; after 30 s, SIGKILL.
stop_one() {
	local name=$1 sig=${2:-TERM} i
	running "$name" || return 0
	kill "-$sig" "$(cat "$state/$name.pid")" 2>/dev/null || true
	for i in $(seq 300); do
		[ -e "$state/$name.exit" ] && { log "stopped $name (exit status $(cat "$state/$name.exit"))"; return 0; }
		sleep 0.1
	done
	kill -KILL "$(cat "$state/$name.pid")" 2>/dev/null || true
	log "killed $name after 30 s"
}

cmd_up() {
	[ ! -f "$state/env" ] || die "a cluster is up already ($state/env): scripts/cluster.sh down first"
	ensure_haproxy
	local lb=${CLUSTER_LB_PORT:-8088} a=${CLUSTER_A_PORT:-18081} b=${CLUSTER_B_PORT:-18082} sim=${CLUSTER_SIM_PORT:-18090} stats=${CLUSTER_STATS_PORT:-8089} p
	for p in "$lb" "$a" "$b" "$sim" "$stats"; do
		! tcp_open 127.0.0.1 "$p" || die "port $p is in use; choose others with CLUSTER_*_PORT"
	done
	log "building bin/wxlogin and bin/clusterload"
	go build -o bin/wxlogin .
	go build -o bin/clusterload ./scripts/clusterload
	find_database
	rm -rf "$logs"
	mkdir -p "$logs"
	chmod 700 "$state"
	# Always a fresh database: one a crashed run left is dropped first.
	log "database $(redact "$db_url") (created afresh, dropped by down)"
	DATABASE_URL=$db_url bin/clusterload dropdb || die "could not reach PostgreSQL at $(redact "$db_url")"
	DATABASE_URL=$db_url bin/wxlogin migrate -create-db >/dev/null || die "could not create and migrate the database"
	# One SECRET_KEY for both instances: session_keys and the WeChat access
	# token are sealed under it by one instance and opened by the other.
	umask 077
	cat >"$state/env" <<EOF
CLUSTER_LB_PORT=$lb
CLUSTER_A_PORT=$a
CLUSTER_B_PORT=$b
CLUSTER_SIM_PORT=$sim
CLUSTER_STATS_PORT=$stats
CLUSTER_WECHAT_LATENCY=${CLUSTER_WECHAT_LATENCY:-100ms}
CLUSTER_SECRET_KEY_B=${CLUSTER_SECRET_KEY_B:-}
DATABASE_URL=$db_url
HOST=127.0.0.1
WECHAT_APPID=wx0c1u5te7a1b2c3d4
WECHAT_SECRET=$(openssl rand -hex 16 2>/dev/null || head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n')
WECHAT_API_BASE=http://127.0.0.1:$sim
SECRET_KEY=$(openssl rand -hex 32 2>/dev/null || head -c32 /dev/urandom | od -An -tx1 | tr -d ' \n')
SHUTDOWN_TIMEOUT=${CLUSTER_SHUTDOWN_TIMEOUT:-10s}
SHUTDOWN_DELAY=${CLUSTER_SHUTDOWN_DELAY:-3s}
TRUSTED_PROXIES=127.0.0.1
RATE_LOGIN_PER_OPENID=${CLUSTER_RATE_LOGIN_PER_OPENID:-5/10m}
RATE_LOGIN_PER_IP=${CLUSTER_RATE_LOGIN_PER_IP:-20/1m}
AVATAR_DIR=$state/avatars
PUBLIC_URL=http://127.0.0.1:$lb
EOF
	umask 022
	local n
	for n in sim a b haproxy; do start_one "$n"; done
	cat <<EOF

The cluster is up (logs in $logs):
  through haproxy:  http://127.0.0.1:$lb/graphql
  instance A:       http://127.0.0.1:$a/graphql
  instance B:       http://127.0.0.1:$b/graphql
  haproxy stats:    http://127.0.0.1:$stats/
  WeChat simulator: http://127.0.0.1:$sim  (mint a code: curl -s -X POST http://127.0.0.1:$sim/dev/wechat/code -d '{"user":"alice"}')

scripts/cluster.sh load runs the demonstration; scripts/cluster.sh down stops it all.
EOF
}

cmd_load() {
	load_env
	local n
	for n in sim a b haproxy; do running "$n" || die "$n is not running (scripts/cluster.sh start $n)"; done
	"$root/bin/clusterload" run \
		-lb "http://127.0.0.1:$CLUSTER_LB_PORT" -a "http://127.0.0.1:$CLUSTER_A_PORT" -b "http://127.0.0.1:$CLUSTER_B_PORT" \
		-sim "http://127.0.0.1:$CLUSTER_SIM_PORT" -state "$state" -start-a "$self start a" \
		-openid-limit "${RATE_LOGIN_PER_OPENID%%/*}" -ip-limit "${RATE_LOGIN_PER_IP%%/*}" \
		-stop-signal "${CLUSTER_STOP_SIGNAL:-TERM}" -duration "${CLUSTER_DURATION:-20s}" -workers "${CLUSTER_WORKERS:-16}"
}

cmd_down() {
	if [ ! -f "$state/env" ]; then
		log "no cluster is up"
		return 0
	fi
	load_env
	local n
	for n in haproxy a b sim; do stop_one "$n"; done
	log "dropping $(redact "$DATABASE_URL")"
	"$root/bin/clusterload" dropdb || log "could not drop it"
	rm -f "$state"/env "$state"/*.pid "$state"/*.exit
	rm -rf "$state/avatars"
	log "the cluster is down (logs kept in $logs)"
}

cmd_demo() {
	local status=0
	[ ! -f "$state/env" ] || cmd_down
	trap cmd_down EXIT
	cmd_up
	cmd_load || status=$?
	return "$status"
}

case "${1:-}" in
up) cmd_up ;;
load) cmd_load ;;
down) cmd_down ;;
demo) cmd_demo ;;
start) start_one "${2:-}" ;;
stop) load_env; stop_one "${2:-}" ;;
*) die "usage: scripts/cluster.sh up|load|down|demo|start NAME|stop NAME" ;;
esac
