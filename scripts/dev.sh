#!/usr/bin/env bash
# The project's two commands, and what they need on a fresh Debian machine
# that has only Go (and make):
#
#   scripts/dev.sh run     # make run: PostgreSQL + dev-mode server with the WeChat simulator
#   scripts/dev.sh test    # make test: PostgreSQL, gcc and Chromium, then checks, `go test -race ./...` (and in deploy/) and make cluster's checks
#   scripts/dev.sh screenshots # make screenshots: the dashboard's screens into docs/screenshots
#   scripts/dev.sh db-stop # stop the project-local PostgreSQL cluster and Redis, if they were started
#
# PostgreSQL is found in this order:
#   1. make run: $DATABASE_URL, if set;
#      make test: $TEST_DATABASE_URL, if set. make test ignores DATABASE_URL,
#      which may name a server (staging, say) where tests must not create
#      databases; the tests get the server in TEST_DATABASE_URL only;
#   2. a server on 127.0.0.1:5432 where user postgres may create databases;
#   3. a project-local cluster (port 54329, trust auth, listening on 127.0.0.1
#      only) in .data/postgres, built with the system's PostgreSQL binaries:
#      the newest for a new cluster, else those of the data directory's major
#      version; Debian's packages are installed first if they are missing.
#
# Redis, for make test's rate-limit tests (make run uses Redis only when
# REDIS_URL is set, PostgreSQL otherwise), is found in this order:
#   1. $TEST_REDIS_URL, if set;
#   2. a Redis on 127.0.0.1:6379 that answers PING;
#   3. a project-local redis-server on 127.0.0.1:63799 (daemonized, no
#      persistence), Debian's redis-server installed first if it is missing.
set -euo pipefail
trap 'printf "error: scripts/dev.sh stopped at line %s: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

local_port=54329
redis_port=63799
bin="$root/bin/wxlogin"
# url_var names the variable through which the developer names a server:
# DATABASE_URL for make run, TEST_DATABASE_URL for make test.
url_var=DATABASE_URL

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
missing_hint="install it, or name a PostgreSQL server in DATABASE_URL (make run) or TEST_DATABASE_URL (make test)"

# apt_has PACKAGE: can apt install PACKAGE?
apt_has() {
	command -v apt-get >/dev/null 2>&1 || return 1
	apt_update || return 1
	local policy
	policy=$(LC_ALL=C apt-cache policy "$1" 2>/dev/null) || return 1
	grep -q 'Candidate: [^(]' <<<"$policy"
}

# redact URL: URL with any password replaced by ****, as the server's banner shows it.
redact() {
	printf '%s\n' "$1" | sed -E 's|^([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*):[^/?#]*@|\1:****@|; s|(password=)[^&[:space:]]*|\1****|g'
}

# The race detector needs cgo, and cgo needs a C compiler.
ensure_gcc() {
	if ! command -v gcc >/dev/null 2>&1; then
		apt_install gcc libc6-dev
	fi
}

# The browser tests drive headless Chromium (web/webtest); CHROME_PATH names
# another browser.
ensure_chromium() {
	if [ -n "${CHROME_PATH:-}" ]; then
		[ -x "$CHROME_PATH" ] || die "CHROME_PATH=$CHROME_PATH is not an executable"
		return
	fi
	local n
	for n in chromium chromium-browser google-chrome google-chrome-stable; do
		command -v "$n" >/dev/null 2>&1 && return
	done
	apt_install chromium
}

