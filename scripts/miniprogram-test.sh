#!/usr/bin/env bash
# The example mini program's checks (examples/miniprogram), on a fresh Debian
# machine that has only Go:
#
#   scripts/miniprogram-test.sh         # node + npm, npm ci, tsc, then the node tests via go test
#   scripts/miniprogram-test.sh check   # node + npm, npm ci, tsc only (make test's hook: its
#                                       # go test ./... then runs TestMiniProgram, node being there)
#
# node and npm are Debian's nodejs and npm packages when missing (as root or
# through sudo). The node tests run inside `go test -run '^TestMiniProgram$' ./e2e/`
# (e2e/miniprogram_test.go): the server is the real program in dev mode, on port
# 0, on a database of its own that the test harness (store/storetest) creates,
# migrates and drops, on the server in TEST_DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable).
set -euo pipefail
trap 'printf "error: scripts/miniprogram-test.sh stopped at line %s: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
app="$root/examples/miniprogram"
cd "$root"

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
missing_hint="install Node.js 18 or newer with npm"

# Node 18 is the oldest with what the tests use: node:test with
# --test-reporter, and fetch. Debian 12 has 18, Debian 13 has 20.
ensure_node() {
	local need=()
	command -v node >/dev/null 2>&1 || need+=(nodejs)
	command -v npm >/dev/null 2>&1 || need+=(npm)
	[ ${#need[@]} = 0 ] || apt_install "${need[@]}"
	local major
	major=$(node -p 'process.versions.node.split(".")[0]')
	[ "$major" -ge 18 ] || die "node $(node --version) is too old: the tests need Node.js 18 or newer"
}

# npm ci when node_modules is missing or older than the lock file. npm keeps
# its own copy of the lock in node_modules/.package-lock.json.
ensure_modules() {
	local stamp="$app/node_modules/.package-lock.json"
	if [ -f "$stamp" ] && [ "$stamp" -nt "$app/package-lock.json" ] && [ "$stamp" -nt "$app/package.json" ]; then
		return
	fi
	log "npm ci in examples/miniprogram (TypeScript and the wx typings, pinned by package-lock.json)"
	(cd "$app" && npm ci --no-audit --no-fund --loglevel=error)
	touch "$stamp"
}

typecheck() {
	log "tsc: lib/wxlogin.js, app.js and pages against miniprogram-api-typings"
	(cd "$app" && node node_modules/typescript/bin/tsc -p tsconfig.json)
}

node_tests() {
	log "node --test against wxlogin in dev mode (go test -run '^TestMiniProgram\$' ./e2e/)"
	MINIPROGRAM_TEST=require go test -count=1 -run '^TestMiniProgram$' -v ./e2e/ |
		grep -v '^=== \(RUN\|PAUSE\|CONT\)'
}

case "${1:-all}" in
all)
	ensure_node
	ensure_modules
	typecheck
	node_tests
	;;
check)
	ensure_node
	ensure_modules
	typecheck
	;;
*) die "usage: scripts/miniprogram-test.sh [all|check]" ;;
esac
