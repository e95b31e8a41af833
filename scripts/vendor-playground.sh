#!/usr/bin/env bash
# Re-fetches the GraphiQL playground's third-party files from the npm registry
# and rewrites web/playground/vendor/ and its MANIFEST.
#
#   scripts/vendor-playground.sh
#
# The files are copied byte for byte from the packages' tarballs (npm pack
# checks each tarball against the registry's integrity hash), each beside its
# package's LICENSE. MANIFEST lists package@version, file and sha256 for every
# file; web/playground_test.go recomputes the hashes, so a hand-edited or
# stale file fails make test. To upgrade, change a version below, run this,
# then go test ./web/ (the browser test proves the page still works under
# its CSP).
#
# Needs npm (Node.js) — only to run this script; building and running the
# server need neither, since the files are committed and embedded.
set -euo pipefail

# GraphiQL 4.x is the last major with a UMD build that runs as plain script
# files (5.x is ESM-only and needs a bundler); it wants React 18 or 19, and
# React 18 is the last with UMD builds. These are the versions gqlgen
# v0.17.98's playground.Handler loaded from a CDN.
graphiql=4.1.2
react=18.2.0

# package@version, then each file to copy: path in the tarball, path under vendor/.
files=(
	"graphiql@$graphiql" graphiql.min.js graphiql/graphiql.min.js
	"graphiql@$graphiql" graphiql.min.css graphiql/graphiql.min.css
	"graphiql@$graphiql" LICENSE graphiql/LICENSE
	"react@$react" umd/react.production.min.js react/react.production.min.js
	"react@$react" LICENSE react/LICENSE
	"react-dom@$react" umd/react-dom.production.min.js react-dom/react-dom.production.min.js
	"react-dom@$react" LICENSE react-dom/LICENSE
)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
vendor="$root/web/playground/vendor"
command -v npm >/dev/null || { echo "vendor-playground: npm is needed (apt-get install npm)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Fetch and unpack each package once.
declare -A seen=()
for ((i = 0; i < ${#files[@]}; i += 3)); do
	pkg=${files[i]}
	[[ -n ${seen[$pkg]:-} ]] && continue
	seen[$pkg]=1
	dir="$tmp/$pkg"
	mkdir -p "$dir"
	(cd "$dir" && npm pack --silent "$pkg" >/dev/null)
	tar -xzf "$dir"/*.tgz -C "$dir"
done

# Write the new folder beside the old one, then swap, so a failure leaves
# the committed files as they were.
new="$tmp/vendor"
mkdir -p "$new"
{
	echo "# web/playground/vendor, written by scripts/vendor-playground.sh: do not edit."
	echo "# package@version  file  sha256"
	for ((i = 0; i < ${#files[@]}; i += 3)); do
		pkg=${files[i]} src=${files[i + 1]} dst=${files[i + 2]}
		mkdir -p "$new/$(dirname "$dst")"
		cp "$tmp/$pkg/package/$src" "$new/$dst"
		chmod 644 "$new/$dst"
		printf '%s %s %s\n' "$pkg" "$dst" "$(sha256sum "$new/$dst" | cut -d' ' -f1)"
	done
} >"$new/MANIFEST"

rm -rf "$vendor"
mkdir -p "$(dirname "$vendor")"
cp -R "$new" "$vendor"
echo "vendor-playground: wrote $(( ${#files[@]} / 3 )) files and MANIFEST to web/playground/vendor"