# deploy/'s tests check the compose file with Debian's docker-compose
# (config -q) and the haproxy configurations with haproxy -c.
ensure_deploy_tools() {
	local missing=()
	command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
	command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
	[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

build() {
	go build -o "$bin" .
}

# probe_run URL: can make run create (if need be) and migrate the database at URL?
probe_run() {
	DATABASE_URL="$1" "$bin" migrate -create-db >/dev/null 2>"$root/bin/probe.err"
}

# make test probes a server with storetest's own test binary: its TestMain
# creates, migrates and drops a database there, as every test package's does,
# and -test.run='^$' runs nothing else; no wxlogin database is made. Built
# first, so that a compile error is not taken for an unusable server.
build_test_probe() {
	go test -race -c -o "$root/bin/storetest.test" ./store/storetest
}

# probe_test URL: may the tests create, migrate and drop databases on URL's server?
probe_test() {
	TEST_DATABASE_URL="$1" "$root/bin/storetest.test" -test.run='^$' >"$root/bin/probe.err" 2>&1
}

tcp_open() {
	timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

newest_pg_bindir() {
	{ ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true; } | sort -V | tail -n 1
}

# cluster_bindir DATADIR sets pgbin to binaries that can run DATADIR's
# cluster: a data directory runs only under its own major version (its
# PG_VERSION file), installed from Debian if missing; a new cluster gets the
# newest installed ones.
cluster_bindir() {
	local datadir=$1 major
	if [ ! -f "$datadir/PG_VERSION" ]; then
		pgbin=$(newest_pg_bindir)
		[ -n "$pgbin" ] || die "found no PostgreSQL binaries under /usr/lib/postgresql"
		return
	fi
	major=$(tr -d '[:space:]' <"$datadir/PG_VERSION")
	[[ $major =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
		die "$datadir/PG_VERSION holds '$major', not a PostgreSQL version: remove $datadir to start a new cluster"
	pgbin=/usr/lib/postgresql/$major/bin
	[ -x "$pgbin/pg_ctl" ] && return
	if apt_has "postgresql-$major"; then
		apt_install "postgresql-$major"
		[ -x "$pgbin/pg_ctl" ] && return
	fi
	die "the project-local cluster in $datadir is PostgreSQL $major's, but $pgbin is missing and apt cannot install postgresql-$major: install PostgreSQL $major there, or remove $datadir (its data is lost) to start a new cluster with the newest installed version"
}

# as_pg runs a PostgreSQL server binary; initdb and postgres refuse to run as root.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

local_datadir() {
	local dir="$root/.data/postgres"
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
		mkdir -p "$root/.data"
		# The postgres user must reach the project folder; under /root it cannot.
		if ! runuser -u postgres -- test -x "$root/.data" 2>/dev/null; then
			dir="/var/tmp/wxlogin-postgres-$(printf '%s' "$root" | sha1sum | cut -c1-10)"
		fi
		mkdir -p "$dir"
		chown postgres "$dir"
		chmod 700 "$dir"
	else
		mkdir -p "$dir"
	fi
	printf '%s' "$dir"
}

start_local_cluster() {
	local datadir pgbin
	# A fresh machine: Debian's postgresql brings binaries and the postgres user.
	[ -n "$(newest_pg_bindir)" ] || apt_install postgresql
	datadir=$(local_datadir)
	cluster_bindir "$datadir"
	if [ ! -f "$datadir/PG_VERSION" ]; then
		log "creating a project-local PostgreSQL cluster in $datadir"
		as_pg "$pgbin/initdb" -D "$datadir" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
	fi
	if ! as_pg "$pgbin/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
		log "starting the project-local PostgreSQL on 127.0.0.1:$local_port"
		as_pg "$pgbin/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -c port=$local_port -c unix_socket_directories=" start >/dev/null ||
			{ tail -n 20 "$datadir/server.log" >&2; die "PostgreSQL did not start"; }
	fi
}

# find_server PROBE DB sets server_url to database DB on the first server
# PROBE accepts, and server_from to where it was found: the server in
# $url_var, if set; else 127.0.0.1:5432; else the project-local cluster.
server_url=
server_from=
find_server() {
	local probe=$1 db=$2 url
	if [ -n "${!url_var:-}" ]; then
		url=${!url_var}
		"$probe" "$url" || { cat "$root/bin/probe.err" >&2; die "$url_var is set but not usable: $(redact "$url")"; }
		server_url=$url server_from=$url_var
		return
	fi
	url="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
	if tcp_open 127.0.0.1 5432; then
		if "$probe" "$url"; then
			server_url=$url server_from="found on 127.0.0.1:5432"
			return
		fi
		log "127.0.0.1:5432 answers but will not let user postgres create databases; using a project-local cluster"
	fi
	start_local_cluster
	url="postgres://postgres@127.0.0.1:$local_port/$db?sslmode=disable"
	"$probe" "$url" || { cat "$root/bin/probe.err" >&2; die "the project-local PostgreSQL is not usable"; }
	server_url=$url server_from="the project-local cluster"
}

# redis_ping HOST PORT: does a Redis there answer PING (without a password)?
redis_ping() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "PING\r\n" >&3 && IFS= read -r line <&3 && [[ $line == +PONG* ]]' _ "$1" "$2" 2>/dev/null
}

# ensure_redis exports TEST_REDIS_URL naming a Redis the tests may use.
ensure_redis() {
	if [ -n "${TEST_REDIS_URL:-}" ]; then
		log "tests use the Redis at $(redact "$TEST_REDIS_URL") (TEST_REDIS_URL)"
		return
	fi
	if redis_ping 127.0.0.1 6379; then
		export TEST_REDIS_URL=redis://127.0.0.1:6379/0
		log "tests use the Redis found on 127.0.0.1:6379"
		return
	fi
	if ! redis_ping 127.0.0.1 "$redis_port"; then
		command -v redis-server >/dev/null 2>&1 || apt_install redis-server
		mkdir -p "$root/.data/redis"
		log "starting a project-local Redis on 127.0.0.1:$redis_port"
		redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes --save '' --appendonly no \
			--dir "$root/.data/redis" --pidfile "$root/.data/redis/redis.pid" --logfile "$root/.data/redis/redis.log" >/dev/null
		local i
		for i in $(seq 50); do
			redis_ping 127.0.0.1 "$redis_port" && break
			[ "$i" -lt 50 ] || { tail -n 20 "$root/.data/redis/redis.log" >&2; die "Redis did not start"; }
			sleep 0.1
		done
	fi
	export TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
	log "tests use the project-local Redis on 127.0.0.1:$redis_port"
}

# check_generated regenerates the GraphQL code in a scratch copy and fails if
# it differs from what is committed.
check_generated() {
	local tmp
	tmp=$(mktemp -d)
	tar --exclude=./.git --exclude=./.data --exclude=./bin -cf - . | tar -xf - -C "$tmp"
	(cd "$tmp" && go run github.com/99designs/gqlgen generate) || { rm -rf "$tmp"; die "gqlgen generate failed"; }
	if ! diff -r "$root/graph" "$tmp/graph" >&2; then
		rm -rf "$tmp"
		die "generated code is stale: run 'go generate ./...' and commit the result"
	fi
	rm -rf "$tmp"
}

# test_setup readies what the tests need: a C compiler for -race, Chromium
# for the browser tests, a PostgreSQL server where they may create
# databases, exported as TEST_DATABASE_URL, and a Redis, as TEST_REDIS_URL.
test_setup() {
	url_var=TEST_DATABASE_URL
	if [ -n "${DATABASE_URL:-}" ] && [ -z "${TEST_DATABASE_URL:-}" ]; then
		log "make test ignores DATABASE_URL; set TEST_DATABASE_URL to name the server the tests may create databases on"
	fi
	unset DATABASE_URL
	ensure_gcc
	ensure_chromium
	ensure_deploy_tools
	build_test_probe
	find_server probe_test postgres
	export TEST_DATABASE_URL="$server_url"
	log "tests create their databases on $(redact "$server_url") ($server_from)"
	ensure_redis
}

cmd_test() {
	test_setup
	log "gofmt"
	local unformatted
	# shellcheck disable=SC2046 # word splitting wanted: Go file names have no spaces
	unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.data/*'))
	[ -z "$unformatted" ] || die "gofmt would change: $unformatted"
	# deploy/ is a module of its own (the Compose and Kubernetes modules its
	# tests need stay out of the server's go.mod): ./... stops at its go.mod,
	# so each check runs there too. gofmt above lists every tracked file.
	log "go vet"
	go vet ./...
	(cd deploy && go vet ./...)
	log "staticcheck"
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	(cd deploy && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...)
	log "generated code matches schema.graphqls"
	check_generated
	log "the example mini program: node, npm ci, tsc"
	scripts/miniprogram-test.sh check
	log "go test -race ./..."
	# The mini program's node tests run inside go test (TestMiniProgram);
	# here node is installed, so a missing one is a failure, not a skip.
	MINIPROGRAM_TEST=require go test -race -count=1 "$@" ./...
	# deploy's tools (docker-compose, haproxy) were installed above: a
	# missing one is a failure there too.
	log "deploy: go test -race ./... (the deploy module)"
	(cd deploy && DEPLOY_TEST=require go test -race -count=1 "$@" ./...)
	# An avatar's peak RSS is measured on the production build: the race
	# detector's shadow memory would swamp it, so these skip under -race
	# above and run here, where a skip is a failure.
	log "profile: avatar decode memory, without -race"
	go test -count=1 -v -run '^(TestNormalizeAvatar_PeakRSS|TestDecodeCost_CoversAllocation)$' ./profile/ >"$root/bin/rss.out" 2>&1 ||
		{ cat "$root/bin/rss.out"; die "the avatar memory tests failed"; }
	grep -q -- '--- SKIP' "$root/bin/rss.out" && { cat "$root/bin/rss.out"; die "the avatar memory tests skipped"; }
	grep -E -- '^(--- PASS|ok)' "$root/bin/rss.out"
	cluster_test
	# The fuzz targets' seeds ran above; each now explores FUZZTIME more
	# inputs (default 3000x; a count, not a time: a timed run on a busy
	# machine can end with the fuzzer's own "context deadline exceeded").
	# FUZZTIME=0 skips this.
	local fuzztime=${FUZZTIME:-3000x} pkg target
	if [ "$fuzztime" != 0 ]; then
		log "fuzzing, $fuzztime per target"
		while read -r pkg target; do
			fuzz_one "$pkg" "$target" "$fuzztime" ||
				{ cat "$root/bin/fuzz.out" >&2; die "fuzz target $target in $pkg failed; its input is saved in $pkg/testdata/fuzz/$target"; }
		done <<'TARGETS'
. FuzzHTTPEndpoint
./store FuzzDecodeCursor
./store FuzzDecodeAuditCursor
./wechat FuzzDecrypt
./wechat FuzzDecryptPhone
./wechat FuzzCheckUserData
./wechat FuzzVerifySignature
./wechat FuzzDecryptUserInfo
./wechat FuzzCode2SessionAnswer
./wechat FuzzOpenPush
./profile FuzzNormalizeAvatar
./profile FuzzInspectAvatar
./gqlhttp FuzzAppendString
TARGETS
	fi
}

# cluster_test runs make cluster's demonstration and checks (two instances
# behind haproxy, scripts/cluster.sh demo) on the tests' server, in a
# database, a state folder and on ports of its own, so that it runs beside
# a cluster a developer has up, or another checkout's tests.
cluster_test() {
	local base="" i p busy
	for i in $(seq 20); do
		base=$((20000 + RANDOM % 9000))
		busy=
		for p in 0 1 2 3 4; do
			if tcp_open 127.0.0.1 $((base + p)); then busy=1; fi
		done
		[ -n "$busy" ] || break
		base=""
	done
	[ -n "$base" ] || die "found no 5 free ports for make cluster's test run"
	log "make cluster: two instances behind haproxy on 127.0.0.1:$base-$((base + 4))"
	CLUSTER_STATE="$root/.data/cluster-test" CLUSTER_DB="wxlogin_cluster_test_$$" DATABASE_URL="$TEST_DATABASE_URL" \
		CLUSTER_LB_PORT=$base CLUSTER_STATS_PORT=$((base + 1)) CLUSTER_A_PORT=$((base + 2)) CLUSTER_B_PORT=$((base + 3)) CLUSTER_SIM_PORT=$((base + 4)) \
		scripts/cluster.sh demo || die "make cluster's checks failed (logs in .data/cluster-test/logs)"
}

# fuzz_one PKG TARGET FUZZTIME: one fuzz run. A run that failed only on
# the fuzzer's own deadline (no failing input written) runs once more; a
# real finding fails at once.
fuzz_one() {
	go test -run '^$' -fuzz "^$2\$" -fuzztime "$3" "$1" >"$root/bin/fuzz.out" 2>&1 && return 0
	if grep -q 'context deadline exceeded' "$root/bin/fuzz.out" && ! grep -q 'Failing input written' "$root/bin/fuzz.out"; then
		log "fuzz target $2 stopped on the fuzzer's deadline, not on an input; running it again"
		go test -run '^$' -fuzz "^$2\$" -fuzztime "$3" "$1" >"$root/bin/fuzz.out" 2>&1 && return 0
	fi
	return 1
}

# make soak: a minute of mixed load on loopback (app/soak_test.go), on the
# database server make test uses.
cmd_soak() {
	test_setup
	go test -tags soak -run '^TestSoak$' -count=1 -v -timeout 10m "$@" ./app/
}

# make screenshots: the dashboard's browser tests, saving a PNG of each
# screen into docs/screenshots (docs/admin.md and the README show them).
cmd_screenshots() {
	test_setup
	# Seeded nicknames are Chinese: without a CJK font they draw as boxes.
	if ! { command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh | grep -q .; }; then
		apt_install fonts-wqy-microhei
	fi
	mkdir -p "$root/docs/screenshots"
	SCREENSHOTS_DIR="$root/docs/screenshots" go test -count=1 -run 'Browser' ./e2e/
	log "screenshots are in docs/screenshots"
}

# make cluster: the PostgreSQL make run finds, then scripts/cluster.sh
# (demo by default: two instances behind haproxy, load, one stopped).
cmd_cluster() {
	build
	find_server probe_run wxlogin_cluster
	DATABASE_URL="$server_url" exec scripts/cluster.sh "${@:-demo}"
}

cmd_run() {
	build
	find_server probe_run wxlogin
	export DATABASE_URL="$server_url"
	log "using PostgreSQL at $(redact "$server_url") ($server_from)"
	if [ -n "${REDIS_URL:-}" ]; then
		log "rate limits in the Redis at $(redact "$REDIS_URL") (REDIS_URL)"
	fi
	log "starting wxlogin in dev mode (built-in WeChat simulator); Ctrl-C stops it"
	DEV_WECHAT="${DEV_WECHAT:-1}" exec "$bin" serve
}

cmd_db_stop() {
	local pgbin datadir stopped=
	for datadir in "$root/.data/postgres" /var/tmp/wxlogin-postgres-"$(printf '%s' "$root" | sha1sum | cut -c1-10)"; do
		# postmaster.pid is there while the cluster runs (or after a crash).
		if [ -f "$datadir/PG_VERSION" ] && [ -f "$datadir/postmaster.pid" ]; then
			cluster_bindir "$datadir"
			as_pg "$pgbin/pg_ctl" -D "$datadir" stop -m fast || true
			stopped=1
		fi
	done
	[ -n "$stopped" ] || log "no project-local PostgreSQL is running"
	local pidfile="$root/.data/redis/redis.pid"
	if [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; then
		log "stopped the project-local Redis"
	fi
}

# Sourced (scripts/bench.sh does) it only defines the functions above.
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
	return 0
fi

case "${1:-}" in
run) shift; cmd_run "$@" ;;
test) shift; cmd_test "$@" ;;
db-stop) cmd_db_stop ;;
screenshots) cmd_screenshots ;;
soak) shift; cmd_soak "$@" ;;
cluster) shift; cmd_cluster "$@" ;;
*) die "usage: scripts/dev.sh run|test|screenshots|soak|cluster|db-stop" ;;
esac
