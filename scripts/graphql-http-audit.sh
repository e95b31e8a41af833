#!/usr/bin/env bash
# Runs graphql-http's GraphQL-over-HTTP server audit against a running
# server and prints every audit that is not "ok", then the counts:
#
#   DEV_WECHAT=1 PORT=8080 go run . &      # dev mode: the audit's __type queries need introspection
#   scripts/graphql-http-audit.sh http://127.0.0.1:8080/graphql
#
# Needs node and npm; installs graphql-http into a temporary directory.
# docs/api.md's "GraphQL over HTTP" says which audits warn and why (they check an
# older draft than the one /graphql follows). Exit status 1 if an audit of
# a MUST fails.
set -euo pipefail
url=${1:?usage: scripts/graphql-http-audit.sh http://127.0.0.1:8080/graphql}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund graphql-http@1.22.4 graphql@16 >/dev/null
cat > audit.mjs <<'JS'
import { auditServer } from 'graphql-http';
const results = await auditServer({ url: process.argv[2] });
const counts = { ok: 0, warn: 0, notice: 0, error: 0 };
for (const r of results) {
  counts[r.status]++;
  if (r.status !== 'ok') console.log(`${r.status.padEnd(6)} ${r.id} ${r.name}: ${r.reason} (HTTP ${r.response.status})`);
}
console.log(JSON.stringify(counts));
process.exit(counts.error > 0 ? 1 : 0);
JS
node audit.mjs "$url"
